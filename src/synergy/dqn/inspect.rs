//! A read-only look at the DQN learner's files, for `kaizen status`: what a
//! load would resume from, which files it could not use and why, and what it
//! would do about them — without moving, writing or locking anything.
//!
//! It follows the rules of [`DQNSynergyLearner::load`](super::DQNSynergyLearner::load)
//! (`files.rs` picks the same checkpoint–journal pair through the same
//! function): every checkpoint and journal, and their `.bak` copies, is
//! checked by its CRC, and of those that agree the one reaching the most
//! updates is what a load uses.
//!
//! ```
//! use kaizen::synergy::{DqnOutcome, SynergyKeys, inspect_dqn};
//!
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("synergy-dqn.ckpt"), b"garbage")?;
//! let found = inspect_dqn(dir.path(), Some(SynergyKeys::Core));
//! assert_eq!(found.outcome, DqnOutcome::StartsFresh);
//! assert_eq!(found.damaged[0].file, "synergy-dqn.ckpt");
//! // Nothing was moved aside.
//! assert!(dir.path().join("synergy-dqn.ckpt").exists());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use serde::Serialize;
use std::path::Path;

use super::DqnConfig;
use super::files::{DQN_CHECKPOINT_FILE, DQN_JOURNAL_FILE, dropped_journal, furthest};
use super::format::{Checkpoint, Journal, decode_checkpoint, decode_journal};
use super::legacy::{DQN_NETS_FILE, DQN_STATE_FILE};
use crate::persist::{Decode, backup_path, peek_with};
use crate::synergy::SynergyKeys;

/// What a load of the DQN files in a folder would do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "will", rename_all = "snake_case")]
pub enum DqnOutcome {
    /// There are no DQN files of format 2 (a weight learner's engine, a DQN
    /// that never saved, or format-1 files a load migrates).
    Absent,
    /// The newest checkpoint (with its journal, when there is one) is whole:
    /// the learner resumes at `updates`.
    Resumes {
        /// Updates reached.
        updates: u64,
    },
    /// The learner resumes at `updates` from an older checkpoint (a `.bak`)
    /// or without its newest journal; the updates after that are lost.
    ResumesOlder {
        /// Updates reached.
        updates: u64,
    },
    /// No checkpoint can be used: the damaged files are moved aside and the
    /// learner starts fresh.
    StartsFresh,
    /// No checkpoint can be used: the damaged files are moved aside and the
    /// learner is read from its format-1 files.
    Migrates,
    /// A file was written by a newer kaizen: the load refuses it and leaves
    /// it as it is, so the engine does not start.
    Refuses {
        /// The format version found.
        version: u64,
    },
}

/// A DQN file a load cannot use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DamagedFile {
    /// Its name in the engine's folder (`synergy-dqn.ckpt.bak`, …).
    pub file: String,
    /// Why, in words.
    pub why: String,
}

/// What [`inspect_dqn`] found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DqnInspection {
    /// What a load would do.
    pub outcome: DqnOutcome,
    /// The files it cannot use (a load moves them aside), main files first.
    pub damaged: Vec<DamagedFile>,
}

impl DqnInspection {
    /// In words, what is wrong and what kaizen will do; `None` when a load
    /// would resume from the newest files and nothing is damaged.
    pub fn problem(&self) -> Option<String> {
        let files = self
            .damaged
            .iter()
            .map(|d| format!("{} corrupt: {}", d.file, d.why))
            .collect::<Vec<_>>()
            .join("; ");
        let will = match self.outcome {
            DqnOutcome::Absent | DqnOutcome::Resumes { .. } if self.damaged.is_empty() => {
                return None;
            }
            DqnOutcome::Absent => "kaizen will move it aside".to_string(),
            DqnOutcome::Resumes { updates } => format!(
                "kaizen will move it aside and resume the DQN from its newest checkpoint ({updates} updates)"
            ),
            DqnOutcome::ResumesOlder { updates } => format!(
                "kaizen will resume the DQN from an older copy ({updates} updates; later updates are lost)"
            ),
            DqnOutcome::StartsFresh => {
                "kaizen will move the damaged files aside and start the DQN fresh".to_string()
            }
            DqnOutcome::Migrates => {
                "kaizen will move the damaged files aside and read the DQN's format-1 files"
                    .to_string()
            }
            DqnOutcome::Refuses { version } => {
                let newer = format!(
                    "a DQN file was written by a newer kaizen (format {version}); kaizen will not load this engine until that kaizen is used"
                );
                return Some(if files.is_empty() {
                    newer
                } else {
                    format!("{files}; {newer}")
                });
            }
        };
        Some(if files.is_empty() {
            format!("the DQN's newest checkpoint and journal do not agree; {will}")
        } else {
            format!("{files}; {will}")
        })
    }
}

