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
    let ticks = report["engine_ticks_per_sec"].as_f64().unwrap();
    let raw = report["raw_ticks_per_s"].as_f64().unwrap();
    assert!(ticks > 0.0 && raw > 0.0);
    // The ratio is the two figures' quotient, and lies in the range of the
    // stretches it was measured in.
    let ratio = report["ratio_to_raw"].as_f64().unwrap();
    assert!((ratio - ticks / raw).abs() < 1e-9 * ratio, "{report}");
    let range = &report["ratio_to_raw_range"];
    let slack = 1e-9 * ratio;
    assert!(range[0].as_f64().unwrap() <= ratio + slack, "{report}");
    assert!(ratio <= range[1].as_f64().unwrap() + slack, "{report}");
    assert!(report["load_average"].is_array());
    // Instructions are counted only when asked.
    assert!(report["instructions_per_tick"].is_null());
    assert_eq!(report["tick_latency"]["count"], 100);
    assert!(report["bytes_written_per_cycle"].as_f64().unwrap() > 0.0);
    // Every engine's state was saved under --state.
    assert!(tmp.path().join("state/bot00019/engine.json").exists());
}

#[test]
fn bench_refuses_zero_engines() {
    kaizen()
        .args(["bench", "--engines", "0"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("--engines"));
}
