//! [`TrainingError`]: why a training cycle could not run at all.

use crate::models::ModelsError;
use crate::persist::PersistError;

use super::SourceError;

/// A training cycle failed as a whole (bad rows never do: they are counted
/// and skipped). The engine records the cycle as failed with this message and
/// lives on; the learner's state is what it was before the cycle, except that
/// rows already read stay read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainingError {
    /// A setting or an input is out of range, or a tensor operation failed.
    #[error(transparent)]
    Kaizen(#[from] crate::Error),
    /// The data could not be read.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The model registry refused an operation.
    #[error(transparent)]
    Models(#[from] ModelsError),
    /// The learner's state file could not be read or written.
    #[error(transparent)]
    Persist(#[from] PersistError),
    /// The data's columns are not the ones the models were built on.
    #[error("the data's features {data:?} are not the model's {model:?}")]
    Schema {
        /// The data source's feature names.
        data: Vec<String>,
        /// The model's.
        model: Vec<String>,
    },
    /// A saved champion's weights are not a model this build can read.
    #[error("the champion {version} cannot be loaded: {reason}")]
    Champion {
        /// The version.
        version: String,
        /// Why.
        reason: String,
    },
}

impl From<candle_core::Error> for TrainingError {
    fn from(e: candle_core::Error) -> Self {
        TrainingError::Kaizen(e.into())
    }
}
