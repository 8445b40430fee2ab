//! The read-only look `kaizen status` takes at the DQN's files: it says what
//! a load would do (checked here against the load itself) and changes
//! nothing.

use super::*;
use crate::persist::{Durability, backup_path};
use crate::synergy::{DamagedFile, DqnOutcome, inspect_dqn};
use std::fs;

const CKPT: &str = DQN_CHECKPOINT_FILE;

/// Every file of `dir`, with its bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut all: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let bytes = fs::read(&p).unwrap();
            (p.file_name().unwrap().to_string_lossy().into_owned(), bytes)
        })
        .collect();
    all.sort();
    all
}

/// Inspects `dir` (changing nothing), then loads it: the inspection's
/// outcome and damaged files, and the updates the load resumed at.
fn inspect_then_load(dir: &Path, seed: u64) -> (DqnOutcome, Vec<DamagedFile>, u64) {
    let before = files(dir);
    let found = inspect_dqn(dir, Some(SynergyKeys::Core));
    assert_eq!(files(dir), before, "the inspection changed the folder");
    let loaded = DQNSynergyLearner::load(dir, config(seed)).unwrap();
    (found.outcome, found.damaged, loaded.updates)
}

/// Trains with a save after every update until the checkpoint has a backup.
fn with_two_checkpoints(seed: u64) -> (tempfile::TempDir, DQNSynergyLearner) {
    let dir = tempfile::tempdir().unwrap();
    let mut l = learner(seed);
    let mut inputs = ChaCha8Rng::seed_from_u64(seed);
    while !backup_path(&dir.path().join(CKPT)).exists() {
        train(&mut l, &mut inputs, 1);
        l.save(dir.path(), Durability::Atomic).unwrap();
    }
    train(&mut l, &mut inputs, 1);
    l.save(dir.path(), Durability::Atomic).unwrap();
    (dir, l)
}

#[test]
fn whole_files_resume_where_the_learner_was() {
    let (dir, l) = with_two_checkpoints(31);
    let (outcome, damaged, updates) = inspect_then_load(dir.path(), 31);
    assert_eq!(outcome, DqnOutcome::Resumes { updates: l.updates });
    assert_eq!(updates, l.updates);
    assert!(damaged.is_empty());
    assert_eq!(inspect_dqn(dir.path(), None).problem(), None);
}

#[test]
fn a_truncated_checkpoint_resumes_from_its_backup() {
    let (dir, l) = with_two_checkpoints(32);
    let ckpt = dir.path().join(CKPT);
    let bytes = fs::read(&ckpt).unwrap();
    fs::write(&ckpt, &bytes[..bytes.len() / 2]).unwrap();
    let found = inspect_dqn(dir.path(), None);
    let problem = found.problem().unwrap();
    assert!(problem.contains("synergy-dqn.ckpt corrupt: "), "{problem}");
    assert!(problem.contains("older copy"), "{problem}");
    let (outcome, damaged, updates) = inspect_then_load(dir.path(), 32);
    assert_eq!(outcome, DqnOutcome::ResumesOlder { updates });
    assert!(updates < l.updates);
    assert_eq!(damaged.len(), 1);
    assert_eq!(damaged[0].file, CKPT);
}

#[test]
fn garbage_or_an_unknown_version_without_a_backup_starts_fresh() {
    for damage in ["garbage", "old version", "cut"] {
        let dir = tempfile::tempdir().unwrap();
        let mut l = learner(33);
        train(&mut l, &mut ChaCha8Rng::seed_from_u64(33), 3);
        l.save(dir.path(), Durability::Atomic).unwrap();
        let ckpt = dir.path().join(CKPT);
        let mut bytes = fs::read(&ckpt).unwrap();
        match damage {
            "garbage" => bytes = b"not a checkpoint at all".to_vec(),
            "old version" => bytes[8..12].copy_from_slice(&1u32.to_le_bytes()),
            _ => bytes.truncate(10),
        }
        fs::write(&ckpt, &bytes).unwrap();
        let problem = inspect_dqn(dir.path(), None).problem().unwrap();
        assert!(
            problem.contains("start the DQN fresh"),
            "{damage}: {problem}"
        );
        let (outcome, damaged, updates) = inspect_then_load(dir.path(), 33);
        assert_eq!(outcome, DqnOutcome::StartsFresh, "{damage}");
        assert_eq!(updates, 0, "{damage}");
        assert_eq!(damaged[0].file, CKPT, "{damage}");
    }
}

#[test]
fn a_newer_checkpoint_is_refused_as_the_load_refuses_it() {
    let (dir, _) = with_two_checkpoints(34);
    let ckpt = dir.path().join(CKPT);
    let mut bytes = fs::read(&ckpt).unwrap();
    bytes[8..12].copy_from_slice(&3u32.to_le_bytes());
    fs::write(&ckpt, &bytes).unwrap();
    let before = files(dir.path());
    let found = inspect_dqn(dir.path(), Some(SynergyKeys::Core));
    assert_eq!(found.outcome, DqnOutcome::Refuses { version: 3 });
    assert!(found.problem().unwrap().contains("newer kaizen"));
    assert_eq!(files(dir.path()), before);
    assert!(DQNSynergyLearner::load(dir.path(), config(34)).is_err());
}

#[test]
fn the_key_set_is_tried_when_unknown_and_a_wrong_one_is_named() {
    let (dir, l) = with_two_checkpoints(35);
    let extended = inspect_dqn(dir.path(), Some(SynergyKeys::Extended));
    assert_eq!(extended.outcome, DqnOutcome::StartsFresh);
    assert!(
        extended.damaged[0].why.contains("network"),
        "{:?}",
        extended.damaged
    );
    let unknown = inspect_dqn(dir.path(), None);
    assert_eq!(unknown.outcome, DqnOutcome::Resumes { updates: l.updates });
}

#[test]
fn a_folder_without_dqn_files_has_nothing_to_say() {
    let dir = tempfile::tempdir().unwrap();
    let found = inspect_dqn(dir.path(), None);
    assert_eq!(found.outcome, DqnOutcome::Absent);
    assert_eq!(found.problem(), None);
}
