//! The append-only alias history (`history.jsonl`): every move of the
//! champion alias, one JSON line each, never rewritten.
//!
//! Each line is `{"version":1,"seq":…,"at":…,"action":…,"from":…,"to":…,
//! "reason":…,"metrics":{…},"check":…}`, `seq` counting moves from 1. A line
//! is appended with one write and flushed before the call returns.
//!
//! Reading: a last line cut short by a crash (no newline at its end) is
//! skipped — the alias file keeps the move it described, and the registry
//! writes it again (see the module docs of [`super`]). A damaged line
//! elsewhere, or one out of sequence, is skipped with a warning naming the
//! file and line; the rest of the history stays. A line written by a newer
//! kaizen is an error.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use super::check::CheckOutcome;
use super::meta::VersionId;
use crate::persist::{self, Decode, Durability, PersistError};

/// Why the champion alias moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MoveAction {
    /// A version passed the deploy gate.
    Deploy,
    /// Someone activated a version by hand.
    Activate,
    /// Someone rolled back by hand.
    Rollback,
    /// A post-deploy check found the champion significantly worse.
    AutoRollback,
    /// The champion's files were damaged; the registry moved to the last good version.
    Repair,
}

impl fmt::Display for MoveAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MoveAction::Deploy => "deploy",
            MoveAction::Activate => "activate",
            MoveAction::Rollback => "rollback",
            MoveAction::AutoRollback => "auto_rollback",
            MoveAction::Repair => "repair",
        })
    }
}

/// One move of the champion alias.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AliasMove {
    /// Its place in the history, from 1.
    pub seq: u64,
    /// When, in seconds since the Unix epoch.
    pub at: f64,
    /// What moved it.
    pub action: MoveAction,
    /// The champion before (none for the first deploy).
    pub from: Option<VersionId>,
    /// The champion after (none only when a repair found no whole version).
    pub to: Option<VersionId>,
    /// Why, in words.
    pub reason: String,
    /// The new champion's metrics at the time.
    pub metrics: BTreeMap<String, f64>,
    /// For an automatic rollback: the failed post-deploy check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckOutcome>,
}

/// What [`read`] found.
#[derive(Debug, Default)]
pub(super) struct Log {
    /// The moves, in order.
    pub moves: Vec<AliasMove>,
    /// Bytes up to the end of the last whole line; the rest is a torn tail.
    pub whole_len: u64,
    /// The file's length.
    pub len: u64,
}

/// Reads the history at `path` (missing: empty), with the rules in the module docs.
pub(super) fn read(path: &Path) -> Result<Log, PersistError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Log::default()),
        Err(e) => return Err(io_err("read", path)(e)),
    };
    let whole_len = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let mut moves: Vec<AliasMove> = Vec::new();
    for (i, line) in bytes[..whole_len].split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let why = match persist::decode_json::<AliasMove>(line) {
            Ok(m) if moves.last().is_none_or(|last| m.seq > last.seq) => {
                moves.push(m);
                continue;
            }
            Ok(m) => format!("seq {} does not follow the line before it", m.seq),
            Err(Decode::Newer(found)) => {
                return Err(PersistError::NewerVersion {
                    path: path.to_path_buf(),
                    found,
                });
            }
            Err(Decode::Corrupt(why)) => why,
        };
        tracing::warn!(
            file = %path.display(),
            line = i + 1,
            %why,
            "damaged alias history line skipped"
        );
    }
    if whole_len < bytes.len() {
        tracing::warn!(
            file = %path.display(),
            bytes = bytes.len() - whole_len,
            "the last alias history line was cut short (a crash while appending); skipped"
        );
    }
    Ok(Log {
        moves,
        whole_len: whole_len as u64,
        len: bytes.len() as u64,
    })
}

/// Cuts a torn tail off the history so the next line starts on a line of its own.
pub(super) fn truncate_torn(path: &Path, log: &Log) -> Result<(), PersistError> {
    if log.whole_len == log.len {
        return Ok(());
    }
    persist::unshare(path, Durability::Fsync)?;
    let file = persist::no_follow(OpenOptions::new().write(true))
        .open(path)
        .map_err(io_err("open", path))?;
    file.set_len(log.whole_len)
        .map_err(io_err("truncate", path))?;
    file.sync_all().map_err(io_err("fsync", path))
}

/// Appends `entry` as one line; with [`Durability::Fsync`] it is on disk
/// (and a new file's name in its folder) when this returns.
pub(super) fn append(
    path: &Path,
    entry: &AliasMove,
    durability: Durability,
) -> Result<(), PersistError> {
    let mut line = persist::encode_json(path, entry)?;
    line.push(b'\n');
    // A copy made with `cp -al` keeps its history as it was.
    persist::unshare(path, durability)?;
    let existed = path.exists();
    let mut file = persist::no_follow(OpenOptions::new().append(true).create(true))
        .open(path)
        .map_err(io_err("open", path))?;
    file.write_all(&line).map_err(io_err("append to", path))?;
    if durability == Durability::Fsync {
        file.sync_data().map_err(io_err("fsync", path))?;
        if !existed {
            persist::sync_dir(persist::folder_of(path))?;
        }
    }
    Ok(())
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> PersistError + 'a {
    move |source| PersistError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}
