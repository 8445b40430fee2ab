//! The messages an engine answers.

use actix::Message;
use std::sync::Arc;

use crate::Result;
use crate::host::Resources;
use crate::record::CycleRecord;
use crate::snapshot::EngineSnapshot;
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

/// What the engine knows about itself, now.
#[derive(Clone, Copy, Debug, Message)]
#[rtype(result = "EngineSnapshot")]
pub struct Status;

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
