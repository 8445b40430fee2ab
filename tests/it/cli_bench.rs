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
        "raw actix round ticks/s",
        "ratio to raw",
        "machine noise",
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
    // Each figure is the median of the timed stretches and lies in their
    // range; the ratio is the median of the stretches' ratios.
    assert_eq!(report["stretches"], 5);
    let within = |median: &str, range: &str| {
        let m = report[median].as_f64().unwrap();
        let [lo, hi] = [0, 1].map(|i| report[range][i].as_f64().unwrap());
        assert!(0.0 < lo && lo <= m && m <= hi, "{median}: {report}");
        m
    };
    within("engine_ticks_per_sec", "engine_ticks_per_sec_range");
    let raw = within("raw_ticks_per_s", "raw_ticks_per_s_range");
    within("ratio_to_raw", "ratio_to_raw_range");
    let [lo, hi] = [0, 1].map(|i| report["raw_ticks_per_s_range"][i].as_f64().unwrap());
    assert_eq!(report["raw_spread"].as_f64().unwrap(), (hi - lo) / raw);
    assert!(report["load_average"].is_array());
    // Instructions are counted only when asked; raw saves only for
    // per-cycle saves.
    assert!(report["instructions_per_tick"].is_null());
    assert!(report["raw_saves_cycles_per_s"].is_null());
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
fn bench_per_cycle_measures_raw_saves_of_the_same_shape() {
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("bench.json");
    let state = tmp.path().join("state");
    let out = stdout_of(
        kaizen()
            .args(["bench", "--engines", "10", "--ticks", "5"])
            .args(["--persistence", "per-cycle", "--json"])
            .arg(&json)
            .arg("--state")
            .arg(&state),
    );
    assert!(out.contains("ratio to raw saves"), "{out}");
    let report = read_json(&json);
    let at = |field: &str, i: usize| report[field][i].as_f64().unwrap();
    for (median, range) in [
        ("raw_saves_cycles_per_s", "raw_saves_cycles_per_s_range"),
        ("ratio_to_raw_saves", "ratio_to_raw_saves_range"),
    ] {
        let m = report[median].as_f64().unwrap();
        assert!(
            0.0 < at(range, 0) && at(range, 0) <= m && m <= at(range, 1),
            "{report}"
        );
    }
    // The raw saves flush as the state writer does per batch (one
    // fdatasync of the write-ahead log), once per round of the 10 engines;
    // kaizen's rounds make at least one batch.
    let raw_flushes = report["raw_saves_flushes_per_cycle"].as_f64().unwrap();
    assert_eq!(raw_flushes, 0.1);
    assert!(report["flushes_per_cycle"].as_f64().unwrap() >= raw_flushes);
    // The raw saves' folder is gone afterwards.
    assert!(!tmp.path().join("state.raw-saves").exists());
}

#[test]
fn bench_refuses_zero_engines() {
    kaizen()
        .args(["bench", "--engines", "0"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("--engines"));
}
