//! The history, describe, report and audit trail through the real binary
//! (issue 13): `kaizen run` keeps every record; the commands read it back
//! with RFC 3339 times.

use crate::cli_run::{engines, run_once};
use crate::support::{kaizen, stdout_of};
use std::path::Path;

/// Two rounds of `kaizen run --once` on a fresh engines folder.
fn ran_twice(root: &Path) -> std::path::PathBuf {
    let engines = engines(root);
    let state = root.join("state");
    run_once(&engines, &state, &[]).assert().success();
    run_once(&engines, &state, &[]).assert().success();
    state
}

#[test]
fn history_shows_every_cycle_with_rfc3339_times() {
    let tmp = tempfile::tempdir().unwrap();
    let state = ran_twice(tmp.path());
    let out = stdout_of(
        kaizen()
            .args([
                "history", "--bot", "alpha", "--since", "1h", "--skips", "--json", "--state",
            ])
            .arg(&state),
    );
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let records = doc["records"].as_array().unwrap();
    let cycles: Vec<&serde_json::Value> = records.iter().filter(|r| r["type"] == "cycle").collect();
    assert_eq!(cycles.len(), 2, "{doc}");
    assert_eq!(cycles[0]["action"], "run");
    let time = cycles[0]["time"].as_str().unwrap();
    assert!(kaizen::history::parse_rfc3339(time).is_ok(), "{time}");
    // The run itself is on the audit trail, as the command line's.
    let audit: Vec<&str> = doc["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert!(audit.is_empty(), "fleet actions name no bot: {audit:?}");
    let human = stdout_of(
        kaizen()
            .args(["history", "--bot", "alpha", "--state"])
            .arg(&state),
    );
    // A new engine decides with the learned energy: its first cycle is the
    // decider's (`policy`), not SPEC §4's interval-forced one.
    assert!(human.contains("run (policy)"), "{human}");
    assert!(human.contains("delta +0.7500"), "{human}");
    // A time that is not one is named.
    kaizen()
        .args([
            "history",
            "--bot",
            "alpha",
            "--since",
            "last tuesday",
            "--state",
        ])
        .arg(&state)
        .assert()
        .failure()
        .stderr(predicates::str::contains(
            "--since \"last tuesday\" is not a time",
        ));
}

#[test]
fn status_last_reads_the_history() {
    let tmp = tempfile::tempdir().unwrap();
    let state = ran_twice(tmp.path());
    let out = stdout_of(
        kaizen()
            .args(["status", "--last", "1", "--state"])
            .arg(&state),
    );
    assert_eq!(out.matches(" at 20").count(), 1, "{out}");
    let out = stdout_of(
        kaizen()
            .args(["status", "--last", "5", "--state"])
            .arg(&state),
    );
    assert_eq!(out.matches(" at 20").count(), 2, "{out}");
}

#[test]
fn cli_changes_are_audited_and_shown_by_history_and_describe() {
    let tmp = tempfile::tempdir().unwrap();
    let state = ran_twice(tmp.path());
    kaizen()
        .args(["synergy", "reset", "--bot", "alpha", "--state"])
        .arg(&state)
        .assert()
        .success();
    let out = stdout_of(
        kaizen()
            .args(["history", "--bot", "alpha", "--state"])
            .arg(&state),
    );
    assert!(out.contains("synergy.reset"), "{out}");
    assert!(out.contains("by cli"), "{out}");
    let fleet = stdout_of(
        kaizen()
            .args(["history", "--bot", ".fleet", "--state"])
            .arg(&state),
    );
    assert!(fleet.contains("fleet.start"), "{fleet}");
    let described = stdout_of(
        kaizen()
            .args(["describe", "--bot", "alpha", "--state"])
            .arg(&state),
    );
    for needle in [
        "Name:          alpha",
        "Conditions:",
        "Ready      True",
        "Paused     False",
        "Healthy    True",
        "Events:",
        "run (policy)",
        "synergy.reset",
    ] {
        assert!(described.contains(needle), "{needle}:\n{described}");
    }
    kaizen()
        .args(["describe", "--bot", "nobody", "--state"])
        .arg(&state)
        .assert()
        .failure()
        .stderr(predicates::str::contains("no engine for bot \"nobody\""));
}

#[test]
fn reports_are_self_contained_html_or_markdown() {
    let tmp = tempfile::tempdir().unwrap();
    let state = ran_twice(tmp.path());
    let html = tmp.path().join("report.html");
    kaizen()
        .args(["report", "--since", "1d", "--state"])
        .arg(&state)
        .arg("--out")
        .arg(&html)
        .assert()
        .success();
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!doctype html>"));
    assert!(
        page.contains("<svg") && page.contains("<polyline"),
        "no chart"
    );
    assert!(page.contains("id=\"bot-alpha\""));
    assert!(page.contains("2 cycles, 0 failed"), "{page}");
    assert!(
        !page.contains("src=\"http") && !page.contains("<script"),
        "not self-contained"
    );
    let md = tmp.path().join("report.md");
    kaizen()
        .args(["report", "--state"])
        .arg(&state)
        .arg("--out")
        .arg(&md)
        .assert()
        .success();
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(text.starts_with("# kaizen report"), "{text}");
    assert!(text.contains("## alpha"), "{text}");
    assert!(text.contains("| ROI delta |"), "{text}");
    assert!(
        text.contains("| best | p1 |") || text.contains("| best |"),
        "{text}"
    );
}
