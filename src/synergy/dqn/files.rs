//! The DQN learner's files: what a save writes, and how a load picks what to
//! trust.
//!
//! - `synergy.json`: the reported weights, as for the weight learner.
//! - `synergy-dqn.ckpt`: a checkpoint of the whole learner (networks, AdamW
//!   moments, replay, RNG, counters; `format.rs` gives the layout).
//! - `synergy-dqn.journal`: the updates made since that checkpoint, each as
//!   its state and rewards (`8·d` bytes), which a load replays through the
//!   same code to reach the exact state the learner had.
//!
//! **What a save writes.** The journal and the weights, while the journal can
//! still be derived from the replay and the bytes written as journals since
//! the checkpoint stay below the size of a checkpoint; otherwise a new
//! checkpoint and the weights. That rule (the "ski rental" one) keeps the
//! bytes written within twice the best fixed checkpoint interval whatever the
//! number of updates between saves: about 50 updates per checkpoint when
//! every update is saved, 1.6 kB per update instead of the 80 kB of
//! format 1. A save right after a checkpoint, with no update in between,
//! writes the checkpoint again (an idempotent retry).
//!
//! **What a load trusts.** The checkpoint and its `.bak` (the previous
//! checkpoint), and the journal and its `.bak`, each checked by its CRC; a
//! journal applies only to the checkpoint it names (its `updates` and CRC).
//! Of the checkpoints alone and the checkpoint–journal pairs that agree, the
//! one that reaches the most updates is used. So a crash between any two
//! writes loses nothing that reached the disk whole. Resuming from anything
//! but the newest checkpoint (and its journal) is logged with a warning and
//! makes the next save a checkpoint. One loss is possible: a checkpoint whose
//! save failed (disk full) is not retried until the next checkpoint is due,
//! and the journals written in between name it; if the process then dies,
//! the load falls back to the previous checkpoint.
//!
//! Without a format-2 checkpoint the format-1 files are migrated
//! (`legacy.rs`); without those either, the learner starts fresh.

use std::path::{Path, PathBuf};

use super::format::{
    self, CheckpointId, CheckpointRef, Journal, checkpoint_len, decode_checkpoint, decode_journal,
    encode_checkpoint, encode_journal, journal_len,
};
use super::mlp::Mlp;
use super::{DQNSynergyLearner, DqnConfig, legacy};
use crate::Result;
use crate::persist::{self, PendingFile, backup_path};
use crate::synergy::weights::{load_weights, weights_file};

/// The checkpoint file.
pub const DQN_CHECKPOINT_FILE: &str = "synergy-dqn.ckpt";
/// The journal file.
pub const DQN_JOURNAL_FILE: &str = "synergy-dqn.journal";

/// What the learner's files hold, as of its last encoded save (or its load).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct OnDisk {
    /// The folder.
    dir: PathBuf,
    /// The newest checkpoint there.
    base: CheckpointId,
    /// Bytes encoded as journals since that checkpoint.
    journal_bytes: u64,
}

impl DQNSynergyLearner {
    /// A learner from the files in `dir`, or a fresh one (seeded from
    /// `config.seed`) where there are none. Weights come from `synergy.json`
    /// (1.0 when missing). A file from a newer kaizen is an error; damaged
    /// files are moved aside with a warning and their `.bak` copies are tried
    /// (the persistence rules); the module docs of `files.rs` say which files
    /// are trusted together. Format-1 files (`synergy-dqn.safetensors` and
    /// `synergy-dqn.json`) are read when there is no format-2 checkpoint, and
    /// the next save writes format 2.
    pub fn load(dir: &Path, config: DqnConfig) -> Result<Self> {
        let mut learner = Self::new(config)?;
        let weights = load_weights(dir, learner.config.keys)?;
        match newest_state(dir, &learner.config)? {
            Some((checkpoint, journal, newest)) => {
                let base = checkpoint.id;
                learner.restore_nets(base.updates, checkpoint.steps, checkpoint.flats)?;
                learner.rng = checkpoint.rng;
                learner.replay = checkpoint.replay;
                let mut journal_bytes = 0;
                if let Some(journal) = journal {
                    let d = learner.d();
                    for entry in journal.entries.chunks_exact(2 * d) {
                        learner.step(&entry[..d], &entry[d..]);
                    }
                    journal_bytes = journal_len(d, (journal.entries.len() / (2 * d)) as u64);
                }
                let disk = newest.then(|| OnDisk {
                    dir: dir.to_path_buf(),
                    base,
                    journal_bytes,
                });
                learner.disk.replace(disk);
            }
            None => {
                if let Some((nets, state)) = legacy::load(dir, &learner.config)? {
                    let moment = nets.moment;
                    learner.restore_nets(moment.updates, moment.steps, nets.flats)?;
                    match state {
                        Some(state) => {
                            learner.rng = state.rng;
                            learner.replay = state.replay;
                        }
                        None => learner.reseed(),
                    }
                }
            }
        }
        learner.weights = weights;
        Ok(learner)
    }

