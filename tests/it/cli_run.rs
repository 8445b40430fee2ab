//! `kaizen run`, `status` and `synergy` through the real binary.

use crate::support::{engines_folder, kaizen, read_json, stdout_of};
use assert_cmd::Command;
use predicates::prelude::*;
use std::fs;
use std::path::Path;

/// `kaizen run --once`, then `extra`, on `engines` with its state in `state`.
pub fn run_once(engines: &Path, state: &Path, extra: &[&str]) -> Command {
    let mut c = kaizen();
    c.args(["run", "--once"])
        .args(extra)
        .arg("--engines")
        .arg(engines)
        .arg("--state")
        .arg(state);
    c
}

const GOOD_SPEC: &str = r#"bot = "alpha"
[pipeline]
command = ["./improve.sh"]
timeout = "30s"
[engine]
energy = "none"
"#;

/// An engines folder with `alpha.toml` and a script that prints a result.
pub fn engines(root: &Path) -> std::path::PathBuf {
    engines_folder(
        root,
        GOOD_SPEC,
        "#!/bin/sh\necho \"improving $KAIZEN_BOT with energy $KAIZEN_ENERGY\"\necho '{\"roi\":{\"roi\":0.75},\"package\":\"p1\",\"metrics\":{\"synergy_roi\":0.2}}'\n",
    )
}

fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for e in walk(dir) {
        out.push((e.display().to_string(), fs::read(&e).unwrap()));
    }
    out.sort();
    out
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                files.extend(walk(&p));
            } else {
                files.push(p);
            }
        }
    }
    files
}

#[test]
fn run_once_runs_cycles_and_writes_state() {
    let tmp = tempfile::tempdir().unwrap();
    let engines = engines(tmp.path());
    let state = tmp.path().join("state");
    let out = stdout_of(&mut run_once(&engines, &state, &[]));
    assert!(out.contains("alpha"), "{out}");
    // A new engine decides with the learned energy: the decider chose the
    // first cycle (`policy`), not SPEC §4's interval.
    assert!(out.contains("policy"), "{out}");
    assert!(out.contains("+0.7500"), "{out}");
    let saved = read_json(state.join("alpha/engine.json"));
    assert_eq!(saved["cycles"], 1);
    assert_eq!(saved["roi_history"], serde_json::json!([0.75]));
    assert!(state.join("registry.json").exists());

    // A second run continues from the saved state, and status shows it.
    run_once(&engines, &state, &["--json"])
        .assert()
        .success()
        .stdout(predicates::str::contains("\"type\":\"cycle\""));
    let status = stdout_of(kaizen().args(["status", "--state"]).arg(&state));
    assert!(status.contains("alpha"), "{status}");
    // The recent cycles come from the history, with their times.
    assert!(status.contains("#1 at "), "{status}");
    assert!(status.contains(" policy: delta +0.7500 [p1]"), "{status}");
    let json = stdout_of(kaizen().args(["status", "--json", "--state"]).arg(&state));
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["engines"][0]["bot"], "alpha");
    assert!(json["engines"][0]["cycles"].as_u64().unwrap() >= 2);
}

#[test]
fn broken_spec_fails_clearly_and_leaves_state_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let engines = engines(tmp.path());
    let state = tmp.path().join("state");
    run_once(&engines, &state, &[]).assert().success();
    let before = snapshot(&state);
    fs::write(
        engines.join("beta.toml"),
        "bot = \"beta\"\n[pipeline]\ncommand = [\"./improve.sh\"]\n[policy]\nalpha = 7\n",
    )
    .unwrap();
    run_once(&engines, &state, &[])
        .assert()
        .failure()
        .stderr(predicates::str::contains("beta.toml:5"))
        .stderr(predicates::str::contains("policy.alpha"));
    assert_eq!(snapshot(&state), before);

    fs::write(
        engines.join("beta.toml"),
        "bot = \"beta\"\n[pipeline]\ncommand = [\"./does-not-exist.sh\"]\n",
    )
    .unwrap();
    run_once(&engines, &state, &[])
        .assert()
        .failure()
        .stderr(predicates::str::contains("beta.toml"))
        .stderr(predicates::str::contains("does-not-exist.sh"));
    assert_eq!(snapshot(&state), before);
}

