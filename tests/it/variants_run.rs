//! A bot with a `[variants]` table through `kaizen run --once`: each cycle's
//! program gets `KAIZEN_VARIANT` and `KAIZEN_PARAMS`, and the outcome comes
//! back into the variants' state file.

use crate::support::{engines_folder, kaizen};
use kaizen::variants::{Value, Variants};
use std::fs;
use std::path::Path;

const SPEC: &str = r#"bot = "alpha"
[pipeline]
command = ["./improve.sh"]
timeout = "30s"
[engine]
energy = "none"
[variants]
seed = 7
[variants.evolution]
size = 4
[variants.space]
x = { float = [0.1, 1.0] }
"#;

/// The program earns its parameter `x` and logs what it was given.
const SCRIPT: &str = r#"#!/bin/sh
x=$(printf '%s' "$KAIZEN_PARAMS" | sed 's/.*"x":\([-0-9.e+]*\).*/\1/')
echo "$KAIZEN_VARIANT $KAIZEN_PARAMS" >> given.log
echo "{\"roi\":{\"roi\":$x}}"
"#;

fn load(state: &Path) -> Variants {
    let bytes = fs::read(state.join("alpha").join("variants.json")).unwrap();
    kaizen::persist::decode_json(&bytes).unwrap()
}

/// One `kaizen run --once` of `engines` on `state`.
fn run_once(engines: &Path, state: &Path) {
    kaizen()
        .args(["run", "--once", "--engines"])
        .arg(engines)
        .arg("--state")
        .arg(state)
        .assert()
        .success();
}

#[test]
fn each_cycle_runs_a_variant_and_its_outcome_is_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let engines = engines_folder(tmp.path(), SPEC, SCRIPT);
    let state = tmp.path().join("state");
    for round in 1..=3u64 {
        run_once(&engines, &state);
        let v = load(&state);
        let counts: u64 = v
            .population()
            .members()
            .iter()
            .map(|m| m.outcomes.count)
            .sum();
        assert_eq!(counts, round, "one outcome per cycle");
    }
    let given = fs::read_to_string(engines.join("given.log")).unwrap();
    let v = load(&state);
    let lines: Vec<&str> = given.lines().collect();
    assert_eq!(lines.len(), 3, "{given}");
    let mut ratios = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let (id, params) = line.split_once(' ').unwrap();
        assert_eq!(id, i.to_string(), "members are tried in turn");
        let member = v.population().get(i as u64).unwrap();
        let params: kaizen::variants::Params = serde_json::from_str(params).unwrap();
        assert_eq!(params, member.params);
        let Value::Float(x) = params["x"] else {
            panic!("{params:?}")
        };
        ratios.push(member.outcomes.mean / x);
    }
    // Every cycle ran with the same energy, so each recorded outcome (per
    // unit of energy) is the same multiple of the x its program earned.
    assert!(
        ratios
            .iter()
            .all(|r| (r - ratios[0]).abs() < 1e-9 && *r > 0.0),
        "{ratios:?}"
    );
    // The faces read the same state.
    let list = crate::support::stdout_of(
        kaizen()
            .args(["variants", "list", "--bot", "alpha", "--state"])
            .arg(&state),
    );
    assert!(
        list.contains("serving") && list.contains("generation 0"),
        "{list}"
    );
    let show = crate::support::stdout_of(
        kaizen()
            .args(["variants", "show", "--bot", "alpha", "2", "--state"])
            .arg(&state),
    );
    assert!(show.contains("\"params\""), "{show}");
    let status = crate::support::stdout_of(
        kaizen()
            .args(["abtest", "status", "--json", "--state"])
            .arg(&state),
    );
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status[0]["bot"], "alpha");
    assert_eq!(status[0]["serving"], 0);
    kaizen()
        .args(["variants", "list", "--bot", "nobody", "--state"])
        .arg(&state)
        .assert()
        .failure()
        .stderr(predicates::str::contains("no variants"));
}

