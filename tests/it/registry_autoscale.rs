//! The registry carries out autoscale decisions: create, remove the
//! lowest-EMA engine, and respect min/max/cooldown/resources/approval/dry-run.

use crate::support::*;
use kaizen::autoscale::AutoscaleRequest;
use kaizen::autoscale::{AutoscaleAction, AutoscaleConfig};
use kaizen::cycle::ENGINE_FILE;
use kaizen::decision::AutoscaleRecord;
use kaizen::host::{FixedProbe, ManualClock, Resources};
use kaizen::registry::{Approval, EngineFactory, RegistryConfig, RegistryHandle};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

fn factory(clock: &ManualClock) -> EngineFactory {
    let clock = clock.clone();
    Arc::new(move |name: &str| Ok(builder(name, noop(), &clock)))
}

struct Setup {
    reg: RegistryHandle,
    probe: FixedProbe,
    clock: ManualClock,
}

fn setup(root: Option<&Path>, approval: Option<Approval>) -> Setup {
    let clock = ManualClock::new(10_000.0);
    let probe = FixedProbe::new(Resources {
        cpu: 0.1,
        memory: 0.1,
    });
    let mut b = RegistryHandle::builder(RegistryConfig {
        state_root: root.map(Path::to_path_buf),
        ..RegistryConfig::default()
    })
    .clock(Arc::new(clock.clone()))
    .probe(probe.clone())
    .factory(factory(&clock));
    if let Some(a) = approval {
        b = b.approval(a);
    }
    Setup {
        reg: b.start().unwrap(),
        probe,
        clock,
    }
}

impl Setup {
    /// One autoscale step for this energy score and trend, under `config`.
    async fn ask(&self, energy: f64, trend: f64, config: AutoscaleConfig) -> AutoscaleRecord {
        let request = AutoscaleRequest {
            energy: Some(energy),
            trend: Some(trend),
            resources: None,
            config: Some(config),
        };
        self.reg.autoscale(request).await.unwrap()
    }
}

async fn names(reg: &RegistryHandle) -> Vec<String> {
    reg.status()
        .await
        .unwrap()
        .engines
        .into_iter()
        .map(|e| e.entry.name)
        .collect()
}

#[actix::test]
async fn spec_example_creates_then_removes() {
    let s = setup(None, None);
    s.reg
        .register_engine(builder("engine0", noop(), &s.clock))
        .await
        .unwrap();
    let config = AutoscaleConfig {
        max_engines: 2,
        roi_threshold: 0.1,
        ..AutoscaleConfig::default()
    };
    let r = s.ask(0.9, 0.5, config.clone()).await;
    assert_eq!(r.decision.action, AutoscaleAction::Create("engine1".into()));
    assert!(r.applied);
    assert_eq!(names(&s.reg).await, ["engine0", "engine1"]);
    // At max_engines: hold.
    let r = s.ask(0.9, 0.5, config.clone()).await;
    assert_eq!(r.decision.action, AutoscaleAction::Hold);
    let r = s.ask(0.2, -0.2, config.clone()).await;
    assert!(matches!(r.decision.action, AutoscaleAction::Remove(_)));
    assert_eq!(names(&s.reg).await.len(), 1);
    // At min_engines: hold.
    let r = s.ask(0.2, -0.2, config).await;
    assert_eq!(r.decision.action, AutoscaleAction::Hold);
    assert_eq!(names(&s.reg).await.len(), 1);
    let report = s.reg.status().await.unwrap();
    assert_eq!(report.autoscale.len(), 4);
}