#[test]
fn synergy_weights_can_be_shown_exported_imported_and_reset() {
    let tmp = tempfile::tempdir().unwrap();
    let engines = engines(tmp.path());
    let state = tmp.path().join("state");
    run_once(&engines, &state, &[]).assert().success();
    let with_state = |args: &[&str]| {
        let mut c = kaizen();
        c.args(args).arg("--state").arg(&state);
        c
    };
    with_state(&["synergy", "show", "--bot", "alpha"])
        .assert()
        .success()
        .stdout(predicates::str::contains("efficiency"));
    let exported = tmp.path().join("w.json");
    let exported_arg = exported.to_str().unwrap();
    with_state(&["synergy", "export", "--bot", "alpha", "--out", exported_arg])
        .assert()
        .success();
    let mut w = read_json(&exported);
    w["efficiency"] = serde_json::json!(3.5);
    fs::write(&exported, w.to_string()).unwrap();
    with_state(&["synergy", "import", "--bot", "alpha", exported_arg])
        .assert()
        .success();
    with_state(&["synergy", "show", "--json", "--bot", "alpha"])
        .assert()
        .success()
        .stdout(predicates::str::contains("\"efficiency\": 3.5"));
    fs::write(
        &exported,
        r#"{"roi": 1, "efficiency": 1, "resilience": 1, "antifragility": -2}"#,
    )
    .unwrap();
    with_state(&["synergy", "import", "--bot", "alpha", exported_arg])
        .assert()
        .failure()
        .stderr(predicates::str::contains("antifragility"));
    with_state(&["synergy", "reset", "--bot", "alpha"])
        .assert()
        .success();
    with_state(&["synergy", "show", "--json", "--bot", "alpha"])
        .assert()
        .success()
        .stdout(predicates::str::contains("\"efficiency\": 1.0"));
    with_state(&["synergy", "show", "--bot", "../etc"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("invalid bot"));
}

#[test]
fn every_command_has_help() {
    for cmd in [
        vec!["--help"],
        vec!["simulate", "--help"],
        vec!["run", "--help"],
        vec!["status", "--help"],
        vec!["synergy", "--help"],
        vec!["synergy", "import", "--help"],
        vec!["bench", "--help"],
    ] {
        kaizen()
            .args(&cmd)
            .assert()
            .success()
            .stdout(predicates::str::contains("Usage"));
    }
    kaizen()
        .args(["run", "--help"])
        .assert()
        .stdout(predicates::str::contains("--period"))
        .stdout(predicates::str::contains("--once"))
        .stdout(predicates::str::contains("--engines"))
        .stdout(predicates::str::contains("--state"));
}

#[test]
fn status_of_a_missing_folder_fails_with_its_name() {
    kaizen()
        .args(["status", "--state", "/no/such/kaizen/state"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("/no/such/kaizen/state"));
}

#[cfg(unix)]
#[test]
fn run_on_a_timer_stops_cleanly_on_ctrl_c_after_saving() {
    use std::time::{Duration, Instant};
    let tmp = tempfile::tempdir().unwrap();
    let engines = engines(tmp.path());
    let state = tmp.path().join("state");
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("kaizen"))
        .args(["run", "--period", "0.05", "--engines"])
        .arg(&engines)
        .arg("--state")
        .arg(&state)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The child is another process: watch its state folder, bounded.
    let engine_file = state.join("alpha/engine.json");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !engine_file.exists() {
        assert!(
            Instant::now() < deadline,
            "kaizen run wrote no state in 30 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
    assert!(stderr.contains("stopping"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("alpha cycle 1 (policy)"), "{stdout}");
    let saved = read_json(&engine_file);
    assert!(saved["cycles"].as_u64().unwrap() >= 1);
}

#[test]
fn engines_autoscaling_made_come_back_as_copies_of_the_template() {
    let tmp = tempfile::tempdir().unwrap();
    let engines = engines(tmp.path());
    let state = tmp.path().join("state");
    fs::create_dir_all(&state).unwrap();
    // What an earlier `kaizen run --template alpha` left behind.
    fs::write(
        state.join("registry.json"),
        r#"{"version":1,"engines":[
            {"name":"alpha","bot":"alpha","created":0,"failed":null,"spec":{"origin":"engines/alpha.toml"}},
            {"name":"engine0","bot":"engine0","created":1,"failed":null,"spec":{"origin":"copy of alpha"}}
        ],"last_change":null,"autoscale":[]}"#,
    )
    .unwrap();
    run_once(&engines, &state, &[])
        .assert()
        .success()
        .stdout(predicates::str::contains("engine0").not())
        .stderr(predicates::str::contains(
            "engine0 was created by autoscaling",
        ));
    run_once(&engines, &state, &["--template", "alpha"])
        .assert()
        .success()
        .stdout(predicates::str::contains("engine0"));
    let registry = read_json(state.join("registry.json"));
    let origins: Vec<_> = registry["engines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["spec"]["origin"].as_str().unwrap().to_string())
        .collect();
    assert!(
        origins.iter().any(|o| o.ends_with("alpha.toml")),
        "{origins:?}"
    );
    assert!(
        origins.contains(&"copy of alpha".to_string()),
        "{origins:?}"
    );
}

#[cfg(unix)]
#[test]
fn run_autoscales_adaptively_when_asked_and_keeps_the_baseline() {
    use std::time::{Duration, Instant};
    let tmp = tempfile::tempdir().unwrap();
    let engines = engines(tmp.path());
    let state = tmp.path().join("state");
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("kaizen"))
        .args([
            "run",
            "--period",
            "0.05",
            "--autoscale",
            "adaptive",
            "--engines",
        ])
        .arg(&engines)
        .arg("--state")
        .arg(&state)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Bounded polling of the child's registry file for two adaptive steps.
    let file = state.join("registry.json");
    let steps = || {
        let text = fs::read_to_string(&file).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        let n = v["baseline"]["rounds"].as_array()?.len();
        (n >= 2).then_some(v)
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = None;
    while seen.is_none() && Instant::now() < deadline {
        seen = steps();
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let registry = seen.expect("no adaptive autoscale step in 60 s");
    assert_eq!(registry["version"], 2);
    let last = registry["autoscale"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["config"]["mode"], "adaptive", "{last}");
    assert!(last["adaptive"]["energy"]["std"].is_number(), "{last}");
    // A wrong mode is refused by name.
    kaizen()
        .args(["run", "--once", "--autoscale", "smart"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("threshold or adaptive"));
}
