//! Issue 9 item 15: a spec supplies its bot's profit (`[profit] file`), so
//! the engines of a setup of specs alone have a ledger and a trend, and
//! `kaizen run --template` autoscaling creates engines; a bad value in the
//! file is a failed cycle naming the file.
#![cfg(unix)]

use crate::support::*;
use rustix::process::Signal;
use std::time::{Duration, Instant};

/// The pipeline raises the bot's profit by 10 (appending the new total).
const GROWING: &str =
    "n=$(tail -n 1 profit.txt)\necho $((n + 10)) >> profit.txt\necho '{\"roi\":{\"roi\":0.5}}'";
const LEDGER: &str =
    "[engine]\nenergy = \"none\"\ninterval = \"1ms\"\n[profit]\nfile = \"profit.txt\"";

#[test]
fn spec_profit_lets_autoscaling_create_engines_and_keeps_spec_engines() {
    let tmp = tempfile::tempdir().unwrap();
    let engines = tmp.path().join("engines");
    command_engine(&engines, "alpha", GROWING, LEDGER);
    std::fs::write(engines.join("profit.txt"), "100\n").unwrap();
    let state = tmp.path().join("state");
    let mut run = Background::start([
        "run".as_ref(),
        "--period".as_ref(),
        "0.05".as_ref(),
        "--template".as_ref(),
        "alpha".as_ref(),
        "--cooldown".as_ref(),
        "0".as_ref(),
        "--max-engines".as_ref(),
        "3".as_ref(),
        "--engines".as_ref(),
        engines.as_os_str(),
        "--state".as_ref(),
        state.as_os_str(),
    ]);
    run.wait_stderr("a round every");
    // Autoscaling creates copies of alpha once its profit trend is up.
    let registry = state.join("registry.json");
    let names = || -> Vec<String> {
        std::fs::read(&registry)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| {
                v["engines"].as_array().map(|a| {
                    a.iter()
                        .filter_map(|e| e["name"].as_str().map(String::from))
                        .collect()
                })
            })
            .unwrap_or_default()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !names().iter().any(|n| n == "engine0") {
        assert!(
            Instant::now() < deadline,
            "no engine created in 60 s: {:?}",
            names()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The spec's own engine stays, and it read its profit from the file.
    assert!(names().contains(&"alpha".to_string()), "{:?}", names());
    run.signal(Signal::TERM);
    let (status, stderr) = run.wait();
    assert!(status.success(), "exit {status:?}: {stderr}");
    let alpha = read_json(state.join("alpha/engine.json"));
    assert!(alpha["cycles"].as_u64().unwrap() >= 2, "{alpha}");
    let shown = stdout_of(kaizen().args(["status", "--json", "--state"]).arg(&state));
    let view: serde_json::Value = serde_json::from_str(&shown).unwrap();
    let trend = view["engines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["engine"] == "alpha")
        .map(|e| e["trend"].as_f64().unwrap())
        .unwrap();
    assert!(trend > 0.0, "alpha's trend {trend}");
}

#[test]
fn a_profit_file_that_is_not_a_number_fails_the_cycle_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let engines = tmp.path().join("engines");
    command_engine(&engines, "alpha", "echo '{\"roi\":{\"roi\":0.5}}'", LEDGER);
    for (content, says) in [
        ("100\nabc\n", "is \"abc\", not a number"),
        ("1e999\n", "profit"),
    ] {
        std::fs::write(engines.join("profit.txt"), content).unwrap();
        let state = tmp.path().join(format!("state-{}", content.len()));
        let out = stdout_of(run_once_on(&engines, &state).arg("--json"));
        let record: serde_json::Value = out
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|d| d["type"] == "cycle" || d.get("cycle").is_some())
            .unwrap_or_else(|| panic!("no cycle record: {out}"));
        let error = record["outcome"]["error"].as_str().unwrap_or_default();
        assert!(
            error.contains("profit.txt") && error.contains(says),
            "{content:?}: {record}"
        );
        assert_eq!(record["outcome"]["ok"], false, "{content:?}: {record}");
    }
    // A missing file is an error naming it too.
    std::fs::remove_file(engines.join("profit.txt")).unwrap();
    let out = stdout_of(run_once_on(&engines, &tmp.path().join("state-missing")).arg("--json"));
    assert!(out.contains("cannot read the profit file"), "{out}");
}
