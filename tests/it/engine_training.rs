//! Issue 12 through the real engine actor: an engine built with
//! `EngineBuilder::with_training` runs the training pipeline in its cycles,
//! shows the pipeline's status in its snapshot — a job waiting for the shared
//! pool included — and changes its champion on `ChangeModel`.

use crate::support::*;
use kaizen::Error;
use kaizen::engine::{ChangeModel, EngineBuilder, RunCycle, Status};
use kaizen::host::ManualClock;
use kaizen::models::{MoveAction, VersionId};
use kaizen::training::{JobState, ModelAction, TrainingPipeline, TrainingPool};
use std::sync::Arc;

#[actix::test]
async fn an_engine_trains_shows_its_waiting_job_and_changes_its_champion() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("sales.csv");
    append_linear(&data, 100, (2.0, 1.0));
    let config = small_regression(&data);
    let clock = ManualClock::new(1_700_000_000.0);
    let pool = Arc::new(TrainingPool::new(1));
    let pipeline = TrainingPipeline::open(
        "sales",
        &dir.path().join("state/sales"),
        config,
        pool.clone(),
        Arc::new(clock.clone()),
    )
    .unwrap();
    let engine = EngineBuilder::with_training("sales", pipeline)
        .clock(Arc::new(clock.clone()))
        .start()
        .unwrap();

    // A cycle trains v1, which beats the mean and serves.
    let r = engine.send(RunCycle { energy: 5 }).await.unwrap().unwrap();
    let o = r.outcome.unwrap();
    assert!(o.ok, "{o:?}");
    assert_eq!(o.metrics["deployed"], 1.0, "{o:?}");
    let t = engine.send(Status).await.unwrap().training.unwrap();
    assert_eq!(t.champion.as_ref().unwrap().version, VersionId(1));
    assert!(t.job.is_none());

    // Another bot holds the pool's one slot: the next training waits, and
    // the snapshot says so while the cycle is under way.
    let held = pool.acquire("other", 100.0).await;
    append_linear(&data, 100, (-1.0, 3.0));
    clock.advance(3600.0);
    let cycle = actix::spawn(engine.send(RunCycle { energy: 5 }));
    let mut waiting = None;
    for _ in 0..10_000 {
        let s = engine.send(Status).await.unwrap();
        if let Some(job) = s.training.and_then(|t| t.job) {
            assert!(s.busy);
            waiting = Some(job);
            break;
        }
        tokio::task::yield_now().await;
    }
    let job = waiting.expect("the waiting job shows in the snapshot");
    assert_eq!(job.bot, "sales");
    assert_eq!(job.state, JobState::Waiting { position: 1 });
    drop(held);
    // The new relation: v2, trained on it, replaces v1.
    let r = cycle.await.unwrap().unwrap().unwrap();
    assert_eq!(r.reason, kaizen::record::Reason::Requested);
    assert_eq!(
        job.priority, 5.0,
        "the cycle's energy (asked for: 5) is its priority"
    );
    let o = r.outcome.unwrap();
    assert_eq!(o.metrics["champion_version"], 2.0, "{o:?}");
    let t = engine.send(Status).await.unwrap().training.unwrap();
    assert!(t.job.is_none());
    assert_eq!(t.champion.unwrap().version, VersionId(2));

    // An operator's activation goes through the engine.
    let moved = engine
        .send(ChangeModel {
            action: ModelAction::Activate {
                version: VersionId(1),
            },
            reason: "op: back to v1".into(),
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (moved.action, moved.from, moved.to),
        (MoveAction::Activate, Some(VersionId(2)), Some(VersionId(1)))
    );
    let t = engine.send(Status).await.unwrap().training.unwrap();
    assert_eq!(t.champion.unwrap().version, VersionId(1));
    assert_eq!(t.last_move.unwrap().reason, "op: back to v1");

    // An engine without the training pipeline has no models to change.
    let plain = builder("plain", noop(), &clock).start().unwrap();
    let err = plain
        .send(ChangeModel {
            action: ModelAction::Rollback,
            reason: "x".into(),
        })
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(err, Error::NoModels { ref engine } if engine == "plain"),
        "{err}"
    );
}