/// Looks at the DQN files in `dir` without changing them, for a learner of
/// `keys` (the network's width). With `keys` unknown (`None`, e.g. when
/// `synergy.json` cannot be read), each key set is tried and the first under
/// which a checkpoint can be used is reported.
pub fn inspect_dqn(dir: &Path, keys: Option<SynergyKeys>) -> DqnInspection {
    let tries = match keys {
        Some(k) => vec![k],
        None => vec![SynergyKeys::Core, SynergyKeys::Extended],
    };
    let mut first = None;
    for keys in tries {
        let found = inspect_for(dir, keys);
        if matches!(
            found.outcome,
            DqnOutcome::Resumes { .. } | DqnOutcome::ResumesOlder { .. }
        ) {
            return found;
        }
        first.get_or_insert(found);
    }
    first.unwrap_or(DqnInspection {
        outcome: DqnOutcome::Absent,
        damaged: Vec::new(),
    })
}

fn inspect_for(dir: &Path, keys: SynergyKeys) -> DqnInspection {
    let dims = DqnConfig {
        keys,
        ..DqnConfig::default()
    }
    .dims();
    let d = dims.inputs;
    // A capacity that holds every transition the file can hold: the load
    // keeps its configured newest ones, which this look need not know.
    let ck_of = |b: &[u8]| decode_checkpoint(b, dims, b.len() / (4 * d + 5) + 1);
    let jl_of = |b: &[u8]| decode_journal(b, dims);
    let mut found = Found::default();
    let ck_path = dir.join(DQN_CHECKPOINT_FILE);
    let jl_path = dir.join(DQN_JOURNAL_FILE);
    let (ck_bak, jl_bak) = (backup_path(&ck_path), backup_path(&jl_path));
    let main: Option<Checkpoint> = found.keep(&ck_path, peek_with(&ck_path, ck_of));
    let from_main = main.is_some();
    let older: Option<Checkpoint> = found.keep(&ck_bak, peek_with(&ck_bak, ck_of));
    let journal: Option<Journal> = found.keep(&jl_path, peek_with(&jl_path, jl_of));
    let journal_is_main = journal.is_some();
    let older_journal: Option<Journal> = found.keep(&jl_bak, peek_with(&jl_bak, jl_of));
    let Found { damaged, newer } = found;
    if let Some(version) = newer {
        return DqnInspection {
            outcome: DqnOutcome::Refuses { version },
            damaged,
        };
    }
    let checkpoints: Vec<Checkpoint> = main.into_iter().chain(older).collect();
    let journals: Vec<Journal> = journal.into_iter().chain(older_journal).collect();
    let outcome = match furthest(&checkpoints, &journals, d) {
        Some((updates, ci, ji)) => {
            let dropped = dropped_journal(&checkpoints[ci], &journals, journal_is_main, ji);
            if ci == 0 && from_main && dropped.is_none() {
                DqnOutcome::Resumes { updates }
            } else {
                DqnOutcome::ResumesOlder { updates }
            }
        }
        None if damaged.is_empty() => DqnOutcome::Absent,
        None if [DQN_NETS_FILE, DQN_STATE_FILE]
            .iter()
            .any(|f| dir.join(f).exists() || backup_path(&dir.join(f)).exists()) =>
        {
            DqnOutcome::Migrates
        }
        None => DqnOutcome::StartsFresh,
    };
    DqnInspection { outcome, damaged }
}

/// What the look at each file found wrong.
#[derive(Default)]
struct Found {
    damaged: Vec<DamagedFile>,
    /// The first newer format version seen.
    newer: Option<u64>,
}

impl Found {
    /// The decoded file, or `None` (missing, damaged or newer: noted).
    fn keep<T>(&mut self, path: &Path, found: Option<Result<T, Decode>>) -> Option<T> {
        match found? {
            Ok(value) => Some(value),
            Err(Decode::Newer(v)) => {
                self.newer.get_or_insert(v);
                None
            }
            Err(Decode::Corrupt(why)) => {
                let file = path.file_name().map_or_else(
                    || path.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                );
                self.damaged.push(DamagedFile { file, why });
                None
            }
        }
    }
}
