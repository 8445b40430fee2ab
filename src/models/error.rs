//! What can go wrong with a model registry.

use std::borrow::Cow;
use std::path::PathBuf;

use super::VersionId;
use crate::persist::PersistError;

/// A model registry operation failed. Nothing was changed unless the variant
/// says otherwise.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelsError {
    /// A file could not be read or written.
    #[error(transparent)]
    Persist(#[from] PersistError),
    /// Another handle (in this process or another) has the registry open for writing.
    #[error(
        "the model registry {} is already open for writing (lock file {}); \
         while `kaizen run` holds this state folder, change models through it",
        dir.display(),
        lock.display()
    )]
    Locked {
        /// The registry's folder.
        dir: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
    /// No version with this number exists (it was never saved, or retention removed it).
    #[error("{} has no model version {version}", dir.display())]
    UnknownVersion {
        /// The registry's folder.
        dir: PathBuf,
        /// The version asked for.
        version: VersionId,
    },
    /// A version's files are not whole: missing, truncated, or not what its metadata records.
    #[error("model version {version} is damaged ({}): {why}", path.display())]
    Damaged {
        /// The version.
        version: VersionId,
        /// The file at fault.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// The version asked for already serves.
    #[error("{0} is already the champion")]
    AlreadyChampion(VersionId),
    /// `rollback_to_previous` found no other version whose post-deploy check passed.
    #[error(
        "no version to roll back to from {}: no other version has passed a post-deploy check",
        champion.map_or("no champion".to_string(), |v| v.to_string())
    )]
    NoRollbackTarget {
        /// The champion at the time.
        champion: Option<VersionId>,
    },
    /// A post-deploy check's significance test refused its inputs.
    #[error("post-deploy check: {0}")]
    Stats(#[from] crate::stats::StatsError),
    /// An input is outside what it may be.
    #[error("invalid {what} = {value}: expected {expected}")]
    Invalid {
        /// What was wrong, e.g. `metric val_loss` or `keep_last`.
        what: Cow<'static, str>,
        /// The value that was given, as text.
        value: String,
        /// What would have been accepted.
        expected: Cow<'static, str>,
    },
}

impl ModelsError {
    /// An [`ModelsError::Invalid`] for `what`, showing `value` and what was `expected`.
    pub fn invalid(
        what: impl Into<Cow<'static, str>>,
        value: impl std::fmt::Display,
        expected: impl Into<Cow<'static, str>>,
    ) -> Self {
        ModelsError::Invalid {
            what: what.into(),
            value: value.to_string(),
            expected: expected.into(),
        }
    }
}

/// `value` if finite, else [`ModelsError::Invalid`] naming `what`.
pub(super) fn finite(what: impl Into<Cow<'static, str>>, value: f64) -> Result<f64, ModelsError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(ModelsError::invalid(what, value, "a finite number"))
    }
}
