//! A state folder written by round 1 (tests/fixtures/round1) keeps loading:
//! `status` reads every bot, and `run --once` runs and saves on top of it.

use crate::support::{kaizen, read_json, stdout_of};
use std::path::Path;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/round1");

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A private copy of the fixture (the committed files are never written).
fn fixture_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(Path::new(FIXTURE), dir.path());
    dir
}

#[test]
fn status_reads_every_bot_of_a_round1_folder() {
    let dir = fixture_copy();
    let out = stdout_of(
        kaizen()
            .arg("status")
            .arg("--state")
            .arg(dir.path().join("state"))
            .arg("--json"),
    );
    let status: serde_json::Value = serde_json::from_str(&out).unwrap();
    let engines = status["engines"].as_array().unwrap();
    let bots: Vec<&str> = engines.iter().map(|e| e["bot"].as_str().unwrap()).collect();
    assert_eq!(bots, ["alpha", "beta", "gamma"]);
    for e in engines {
        assert_eq!(e["cycles"], 4, "{e}");
        assert!(e["problem"].is_null(), "{e}");
    }
}

#[test]
fn run_once_continues_a_round1_folder() {
    let dir = fixture_copy();
    let state = dir.path().join("state");
    kaizen()
        .arg("run")
        .arg("--once")
        .arg("--engines")
        .arg(dir.path().join("engines"))
        .arg("--state")
        .arg(&state)
        .assert()
        .success();
    let registry = read_json(state.join("registry.json"));
    assert_eq!(registry["version"], 2, "saved with the adaptive baseline");
    assert!(registry["baseline"]["rounds"].is_array(), "{registry}");
    for bot in ["alpha", "beta", "gamma"] {
        let engine = read_json(state.join(bot).join("engine.json"));
        let cycles = engine["cycles"].as_u64().unwrap();
        assert!(cycles >= 4, "{bot}: {engine}");
        let policy = read_json(state.join(bot).join("policy.json"));
        assert!(policy["version"].as_u64().is_some(), "{bot}");
    }
    // The DQN learner resumed from its round-1 files (format 1) rather than
    // starting anew, and saved format 2: it has learned from every cycle the
    // engine ever ran.
    let gamma_dir = state.join("gamma");
    assert!(
        gamma_dir
            .join(kaizen::synergy::DQN_CHECKPOINT_FILE)
            .exists()
    );
    let dqn = kaizen::synergy::DQNSynergyLearner::load(&gamma_dir, Default::default()).unwrap();
    let gamma = read_json(gamma_dir.join("engine.json"));
    assert_eq!(dqn.updates(), gamma["cycles"].as_u64().unwrap());
    assert!(dqn.updates() > 4);
}

/// `registry.json` of format version 1 (the round-1 fixture's, without the
/// adaptive baseline) still reads, with an empty baseline (a run saves it
/// as version 2: `run_once_continues_a_round1_folder`).
#[test]
fn a_version_1_registry_file_reads_with_an_empty_baseline() {
    let dir = fixture_copy();
    let state = dir.path().join("state");
    let kaizen::persist::Inspected::Good { value, .. } = kaizen::registry::inspect_registry(&state)
    else {
        panic!("the round-1 registry.json does not read");
    };
    assert_eq!(value.engines.len(), 3);
    assert!(value.baseline.rounds().is_empty());
    assert_eq!(read_json(state.join("registry.json"))["version"], 1);
}
