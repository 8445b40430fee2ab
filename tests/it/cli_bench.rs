//! `kaizen bench` through the real binary (small sizes: this checks the
//! report, not the speed — speed is what the command itself is for).

use crate::support::{kaizen, read_json, stdout_of};

#[test]
fn bench_reports_every_figure() {
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("bench.json");
    let out = stdout_of(
        kaizen()
            .args(["bench", "--engines", "20", "--ticks", "5", "--json"])
            .arg(&json)
            .arg("--state")
            .arg(tmp.path().join("state")),
    );
    for figure in [
        "engine-ticks/s",
        "cycles/s",
        "tick latency p99",
        "RSS per engine",
        "bytes written per cycle",
        "DQN update",
        "autoscale decision",
    ] {
        assert!(out.contains(figure), "{figure} missing from:\n{out}");
    }
    let report = read_json(&json);
    assert_eq!(report["engines"], 20);
    assert_eq!(report["ticks"], 5);
    assert!(report["engine_ticks_per_sec"].as_f64().unwrap() > 0.0);
    assert_eq!(report["tick_latency"]["count"], 100);
    assert!(report["bytes_written_per_cycle"].as_f64().unwrap() > 0.0);
    // Every engine's state was saved under --state.
    assert!(tmp.path().join("state/bot00019/engine.json").exists());
}

#[test]
fn bench_says_which_features_ran() {
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("bench.json");
    let args = [
        "bench",
        "--engines",
        "20",
        "--ticks",
        "5",
        "--persistence",
        "none",
        "--json",
    ];
    let out = stdout_of(kaizen().args(args).arg(&json));
    // By default what `kaizen run` has by default: the history.
    assert!(out.contains("20 engines × 5 ticks, history,"), "{out}");
    let report = read_json(&json);
    assert_eq!(report["features"], serde_json::json!(["history"]));
    assert!(
        report["history_records"].as_u64().unwrap() >= 100,
        "{report}"
    );
    let out = stdout_of(kaizen().args(args).arg(&json).arg("--no-history"));
    assert!(out.contains("no history, no server"), "{out}");
    if cfg!(feature = "server") {
        let out = stdout_of(kaizen().args(args).arg(&json).arg("--server"));
        assert!(out.contains("history + server"), "{out}");
        let report = read_json(&json);
        assert!(report["scrapes"].as_u64().unwrap() >= 1, "{report}");
    }
}

#[test]
fn bench_refuses_zero_engines() {
    kaizen()
        .args(["bench", "--engines", "0"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("--engines"));
}
