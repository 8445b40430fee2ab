//! The host's improvement job for one bot, and how an engine runs it safely.
//!
//! A [`Pipeline`] takes a bot name and an energy (1..=100) and returns an
//! [`AutomationResult`]. The engine runs it through [`GuardedRun`], which turns
//! every way a pipeline can go wrong — an error, a panic (when it is called or
//! while it runs), running past its timeout, or a NaN/∞ (or a number beyond
//! ±[`MAX_MAGNITUDE`]) anywhere in its result —
//! into a [`PipelineError`], so the engine records a failed cycle and lives on.
//!
//! Shipped pipelines: [`CommandPipeline`] (an external program),
//! [`VariantPipeline`] (a program run as a bot's variants) and
//! [`pipeline_fn`] (a closure, for hosts and tests); the simulation adds its own.

mod command;
mod variants;

pub use command::{CommandPipeline, STDERR_TAIL_BYTES};
pub use variants::pbt::{
    PBT_FILE, PBT_FORMAT_VERSION, PbtCount, PbtGroupState, PbtGroups, PbtRecord, PbtState,
};
pub use variants::{FLEET_FORMAT_VERSION, SharedFleet, VariantPipeline, VariantRunner};

use futures_util::FutureExt;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::error::MAX_MAGNITUDE;

/// The default time a pipeline may take (SPEC §1: 15 minutes).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// The money side of one pipeline run. Missing fields read as 0.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RoiResult {
    /// What the change earned.
    pub income: f64,
    /// What it cost.
    pub cost: f64,
    /// How long it took, in seconds.
    pub time: f64,
    /// Its return; the cycle's ROI delta when no profit source is set.
    pub roi: f64,
    /// Its margin.
    pub margin: f64,
}

/// What a pipeline run produced. Every field is optional in JSON.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AutomationResult {
    /// ROI figures, if the pipeline measured them.
    pub roi: Option<RoiResult>,
    /// The package (change) it produced, if any.
    pub package: Option<String>,
    /// Metrics it measured, by name; `synergy_*` names feed the synergy learner.
    pub metrics: BTreeMap<String, f64>,
    /// The modules it touched, most important first. The meta logger credits
    /// the cycle's ROI delta to each. When empty, `package` is used, if any.
    pub modules: Vec<String>,
    /// What went wrong without failing the run (the training monitor's loss
    /// explosion, say). They go into the cycle's record and on the decision
    /// stream; a pipeline reports each once, when it is new.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<PipelineAlert>,
}

/// An alert a pipeline raised in a run: a kind to group by, and words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipelineAlert {
    /// What kind, e.g. `loss_explosion`.
    pub kind: String,
    /// What was seen.
    pub message: String,
}

impl AutomationResult {
    /// An error naming the first number in the result that is NaN or
    /// infinite ([`PipelineError::NonFinite`]) or beyond ±[`MAX_MAGNITUDE`]
    /// ([`PipelineError::OutOfRange`]), if any.
    pub fn check_numbers(&self) -> Result<(), PipelineError> {
        let roi = self.roi.iter().flat_map(|r| {
            [
                ("roi.income", r.income),
                ("roi.cost", r.cost),
                ("roi.time", r.time),
                ("roi.roi", r.roi),
                ("roi.margin", r.margin),
            ]
            .map(|(name, v)| (name.to_string(), v))
        });
        let metrics = self
            .metrics
            .iter()
            .map(|(k, v)| (format!("metric {k}"), *v));
        for (what, value) in roi.chain(metrics) {
            if !value.is_finite() {
                return Err(PipelineError::NonFinite { what, value });
            }
            if value.abs() > MAX_MAGNITUDE {
                return Err(PipelineError::OutOfRange { what, value });
            }
        }
        Ok(())
    }

    /// The modules to credit: `modules`, or else the package alone.
    pub fn credited_modules(&self) -> &[String] {
        if self.modules.is_empty() {
            self.package.as_slice()
        } else {
            &self.modules
        }
    }
}

/// Why a pipeline run failed. The engine records it as the failed cycle's reason.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// The pipeline reported a failure.
    #[error("pipeline failed: {0}")]
    Failed(String),
    /// The pipeline panicked.
    #[error("pipeline panicked: {0}")]
    Panicked(String),
    /// The pipeline ran past its timeout and was abandoned.
    #[error("pipeline timed out after {0:?}")]
    TimedOut(Duration),
    /// The result held NaN or an infinity.
    #[error("pipeline result {what} is not a finite number ({value})")]
    NonFinite {
        /// Which number.
        what: String,
        /// Its value.
        value: f64,
    },
    /// The result held a number beyond ±[`MAX_MAGNITUDE`] (10¹⁰⁰).
    #[error(
        "pipeline result {what} = {value:e} is out of range (kaizen accepts numbers between -1e100 and 1e100)"
    )]
    OutOfRange {
        /// Which number.
        what: String,
        /// Its value.
        value: f64,
    },
    /// The program could not be started.
    #[error("cannot start {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The program ended unsuccessfully.
    #[error("{program} failed with {status}{}", stderr_words(stderr_tail))]
    Exit {
        /// The program.
        program: String,
        /// How it ended, in words: `exit code 3`, `signal 9 (SIGKILL)`.
        status: String,
        /// The last bytes it wrote to stderr.
        stderr_tail: String,
    },
    /// The program's output held no usable result.
    #[error("{program} gave no usable result: {reason}")]
    Output {
        /// The program.
        program: String,
        /// What was wrong.
        reason: String,
    },
}

