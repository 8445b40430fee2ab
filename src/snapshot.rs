//! [`EngineSnapshot`]: what an engine knows about itself at one moment, the
//! one summary every view of an engine is made of.
//!
//! A running engine answers [`Status`](crate::engine::Status) with one
//! ([`EngineCore::snapshot`](crate::cycle::EngineCore::snapshot));
//! `kaizen status` reads one from the state folder
//! ([`inspect_engine`](crate::cycle::inspect_engine)); the registry's report
//! carries one per engine, and the autoscaler's view of an engine
//! ([`EngineSummary`](crate::autoscale::EngineSummary)) is taken from one.
//!
//! ```
//! use kaizen::cycle::{EngineConfig, EngineCore};
//! use std::sync::Arc;
//!
//! let core = EngineCore::open(Arc::from("alpha"), Arc::from("alpha"), EngineConfig::default(), None, None)?;
//! let s = core.snapshot();
//! assert_eq!((s.cycles, s.success_rate, s.last_run), (0, 1.0, None));
//! assert_eq!(s.learner.as_deref(), Some("weights"));
//! # Ok::<(), kaizen::Error>(())
//! ```

use serde::{Deserialize, Serialize};
use std::sync::Arc;

use crate::record::{CycleAction, CycleRecord, Reason};

/// An engine's state at one moment: who it is, how its cycles went, what it
/// has learned, and its last tick in brief.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EngineSnapshot {
    /// The engine.
    pub engine: Arc<str>,
    /// Its bot.
    pub bot: Arc<str>,
    /// Paused by an operator.
    pub paused: bool,
    /// A cycle is running now (always false for a snapshot read from disk).
    pub busy: bool,
    /// Cycles run.
    pub cycles: u64,
    /// Cycles whose pipeline failed.
    pub failures: u64,
    /// Share of successful cycles among the last 50 (1 before the first).
    pub success_rate: f64,
    /// `roi_delta_ema`.
    pub roi_delta_ema: f64,
    /// The short mean of the ROI deltas.
    pub short_mean: f64,
    /// The long-term ROI trend.
    pub trend: f64,
    /// When the last cycle ran.
    pub last_run: Option<f64>,
    /// The last cycle's first module, if it named one.
    pub last_module: Option<String>,
    /// Which synergy learner (`weights` or `dqn`), when known.
    pub learner: Option<String>,
    /// The synergy weights, by key name (empty when not known).
    pub weights: Vec<(String, f64)>,
    /// The last tick this engine answered, in brief (the full records are on
    /// the decision stream); none for a snapshot read from disk.
    pub last: Option<LastTick>,
}

/// A tick in brief: what a snapshot keeps of the last one (no allocation).
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
