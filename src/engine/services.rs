//! What the engines of a process share: bot locks, the learner pool and the
//! state writer.

use super::learners::LearnerPool;
use super::locks::BotLocks;
use crate::persist::StateWriter;

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
}

impl Default for Services {
    fn default() -> Self {
        Services {
            locks: BotLocks::shared(),
            learners: LearnerPool::shared(),
            writer: StateWriter::shared(),
        }
    }
}
