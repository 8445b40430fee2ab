//! Issue 15 item 3 through the real binary: durable saves go through the
//! state root's write-ahead log. A crash after the log was flushed (the
//! cycle acknowledged) but before the files were written loses nothing: the
//! next process replays the log before it reads the state. A torn tail of
//! the log (an append cut short, never acknowledged) is ignored.
#![cfg(target_os = "linux")]

use crate::support::*;
use kaizen::persist::wal::{Wal, pending};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const RESULT: &str = "echo '{\"roi\":{\"roi\":0.5}}'";
const NO_ENERGY: &str = "[engine]\nenergy = \"none\"";

/// The state files in `dir` (not their backups or scratch files), by name.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".bak") && !n.ends_with(".tmp"))
        .map(|n| (n.clone(), std::fs::read(dir.join(&n)).unwrap()))
        .collect()
}

fn cycles(dir: &Path) -> u64 {
    read_json(dir.join("engine.json"))["cycles"]
        .as_u64()
        .unwrap()
}

/// Appends one batch of `files` (full contents) to the log of `state`, flushed.
fn log(state: &Path, files: &[(PathBuf, Vec<u8>)]) {
    let mut wal = Wal::open(state).unwrap();
    let batch: Vec<(&Path, &[u8])> = files
        .iter()
        .map(|(p, b)| (p.as_path(), b.as_slice()))
        .collect();
    wal.append(&batch).unwrap();
    wal.sync().unwrap();
}

fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let engines = tmp.path().join("engines");
    command_engine(&engines, "alpha", RESULT, NO_ENERGY);
    let state = tmp.path().join("state");
    run_once_on(&engines, &state).assert().success();
    (tmp, engines, state)
}

#[test]
fn a_crash_between_the_log_flush_and_the_files_keeps_the_acknowledged_cycle() {
    let (_tmp, engines, state) = setup();
    let alpha = state.join("alpha");
    let first = files(&alpha);
    assert_eq!(cycles(&alpha), 1);
    // A clean shutdown leaves nothing in the log.
    assert_eq!(pending(&state).unwrap(), None);
    run_once_on(&engines, &state).assert().success();
    let second = files(&alpha);
    assert_eq!(cycles(&alpha), 2);
    // The crash: the second cycle's saves are in the flushed log (its save
    // was acknowledged), the files still hold the first cycle's.
    for name in second.keys() {
        match first.get(name) {
            Some(bytes) => std::fs::write(alpha.join(name), bytes).unwrap(),
            None => std::fs::remove_file(alpha.join(name)).unwrap(),
        }
    }
    let logged: Vec<(PathBuf, Vec<u8>)> = second
        .iter()
        .map(|(n, b)| (alpha.join(n), b.clone()))
        .collect();
    log(&state, &logged);
    assert_eq!(cycles(&alpha), 1);
    // `status` only looks: it says a log waits, and changes nothing.
    let shown = stdout_of(kaizen().args(["status", "--json", "--state"]).arg(&state));
    let view: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(view["pending_log"]["saves"], second.len(), "{shown}");
    let text = stdout_of(kaizen().args(["status", "--state"]).arg(&state));
    assert!(text.contains("write-ahead log"), "{text}");
    assert_eq!(cycles(&alpha), 1, "status replayed nothing");
    // The next run replays the log before it reads the state: cycle 2 is
    // there, and the run adds the third.
    run_once_on(&engines, &state).assert().success();
    assert_eq!(cycles(&alpha), 3);
    assert_eq!(pending(&state).unwrap(), None);
}

#[test]
fn a_torn_log_tail_is_ignored() {
    let (_tmp, engines, state) = setup();
    let alpha = state.join("alpha");
    assert_eq!(cycles(&alpha), 1);
    // A save that never completed: its append was cut short.
    let mut engine = read_json(alpha.join("engine.json"));
    engine["cycles"] = 1000.into();
    let bytes = serde_json::to_vec(&engine).unwrap();
    log(&state, &[(alpha.join("engine.json"), bytes)]);
    let wal = kaizen::persist::wal::wal_path(&state);
    let len = std::fs::metadata(&wal).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&wal)
        .unwrap()
        .set_len(len - 5)
        .unwrap();
    assert_eq!(pending(&state).unwrap(), None, "a torn batch is not a save");
    run_once_on(&engines, &state).assert().success();
    assert_eq!(cycles(&alpha), 2, "the torn save was not replayed");
}
