//! The learner's files: exact resumption, what a save writes, damage,
//! crashes between writes, and the migration of format-1 files.

use super::*;
use crate::persist::{self, Durability, PersistError, backup_path};
use crate::synergy::WEIGHTS_FILE;
use std::fs;

const CKPT: &str = DQN_CHECKPOINT_FILE;
const JOURNAL: &str = DQN_JOURNAL_FILE;

/// Trains `n` updates, saving after each one; returns the bytes written.
fn train_saving(l: &mut DQNSynergyLearner, inputs: &mut ChaCha8Rng, n: usize, dir: &Path) -> u64 {
    let mut written = 0;
    for _ in 0..n {
        train(l, inputs, 1);
        written += l.save(dir, Durability::Atomic).unwrap();
    }
    written
}

/// The file names a save of `l` into `dir` would write, without writing.
fn names_of_next_save(l: &DQNSynergyLearner, dir: &Path) -> Vec<String> {
    let probe = l.clone();
    probe
        .state_files(dir)
        .unwrap()
        .iter()
        .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn resume_exactly_from_a_checkpoint_and_its_journal() {
    for (keys, n, saved, k) in [
        (SynergyKeys::Core, 260, 37, 40),
        (SynergyKeys::Extended, 30, 25, 25),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let config = DqnConfig { keys, ..config(21) };
        let mut never_stopped = DQNSynergyLearner::new(config.clone()).unwrap();
        let mut inputs = ChaCha8Rng::seed_from_u64(22);
        train(&mut never_stopped, &mut inputs, n);
        // A checkpoint, then journals, one save per update.
        let written = never_stopped.save(dir.path(), Durability::Atomic).unwrap();
        let on_disk = |files: &[&str]| -> u64 {
            files
                .iter()
                .map(|f| fs::metadata(dir.path().join(f)).unwrap().len())
                .sum()
        };
        assert_eq!(written, on_disk(&[CKPT, WEIGHTS_FILE]));
        train_saving(&mut never_stopped, &mut inputs, saved, dir.path());
        assert!(dir.path().join(JOURNAL).exists());
        let mut reloaded = DQNSynergyLearner::load(dir.path(), config).unwrap();
        assert_same_state(&reloaded, &never_stopped);
        let mut inputs2 = inputs.clone();
        train_saving(&mut never_stopped, &mut inputs, k, dir.path());
        train(&mut reloaded, &mut inputs2, k);
        assert_same_state(&reloaded, &never_stopped);
    }
}

/// Every save leaves files that load to exactly the state saved, so a crash
/// before any write (each save writes one DQN file atomically) resumes the
/// save before it.
#[test]
fn every_save_loads_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let mut l = learner(30);
    let mut inputs = ChaCha8Rng::seed_from_u64(31);
    let mut checkpoints = 0;
    for _ in 0..300 {
        train(&mut l, &mut inputs, 1);
        checkpoints += usize::from(names_of_next_save(&l, dir.path())[0] == CKPT);
        l.save(dir.path(), Durability::Atomic).unwrap();
        let back = DQNSynergyLearner::load(dir.path(), config(30)).unwrap();
        assert_same_state(&back, &l);
    }
    // Some checkpoints, mostly journals.
    assert!((3..=12).contains(&checkpoints), "{checkpoints}");
}

/// With a save after every update, a DQN cycle writes a few hundred bytes
/// to a couple of kilobytes, not the ~80 kB of format 1.
#[test]
fn bytes_per_saved_update_stay_small() {
    let dir = tempfile::tempdir().unwrap();
    let mut l = learner(32);
    let mut inputs = ChaCha8Rng::seed_from_u64(33);
    train_saving(&mut l, &mut inputs, 300, dir.path());
    let written = train_saving(&mut l, &mut inputs, 500, dir.path());
    let per_update = written / 500;
    assert!(per_update < 2_500, "{per_update} bytes per update");
    // Saves far apart (many updates between them) write checkpoints.
    train(&mut l, &mut inputs, 300);
    assert_eq!(names_of_next_save(&l, dir.path())[0], CKPT);
}

#[test]
fn missing_files_give_a_fresh_learner() {
    let dir = tempfile::tempdir().unwrap();
    let loaded = DQNSynergyLearner::load(dir.path(), config(8)).unwrap();
    assert_same_state(&loaded, &learner(8));
    let bad = DqnConfig {
        gamma: 2.0,
        ..config(8)
    };
    assert!(DQNSynergyLearner::load(dir.path(), bad).is_err());
}