/// `kaizen variants promote|retire`: refused while another process holds
/// the state folder and serves no API (naming it), done and audited otherwise.
#[test]
fn an_operator_promotes_and_retires_variants() {
    let tmp = tempfile::tempdir().unwrap();
    let engines = engines_folder(tmp.path(), SPEC, SCRIPT);
    let state = tmp.path().join("state");
    run_once(&engines, &state);
    let change = |what: &str, id: &str| {
        let mut cmd = kaizen();
        cmd.args([
            "variants", what, "--bot", "alpha", id, "--reason", "by hand", "--state",
        ])
        .arg(&state);
        cmd
    };
    {
        let _held = kaizen::runtime::StateLock::acquire(&state).unwrap();
        change("promote", "2")
            .assert()
            .failure()
            .stderr(predicates::str::contains(format!(
                "refused: kaizen (pid {}) holds the state folder",
                std::process::id()
            )))
            .stderr(predicates::str::contains("serves no control API"));
        assert_eq!(load(&state).serving(), 0, "nothing changed");
    }
    change("promote", "2")
        .assert()
        .success()
        .stdout(predicates::str::contains("variant 2 serves (was 0)"));
    let v = load(&state);
    assert_eq!((v.serving(), v.promotions()), (2, 1));
    change("retire", "2")
        .assert()
        .failure()
        .stderr(predicates::str::contains("promote another one first"));
    let out = crate::support::stdout_of(change("retire", "1").arg("--json"));
    let event: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(event["event"], "retired");
    let v = load(&state);
    assert!(v.population().get(1).is_none());
    let born = event["replaced_by"].as_u64().unwrap();
    assert_eq!(v.population().get(born).unwrap().parents, vec![2]);
    // The audit trail has all three changes, the refused one as failed.
    let trail = kaizen::history::AuditTrail::open(
        &state,
        kaizen::history::LogConfig::audit(),
        std::sync::Arc::new(kaizen::host::SystemClock),
    )
    .unwrap();
    let entries = trail
        .range(Some("alpha"), &kaizen::history::Query::default())
        .unwrap();
    let seen: Vec<(&str, bool)> = entries
        .iter()
        .map(|e| (e.action.as_str(), e.error.is_none()))
        .collect();
    assert_eq!(
        seen,
        [
            ("variants.promote", true),
            ("variants.retire", false),
            ("variants.retire", true)
        ]
    );
    assert_eq!(entries[0].detail, "variant 2: by hand");
}

/// The variants' events reach the decision stream: `kaizen run --json`
/// prints them after the round's records, the history keeps them, and the
/// report shows the variants' section (serving variant, the running test's
/// evidence and confidence sequence, the period's events).
#[test]
fn variant_events_reach_the_stream_the_history_and_the_report() {
    let tmp = tempfile::tempdir().unwrap();
    let engines = engines_folder(tmp.path(), SPEC, SCRIPT);
    let state = tmp.path().join("state");
    let mut printed = Vec::new();
    for _ in 0..5 {
        let out = crate::support::stdout_of(
            kaizen()
                .args(["run", "--once", "--json", "--engines"])
                .arg(&engines)
                .arg("--state")
                .arg(&state),
        );
        printed.extend(
            out.lines()
                .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
                .filter(|d| d["type"] == "variant"),
        );
    }
    // The 4th outcome ends generation 0: new variants are proposed.
    let proposed = printed
        .iter()
        .find(|d| d["event"] == "generation")
        .unwrap_or_else(|| panic!("{printed:?}"));
    assert_eq!(proposed["bot"], "alpha");
    assert_eq!(proposed["number"], 0);
    let v = load(&state);
    let started = printed.iter().any(|d| d["event"] == "test_started");
    assert_eq!(started, v.test().is_some(), "{printed:?}");

    let history = crate::support::stdout_of(
        kaizen()
            .args([
                "history", "--bot", "alpha", "--since", "1h", "--json", "--state",
            ])
            .arg(&state),
    );
    let doc: serde_json::Value = serde_json::from_str(&history).unwrap();
    let kept: Vec<&serde_json::Value> = doc["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["type"] == "variant")
        .collect();
    assert_eq!(kept.len(), printed.len(), "{doc}");

    let md = tmp.path().join("report.md");
    kaizen()
        .args(["report", "--state"])
        .arg(&state)
        .arg("--out")
        .arg(&md)
        .assert()
        .success();
    let text = fs::read_to_string(&md).unwrap();
    assert!(
        text.contains(&format!("Variants: variant {} serves", v.serving())),
        "{text}"
    );
    assert!(text.contains("variants_proposed"), "{text}");
    assert_eq!(
        text.contains("| confidence sequence |"),
        v.test().is_some(),
        "{text}"
    );
}

/// Issue 14 item 4: while `kaizen run --listen` holds the state folder,
/// `kaizen variants promote|retire` go through its API (address and token
/// found in the state folder) and its engine makes the change.
#[test]
fn variants_change_through_the_api_of_the_run_that_holds_them() {
    let tmp = tempfile::tempdir().unwrap();
    let engines = engines_folder(tmp.path(), SPEC, SCRIPT);
    let state = tmp.path().join("state");
    run_once(&engines, &state);
    let (child, listening) = crate::support::listening_run(&engines, &state);
    let change = |what: &str, id: &str| {
        kaizen()
            .args(["variants", what, "--bot", "alpha", id, "--state"])
            .arg(&state)
            .env_remove("KAIZEN_TOKEN")
            .output()
            .unwrap()
    };
    let promoted = change("promote", "2");
    let refused = change("retire", "2");
    let stopped = crate::support::stop_run(child);
    assert!(listening, "kaizen run never recorded its address");
    let text = crate::support::output_text;
    assert!(promoted.status.success(), "{}", text(&promoted));
    let out = String::from_utf8_lossy(&promoted.stdout);
    assert!(
        out.contains("variant 2 serves (was 0)") && out.contains("through its API"),
        "{out}"
    );
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("refused the change (409)")
            && text(&refused).contains("promote another one first"),
        "{}",
        text(&refused)
    );
    // The run stopped cleanly; its engine saved the change.
    assert!(stopped.success(), "{stopped:?}");
    let v = load(&state);
    assert_eq!((v.serving(), v.promotions()), (2, 1));
}
