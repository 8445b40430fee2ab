//! An engine outlives its pipeline: every way a pipeline can fail leaves a
//! failed record, an intact state and a live engine.

use crate::support::*;
use kaizen::engine::{RunCycle, Status, Tick};
use kaizen::host::{ManualClock, Resources};
use kaizen::pipeline::{
    AutomationResult, CommandPipeline, Pipeline, PipelineFuture, RoiResult, pipeline_fn,
};
use kaizen::record::{CycleAction, Reason};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Fails the first time in the way given, then succeeds with roi 1.
struct FailsOnce<F> {
    calls: AtomicUsize,
    fail: F,
}

impl<F> Pipeline for FailsOnce<F>
where
    F: Fn() -> PipelineFuture + Send + Sync + 'static,
{
    fn run(&self, _: &str, _: u32) -> PipelineFuture {
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            return (self.fail)();
        }
        Box::pin(async {
            Ok(AutomationResult {
                roi: Some(RoiResult {
                    roi: 1.0,
                    ..Default::default()
                }),
                ..Default::default()
            })
        })
    }
}

fn fails_once(fail: impl Fn() -> PipelineFuture + Send + Sync + 'static) -> impl Pipeline {
    FailsOnce {
        calls: AtomicUsize::new(0),
        fail,
    }
}

/// Runs one failing cycle and one good one on a fresh engine; returns the
/// failed record's error text.
async fn fail_then_recover(name: &str, pipeline: impl Pipeline, timeout: Duration) -> String {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(0.0);
    let engine = builder(name, pipeline, &clock)
        .timeout(timeout)
        .state_root(dir.path())
        .start()
        .unwrap();
    let r = engine
        .send(Tick {
            now: 0.0,
            resources: Resources::default(),
        })
        .await
        .unwrap();
    assert_eq!(r.action, CycleAction::Run);
    let o = r.outcome.clone().unwrap();
    assert!(!o.ok, "{r:?}");
    assert_eq!(o.delta, 0.0);
    let status = engine.send(Status).await.unwrap();
    assert_eq!((status.cycles, status.failures), (1, 1));
    assert!(!status.busy);
    // The engine lives on, and its next cycle is a normal one.
    let r = engine.send(RunCycle { energy: 1 }).await.unwrap().unwrap();
    assert!(r.succeeded(), "{r:?}");
    assert_eq!(r.outcome.unwrap().delta, 1.0);
    let status = engine.send(Status).await.unwrap();
    assert_eq!((status.cycles, status.failures), (2, 1));
    o.error.unwrap()
}

#[actix::test]
async fn a_pipeline_that_panics() {
    let err = fail_then_recover(
        "panics",
        fails_once(|| Box::pin(async { panic!("model exploded") })),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(err, "pipeline panicked: model exploded");
}

#[actix::test]
async fn a_pipeline_that_hangs_past_its_timeout() {
    let err = fail_then_recover(
        "hangs",
        fails_once(|| Box::pin(std::future::pending())),
        Duration::from_millis(200),
    )
    .await;
    assert_eq!(err, "pipeline timed out after 200ms");
}

#[actix::test]
async fn a_pipeline_that_returns_nan() {
    let err = fail_then_recover(
        "nan",
        fails_once(|| {
            Box::pin(async {
                Ok(AutomationResult {
                    roi: Some(RoiResult {
                        roi: f64::NAN,
                        ..Default::default()
                    }),
                    ..Default::default()
                })
            })
        }),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(err, "pipeline result roi.roi is not a finite number (NaN)");
}

#[actix::test]
async fn a_pipeline_that_errors() {
    let err = fail_then_recover(
        "errs",
        fails_once(|| {
            Box::pin(async { Err(kaizen::pipeline::PipelineError::Failed("no data".into())) })
        }),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(err, "pipeline failed: no data");
}

#[actix::test]
async fn a_command_that_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    // Fails on its first run, succeeds after: the marker file remembers.
    let marker = dir.path().join("ran-once");
    let script = format!(
        "if [ -e '{m}' ]; then echo '{{\"roi\":{{\"roi\":1.0}}}}'; else touch '{m}'; echo 'disk full' >&2; exit 1; fi",
        m = marker.display()
    );
    let command = CommandPipeline::new(vec!["sh".into(), "-c".into(), script]).unwrap();
    let err = fail_then_recover("command", command, Duration::from_secs(60)).await;
    assert!(err.contains("failed with exit code 1"), "{err}");
    assert!(err.ends_with("disk full"), "{err}");
}

#[actix::test]
async fn a_busy_engine_skips_ticks_while_its_cycle_runs() {
    let clock = ManualClock::new(0.0);
    let gate = Gate::closed();
    let engine = builder("busy", gate.clone(), &clock).start().unwrap();
    let first = engine.send(RunCycle { energy: 1 });
    let first = actix::spawn(first);
    gate.entries_reach(1).await;
    let r = engine
        .send(Tick {
            now: 0.0,
            resources: Resources::default(),
        })
        .await
        .unwrap();
    assert_eq!((r.action, r.reason), (CycleAction::Skip, Reason::Busy));
    assert!(engine.send(Status).await.unwrap().busy);
    gate.release(1);
    let r = first.await.unwrap().unwrap().unwrap();
    assert!(r.succeeded());
    assert!(!engine.send(Status).await.unwrap().busy);
}

#[actix::test]
async fn a_failing_profit_source_fails_the_cycle_without_running_the_pipeline() {
    struct Broken;
    impl kaizen::host::ProfitSource for Broken {
        fn profit(&self, _: &str) -> Result<f64, kaizen::host::HostError> {
            Err("ledger offline".into())
        }
    }
    let clock = ManualClock::new(0.0);
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    let pipeline = pipeline_fn(move |_: &str, _: u32| {
        counted.fetch_add(1, Ordering::SeqCst);
        async { Ok(AutomationResult::default()) }
    });
    let engine = builder("ledgerless", pipeline, &clock)
        .profit_source(Arc::new(Broken))
        .start()
        .unwrap();
    let r = engine.send(RunCycle { energy: 1 }).await.unwrap().unwrap();
    let o = r.outcome.unwrap();
    assert!(!o.ok);
    assert!(o.error.unwrap().contains("ledger offline"));
    assert_eq!(runs.load(Ordering::SeqCst), 0);
}

#[actix::test]
async fn nothing_is_saved_halfway_through_a_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(0.0);
    let gate = Gate::closed();
    let engine = builder("careful", gate.clone(), &clock)
        .state_root(dir.path())
        .start()
        .unwrap();
    let cycle = actix::spawn(engine.send(RunCycle { energy: 1 }));
    gate.entries_reach(1).await;
    // Changes during the cycle wait for its end; a flush waits for it too.
    engine.send(kaizen::engine::Pause).await.unwrap();
    let flush = actix::spawn(engine.send(kaizen::engine::Flush));
    assert!(!dir.path().join("careful/engine.json").exists());
    gate.release(1);
    assert!(cycle.await.unwrap().unwrap().unwrap().succeeded());
    flush.await.unwrap().unwrap().unwrap();
    let saved = read_json(dir.path().join("careful/engine.json"));
    assert_eq!(saved["cycles"], 1);
    assert_eq!(saved["roi_history"].as_array().unwrap().len(), 1);
    assert_eq!(saved["paused"], true);
}