#[test]
fn saves_are_deterministic_and_a_new_folder_gets_a_checkpoint() {
    let mut l = learner(9);
    train(&mut l, &mut ChaCha8Rng::seed_from_u64(9), 12);
    let first = tempfile::tempdir().unwrap();
    l.save(first.path(), Durability::Atomic).unwrap();
    let again = l.clone();
    train(&mut l, &mut ChaCha8Rng::seed_from_u64(10), 1);
    assert_eq!(
        names_of_next_save(&l, first.path()),
        [JOURNAL, WEIGHTS_FILE]
    );
    // Another folder has no checkpoint of this learner: it gets one.
    let other = tempfile::tempdir().unwrap();
    assert_eq!(names_of_next_save(&l, other.path()), [CKPT, WEIGHTS_FILE]);
    // A save with no update since the checkpoint writes it again, same bytes;
    // that is still the newest checkpoint (a journal follows it).
    let second = tempfile::tempdir().unwrap();
    again.save(second.path(), Durability::Atomic).unwrap();
    again.save(second.path(), Durability::Atomic).unwrap();
    let mut back = DQNSynergyLearner::load(second.path(), config(9)).unwrap();
    train(&mut back, &mut ChaCha8Rng::seed_from_u64(10), 1);
    assert_eq!(
        names_of_next_save(&back, second.path()),
        [JOURNAL, WEIGHTS_FILE]
    );
    for file in [CKPT, WEIGHTS_FILE] {
        let a = fs::read(first.path().join(file)).unwrap();
        let b = fs::read(second.path().join(file)).unwrap();
        assert!(a == b, "{file} differs between saves");
    }
}

#[test]
fn checkpoint_and_journal_layout() {
    let dir = tempfile::tempdir().unwrap();
    let mut l = learner(10);
    train(&mut l, &mut ChaCha8Rng::seed_from_u64(10), 3);
    l.save(dir.path(), Durability::Atomic).unwrap();
    let bytes = fs::read(dir.path().join(CKPT)).unwrap();
    let u32_at = |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    let u64_at = |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
    assert_eq!(&bytes[..8], b"kzdqn-ck");
    assert_eq!(u32_at(&bytes, 8), 2);
    assert_eq!(
        [u32_at(&bytes, 12), u32_at(&bytes, 16), u32_at(&bytes, 20)],
        [4, 32, 4]
    );
    assert_eq!((u64_at(&bytes, 24), u64_at(&bytes, 32)), (3, 3));
    // Header, RNG, 4 × 1348 parameters, 12 transitions of 21 bytes, CRC.
    assert_eq!(bytes.len(), 40 + 56 + 16 * 1348 + 4 + 12 * 21 + 4);
    let online_at = 96;
    let first = f32::from_le_bytes(bytes[online_at..online_at + 4].try_into().unwrap());
    assert_eq!(first, l.online.params()[0]);
    let crc = u32_at(&bytes, bytes.len() - 4);
    assert_eq!(crc, crc32fast::hash(&bytes[..bytes.len() - 4]));

    train(&mut l, &mut ChaCha8Rng::seed_from_u64(11), 2);
    l.save(dir.path(), Durability::Atomic).unwrap();
    let journal = fs::read(dir.path().join(JOURNAL)).unwrap();
    assert_eq!(&journal[..8], b"kzdqn-jl");
    assert_eq!(u32_at(&journal, 8), 2);
    assert_eq!((u64_at(&journal, 24), u32_at(&journal, 32)), (3, crc));
    assert_eq!(u32_at(&journal, 36), 2);
    assert_eq!(journal.len(), 40 + 2 * 8 * 4 + 4);
    // The last entry: the newest state, then its rewards.
    let f32_at = |at: usize| f32::from_le_bytes(journal[at..at + 4].try_into().unwrap());
    let (state, _, _) = l.replay.get(l.replay_len() - 4);
    assert_eq!(f32_at(40 + 32), state[0]);
    assert_eq!(
        f32_at(40 + 32 + 16 + 12),
        l.replay.get(l.replay_len() - 1).2
    );
}

/// Deletes the files moved aside as corrupt; returns how many there were.
fn remove_corrupt(dir: &Path) -> usize {
    let mut n = 0;
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().contains(".corrupt-") {
            fs::remove_file(path).unwrap();
            n += 1;
        }
    }
    n
}

