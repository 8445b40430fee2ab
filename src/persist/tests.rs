use super::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct State {
    cycles: u64,
    ema: f64,
    history: Vec<f64>,
    weights: BTreeMap<String, f64>,
}

fn state(cycles: u64) -> State {
    State {
        cycles,
        ema: 0.25,
        history: vec![1.0, -0.5, 2.0],
        weights: BTreeMap::from([("roi".into(), 1.1), ("efficiency".into(), 0.9)]),
    }
}

fn corrupt_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".corrupt-"))
        .collect();
    v.sort();
    v
}

#[test]
fn round_trip_writes_version_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("engine.json");
    let n = save_json(&path, &state(3), Durability::Fsync).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    assert_eq!(n as usize, text.len());
    assert!(text.starts_with("{\"version\":1,"), "{text}");
    assert_eq!(load_json::<State>(&path).unwrap(), Some(state(3)));
}

#[test]
fn missing_file_is_none() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        load_json::<State>(&dir.path().join("x.json")).unwrap(),
        None
    );
}

#[test]
fn second_write_keeps_the_first_as_backup() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("engine.json");
    save_json(&path, &state(1), Durability::Atomic).unwrap();
    assert!(!backup_path(&path).exists());
    save_json(&path, &state(2), Durability::Atomic).unwrap();
    assert_eq!(
        load_json::<State>(&backup_path(&path)).unwrap(),
        Some(state(1))
    );
    assert_eq!(load_json::<State>(&path).unwrap(), Some(state(2)));
}

#[test]
fn non_finite_values_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("engine.json");
    save_json(&path, &state(1), Durability::Atomic).unwrap();
    let before = fs::read(&path).unwrap();
    let mut bad = state(2);
    bad.history[1] = f64::NAN;
    let err = save_json(&path, &bad, Durability::Atomic).unwrap_err();
    assert!(matches!(err, PersistError::NonFinite { .. }));
    assert!(err.to_string().contains("history[1]"), "{err}");
    assert!(err.to_string().contains("engine.json"), "{err}");
    assert_eq!(fs::read(&path).unwrap(), before);
    assert!(!backup_path(&path).exists());
}

#[test]
fn newer_version_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.json");
    let text = r#"{"version":2,"cycles":1,"ema":0,"history":[],"weights":{}}"#;
    fs::write(&path, text).unwrap();
    let err = load_json::<State>(&path).unwrap_err();
    assert!(matches!(err, PersistError::NewerVersion { found: 2, .. }));
    assert!(err.to_string().contains("policy.json"), "{err}");
    assert!(err.to_string().contains("left untouched"), "{err}");
    assert_eq!(fs::read_to_string(&path).unwrap(), text);
    assert!(corrupt_files(dir.path()).is_empty());
}

#[test]
fn corrupt_file_is_moved_aside_and_backup_used() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("engine.json");
    save_json(&path, &state(1), Durability::Atomic).unwrap();
    save_json(&path, &state(2), Durability::Atomic).unwrap();
    fs::write(&path, b"{\"version\":1,\"cycles\":").unwrap();
    assert_eq!(load_json::<State>(&path).unwrap(), Some(state(1)));
    let aside = corrupt_files(dir.path());
    assert_eq!(aside.len(), 1);
    assert_eq!(fs::read(&aside[0]).unwrap(), b"{\"version\":1,\"cycles\":");
    assert!(!path.exists());
    // The next write must not lose the backup before the new file is in place.
    save_json(&path, &state(3), Durability::Atomic).unwrap();
    assert_eq!(load_json::<State>(&path).unwrap(), Some(state(3)));
    assert_eq!(
        load_json::<State>(&backup_path(&path)).unwrap(),
        Some(state(1))
    );
}

#[test]
fn corrupt_without_backup_gives_none() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("engine.json");
    fs::write(&path, b"").unwrap();
    assert_eq!(load_json::<State>(&path).unwrap(), None);
    assert_eq!(corrupt_files(dir.path()).len(), 1);
}

#[test]
fn wrong_shape_missing_version_and_version_zero_are_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    for text in [
        r#"{"cycles":1,"ema":0,"history":[],"weights":{}}"#,
        r#"{"version":0,"cycles":1,"ema":0,"history":[],"weights":{}}"#,
        r#"{"version":"1","cycles":1,"ema":0,"history":[],"weights":{}}"#,
        r#"{"version":1,"cycles":"one","ema":0,"history":[],"weights":{}}"#,
        r#"{"version":1,"ema":0,"history":[],"weights":{}}"#,
        r#"[1,2,3]"#,
    ] {
        fs::write(&path, text).unwrap();
        assert_eq!(load_json::<State>(&path).unwrap(), None, "{text}");
        assert!(!path.exists(), "{text}");
    }
    // Six corrupt files in (most likely) the same second get distinct names.
    assert_eq!(corrupt_files(dir.path()).len(), 6);
}

