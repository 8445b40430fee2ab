//! Issue 9 item 6: state is never written through a link. A symbolic link
//! at a state file is refused; a scratch file that is a link or shares its
//! inode with a `cp -al` copy is replaced, never rewritten.

#![cfg(unix)]

use crate::support::*;
use kaizen::host::{FixedProbe, ManualClock};
use kaizen::persist::{Durability, PersistError, load_json, save_json, write_atomic};
use kaizen::registry::{RegistryConfig, RegistryHandle};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Every file under `dir` with its bytes.
fn contents(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            out.extend(contents(&path));
        } else if kind.is_file() {
            out.insert(path.clone(), std::fs::read(&path).unwrap());
        }
    }
    out
}

fn cp_al(from: &Path, to: &Path) {
    let ok = std::process::Command::new("cp")
        .arg("-al")
        .arg(from)
        .arg(to)
        .status()
        .unwrap()
        .success();
    assert!(ok, "cp -al failed");
}

#[actix::test]
async fn a_cp_al_backup_stays_byte_identical_after_any_number_of_saves() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let clock = ManualClock::new(0.0);
    let start = || {
        RegistryHandle::builder(RegistryConfig {
            state_root: Some(state.clone()),
            ..RegistryConfig::default()
        })
        .clock(Arc::new(clock.clone()))
        .probe(FixedProbe::default())
        .start()
        .unwrap()
    };
    let reg = start();
    reg.register_engine(builder("alpha", roi_per_energy(0.1), &clock))
        .await
        .unwrap();
    // Three saves: every file has its backup and its scratch file.
    for _ in 0..3 {
        clock.advance(4000.0);
        reg.run_all_cycles().await.unwrap();
    }
    reg.shutdown().await.unwrap();
    let backup = tmp.path().join("backup");
    cp_al(&state, &backup);
    let taken = contents(&backup);
    assert!(
        taken.keys().any(|p| p.ends_with("alpha/engine.json.tmp")),
        "the copy shares the scratch files too: {:?}",
        taken.keys()
    );
    let reg = start();
    reg.register_engine(builder("alpha", roi_per_energy(0.1), &clock))
        .await
        .unwrap();
    for _ in 0..5 {
        clock.advance(4000.0);
        reg.run_all_cycles().await.unwrap();
    }
    reg.shutdown().await.unwrap();
    assert_eq!(contents(&backup), taken, "the cp -al copy changed");
    let saved = read_json(state.join("alpha/engine.json"));
    assert_eq!(saved["cycles"], 8);
}

#[test]
fn a_symlinked_state_file_is_refused_and_its_target_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside.json");
    std::fs::write(&outside, "{\"version\":1,\"n\":1}").unwrap();
    let path = tmp.path().join("engine.json");
    std::os::unix::fs::symlink(&outside, &path).unwrap();
    let err = write_atomic(&path, b"{\"version\":1}", Durability::Atomic).unwrap_err();
    assert_eq!(err, PersistError::SymbolicLink { path: path.clone() });
    let err = load_json::<serde_json::Value>(&path).unwrap_err();
    assert_eq!(err, PersistError::SymbolicLink { path: path.clone() });
    assert_eq!(
        std::fs::read_to_string(&outside).unwrap(),
        "{\"version\":1,\"n\":1}"
    );
    assert!(path.is_symlink(), "the link is left as it was");
}

#[test]
fn a_scratch_or_backup_that_is_a_link_is_replaced_not_written_through() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("x.json");
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    std::fs::write(&a, "target a").unwrap();
    std::fs::write(&b, "target b").unwrap();
    std::os::unix::fs::symlink(&a, tmp.path().join("x.json.tmp")).unwrap();
    save_json(&path, &serde_json::json!({"n": 1}), Durability::Fsync).unwrap();
    std::os::unix::fs::symlink(&b, tmp.path().join("x.json.bak.new")).unwrap();
    std::fs::rename(
        tmp.path().join("x.json.bak.new"),
        tmp.path().join("x.json.bak"),
    )
    .unwrap();
    for n in 2..6 {
        save_json(&path, &serde_json::json!({ "n": n }), Durability::Fsync).unwrap();
    }
    assert_eq!(std::fs::read_to_string(&a).unwrap(), "target a");
    assert_eq!(std::fs::read_to_string(&b).unwrap(), "target b");
    let v: serde_json::Value = load_json(&path).unwrap().unwrap();
    assert_eq!(v["n"], 5);
}