fn saved(seed: u64, n: usize) -> (tempfile::TempDir, DQNSynergyLearner) {
    let dir = tempfile::tempdir().unwrap();
    let mut l = learner(seed);
    train(&mut l, &mut ChaCha8Rng::seed_from_u64(seed), n);
    l.save(dir.path(), Durability::Atomic).unwrap();
    (dir, l)
}

#[test]
fn newer_files_are_refused_and_left_untouched() {
    for file in [CKPT, JOURNAL] {
        let (dir, mut l) = saved(12, 2);
        train_saving(&mut l, &mut ChaCha8Rng::seed_from_u64(13), 1, dir.path());
        let path = dir.path().join(file);
        let mut bytes = fs::read(&path).unwrap();
        bytes[8..12].copy_from_slice(&3u32.to_le_bytes());
        fs::write(&path, &bytes).unwrap();
        let err = DQNSynergyLearner::load(dir.path(), config(12)).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Persist(PersistError::NewerVersion { found: 3, .. })
            ),
            "{file}: {err}"
        );
        assert_eq!(fs::read(&path).unwrap(), bytes);
    }
}

/// A checksum catches any single-bit flip and any cut: the damaged file is
/// moved aside and the learner falls back to what is intact.
#[test]
fn any_damage_is_detected() {
    let (dir, l) = saved(14, 6);
    let ckpt = dir.path().join(CKPT);
    let good = fs::read(&ckpt).unwrap();
    let fresh = learner(14);
    let mut rng = ChaCha8Rng::seed_from_u64(14);
    let cuts = (0..64).chain((64..good.len()).step_by(97));
    let flips = (0..200).map(|_| {
        let mut bytes = good.clone();
        let at = rng.random_range(0..bytes.len());
        bytes[at] ^= 1 << rng.random_range(0..8);
        bytes
    });
    for bytes in cuts.map(|cut| good[..cut].to_vec()).chain(flips) {
        fs::write(&ckpt, &bytes).unwrap();
        match DQNSynergyLearner::load(dir.path(), config(14)) {
            Ok(back) => {
                assert_same_dqn(&back, &fresh);
                assert!(!ckpt.exists());
                assert_eq!(remove_corrupt(dir.path()), 1);
            }
            // A version field flipped to a higher number is refused instead.
            Err(Error::Persist(PersistError::NewerVersion { .. })) => {
                assert!(bytes[8..12] != good[8..12]);
                assert_eq!(fs::read(&ckpt).unwrap(), bytes);
            }
            Err(e) => panic!("{e}"),
        }
    }
    // A damaged journal: the checkpoint alone.
    fs::write(&ckpt, &good).unwrap();
    let mut ahead = l.clone();
    train_saving(
        &mut ahead,
        &mut ChaCha8Rng::seed_from_u64(15),
        3,
        dir.path(),
    );
    let journal = dir.path().join(JOURNAL);
    let mut bytes = fs::read(&journal).unwrap();
    bytes[50] ^= 4;
    fs::write(&journal, &bytes).unwrap();
    let back = DQNSynergyLearner::load(dir.path(), config(14)).unwrap();
    // The journal's backup (two updates) still names the checkpoint.
    assert_eq!(back.updates(), 8);
    assert_eq!(remove_corrupt(dir.path()), 1);
}

#[test]
fn files_of_another_key_set_are_moved_aside() {
    let (dir, _) = saved(16, 3);
    let ext = DqnConfig {
        keys: SynergyKeys::Extended,
        ..config(16)
    };
    let l = DQNSynergyLearner::load(dir.path(), ext.clone()).unwrap();
    assert_same_state(&l, &DQNSynergyLearner::new(ext).unwrap());
    for file in [CKPT, WEIGHTS_FILE] {
        assert!(!dir.path().join(file).exists(), "{file}");
    }
}

