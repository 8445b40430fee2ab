//! Issue 9 items 4 and 5: a pipeline that leaves a background child still
//! has its result used, and a registry bounds how many pipelines run at once.

use crate::support::*;
use kaizen::host::{FixedProbe, ManualClock};
use kaizen::pipeline::{CommandPipeline, Pipeline};
use kaizen::registry::{RegistryConfig, RegistryHandle};
use std::sync::Arc;
use std::time::Duration;

/// Whether process `pid` is running (a zombie, waiting for its parent to
/// reap it, is not).
#[cfg(target_os = "linux")]
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Reads the pid a pipeline wrote into `file`, waiting for it (bounded).
pub fn pid_in(file: &std::path::Path) -> i32 {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(pid) = std::fs::read_to_string(file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return pid;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no pid in {} within 30 s",
            file.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_background_child_holding_stdout_does_not_turn_a_result_into_a_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("child.pid");
    // The child inherits stdout and keeps it open for 1000 s.
    let script = format!(
        "sleep 1000 & echo $! > {}; echo '{{\"roi\":{{\"roi\":0.5}}}}'",
        pid_file.display()
    );
    let pipeline = CommandPipeline::new(vec!["sh".into(), "-c".into(), script]).unwrap();
    let result = tokio::time::timeout(Duration::from_secs(30), pipeline.run("bot", 1))
        .await
        .expect("the run waited for the background child's stdout")
        .unwrap();
    assert_eq!(result.roi.unwrap().roi, 0.5);
    // What the program left in its group is killed with it.
    let child = pid_in(&pid_file);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while alive(child) {
        assert!(
            std::time::Instant::now() < deadline,
            "the background child {child} outlived its run"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[actix::test]
async fn a_registry_bounds_how_many_pipelines_run_at_once() {
    let clock = ManualClock::new(0.0);
    let reg = RegistryHandle::builder(RegistryConfig {
        round_wait: Duration::ZERO,
        max_running_pipelines: Some(2),
        ..RegistryConfig::default()
    })
    .clock(Arc::new(clock.clone()))
    .probe(FixedProbe::default())
    .start()
    .unwrap();
    let gate = Gate::closed();
    for i in 0..6 {
        reg.register_engine(
            builder(&format!("b{i}"), gate.clone(), &clock).interval(Duration::ZERO),
        )
        .await
        .unwrap();
    }
    clock.advance(1.0);
    reg.run_all_cycles().await.unwrap();
    // Two run; four wait for a slot. Each release lets one more in.
    for entered in 2..=6 {
        tokio::time::timeout(Duration::from_secs(30), gate.entries_reach(entered))
            .await
            .expect("a waiting pipeline never got a slot");
        assert!(gate.most_at_once() <= 2, "{} at once", gate.most_at_once());
        gate.release(1);
    }
    gate.release(6);
    assert_eq!(gate.most_at_once(), 2);
    assert_eq!(gate.runs(), 6);
    reg.shutdown().await.unwrap();
}

/// Issue 11 item 3: while pipeline slots are short, a freed slot goes to
/// the learned cycle expected to be worth most, not to the one that asked
/// first.
#[actix::test]
async fn a_freed_slot_goes_to_the_learned_cycle_worth_most() {
    use kaizen::cycle::DecisionMode;
    use kaizen::pipeline::{AutomationResult, RoiResult, pipeline_fn};
    use kaizen::runtime::{PipelineSlots, Services};
    use std::sync::Mutex;

    let clock = ManualClock::new(0.0);
    let slots = PipelineSlots::new(1);
    let reg = RegistryHandle::builder(RegistryConfig {
        round_wait: Duration::MAX,
        ..RegistryConfig::default()
    })
    .clock(Arc::new(clock.clone()))
    .probe(FixedProbe::default())
    .services(Services {
        pipelines: slots.clone(),
        ..Services::default()
    })
    .start()
    .unwrap();
    let ran: Arc<Mutex<Vec<String>>> = Arc::default();
    // Two learned engines whose cycles report 1 and 10 per unit of energy.
    for (name, per_energy) in [("poor", 1.0), ("rich", 10.0)] {
        let ran = Arc::clone(&ran);
        let pipeline = pipeline_fn(move |bot: &str, energy: u32| {
            ran.lock().unwrap().push(bot.to_string());
            async move {
                Ok(AutomationResult {
                    roi: Some(RoiResult {
                        roi: per_energy * f64::from(energy),
                        ..Default::default()
                    }),
                    ..Default::default()
                })
            }
        });
        let engine = builder(name, pipeline, &clock).decision(DecisionMode::Learned);
        reg.register_engine(engine).await.unwrap();
    }
    // Rounds with a slot to spare: each engine learns what its cycles report.
    for _ in 0..3 {
        clock.advance(1.0);
        reg.run_all_cycles().await.unwrap();
    }
    ran.lock().unwrap().clear();
    // Something else holds the only slot; both engines decide to run and wait.
    let held = slots.try_take().unwrap();
    clock.advance(1.0);
    let round = actix::spawn({
        let reg = reg.clone();
        async move { reg.run_all_cycles().await }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while slots.waiting() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "both engines should wait for the slot; {} do",
            slots.waiting()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    drop(held);
    let records = round.await.unwrap().unwrap();
    let value = |name: &str| match &records[name].decision {
        Some(d) => d.value,
        None => panic!("{name} ran without a decision: {:?}", records[name]),
    };
    assert!(
        value("rich") > value("poor"),
        "rich {} poor {}",
        value("rich"),
        value("poor")
    );
    assert_eq!(*ran.lock().unwrap(), ["rich", "poor"]);
    assert_eq!((slots.free(), slots.waiting()), (1, 0));
    reg.shutdown().await.unwrap();
}
