//! Issue 9 items 10–12: no value can wedge an engine, a result line whose
//! numbers overflow fails its cycle, and no duration or time panics.

use crate::support::*;
use kaizen::Error;
use kaizen::engine::{EngineBuilder, Flush, RunCycle, Status};
use kaizen::host::{FixedProbe, ManualClock};
use kaizen::pipeline::{AutomationResult, GuardedRun, PipelineError, RoiResult, pipeline_fn};
use kaizen::record::CycleAction;
use kaizen::registry::{RegistryConfig, RegistryHandle};
use kaizen::roi::RoiConfig;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A pipeline reporting the ROIs of `script` in turn (then 0.5), crediting module `m`.
fn reporting(script: Vec<f64>) -> impl kaizen::pipeline::Pipeline {
    let next = Arc::new(AtomicUsize::new(0));
    pipeline_fn(move |_: &str, _: u32| {
        let roi = script
            .get(next.fetch_add(1, Ordering::SeqCst))
            .copied()
            .unwrap_or(0.5);
        async move {
            Ok(AutomationResult {
                roi: Some(RoiResult {
                    roi,
                    ..Default::default()
                }),
                modules: vec!["m".into()],
                ..Default::default()
            })
        }
    })
}

/// Every number in a JSON document.
fn numbers(v: &serde_json::Value, out: &mut Vec<f64>) {
    match v {
        serde_json::Value::Number(n) => out.extend(n.as_f64()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| numbers(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| numbers(x, out)),
        _ => {}
    }
}

#[actix::test]
async fn no_value_can_wedge_an_engine() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(0.0);
    let script = vec![1e308, 1e308, 0.5, -1e308, 1e100, 1e100, 0.25];
    let n = script.len() as u64 + 1;
    let engine = builder("huge", reporting(script), &clock)
        .state_root(dir.path())
        .start()
        .unwrap();
    let mut records = Vec::new();
    for _ in 0..n {
        clock.advance(10.0);
        records.push(engine.send(RunCycle { energy: 1 }).await.unwrap().unwrap());
    }
    // Every cycle ran and was counted once, in order; the out-of-range ones failed.
    let cycles: Vec<u64> = records.iter().map(|r| r.cycle).collect();
    assert_eq!(cycles, (1..=n).collect::<Vec<_>>());
    assert!(records.iter().all(|r| r.action == CycleAction::Run));
    let ok: Vec<bool> = records.iter().map(|r| r.succeeded()).collect();
    assert_eq!(ok, [false, false, true, false, true, true, true, true]);
    for r in records.iter().filter(|r| !r.succeeded()) {
        let outcome = r.outcome.as_ref().unwrap();
        assert_eq!(outcome.delta, 0.0, "a refused value counts nothing");
        assert!(outcome.error.is_some(), "a failed cycle has a reason");
    }
    let status = engine.send(Status).await.unwrap();
    assert_eq!((status.cycles, status.failures), (n, 3));
    assert!(status.roi_delta_ema.is_finite() && status.short_mean.is_finite());
    // The engine keeps saving, and nothing it saved is out of range.
    engine.send(Flush).await.unwrap().unwrap();
    for file in ["engine.json", "policy.json", "meta.json"] {
        let saved = read_json(dir.path().join("huge").join(file));
        let mut found = Vec::new();
        numbers(&saved, &mut found);
        assert!(found.iter().all(|x| x.abs() <= 1e103), "{file}: {found:?}");
        if file == "engine.json" {
            assert_eq!(
                (saved["cycles"].as_u64(), saved["failures"].as_u64()),
                (Some(n), Some(3))
            );
        }
        if file == "meta.json" {
            let logged = saved["recent"].as_array().unwrap().len() as u64;
            assert_eq!(logged, n, "the meta logger saw every cycle once");
        }
    }
}