#[actix::test]
async fn removes_the_lowest_ema_engine_after_saving_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(Some(dir.path()), None);
    for (name, per_energy) in [("good", 1.0), ("bad", -1.0), ("meh", 0.0)] {
        s.reg
            .register_engine(builder(name, roi_per_energy(per_energy), &s.clock))
            .await
            .unwrap();
    }
    s.reg.run_all_cycles().await.unwrap();
    let r = s.ask(0.1, 0.5, AutoscaleConfig::default()).await;
    assert_eq!(r.decision.action, AutoscaleAction::Remove("bad".into()));
    assert_eq!(names(&s.reg).await, ["good", "meh"]);
    s.reg.shutdown().await.unwrap();
    let saved = read_json(dir.path().join("bad").join(ENGINE_FILE));
    assert_eq!(saved["cycles"], 1);
    assert_eq!(saved["roi_history"], serde_json::json!([-1.0]));
}

#[actix::test]
async fn cooldown_blocks_until_it_has_passed() {
    let s = setup(None, None);
    let config = AutoscaleConfig {
        cooldown_secs: 60.0,
        max_engines: 10,
        ..AutoscaleConfig::default()
    };
    let r = s.ask(0.9, 0.5, config.clone()).await;
    assert!(r.applied);
    s.clock.advance(30.0);
    let r = s.ask(0.9, 0.5, config.clone()).await;
    assert_eq!(r.decision.action, AutoscaleAction::Hold);
    assert!(
        r.decision.reason.contains("cooldown"),
        "{}",
        r.decision.reason
    );
    s.clock.advance(31.0);
    let r = s.ask(0.9, 0.5, config).await;
    assert_eq!(r.decision.action, AutoscaleAction::Create("engine1".into()));
    assert_eq!(names(&s.reg).await, ["engine0", "engine1"]);
}

#[actix::test]
async fn machine_load_blocks_creation_and_pressure_removes() {
    let s = setup(None, None);
    for _ in 0..2 {
        s.ask(0.9, 0.5, AutoscaleConfig::default()).await;
    }
    assert_eq!(names(&s.reg).await.len(), 2);
    s.probe.set(Resources {
        cpu: 0.85,
        memory: 0.2,
    });
    let r = s.ask(0.9, 0.5, AutoscaleConfig::default()).await;
    assert_eq!(r.decision.action, AutoscaleAction::Hold);
    assert_eq!(r.inputs.cpu, 0.85);
    s.probe.set(Resources {
        cpu: 0.2,
        memory: 0.95,
    });
    let r = s.ask(0.9, 0.5, AutoscaleConfig::default()).await;
    assert!(matches!(r.decision.action, AutoscaleAction::Remove(_)));
    assert_eq!(names(&s.reg).await.len(), 1);
}

#[actix::test]
async fn approval_can_refuse() {
    let allow = Arc::new(AtomicBool::new(false));
    let flag = allow.clone();
    let s = setup(
        None,
        Some(Arc::new(move |_: &AutoscaleAction| {
            flag.load(Ordering::SeqCst)
        })),
    );
    let r = s.ask(0.9, 0.5, AutoscaleConfig::default()).await;
    assert_eq!(r.decision.action, AutoscaleAction::Hold);
    assert!(r.decision.reason.starts_with("approval refused"));
    assert!(names(&s.reg).await.is_empty());
    allow.store(true, Ordering::SeqCst);
    let r = s.ask(0.9, 0.5, AutoscaleConfig::default()).await;
    assert!(r.applied);
    assert_eq!(names(&s.reg).await, ["engine0"]);
}

#[actix::test]
async fn dry_run_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(Some(dir.path()), None);
    s.reg
        .register_engine(builder("engine0", noop(), &s.clock))
        .await
        .unwrap();
    let dry = AutoscaleConfig {
        dry_run: true,
        ..AutoscaleConfig::default()
    };
    let r = s.ask(0.9, 0.5, dry.clone()).await;
    assert_eq!(r.decision.action, AutoscaleAction::Create("engine1".into()));
    assert!(!r.applied);
    s.reg
        .register_engine(builder("engine1", noop(), &s.clock))
        .await
        .unwrap();
    let r = s.ask(0.1, -1.0, dry).await;
    assert!(matches!(r.decision.action, AutoscaleAction::Remove(_)));
    assert!(!r.applied);
    assert_eq!(names(&s.reg).await, ["engine0", "engine1"]);
    // A dry run is not a change: the cooldown does not start.
    let r = s
        .ask(
            0.9,
            0.5,
            AutoscaleConfig {
                cooldown_secs: 600.0,
                ..AutoscaleConfig::default()
            },
        )
        .await;
    assert!(r.applied, "{r:?}");
}

