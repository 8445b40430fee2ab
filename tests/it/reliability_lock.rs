//! Issue 9 items 2, 7 and 9: one process per state folder, names that
//! would collide with kaizen's own files, and synergy edits only of bots
//! the folder knows.

use crate::support::*;
use kaizen::Error;
use kaizen::engine::{EngineBuilder, validate_name};
use kaizen::host::{FixedProbe, ManualClock};
use kaizen::registry::{RegistryConfig, RegistryHandle};
use kaizen::spec::EngineSpec;
use std::path::Path;
use std::sync::Arc;

fn start(root: &Path) -> kaizen::Result<RegistryHandle> {
    RegistryHandle::builder(RegistryConfig {
        state_root: Some(root.to_path_buf()),
        ..RegistryConfig::default()
    })
    .clock(Arc::new(ManualClock::new(0.0)))
    .probe(FixedProbe::default())
    .start()
}

#[actix::test]
async fn a_second_registry_on_one_state_folder_is_refused_naming_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let first = start(dir.path()).unwrap();
    match start(dir.path()) {
        Err(Error::StateLocked { path, pid }) => {
            assert_eq!(path, dir.path());
            assert_eq!(pid, Some(std::process::id()));
        }
        Err(e) => panic!("expected StateLocked, got {e:?}"),
        Ok(_) => panic!("a second registry took a state folder in use"),
    }
    // The lock lives in .kaizen/, which no bot name can reach.
    assert!(dir.path().join(".kaizen/lock").is_file());
    first.shutdown().await.unwrap();
    // Released once the first has saved everything.
    start(dir.path()).unwrap().shutdown().await.unwrap();
}

#[cfg(unix)]
#[test]
fn a_second_run_or_a_synergy_edit_is_refused_while_a_run_holds_the_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let engines = tmp.path().join("engines");
    command_engine(
        &engines,
        "alpha",
        "echo '{\"roi\":{\"roi\":0.5}}'",
        "[engine]\nenergy = \"none\"",
    );
    let state = tmp.path().join("state");
    let folders = [
        "--engines",
        engines.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ];
    kaizen()
        .args(["run", "--once"])
        .args(folders)
        .assert()
        .success();
    let mut run = Background::start(["run", "--period", "1h"].iter().chain(&folders));
    run.wait_stderr("a round every");
    let holder = format!("pid {}", run.child.id());
    let refused = |args: &[&str]| {
        let out = kaizen()
            .args(args)
            .arg("--state")
            .arg(&state)
            .assert()
            .failure()
            .get_output()
            .clone();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(stderr.contains(&holder), "{args:?}: {stderr}");
    };
    refused(&["run", "--once", "--engines", engines.to_str().unwrap()]);
    let weights = tmp.path().join("w.json");
    std::fs::write(
        &weights,
        r#"{"roi": 2, "efficiency": 1, "resilience": 1, "antifragility": 1}"#,
    )
    .unwrap();
    refused(&[
        "synergy",
        "import",
        "--bot",
        "alpha",
        weights.to_str().unwrap(),
    ]);
    refused(&["synergy", "reset", "--bot", "alpha"]);
    // Reading stays lock-free.
    kaizen()
        .args(["status", "--state"])
        .arg(&state)
        .assert()
        .success();
    kaizen()
        .args(["synergy", "show", "--bot", "alpha", "--state"])
        .arg(&state)
        .assert()
        .success();
    // A crash releases the lock: the next run takes the folder.
    run.signal(rustix::process::Signal::KILL);
    run.wait();
    kaizen()
        .args(["run", "--once"])
        .args(folders)
        .assert()
        .success();
}

#[actix::test]
async fn names_of_kaizens_own_files_are_refused() {
    for name in ["registry.json", "registry.json.bak", "registry.json.tmp"] {
        assert!(
            matches!(validate_name("bot_name", name), Err(Error::Invalid { .. })),
            "{name}"
        );
    }
    assert!(validate_name("bot_name", "registry").is_ok());
    let dir = tempfile::tempdir().unwrap();
    let reg = start(dir.path()).unwrap();
    let err = reg
        .register_engine(EngineBuilder::new("registry.json", noop()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
    reg.shutdown().await.unwrap();
    assert!(!dir.path().join("registry.json").is_dir());
    let spec = EngineSpec::parse(
        "bot = \"registry.json\"\n[pipeline]\ncommand = [\"true\"]\n",
        Path::new("engines/registry.toml"),
    )
    .unwrap_err();
    assert_eq!(spec.line, Some(1), "{spec}");
}

#[test]
fn synergy_edits_refuse_unknown_bots_and_missing_state_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    std::fs::create_dir_all(state.join("alpha")).unwrap();
    let weights = tmp.path().join("w.json");
    std::fs::write(
        &weights,
        r#"{"roi": 2, "efficiency": 1, "resilience": 1, "antifragility": 1}"#,
    )
    .unwrap();
    kaizen()
        .args(["synergy", "import", "--bot", "alpah"])
        .arg(&weights)
        .arg("--state")
        .arg(&state)
        .assert()
        .failure()
        .stderr(predicates::str::contains("alpah"));
    assert!(
        !state.join("alpah").exists(),
        "a typo made a new bot folder"
    );
    let missing = tmp.path().join("no-state");
    kaizen()
        .args(["synergy", "reset", "--bot", "alpha", "--state"])
        .arg(&missing)
        .assert()
        .failure()
        .stderr(predicates::str::contains("no-state"));
    assert!(!missing.exists(), "a missing state folder was created");
    // A bot the folder knows is changed.
    kaizen()
        .args(["synergy", "import", "--bot", "alpha"])
        .arg(&weights)
        .arg("--state")
        .arg(&state)
        .assert()
        .success();
    assert_eq!(read_json(state.join("alpha/synergy.json"))["roi"], 2.0);
}

/// Nothing in a state folder is read before its lock is taken: a run
/// refused because another process holds the folder leaves the files of
/// `[variants]` (the fleet's file here, damaged) exactly as they were.
#[test]
fn a_refused_run_reads_no_variants_file_before_the_lock() {
    let tmp = tempfile::tempdir().unwrap();
    let engines = tmp.path().join("engines");
    command_engine(
        &engines,
        "alpha",
        "echo '{\"roi\":{\"roi\":0.5}}'",
        "[engine]\nenergy = \"none\"\n[variants.space]\nlr = { float = [0.001, 0.1] }",
    );
    let state = tmp.path().join("state");
    let held = kaizen::runtime::StateLock::acquire(&state).unwrap();
    let fleet = state.join("variants-fleet.json");
    std::fs::write(&fleet, "{ torn").unwrap();
    let out = run_once_on(&engines, &state)
        .assert()
        .failure()
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("pid {}", std::process::id())),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&fleet).unwrap(), "{ torn");
    let names: Vec<String> = std::fs::read_dir(&state)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.contains("corrupt")), "{names:?}");
    drop(held);
}