/// Writes a learner's next save, DQN file only (the weights do not matter here).
fn write_dqn_file(l: &DQNSynergyLearner, dir: &Path) -> String {
    let files = l.state_files(dir).unwrap();
    persist::write_all(&files[..1], Durability::Atomic).unwrap();
    files[0]
        .path
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn a_journal_whose_checkpoint_never_landed_falls_back() {
    // Checkpoint A, journals on A, then checkpoint B is encoded but its
    // write is lost, and journals on B are written: B's journals name a
    // checkpoint that is not there.
    let dir = tempfile::tempdir().unwrap();
    let mut l = learner(17);
    let mut inputs = ChaCha8Rng::seed_from_u64(17);
    train(&mut l, &mut inputs, 5);
    assert_eq!(write_dqn_file(&l, dir.path()), CKPT);
    let at_a = l.clone();
    train(&mut l, &mut inputs, 1);
    assert_eq!(write_dqn_file(&l, dir.path()), JOURNAL);
    let at_a1 = l.clone();
    train(&mut l, &mut inputs, 1);
    // Force a checkpoint: encode it (the learner now counts it as written).
    *l.disk.borrow_mut() = None;
    let lost = l.state_files(dir.path()).unwrap();
    assert!(lost[0].path.ends_with(CKPT));
    train(&mut l, &mut inputs, 1);
    assert_eq!(write_dqn_file(&l, dir.path()), JOURNAL);
    // The journal names B; its backup names A and holds one update.
    let back = DQNSynergyLearner::load(dir.path(), config(17)).unwrap();
    assert_same_dqn(&back, &at_a1);
    // Without that backup: checkpoint A alone.
    fs::remove_file(backup_path(&dir.path().join(JOURNAL))).unwrap();
    let mut back = DQNSynergyLearner::load(dir.path(), config(17)).unwrap();
    assert_same_dqn(&back, &at_a);
    // Resuming from a fallback makes the next save a checkpoint.
    assert_eq!(names_of_next_save(&back, dir.path())[0], CKPT);
    train(&mut back, &mut inputs, 1);
    assert_eq!(names_of_next_save(&back, dir.path())[0], CKPT);
}

#[test]
fn a_new_checkpoint_with_an_older_journal_resumes_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let mut l = learner(18);
    let mut inputs = ChaCha8Rng::seed_from_u64(18);
    train_saving(&mut l, &mut inputs, 400, dir.path());
    // Save until the next checkpoint lands; the journal on disk then names
    // the checkpoint before it.
    loop {
        train(&mut l, &mut inputs, 1);
        let next = names_of_next_save(&l, dir.path());
        l.save(dir.path(), Durability::Atomic).unwrap();
        if next[0] == CKPT {
            break;
        }
    }
    let back = DQNSynergyLearner::load(dir.path(), config(18)).unwrap();
    assert_same_state(&back, &l);
    // And the checkpoint's backup with that journal is an older moment.
    fs::remove_file(dir.path().join(CKPT)).unwrap();
    let older = DQNSynergyLearner::load(dir.path(), config(18)).unwrap();
    assert_eq!(older.updates(), l.updates() - 1);
}

/// Writes `l` as kaizen round 1 did (format 1): the networks and moments as
/// safetensors (weights `[out, in]`), the rest as JSON.
fn write_format1(l: &DQNSynergyLearner, dir: &Path, nets: bool, state: bool) {
    let dims = l.config.dims();
    if nets {
        let flats = [l.online.params(), l.target.params(), &l.adam.m, &l.adam.v];
        let mut data: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        for (prefix, flat) in ["online", "target", "adam_m", "adam_v"].iter().zip(flats) {
            for seg in dims.segments() {
                let v = &flat[seg.range.clone()];
                let (shape, values): (Vec<usize>, Vec<f32>) = if seg.is_weight {
                    let (i, o) = (seg.fan_in, seg.fan_out);
                    let t = (0..o).flat_map(|r| (0..i).map(move |c| v[c * o + r]));
                    (vec![o, i], t.collect())
                } else {
                    (vec![seg.fan_out], v.to_vec())
                };
                let bytes = values.iter().flat_map(|x| x.to_le_bytes()).collect();
                data.push((format!("{prefix}.{}", seg.name), shape, bytes));
            }
        }
        let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = data
            .iter()
            .map(|(name, shape, bytes)| {
                let view = safetensors::tensor::TensorView::new(
                    safetensors::Dtype::F32,
                    shape.clone(),
                    bytes,
                );
                (name.clone(), view.unwrap())
            })
            .collect();
        let metadata = std::collections::HashMap::from([
            ("version".to_string(), "1".to_string()),
            ("updates".to_string(), l.updates.to_string()),
            ("steps".to_string(), l.adam.steps.to_string()),
        ]);
        let bytes = safetensors::serialize(views, Some(metadata)).unwrap();
        persist::write_atomic(&dir.join(DQN_NETS_FILE), &bytes, Durability::Atomic).unwrap();
    }
    if state {
        let value = serde_json::json!({
            "keys": l.config.keys,
            "updates": l.updates,
            "steps": l.adam.steps,
            "rng": l.rng,
            "replay": l.replay.to_file(),
        });
        persist::save_json(&dir.join(DQN_STATE_FILE), &value, Durability::Atomic).unwrap();
    }
}