#[actix::test]
async fn every_step_is_on_the_decision_stream() {
    let s = setup(None, None);
    let mut rx = s.reg.subscribe();
    s.ask(0.9, 0.5, AutoscaleConfig::default()).await;
    let record = wait_for(&mut rx, |d| match d {
        kaizen::decision::Decision::Autoscale(a) => Some(a.clone()),
        _ => None,
    })
    .await;
    assert_eq!(record.inputs.energy, 0.9);
    assert_eq!(
        record.decision.action,
        AutoscaleAction::Create("engine0".into())
    );
}

/// Issue 9 item 15: autoscaling removes only engines it made, never one an
/// `engines/*.toml` spec defines (which still counts towards the bounds).
#[actix::test]
async fn engines_defined_by_a_spec_are_never_removed() {
    use kaizen::engine::Origin;
    let s = setup(None, None);
    let spec = builder("alpha", roi_per_energy(-1.0), &s.clock)
        .origin(Origin::Spec("engines/alpha.toml".into()));
    s.reg.register_engine(spec).await.unwrap();
    let copy =
        builder("engine0", roi_per_energy(1.0), &s.clock).origin(Origin::Template("alpha".into()));
    s.reg.register_engine(copy).await.unwrap();
    s.reg.run_all_cycles().await.unwrap();
    let config = AutoscaleConfig {
        cooldown_secs: 0.0,
        ..AutoscaleConfig::default()
    };
    // alpha's EMA is the lowest, but the copy is the one that goes.
    let r = s.ask(0.1, -0.5, config.clone()).await;
    assert_eq!(r.decision.action, AutoscaleAction::Remove("engine0".into()));
    assert_eq!(names(&s.reg).await, ["alpha"]);
    let r = s
        .ask(
            0.1,
            -0.5,
            AutoscaleConfig {
                min_engines: 0,
                ..config
            },
        )
        .await;
    assert_eq!(
        r.decision.action,
        AutoscaleAction::Hold,
        "{}",
        r.decision.reason
    );
    assert_eq!(names(&s.reg).await, ["alpha"]);
}

