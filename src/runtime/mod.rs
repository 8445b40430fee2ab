//! The process-wide services engines share: the bot locks, the learner pool
//! and the state writer.
//!
//! - [`BotLocks`] ([`locks`]): one pipeline run per bot at a time, across
//!   every engine of the process.
//! - [`LearnerPool`] ([`learners`]): the threads heavy synergy updates (the
//!   DQN) run on, off the engines' message-handling threads.
//! - [`StateWriter`]: the thread state files are written by, in batches
//!   (its implementation lives with the rest of persistence, in
//!   [`crate::persist::writer`]).
//!
//! - [`PipelineSlots`] ([`slots`]): how many pipelines run at once, so many
//!   command engines do not run out of file descriptors.
//! - [`StateLock`] ([`state_lock`]): one process per state folder.
//!
//! [`Services`] bundles all but the lock. `Services::default()` is the process-wide
//! set; a registry hands its services to every engine it starts.

pub mod learners;
pub mod locks;
pub mod slots;
pub mod state_lock;

pub use crate::persist::StateWriter;
pub use learners::{Learned, LearnerJob, LearnerPool};
pub use locks::{BotGuard, BotLock, BotLocks};
pub use slots::{PipelineSlots, Slot, Take};
pub use state_lock::StateLock;

/// The services engines share. `Default` is the process-wide set, so every
/// engine of a process takes the same bot locks (no two run one bot's
/// pipeline at once), learns on one pool and saves through one writer. A
/// registry hands its services to each engine it starts; give a registry (or
/// an engine) its own to keep it apart — a simulation run next to others, a
/// benchmark that counts its writer's bytes.
#[derive(Clone, Debug)]
pub struct Services {
    /// The bot locks.
    pub locks: BotLocks,
    /// The threads heavy synergy updates run on.
    pub learners: LearnerPool,
    /// The thread state files are written by.
    pub writer: StateWriter,
    /// How many pipelines may run at once.
    pub pipelines: PipelineSlots,
}

impl Default for Services {
    fn default() -> Self {
        Services {
            locks: BotLocks::shared(),
            learners: LearnerPool::shared(),
            writer: StateWriter::shared(),
            pipelines: PipelineSlots::shared(),
        }
    }
}
