//! Issue 9, item 3: a slow bot never starves the others. A round answers
//! for every engine without waiting for a pipeline that is still running.

use crate::support::*;
use kaizen::decision::Decision;
use kaizen::engine::Status;
use kaizen::host::{FixedProbe, ManualClock};
use kaizen::record::{CycleAction, Reason};
use kaizen::registry::{RegistryConfig, RegistryHandle};
use std::sync::Arc;
use std::time::Duration;

fn registry(config: RegistryConfig, clock: &ManualClock) -> RegistryHandle {
    RegistryHandle::builder(config)
        .clock(Arc::new(clock.clone()))
        .probe(FixedProbe::default())
        .start()
        .unwrap()
}

#[actix::test]
async fn a_slow_bot_never_starves_the_others() {
    let clock = ManualClock::new(0.0);
    let reg = registry(
        RegistryConfig {
            round_wait: Duration::ZERO,
            ..RegistryConfig::default()
        },
        &clock,
    );
    let gate = Gate::closed();
    for (name, slow) in [("slow", true), ("fast", false)] {
        let b = if slow {
            builder(name, gate.clone(), &clock)
        } else {
            builder(name, noop(), &clock)
        };
        reg.register_engine(b.interval(Duration::ZERO))
            .await
            .unwrap();
    }
    let mut events = reg.subscribe();
    let rounds = 50;
    let mut fast_ran = 0;
    for round in 0..rounds {
        clock.advance(1.0);
        let records = tokio::time::timeout(Duration::from_secs(30), reg.run_all_cycles())
            .await
            .expect("the round waited for the held pipeline")
            .unwrap();
        assert_eq!(records.len(), 2, "a record for every engine");
        if records["fast"].action == CycleAction::Run {
            fast_ran += 1;
        }
        let slow = &records["slow"];
        assert_eq!(
            (slow.action, slow.reason),
            (CycleAction::Skip, Reason::Busy),
            "round {round}"
        );
    }
    assert!(
        fast_ran * 10 >= rounds * 9,
        "the fast bot ran on {fast_ran} of {rounds} ticks"
    );
    assert_eq!(gate.runs(), 1, "the held cycle was never started twice");
    let slow = reg.engine("slow").await.unwrap().unwrap();
    assert!(slow.send(Status).await.unwrap().busy);
    // Released, the slow cycle's full record comes on the decision stream
    // and in the engine's status.
    gate.release(1);
    let record = wait_for(&mut events, |d| match d {
        Decision::Cycle(r) if &*r.engine == "slow" && r.action == CycleAction::Run => {
            Some(r.clone())
        }
        _ => None,
    })
    .await;
    assert!(record.succeeded());
    assert_eq!((record.cycle, record.time), (1, 1.0));
    let status = slow.send(Status).await.unwrap();
    assert_eq!((status.cycles, status.busy), (1, false));
    assert_eq!(status.last.map(|t| t.action), Some(CycleAction::Run));
}

#[actix::test]
async fn a_round_waits_for_its_cycles_up_to_round_wait() {
    let clock = ManualClock::new(0.0);
    let reg = registry(RegistryConfig::default(), &clock);
    let gate = Gate::closed();
    reg.register_engine(builder("held", gate.clone(), &clock))
        .await
        .unwrap();
    let round = {
        let reg = reg.clone();
        actix::spawn(async move { reg.run_all_cycles().await })
    };
    // Released well within the default wait: the round has the full record.
    gate.entries_reach(1).await;
    gate.release(1);
    let records = round.await.unwrap().unwrap();
    assert_eq!(records["held"].action, CycleAction::Run);
    assert!(records["held"].succeeded());
}

#[actix::test]
async fn timer_rounds_keep_their_schedule_while_a_pipeline_is_held() {
    let clock = ManualClock::new(0.0);
    let reg = registry(
        RegistryConfig {
            round_wait: Duration::ZERO,
            ..RegistryConfig::default()
        },
        &clock,
    );
    let gate = Gate::closed();
    reg.register_engine(builder("slow", gate.clone(), &clock).interval(Duration::ZERO))
        .await
        .unwrap();
    reg.register_engine(builder("fast", noop(), &clock).interval(Duration::ZERO))
        .await
        .unwrap();
    let mut events = reg.subscribe();
    reg.schedule(Duration::from_secs(1), None).await.unwrap();
    // The schedule runs on the registry's clock: each second moved is a tick.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut fast = 0;
    // Until the fast bot has run five times and the slow bot's one cycle
    // has reached its pipeline (on a loaded machine that may come later).
    while fast < 5 || gate.runs() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the fast bot stopped running"
        );
        clock.advance(1.0);
        let seen = tokio::time::timeout(
            Duration::from_millis(50),
            wait_for(&mut events, |d| match d {
                Decision::Cycle(r) if &*r.engine == "fast" && r.action == CycleAction::Run => {
                    Some(r.cycle)
                }
                _ => None,
            }),
        )
        .await;
        if let Ok(cycle) = seen {
            fast = cycle;
        }
    }
    assert_eq!(gate.runs(), 1, "the held cycle was never started twice");
    reg.unschedule().await.unwrap();
    gate.release(1);
}
