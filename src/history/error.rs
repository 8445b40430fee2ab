//! What can go wrong with the history and the audit trail.

use std::io;
use std::path::PathBuf;

use super::segment::{LOG_VERSION, MAX_SEGMENT_BYTES};

/// A history or audit operation failed. Each variant names the file or the
/// input that was wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// The operating system refused an operation on a path.
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        /// What was being done: `open`, `append to`, `rename`, ….
        op: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// A path is not what the log writes to: a symbolic link, a file with
    /// other hard links, something that is not a regular file or folder.
    /// Nothing was written through it.
    #[error("refusing to write {}: {why}", path.display())]
    Unsafe {
        /// The path.
        path: PathBuf,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A segment was written by a newer kaizen; it is left untouched.
    #[error(
        "{} was written by a newer kaizen (log format version {found}; this build reads up to {LOG_VERSION}); it was left untouched",
        path.display()
    )]
    NewerVersion {
        /// The segment.
        path: PathBuf,
        /// The version its header declares.
        found: u64,
    },
    /// A file where a segment should be is larger than any segment kaizen
    /// writes; it is not read, and left as it is.
    #[error(
        "{} is {len} bytes, larger than any log segment kaizen writes ({} bytes); it was left as it is",
        path.display(),
        MAX_SEGMENT_BYTES
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its length.
        len: u64,
    },
    /// Another process is writing this history (it holds the lock file).
    #[error(
        "the history in {} is being written by another kaizen process (it holds {})",
        dir.display(),
        lock.display()
    )]
    Locked {
        /// The history folder.
        dir: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
    /// An input (a bot name, a setting, an audit entry, a query, a time) is
    /// outside what it may be.
    #[error("invalid {what} = {value}: expected {expected}")]
    Invalid {
        /// What was wrong, e.g. `bot`, `max_records` or `audit action`.
        what: &'static str,
        /// The value given, as text.
        value: String,
        /// What would have been accepted.
        expected: &'static str,
    },
    /// The writer's queue is full: the record was dropped (and counted).
    #[error("the history writer is {0} records behind; the record was dropped")]
    QueueFull(usize),
    /// Records were written but could not be flushed to disk.
    #[error("history written but not flushed to disk: {0}")]
    Flush(crate::persist::PersistError),
    /// The writer thread is not running (it could not start, or it stopped).
    #[error("the history writer is not running")]
    Closed,
}

impl HistoryError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| HistoryError::Io { op, path, source }
    }
}