    /// Takes the networks, the optimiser and the counters from a file.
    fn restore_nets(&mut self, updates: u64, steps: u64, flats: [Vec<f32>; 4]) -> Result<()> {
        let d = self.config.dims();
        let [online, target, m, v] = flats;
        self.online = Mlp::from_params(d, online).map_err(invalid_nets)?;
        self.target = Mlp::from_params(d, target).map_err(invalid_nets)?;
        self.adam.m = m;
        self.adam.v = v;
        self.adam.steps = steps;
        self.updates = updates;
        Ok(())
    }
}

fn invalid_nets(why: String) -> crate::Error {
    crate::Error::invalid(
        "synergy DQN networks",
        why,
        "networks of the configured size",
    )
}

/// The checkpoint and journal that reach the most updates, and whether the
/// checkpoint is the main file (not its backup); `None` without a checkpoint.
fn newest_state(
    dir: &Path,
    config: &DqnConfig,
) -> Result<Option<(format::Checkpoint, Option<Journal>, bool)>> {
    let dims = config.dims();
    let ck_path = dir.join(DQN_CHECKPOINT_FILE);
    let jl_path = dir.join(DQN_JOURNAL_FILE);
    let ck_of = |b: &[u8]| decode_checkpoint(b, dims, config.replay_capacity);
    let jl_of = |b: &[u8]| decode_journal(b, dims);
    // `load_with` falls back to the backup itself; reading the backup on its
    // own as well gives both candidates. A main file that was used is still
    // there (a damaged one is moved aside).
    let main = persist::load_with(&ck_path, ck_of)?;
    let from_main = main.is_some() && ck_path.exists();
    let older = persist::load_with(&backup_path(&ck_path), ck_of)?;
    let journal = persist::load_with(&jl_path, jl_of)?;
    let journal_is_main = journal.is_some() && jl_path.exists();
    let older_journal = persist::load_with(&backup_path(&jl_path), jl_of)?;
    let checkpoints: Vec<format::Checkpoint> = main.into_iter().chain(older).collect();
    let journals: Vec<Journal> = journal.into_iter().chain(older_journal).collect();
    let Some((reach, ci, ji)) = furthest(&checkpoints, &journals, dims.inputs) else {
        if !journals.is_empty() {
            tracing::warn!(
                file = %jl_path.display(),
                "a synergy DQN journal without its checkpoint is ignored"
            );
        }
        return Ok(None);
    };
    let newest_checkpoint = ci == 0 && from_main;
    let dropped = dropped_journal(&checkpoints[ci], &journals, journal_is_main, ji);
    if !newest_checkpoint || dropped.is_some() {
        tracing::warn!(
            dir = %dir.display(),
            updates = reach,
            dropped_journal_after = dropped.map(|j| j.base.updates),
            "synergy DQN resumed from an older checkpoint or without its journal; the next save writes a checkpoint"
        );
    }
    let mut checkpoints = checkpoints;
    let checkpoint = checkpoints.swap_remove(ci);
    let journal = ji.map(|ji| journals[ji].clone());
    Ok(Some((
        checkpoint,
        journal,
        newest_checkpoint && dropped.is_none(),
    )))
}