#[test]
fn format1_files_are_migrated_and_resumed_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let mut l = learner(40);
    let mut inputs = ChaCha8Rng::seed_from_u64(40);
    train(&mut l, &mut inputs, 30);
    write_format1(&l, dir.path(), true, true);
    let mut back = DQNSynergyLearner::load(dir.path(), config(40)).unwrap();
    assert_same_weights(&back, &learner(40)); // no synergy.json: weights 1.0
    assert_same_dqn(&back, &l);
    // The first save writes format 2, and the two go on together.
    assert_eq!(names_of_next_save(&back, dir.path()), [CKPT, WEIGHTS_FILE]);
    train_saving(&mut back, &mut inputs.clone(), 20, dir.path());
    train(&mut l, &mut inputs, 20);
    assert_same_state(&back, &l);
    let again = DQNSynergyLearner::load(dir.path(), config(40)).unwrap();
    assert_same_state(&again, &l);
}

#[test]
fn format1_pairs_that_disagree_are_never_mixed() {
    // A crash after the networks were written, before the state file: the
    // networks' backup matches the state file, and that moment is resumed.
    let dir = tempfile::tempdir().unwrap();
    let mut l = learner(41);
    let mut inputs = ChaCha8Rng::seed_from_u64(41);
    train(&mut l, &mut inputs, 20);
    write_format1(&l, dir.path(), true, true);
    let at_20 = l.clone();
    train(&mut l, &mut inputs, 5);
    write_format1(&l, dir.path(), true, false);
    let back = DQNSynergyLearner::load(dir.path(), config(41)).unwrap();
    assert_same_dqn(&back, &at_20);
    // Without that backup, the newer networks are kept, the replay emptied
    // and the RNG reseeded.
    fs::remove_file(backup_path(&dir.path().join(DQN_NETS_FILE))).unwrap();
    let back = DQNSynergyLearner::load(dir.path(), config(41)).unwrap();
    assert_eq!(back.online.params(), l.online.params());
    assert_eq!(
        (back.updates(), back.steps(), back.replay_len()),
        (25, 25, 0)
    );
    assert_eq!(back.rng, ChaCha8Rng::seed_from_u64(41 + 25));
    // The state file ahead of the networks: its backup is the partner.
    let dir = tempfile::tempdir().unwrap();
    let mut l = at_20.clone();
    write_format1(&l, dir.path(), true, true);
    train(&mut l, &mut inputs, 5);
    write_format1(&l, dir.path(), false, true);
    let back = DQNSynergyLearner::load(dir.path(), config(41)).unwrap();
    assert_same_dqn(&back, &at_20);
    // No usable networks: fresh, whatever the state file says.
    fs::remove_file(dir.path().join(DQN_NETS_FILE)).unwrap();
    let back = DQNSynergyLearner::load(dir.path(), config(41)).unwrap();
    assert_same_state(&back, &learner(41));
}

#[test]
fn the_round1_fixture_migrates() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/round1/state/gamma");
    let dir = tempfile::tempdir().unwrap();
    for entry in fs::read_dir(&fixture).unwrap() {
        let path = entry.unwrap().path();
        fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    let mut l = DQNSynergyLearner::load(dir.path(), DqnConfig::default()).unwrap();
    assert_eq!((l.updates(), l.steps(), l.replay_len()), (4, 4, 16));
    let json: serde_json::Value =
        serde_json::from_slice(&fs::read(fixture.join(DQN_STATE_FILE)).unwrap()).unwrap();
    let first_state = json["replay"]["states"][0].as_f64().unwrap() as f32;
    assert_eq!(l.replay.get(0).0[0], first_state);
    // l1.weight[out 0][in 1] of the safetensors file is kernel [in 1][out 0].
    let bytes = fs::read(fixture.join(DQN_NETS_FILE)).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let w1 = st.tensor("online.l1.weight").unwrap();
    let w = |i: usize| f32::from_le_bytes(w1.data()[4 * i..4 * i + 4].try_into().unwrap());
    assert_eq!(l.online.params()[32], w(1));
    train_saving(&mut l, &mut ChaCha8Rng::seed_from_u64(1), 3, dir.path());
    let back = DQNSynergyLearner::load(dir.path(), DqnConfig::default()).unwrap();
    assert_same_state(&back, &l);
    assert_eq!(back.updates(), 7);
}