#[actix::test]
async fn a_delta_that_would_leave_the_range_once_scaled_fails_its_cycle_and_counts_nothing() {
    let clock = ManualClock::new(0.0);
    let tiny_scale = RoiConfig {
        scale: 1e-250,
        ..RoiConfig::default()
    };
    let engine = builder("scaled", reporting(vec![1e-100, 1e-300]), &clock)
        .roi(tiny_scale)
        .start()
        .unwrap();
    let first = engine.send(RunCycle { energy: 1 }).await.unwrap().unwrap();
    assert!(!first.succeeded());
    let status = engine.send(Status).await.unwrap();
    assert_eq!(
        (status.cycles, status.failures, status.roi_delta_ema),
        (1, 1, 0.0)
    );
    let second = engine.send(RunCycle { energy: 1 }).await.unwrap().unwrap();
    assert!(second.succeeded());
    assert_eq!(second.outcome.unwrap().delta, 1e-50);
}

#[tokio::test]
async fn a_result_beyond_the_range_is_a_pipeline_error_of_its_own_kind() {
    let err = GuardedRun::start(&reporting(vec![1e308]), "b", 1, Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(matches!(err, PipelineError::OutOfRange { .. }), "{err:?}");
}

#[cfg(unix)]
#[test]
fn a_result_line_whose_numbers_overflow_fails_the_cycle() {
    let tmp = tempfile::tempdir().unwrap();
    let engines = tmp.path().join("engines");
    command_engine(
        &engines,
        "alpha",
        "echo '{\"roi\":{\"roi\":0.75}}'\necho '{\"roi\":{\"roi\":1e999}}'",
        "[engine]\nenergy = \"none\"",
    );
    let out = stdout_of(
        kaizen()
            .args(["run", "--once", "--json", "--engines"])
            .arg(&engines)
            .arg("--state")
            .arg(tmp.path().join("state")),
    );
    let record: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(record["outcome"]["ok"], false, "{record}");
    assert_eq!(
        record["outcome"]["delta"], 0.0,
        "the earlier line was not taken"
    );
}

#[actix::test]
async fn extreme_durations_are_refused_not_panicked_on() {
    let clock = ManualClock::new(0.0);
    let reg = RegistryHandle::builder(RegistryConfig::default())
        .clock(Arc::new(clock.clone()))
        .probe(FixedProbe::default())
        .start()
        .unwrap();
    let err = reg.schedule(Duration::MAX, None).await.unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
    for b in [
        EngineBuilder::new("a", noop()).interval(Duration::MAX),
        EngineBuilder::new("b", noop()).timeout(Duration::from_secs(u64::MAX)),
    ] {
        let err = reg.register_engine(b).await.unwrap_err();
        assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
    }
    // A pipeline run with a timeout too long for the clock simply waits.
    let gate = Gate::closed();
    let mut run = std::pin::pin!(GuardedRun::start(&gate, "b", 1, Duration::MAX));
    assert!(futures_util::poll!(run.as_mut()).is_pending());
    gate.release(1);
    assert!(run.await.is_ok());
}

#[test]
fn durations_beyond_100_years_are_refused_clearly() {
    let spec = kaizen::spec::EngineSpec::parse(
        "bot = \"a\"\n[pipeline]\ncommand = [\"true\"]\n[engine]\ninterval = \"40000d\"\n",
        std::path::Path::new("a.toml"),
    )
    .unwrap_err();
    assert_eq!(spec.line, Some(5), "{spec}");
    assert!(spec.message.contains("100 years"), "{spec}");
    let out = kaizen()
        .args(["run", "--period", "1e15", "--once"])
        .assert()
        .failure()
        .get_output()
        .clone();
    assert_eq!(out.status.code(), Some(2), "a usage error, not a panic");
    assert!(String::from_utf8_lossy(&out.stderr).contains("100 years"));
}

#[cfg(unix)]
#[test]
fn status_shows_a_last_run_far_in_the_future_or_past() {
    let tmp = tempfile::tempdir().unwrap();
    let engines = tmp.path().join("engines");
    command_engine(&engines, "alpha", "echo '{}'", "");
    let state = tmp.path().join("state");
    run_once_on(&engines, &state).assert().success();
    let file = state.join("alpha/engine.json");
    for far in [1e15, -1e15, 1e300] {
        let mut saved = read_json(&file);
        saved["last_run"] = serde_json::json!(far);
        std::fs::write(&file, saved.to_string()).unwrap();
        let shown = stdout_of(kaizen().args(["status", "--state"]).arg(&state));
        // Beyond what RFC 3339 can write: the number itself, no panic.
        assert!(shown.contains("invalid time ("), "{shown}");
    }
}