#[test]
fn missing_file_with_backup_uses_backup() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("engine.json");
    save_json(&path, &state(1), Durability::Atomic).unwrap();
    save_json(&path, &state(2), Durability::Atomic).unwrap();
    fs::remove_file(&path).unwrap();
    assert_eq!(load_json::<State>(&path).unwrap(), Some(state(1)));
}

#[test]
fn newer_backup_is_refused_too() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("engine.json");
    fs::write(backup_path(&path), r#"{"version":9}"#).unwrap();
    assert!(matches!(
        load_json::<State>(&path),
        Err(PersistError::NewerVersion { found: 9, .. })
    ));
}

#[test]
fn truncation_at_every_byte_offset_never_panics_and_falls_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("engine.json");
    save_json(&path, &state(1), Durability::Atomic).unwrap();
    save_json(&path, &state(2), Durability::Atomic).unwrap();
    let full = fs::read(&path).unwrap();
    let bak = fs::read(backup_path(&path)).unwrap();
    for cut in 0..full.len() {
        fs::write(&path, &full[..cut]).unwrap();
        fs::write(backup_path(&path), &bak).unwrap();
        assert_eq!(
            load_json::<State>(&path).unwrap(),
            Some(state(1)),
            "cut at {cut}"
        );
        for f in corrupt_files(dir.path()) {
            fs::remove_file(f).unwrap();
        }
    }
}

#[test]
fn bit_flips_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("engine.json");
    save_json(&path, &state(7), Durability::Atomic).unwrap();
    let full = fs::read(&path).unwrap();
    for i in 0..full.len() {
        for bit in [0u8, 3, 7] {
            let mut bytes = full.clone();
            bytes[i] ^= 1 << bit;
            fs::write(&path, &bytes).unwrap();
            // A flip can leave valid JSON with another value, or a newer
            // version number; it must never panic or invent a backup.
            match load_json::<State>(&path) {
                Ok(Some(_)) | Ok(None) | Err(PersistError::NewerVersion { .. }) => {}
                Err(e) => panic!("unexpected error at byte {i}: {e}"),
            }
            for f in corrupt_files(dir.path()) {
                fs::remove_file(f).unwrap();
            }
        }
    }
}

#[test]
fn load_with_custom_decoder_applies_the_same_rules() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("net.bin");
    write_atomic(&path, b"good-1", Durability::Fsync).unwrap();
    write_atomic(&path, b"bad", Durability::Fsync).unwrap();
    let decode = |b: &[u8]| {
        if b.starts_with(b"good") {
            Ok(b.to_vec())
        } else {
            Err(Decode::Corrupt("not good".into()))
        }
    };
    assert_eq!(load_with(&path, decode).unwrap(), Some(b"good-1".to_vec()));
}

#[test]
fn writes_into_a_new_folder() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a").join("b").join("engine.json");
    save_json(&path, &state(1), Durability::Fsync).unwrap();
    assert_eq!(load_json::<State>(&path).unwrap(), Some(state(1)));
}

#[test]
fn inspect_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("engine.json");
    assert_eq!(inspect_json::<State>(&path), Inspected::Missing);
    save_json(&path, &state(1), Durability::Atomic).unwrap();
    assert_eq!(
        inspect_json::<State>(&path),
        Inspected::Good {
            value: state(1),
            from_backup: false
        }
    );
    save_json(&path, &state(2), Durability::Atomic).unwrap();
    fs::write(&path, b"{broken").unwrap();
    assert_eq!(
        inspect_json::<State>(&path),
        Inspected::Good {
            value: state(1),
            from_backup: true
        }
    );
    assert_eq!(fs::read(&path).unwrap(), b"{broken");
    fs::remove_file(backup_path(&path)).unwrap();
    assert!(matches!(
        inspect_json::<State>(&path),
        Inspected::Corrupt(_)
    ));
    fs::write(&path, br#"{"version":3}"#).unwrap();
    assert_eq!(inspect_json::<State>(&path), Inspected::Newer(3));
    assert!(corrupt_files(dir.path()).is_empty());
}

#[test]
fn many_writes_keep_the_newest_and_the_one_before() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("engine.json");
    for n in 1..=6 {
        save_json(&path, &state(n), Durability::Atomic).unwrap();
        assert_eq!(load_json::<State>(&path).unwrap(), Some(state(n)));
        if n > 1 {
            assert_eq!(
                load_json::<State>(&backup_path(&path)).unwrap(),
                Some(state(n - 1))
            );
        }
    }
    // The scratch file is never read, whatever it holds.
    fs::write(
        sibling(&path, ".tmp"),
        b"garbage that is longer than any state",
    )
    .unwrap();
    assert_eq!(load_json::<State>(&path).unwrap(), Some(state(6)));
    save_json(&path, &state(7), Durability::Fsync).unwrap();
    assert_eq!(load_json::<State>(&path).unwrap(), Some(state(7)));
    assert_eq!(
        load_json::<State>(&backup_path(&path)).unwrap(),
        Some(state(6))
    );
}
