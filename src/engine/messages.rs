//! The messages an engine answers.

use actix::Message;
use std::sync::Arc;

use crate::Result;
use crate::host::Resources;
use crate::models::AliasMove;
use crate::record::CycleRecord;
use crate::snapshot::EngineSnapshot;
use crate::synergy::SynergyWeights;
use crate::training::ModelAction;
use crate::variants::{VariantAction, VariantEvent, Variants};

/// Decide, and run a cycle if the decision says so (SPEC §4).
#[derive(Clone, Copy, Debug, Message)]
#[rtype(result = "CycleRecord")]
pub struct Tick {
    /// Now, on the caller's clock (seconds).
    pub now: f64,
    /// The machine's load now (the registry samples it once per round).
    pub resources: Resources,
}

/// A [`Tick`] of a forced-energy round: decide as a tick does; a cycle that
/// runs starts its energy chain from `energy` (1..=100, checked by the
/// sender) and its record is marked `forced` with propensity 1.
#[derive(Clone, Copy, Debug, Message)]
#[rtype(result = "CycleRecord")]
pub struct ForcedTick {
    /// The tick.
    pub tick: Tick,
    /// The energy a cycle that runs asks for.
    pub energy: u32,
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

/// Change the champion of the engine's model registry by hand (activate a
/// version, or roll back), recording `reason`. Only an engine running the
/// training pipeline can ([`Error::NoModels`](crate::Error::NoModels)
/// otherwise); a training cycle under way finishes first, and the next one
/// serves the new champion.
#[derive(Clone, Debug, Message)]
#[rtype(result = "Result<AliasMove>")]
pub struct ChangeModel {
    /// What to do.
    pub action: ModelAction,
    /// Why, in words (kept in the alias history).
    pub reason: String,
}

/// Promote or retire one of the bot's variants by hand (an operator's
/// change): made on the engine's running variant pipeline, saved and
/// published at once; a cycle under way records no outcome for an
/// assignment it ended. Only an engine whose bot has a `[variants]` table
/// can ([`Error::NoVariants`](crate::Error::NoVariants) otherwise). Answers
/// the event and the variants after it.
#[derive(Clone, Copy, Debug, Message)]
#[rtype(result = "Result<(VariantEvent, Variants)>")]
pub struct ChangeVariant(pub VariantAction);

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

/// A registry round's tick (with the energy of a forced-energy round, if
/// given, as in [`ForcedTick`]): like [`Tick`], but answered at once. An engine
/// whose tick started a cycle that is still running answers
/// [`TickAnswer::Running`]; the round waits for it only as long as it chooses.
#[derive(Clone, Copy, Debug, Message)]
#[rtype(result = "TickAnswer")]
pub(crate) struct RoundTick(pub Tick, pub Option<u32>);

/// An engine's immediate answer to a [`RoundTick`].
///
/// Records travel boxed: a round moves each answer through the engine's
/// reply, its dispatcher's `join_all` and the registry's collection, and a
/// pointer is cheaper to move than a run's full record (hundreds of bytes).
#[derive(Debug)]
pub(crate) enum TickAnswer {
    /// The tick's record: a skip, or a cycle that finished at once.
    Done(Box<CycleRecord>),
    /// The tick started a cycle that is still running.
    Running {
        /// The record that stands for this tick if the round stops waiting:
        /// a `busy` skip.
        busy: Box<CycleRecord>,
        /// The cycle's record, once it has finished (closed if the engine
        /// stopped first).
        done: tokio::sync::oneshot::Receiver<Box<CycleRecord>>,
    },
}