/// `mode = "adaptive"` through the registry: the baseline lives across
/// steps, the record carries every mean, std and z, the budget hook gates
/// creation, and the pass rate is the last round's share of successful runs.
#[actix::test]
async fn adaptive_mode_decides_against_its_baseline() {
    use kaizen::autoscale::AutoscaleMode;
    use kaizen::pipeline::{PipelineError, pipeline_fn};
    let clock = ManualClock::new(10_000.0);
    let allowed = Arc::new(AtomicBool::new(false));
    let gate = allowed.clone();
    let reg = RegistryHandle::builder(RegistryConfig::default())
        .clock(Arc::new(clock.clone()))
        .probe(FixedProbe::default())
        .factory(factory(&clock))
        .check_budget(Arc::new(move || gate.load(Ordering::SeqCst)))
        .start()
        .unwrap();
    let failing = pipeline_fn(|_: &str, _: u32| async {
        Err::<kaizen::pipeline::AutomationResult, _>(PipelineError::Failed("no".into()))
    });
    reg.register_engine(builder("engine0", failing, &clock))
        .await
        .unwrap();
    let config = AutoscaleConfig {
        mode: AutoscaleMode::Adaptive,
        max_engines: 3,
        ..AutoscaleConfig::default()
    };
    let ask = |energy: f64, trend: f64| {
        reg.autoscale(AutoscaleRequest {
            energy: Some(energy),
            trend: Some(trend),
            resources: None,
            config: Some(config.clone()),
        })
    };
    // No round yet: pass rate 1. Three steady steps, then a jump held back
    // by its own momentum (w_c = 1 + √3).
    for _ in 0..3 {
        let r = ask(0.5, 0.0).await.unwrap();
        assert_eq!(r.decision.action, AutoscaleAction::Hold);
        assert_eq!(r.adaptive.unwrap().pass_rate.value, 1.0);
    }
    let r = ask(0.9, 0.2).await.unwrap();
    assert_eq!(r.decision.action, AutoscaleAction::Hold);
    let a = r.adaptive.unwrap();
    assert!((a.w_create - (1.0 + 3f64.sqrt())).abs() < 1e-12, "{a:?}");
    // The engine's only run fails: the next step sees a pass rate of 0.
    clock.advance(3600.0);
    reg.run_all_cycles().await.unwrap();
    // The second high round would create, but the budget says no.
    let probe = ask(0.9, 0.2).await.unwrap();
    assert_eq!(probe.decision.action, AutoscaleAction::Hold);
    assert!(probe.decision.reason.contains("check_budget() said no"));
    let a = probe.adaptive.clone().unwrap();
    assert_eq!((a.rounds, a.pass_rate.value), (5, 0.0));
    assert!((a.energy.mean - 0.66).abs() < 1e-12 && (a.trend.mean - 0.08).abs() < 1e-12);
    // The record shows the numbers as JSON too.
    let json = serde_json::to_value(&probe).unwrap();
    assert_eq!(json["adaptive"]["momentum"]["z"], -0.5);
    // Budget open: a sixth high round creates (Python's statistics: energy
    // .95 ≥ .917, trend .21 ≥ .203, .21 − .102 > 0).
    allowed.store(true, Ordering::SeqCst);
    let r = ask(0.95, 0.21).await.unwrap();
    assert_eq!(
        r.decision.action,
        AutoscaleAction::Create("engine1".into()),
        "{}",
        r.decision.reason
    );
    assert!(r.applied);
    assert_eq!(names(&reg).await, ["engine0", "engine1"]);
    reg.shutdown().await.unwrap();
}

/// The adaptive baseline is saved with the registry: a registry restarted
/// halfway through a scripted sequence of steps decides exactly as one that
/// ran it all (its lag count included).
#[actix::test]
async fn the_adaptive_baseline_survives_a_restart_exactly() {
    use kaizen::autoscale::AutoscaleMode;
    let config = AutoscaleConfig {
        mode: AutoscaleMode::Adaptive,
        dry_run: true,
        ..AutoscaleConfig::default()
    };
    let steps = [
        (0.5, 0.0),
        (0.6, 0.1),
        (0.7, 0.2),
        (0.4, -0.1),
        (0.3, -0.2),
        (0.2, -0.3),
        (0.9, 0.4),
        (0.95, 0.5),
    ];
    let records = |root: &Path, from: usize, to: usize| {
        let s = setup(Some(root), None);
        let config = config.clone();
        async move {
            s.clock.advance(from as f64);
            let mut out = Vec::new();
            for &(energy, trend) in &steps[from..to] {
                out.push(s.ask(energy, trend, config.clone()).await);
                s.clock.advance(1.0);
            }
            s.reg.shutdown().await.unwrap();
            out
        }
    };
    let whole = tempfile::tempdir().unwrap();
    let straight = records(whole.path(), 0, steps.len()).await;
    let halves = tempfile::tempdir().unwrap();
    let mut resumed = records(halves.path(), 0, 4).await;
    let saved = read_json(halves.path().join("registry.json"));
    assert_eq!(saved["version"], 2);
    assert_eq!(saved["baseline"]["rounds"].as_array().unwrap().len(), 4);
    resumed.extend(records(halves.path(), 4, steps.len()).await);
    assert_eq!(
        resumed[4].adaptive.as_ref().unwrap().rounds,
        5,
        "the baseline came back"
    );
    assert!(
        straight
            .iter()
            .any(|r| r.adaptive.as_ref().unwrap().warning.is_some()),
        "the lag rule fires across the restart: {straight:#?}"
    );
    assert_eq!(resumed, straight);
}
