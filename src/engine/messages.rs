//! The messages an engine answers.

use actix::Message;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use crate::Result;
use crate::host::Resources;
use crate::record::{CycleAction, CycleRecord, Reason};
use crate::synergy::SynergyWeights;

/// Decide, and run a cycle if the decision says so (SPEC §4).
#[derive(Clone, Copy, Debug, Message)]
#[rtype(result = "CycleRecord")]
pub struct Tick {
    /// Now, on the caller's clock (seconds).
    pub now: f64,
    /// The machine's load now (the registry samples it once per round).
    pub resources: Resources,
}

/// Run a cycle now with `energy` requested (1..=100), whatever the policy
/// says. Refused while paused or busy.
#[derive(Clone, Copy, Debug, Message)]
#[rtype(result = "Result<CycleRecord>")]
pub struct RunCycle {
    /// The energy asked for (used as E0 when there is no energy source).
    pub energy: u32,
}

/// What the engine knows about itself.
#[derive(Clone, Copy, Debug, Message)]
#[rtype(result = "EngineStatus")]
pub struct Status;

/// An engine's state, for status pages and the autoscaler.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EngineStatus {
    /// The engine.
    pub engine: Arc<str>,
    /// Its bot.
    pub bot: Arc<str>,
    /// Paused by an operator.
    pub paused: bool,
    /// A cycle is running.
    pub busy: bool,
    /// Cycles run.
    pub cycles: u64,
    /// Cycles whose pipeline failed.
    pub failures: u64,
    /// Share of successful cycles among the last 50.
    pub success_rate: f64,
    /// `roi_delta_ema`.
    pub roi_ema: f64,
    /// The short mean of ROI deltas.
    pub short_mean: f64,
    /// The long-term ROI trend.
    pub trend: f64,
    /// When the last cycle ran.
    pub last_run: Option<f64>,
    /// Which synergy learner (`weights` or `dqn`).
    pub learner: String,
    /// The synergy weights, by key name.
    pub weights: Vec<(String, f64)>,
    /// The last tick this engine answered, in brief (the full records are on
    /// the decision stream).
    pub last: Option<LastTick>,
}

/// A tick in brief: what an engine keeps of its last one (no allocation).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LastTick {
    /// When.
    pub time: f64,
    /// Cycles run by then.
    pub cycle: u64,
    /// Ran or skipped.
    pub action: CycleAction,
    /// Why.
    pub reason: Reason,
    /// The energy score, when one was computed.
    pub energy_score: Option<f64>,
    /// The energy, for a run.
    pub energy: Option<u32>,
    /// The ROI delta, for a run.
    pub delta: Option<f64>,
    /// Whether the pipeline succeeded, for a run.
    pub ok: Option<bool>,
}

impl From<&CycleRecord> for LastTick {
    fn from(r: &CycleRecord) -> Self {
        LastTick {
            time: r.time,
            cycle: r.cycle,
            action: r.action,
            reason: r.reason,
            energy_score: r.energy_score,
            energy: r.energy(),
            delta: r.outcome.as_ref().map(|o| o.delta),
            ok: r.outcome.as_ref().map(|o| o.ok),
        }
    }
}

/// Stop deciding: ticks are skipped as `"paused"` until [`Resume`]. Persisted.
#[derive(Clone, Copy, Debug, Message)]
#[rtype(result = "()")]
pub struct Pause;

/// Undo [`Pause`].
#[derive(Clone, Copy, Debug, Message)]
#[rtype(result = "()")]
pub struct Resume;

/// A metric sample from the host. Synergy metrics (`synergy_roi`, …) feed the
/// synergy deltas; other names are ignored (the answer says `false`).
#[derive(Clone, Debug, Message)]
#[rtype(result = "Result<bool>")]
pub struct RecordMetrics {
    /// The metric's name.
    pub name: String,
    /// Its value; NaN and ∞ are refused.
    pub value: f64,
}

/// Replace the synergy weights (e.g. `kaizen synergy import`).
#[derive(Clone, Copy, Debug, Message)]
#[rtype(result = "Result<()>")]
pub struct SetWeights(pub SynergyWeights);

/// Write every changed state file now; answers once they are on disk.
#[derive(Clone, Copy, Debug, Message)]
#[rtype(result = "Result<()>")]
pub struct Flush;

/// Let a running cycle finish (up to `wait`), save, and stop for good.
#[derive(Clone, Copy, Debug, Message)]
#[rtype(result = "Result<()>")]
pub struct Shutdown {
    /// The longest to wait for a running cycle.
    pub wait: std::time::Duration,
}

/// Stop at once, abandoning a running cycle and unsaved changes, as a crash
/// would. A supervising registry restarts the engine from its saved state.
#[derive(Clone, Copy, Debug, Message)]
#[rtype(result = "()")]
pub struct Stop;

/// Sent by an engine to its supervisor when it stops without being asked to
/// shut down.
#[derive(Clone, Debug, Message)]
#[rtype(result = "()")]
pub struct EngineExited {
    /// The engine.
    pub engine: Arc<str>,
    /// Which start of it stopped (the registry counts starts).
    pub generation: u64,
}