/// Of the checkpoints alone and the checkpoint–journal pairs that agree
/// (main files first, then backups), the first that reaches the most
/// updates: `(updates, checkpoint index, journal index)`; `None` without a
/// checkpoint. `d` is the network's width.
pub(super) fn furthest(
    checkpoints: &[format::Checkpoint],
    journals: &[Journal],
    d: usize,
) -> Option<(u64, usize, Option<usize>)> {
    let count = |j: &Journal| (j.entries.len() / (2 * d)) as u64;
    let mut best: Option<(u64, usize, Option<usize>)> = None;
    for (ci, c) in checkpoints.iter().enumerate() {
        let alone = (c.id.updates, ci, None);
        let paired = journals
            .iter()
            .enumerate()
            .filter(|(_, j)| j.base == c.id)
            .map(|(ji, j)| (c.id.updates + count(j), ci, Some(ji)));
        for candidate in std::iter::once(alone).chain(paired) {
            // The first of the furthest: main files before backups.
            if best.is_none_or(|b| candidate.0 > b.0) {
                best = Some(candidate);
            }
        }
    }
    best
}

/// The main journal (the first of `journals` when `journal_is_main`) when
/// it is left unused though it is not older than the checkpoint `used`: a
/// journal left over from before the newest checkpoint is expected, one at
/// or past the checkpoint used that could not be applied is a loss.
pub(super) fn dropped_journal<'a>(
    used: &format::Checkpoint,
    journals: &'a [Journal],
    journal_is_main: bool,
    ji: Option<usize>,
) -> Option<&'a Journal> {
    journals
        .first()
        .filter(|j| journal_is_main && ji != Some(0) && j.base.updates >= used.id.updates)
}

/// The files of `learner` for `dir`, in the order they are written: the
/// journal or a checkpoint (module docs), then the weights.
pub(super) fn state_files(learner: &DQNSynergyLearner, dir: &Path) -> Result<Vec<PendingFile>> {
    let dqn = match journal_entries(learner, dir) {
        Some((mut disk, entries)) => {
            let bytes = encode_journal(learner.config.dims(), disk.base, &entries);
            disk.journal_bytes += bytes.len() as u64;
            learner.disk.replace(Some(disk));
            PendingFile {
                path: dir.join(DQN_JOURNAL_FILE),
                bytes,
            }
        }
        None => {
            let (bytes, base) = encode_checkpoint(&CheckpointRef {
                dims: learner.config.dims(),
                updates: learner.updates,
                steps: learner.adam.steps,
                rng: &learner.rng,
                flats: [
                    learner.online.params(),
                    learner.target.params(),
                    &learner.adam.m,
                    &learner.adam.v,
                ],
                replay: &learner.replay,
            });
            learner.disk.replace(Some(OnDisk {
                dir: dir.to_path_buf(),
                base,
                journal_bytes: 0,
            }));
            PendingFile {
                path: dir.join(DQN_CHECKPOINT_FILE),
                bytes,
            }
        }
    };
    Ok(vec![dqn, weights_file(dir, &learner.weights)?])
}

/// The journal entries of the updates since the newest checkpoint, when a
/// journal should be written rather than a checkpoint (module docs).
fn journal_entries(learner: &DQNSynergyLearner, dir: &Path) -> Option<(OnDisk, Vec<f32>)> {
    let disk = learner.disk.borrow().clone().filter(|d| d.dir == dir)?;
    let pending = learner.updates.checked_sub(disk.base.updates)?;
    let d = learner.d();
    let replay = &learner.replay;
    let first = usize::try_from(pending)
        .ok()
        .and_then(|p| p.checked_mul(d))
        .and_then(|n| replay.len().checked_sub(n))?;
    let checkpoint = checkpoint_len(learner.config.dims(), replay.len()) as u64;
    if pending == 0 || disk.journal_bytes + journal_len(d, pending) > checkpoint {
        return None;
    }
    let mut entries = Vec::with_capacity(2 * d * pending as usize);
    for at in (first..replay.len()).step_by(d) {
        entries.extend_from_slice(replay.get(at).0);
        for i in 0..d {
            let (_, action, reward) = replay.get(at + i);
            // Each update pushed its d transitions in action order.
            if usize::from(action) != i {
                return None;
            }
            entries.push(reward);
        }
    }
    Some((disk, entries))
}