/// `"; its stderr ends with: …"`, or nothing when it wrote nothing.
fn stderr_words(tail: &str) -> String {
    if tail.is_empty() {
        String::new()
    } else {
        format!("; its stderr ends with: {tail}")
    }
}

/// A pipeline's pending run.
pub type PipelineFuture =
    Pin<Box<dyn Future<Output = Result<AutomationResult, PipelineError>> + Send + 'static>>;

/// The host's improvement job for one bot.
///
/// `run` returns a `'static` future: clone what it needs (the bot name is
/// borrowed only for the call). A run that does CPU-heavy work should move it
/// to a thread of its own (`tokio::task::spawn_blocking`): the future is polled
/// on the engine's message-handling thread.
pub trait Pipeline: Send + Sync + 'static {
    /// Runs one improvement of `bot` with `energy` (1..=100).
    fn run(&self, bot: &str, energy: u32) -> PipelineFuture;

    /// The bot's variants, when this pipeline runs them (an operator's
    /// promotion or retirement goes through it); default: none.
    fn variant_pipeline(&self) -> Option<&VariantPipeline> {
        None
    }
}

/// A [`Pipeline`] made from a closure; see [`pipeline_fn`].
pub struct FnPipeline<F>(F);

/// Wraps a closure `(bot, energy) -> future` as a [`Pipeline`].
///
/// ```
/// use kaizen::pipeline::{AutomationResult, Pipeline, RoiResult, pipeline_fn};
/// let p = pipeline_fn(|_bot: &str, energy: u32| async move {
///     Ok(AutomationResult {
///         roi: Some(RoiResult { roi: f64::from(energy) / 10.0, ..Default::default() }),
///         ..Default::default()
///     })
/// });
/// let r = futures_util::FutureExt::now_or_never(p.run("bot", 5)).unwrap().unwrap();
/// assert_eq!(r.roi.unwrap().roi, 0.5);
/// ```
pub fn pipeline_fn<F, Fut>(f: F) -> FnPipeline<F>
where
    F: Fn(&str, u32) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<AutomationResult, PipelineError>> + Send + 'static,
{
    FnPipeline(f)
}

impl<F, Fut> Pipeline for FnPipeline<F>
where
    F: Fn(&str, u32) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<AutomationResult, PipelineError>> + Send + 'static,
{
    fn run(&self, bot: &str, energy: u32) -> PipelineFuture {
        Box::pin((self.0)(bot, energy))
    }
}

/// A pipeline run with every failure caught: errors, panics, the timeout and
/// non-finite results all come out as [`PipelineError`].
///
/// The timeout's timer is only created the first time the run is not ready
/// at once, so a pipeline that answers immediately costs no timer. Polling it
/// needs a tokio runtime (the actix one the engines live on).
pub struct GuardedRun {
    state: Guard,
    timeout: Duration,
    started: tokio::time::Instant,
}

enum Guard {
    Running {
        run: PipelineFuture,
        deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    },
    Failed(Option<PipelineError>),
}

impl GuardedRun {
    /// Starts `pipeline.run(bot, energy)` under `timeout`.
    pub fn start(pipeline: &dyn Pipeline, bot: &str, energy: u32, timeout: Duration) -> Self {
        let state = match std::panic::catch_unwind(AssertUnwindSafe(|| pipeline.run(bot, energy))) {
            Ok(run) => Guard::Running {
                run,
                deadline: None,
            },
            Err(payload) => Guard::Failed(Some(PipelineError::Panicked(panic_message(&*payload)))),
        };
        GuardedRun {
            state,
            timeout,
            started: tokio::time::Instant::now(),
        }
    }
}

impl Future for GuardedRun {
    type Output = Result<AutomationResult, PipelineError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let (run, deadline) = match &mut this.state {
            Guard::Failed(err) => {
                let err = err
                    .take()
                    .unwrap_or_else(|| PipelineError::Failed("polled after completion".into()));
                return Poll::Ready(Err(err));
            }
            Guard::Running { run, deadline } => (run, deadline),
        };
        match std::panic::catch_unwind(AssertUnwindSafe(|| run.poll_unpin(cx))) {
            Ok(Poll::Ready(Ok(result))) => {
                return Poll::Ready(result.check_numbers().map(|()| result));
            }
            Ok(Poll::Ready(Err(e))) => return Poll::Ready(Err(e)),
            Err(payload) => {
                this.state = Guard::Failed(None);
                return Poll::Ready(Err(PipelineError::Panicked(panic_message(&*payload))));
            }
            Ok(Poll::Pending) => {}
        }
        let timeout = this.timeout;
        // A timeout too long for the clock never ends the run.
        let Some(at) = this.started.checked_add(timeout) else {
            return Poll::Pending;
        };
        let sleep = deadline.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                this.state = Guard::Failed(None);
                Poll::Ready(Err(PipelineError::TimedOut(timeout)))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The text of a panic payload (`&str` or `String`), or a placeholder.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-text payload".to_string()
    }
}

#[cfg(test)]
mod tests;
