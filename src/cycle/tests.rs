use super::steps::StartedCycle;
use super::*;
use crate::host::{HostError, ProfitSource, Resources};
use crate::persist::PendingFile;
use crate::pipeline::RoiResult;
use crate::pipeline::{AutomationResult, PipelineError};
use crate::policy::Action;
use crate::policy::PolicyConfig;
use crate::record::CycleRecord;
use crate::roi::RoiConfig;
use std::sync::Mutex;

struct Ledger(Mutex<f64>);
impl ProfitSource for Ledger {
    fn profit(&self, _: &str) -> Result<f64, HostError> {
        Ok(*self.0.lock().unwrap())
    }
}

/// An engine core of SPEC §4 (these tests are of chain mode; see
/// `learned_tests` for the learned decision).
fn core(mut config: EngineConfig, dir: Option<PathBuf>) -> EngineCore {
    config.decision.get_or_insert(DecisionMode::Chain);
    EngineCore::open(Arc::from("e"), Arc::from("b"), config, dir, None).unwrap()
}

fn roi(v: f64) -> Result<AutomationResult, PipelineError> {
    Ok(AutomationResult {
        roi: Some(RoiResult {
            roi: v,
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// Runs one full cycle from `plan` with `run` as the pipeline's outcome.
fn cycle(
    c: &mut EngineCore,
    plan: CyclePlan,
    hosts: &Hosts,
    run: Result<AutomationResult, PipelineError>,
) -> CycleRecord {
    let started = c.start(plan, hosts).unwrap();
    finish(c, started, hosts, run)
}

/// The rest of a cycle once started: absorb, learn (here), conclude.
fn finish(
    c: &mut EngineCore,
    started: StartedCycle,
    hosts: &Hosts,
    run: Result<AutomationResult, PipelineError>,
) -> CycleRecord {
    let absorbed = c.absorb(started, run, hosts).unwrap();
    let Learning::Learned(learned) = c.learn(absorbed) else {
        panic!("the weight learner updates in place");
    };
    c.conclude(learned).unwrap()
}

#[test]
fn success_rate_counts_the_last_fifty_cycles() {
    let mut o = Outcomes::default();
    assert_eq!(o.success_rate(), 1.0);
    o.push(false);
    o.push(true);
    assert_eq!(o.success_rate(), 0.5);
    // 10 failures then 50 successes: the failures have left the window.
    let mut o = Outcomes::default();
    for _ in 0..10 {
        o.push(false);
    }
    for _ in 0..49 {
        o.push(true);
    }
    assert_eq!(o.success_rate(), 49.0 / 50.0);
    o.push(true);
    assert_eq!(o.success_rate(), 1.0);
    assert_eq!(o.len, SUCCESS_WINDOW);
}

#[test]
fn first_tick_is_forced_by_the_interval_then_the_policy_decides() {
    let mut c = core(EngineConfig::default(), None);
    let hosts = Hosts::default();
    let TickPlan::Run(plan) = c
        .plan_tick(0.0, Resources::default(), &hosts, None)
        .unwrap()
    else {
        panic!("first tick must run");
    };
    assert_eq!(plan.reason, Reason::Interval);
    let r = cycle(&mut c, plan, &hosts, roi(2.0));
    assert_eq!((r.cycle, r.outcome.unwrap().delta), (1, 2.0));
    // 10 s later: not due; ε-greedy with a positive Q for "run" on ties.
    match c
        .plan_tick(10.0, Resources::default(), &hosts, None)
        .unwrap()
    {
        TickPlan::Run(p) => assert_eq!(p.reason, Reason::Policy),
        TickPlan::Skip(r) => assert_eq!(r.reason, Reason::Policy),
    }
    // An hour after the last run, the interval forces again.
    let TickPlan::Run(plan) = c
        .plan_tick(3600.0, Resources::default(), &hosts, None)
        .unwrap()
    else {
        panic!("interval must force a cycle");
    };
    assert_eq!(plan.reason, Reason::Interval);
}

#[test]
fn failed_pipeline_counts_and_has_no_delta_without_a_ledger() {
    let mut c = core(EngineConfig::default(), None);
    let hosts = Hosts::default();
    let TickPlan::Run(plan) = c
        .plan_tick(0.0, Resources::default(), &hosts, None)
        .unwrap()
    else {
        panic!()
    };
    let r = cycle(&mut c, plan, &hosts, Err(PipelineError::Failed("x".into())));
    let o = r.outcome.unwrap();
    assert!(!o.ok);
    assert_eq!(o.delta, 0.0);
    assert_eq!((c.cycles(), c.failures(), c.success_rate()), (1, 1, 0.0));
}

#[test]
fn a_ledger_says_otherwise_even_when_the_pipeline_fails() {
    let ledger = Arc::new(Ledger(Mutex::new(10.0)));
    let hosts = Hosts {
        profit: Some(ledger.clone()),
        ..Hosts::default()
    };
    let mut c = core(EngineConfig::default(), None);
    let plan = c
        .plan_requested(0.0, 5, Resources::default(), &hosts)
        .unwrap();
    let started = c.start(plan, &hosts).unwrap();
    *ledger.0.lock().unwrap() = 7.5; // the failed change cost money
    let r = finish(
        &mut c,
        started,
        &hosts,
        Err(PipelineError::Failed("x".into())),
    );
    let o = r.outcome.unwrap();
    assert_eq!(o.delta, -2.5);
    assert!(!o.ok);
}

#[test]
fn a_policy_skip_learns_the_profit_change_at_the_next_reading() {
    // ε = 1: every decision explores; the seed makes it repeatable.
    let config = EngineConfig {
        policy: PolicyConfig {
            epsilon: 1.0,
            seed: 7,
            ..PolicyConfig::default()
        },
        roi: RoiConfig {
            scale: 2.0,
            ..RoiConfig::default()
        },
        ..EngineConfig::default()
    };
    let ledger = Arc::new(Ledger(Mutex::new(100.0)));
    let hosts = Hosts {
        profit: Some(ledger.clone()),
        ..Hosts::default()
    };
    let mut c = core(config, None);
    let TickPlan::Run(plan) = c
        .plan_tick(0.0, Resources::default(), &hosts, None)
        .unwrap()
    else {
        panic!()
    };
    cycle(&mut c, plan, &hosts, roi(0.0));
    // Tick until the policy skips (deterministic for the seed).
    let mut now = 1.0;
    let skipped_state = loop {
        match c
            .plan_tick(now, Resources::default(), &hosts, None)
            .unwrap()
        {
            TickPlan::Skip(r) => {
                assert_eq!(r.reason, Reason::Policy);
                break c.book.pending_skip.as_ref().unwrap().state;
            }
            TickPlan::Run(plan) => {
                cycle(&mut c, plan, &hosts, roi(0.0));
            }
        }
        now += 1.0;
        assert!(now < 100.0, "ε = 1 must skip within 100 ticks");
    };
    assert_eq!(c.policy().q(&skipped_state, Action::Skip), 0.0);
    // The profit rises by 3 before the next reading: reward = 3 / roi_scale 2 = 1.5.
    *ledger.0.lock().unwrap() += 3.0;
    let plan = c
        .plan_requested(now + 1.0, 1, Resources::default(), &hosts)
        .unwrap();
    let next = plan.inputs.as_ref().unwrap().state;
    let q_next = c.policy().score(&next);
    c.start(plan, &hosts).unwrap();
    // q_learning: 0 + 0.5·(1.5 + 0.9·max Q(next) − 0)
    let expected = 0.5 * (1.5 + 0.9 * q_next);
    assert!((c.policy().q(&skipped_state, Action::Skip) - expected).abs() < 1e-12);
    assert!(c.book.pending_skip.is_none());
}

#[test]
fn only_changed_files_are_encoded_and_they_reload() {
    let dir = tempfile::tempdir().unwrap();
    let engine_dir = dir.path().join("e");
    let mut c = core(EngineConfig::default(), Some(engine_dir.clone()));
    assert!(!c.is_dirty());
    assert!(c.take_files().is_empty());
    c.set_paused(true);
    let files = c.take_files();
    let names: Vec<_> = files
        .iter()
        .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, [ENGINE_FILE]);
    c.set_paused(false);
    let hosts = Hosts::default();
    let TickPlan::Run(plan) = c
        .plan_tick(0.0, Resources::default(), &hosts, None)
        .unwrap()
    else {
        panic!()
    };
    cycle(&mut c, plan, &hosts, roi(1.5));
    let names = |files: &[PendingFile]| -> Vec<String> {
        files
            .iter()
            .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    };
    // No module was named and the weights did not move: three files change.
    let files = c.take_files();
    assert_eq!(names(&files), [ENGINE_FILE, POLICY_FILE, META_FILE]);
    crate::persist::write_all(&files, crate::persist::Durability::Atomic).unwrap();
    // A new module and a synergy metric that moves the weights: all five.
    let plan = c
        .plan_requested(1.0, 1, Resources::default(), &hosts)
        .unwrap();
    let result = Ok(AutomationResult {
        roi: Some(RoiResult {
            roi: 1.0,
            ..Default::default()
        }),
        modules: vec!["m".into()],
        metrics: [("synergy_roi".to_string(), 0.5)].into(),
        ..Default::default()
    });
    cycle(&mut c, plan, &hosts, result);
    let files = c.take_files();
    assert_eq!(
        names(&files),
        [
            ENGINE_FILE,
            POLICY_FILE,
            "synergy.json",
            META_FILE,
            MODULES_FILE
        ]
    );
    crate::persist::write_all(&files, crate::persist::Durability::Atomic).unwrap();
    let again = core(EngineConfig::default(), Some(engine_dir));
    assert_eq!(again.cycles(), 2);
    assert_eq!(again.roi().history(), c.roi().history());
    assert_eq!(again.policy(), c.policy());
    assert_eq!(again.weights(), c.weights());
    assert_eq!(again.book, c.book);
}

#[test]
fn modules_are_credited_and_indexed() {
    let mut c = core(EngineConfig::default(), None);
    let hosts = Hosts::default();
    let plan = c
        .plan_requested(0.0, 1, Resources::default(), &hosts)
        .unwrap();
    let result = Ok(AutomationResult {
        roi: Some(RoiResult {
            roi: 2.0,
            ..Default::default()
        }),
        modules: vec!["tokenizer".into(), "ranker".into()],
        ..Default::default()
    });
    let r = cycle(&mut c, plan, &hosts, result);
    assert_eq!(r.outcome.unwrap().modules, ["tokenizer", "ranker"]);
    assert_eq!(c.meta().total("tokenizer"), 2.0);
    assert_eq!(c.meta().total("ranker"), 2.0);
    let state = c.state(1.0).unwrap();
    let expected = (crate::metalog::fnv1a64("tokenizer") % 1000) as i16;
    assert_eq!(state.as_array()[5], expected);
    assert_eq!(state.as_array()[6], 20, "module ROI 2.0 ⇒ rhe(20)");
}

#[test]
fn a_saved_engine_is_read_with_its_own_roi_settings() {
    let dir = tempfile::tempdir().unwrap();
    let engine_dir = dir.path().join("e");
    let short = RoiConfig {
        short_window: 2,
        ..RoiConfig::default()
    };
    let config = EngineConfig {
        roi: short,
        ..EngineConfig::default()
    };
    let mut c = core(config, Some(engine_dir.clone()));
    let hosts = Hosts::default();
    for (i, v) in [1.0, 2.0, 6.0].into_iter().enumerate() {
        let plan = c
            .plan_requested(i as f64, 1, Resources::default(), &hosts)
            .unwrap();
        cycle(&mut c, plan, &hosts, roi(v));
    }
    crate::persist::write_all(&c.take_files(), crate::persist::Durability::Atomic).unwrap();
    let read = |roi| match inspect_engine(&engine_dir, "e", "b", roi) {
        crate::persist::Inspected::Good { value, .. } => value,
        other => panic!("{other:?}"),
    };
    // The engine's own window of 2: (2 + 6) / 2; SPEC's default of 5: 9 / 3.
    assert_eq!(read(short).short_mean, 4.0);
    assert_eq!(read(RoiConfig::default()).short_mean, 3.0);
    let s = read(short);
    assert_eq!(
        (s.cycles, s.short_mean),
        (c.snapshot().cycles, c.snapshot().short_mean)
    );
    assert_eq!((&*s.engine, &*s.bot), ("e", "b"));
}

#[test]
fn the_built_in_forecaster_learns_each_delta_refits_elsewhere_and_persists() {
    use crate::forecast::{Forecaster, ForecasterConfig};
    let dir = tempfile::tempdir().unwrap();
    let fc = ForecasterConfig {
        refit_every: 5,
        ..ForecasterConfig::default()
    };
    let config = EngineConfig {
        forecast: Some(fc),
        ..EngineConfig::default()
    };
    let mut c = core(config.clone(), Some(dir.path().to_path_buf()));
    let hosts = Hosts::default();
    let deltas: Vec<f64> = (0..32)
        .map(|i| 0.2 + 0.5 * (0.7 * i as f64).sin() + 0.1 * (i % 3) as f64)
        .collect();
    let mut direct = Forecaster::new(fc).unwrap();
    let mut held = None;
    for (i, &d) in deltas.iter().enumerate() {
        let plan = c
            .plan_requested(i as f64, 1, Resources::default(), &hosts)
            .unwrap();
        // The chain's forecast factor reads the built-in forecast (while a
        // refit is away, the previous model's, stepped through the deltas).
        if !(25..=26).contains(&i) {
            assert_eq!(
                plan.inputs.as_ref().unwrap().forecast,
                direct.forecast().map(|f| f.mean),
                "cycle {i}"
            );
        }
        assert!(
            plan.inputs.as_ref().unwrap().forecast.is_some() || i < 3,
            "cycle {i}"
        );
        cycle(&mut c, plan, &hosts, roi(d));
        direct.observe(d).unwrap();
        // The refit due at the 25th delta is held over two cycles (as if
        // its thread were slow); the others are installed at once.
        let fresh = c.take_refit();
        assert_eq!(
            fresh.is_some(),
            i == 19 || (i >= 24 && (i - 24) % 5 == 0) || (25..=26).contains(&i),
            "cycle {i}"
        );
        match i {
            24 => held = fresh,
            25 => {} // asked again while away: dropped
            26 => c.install_refit(held.take().unwrap().run()),
            _ => {
                if let Some(job) = fresh {
                    c.install_refit(job.run());
                }
            }
        }
    }
    assert_eq!(c.forecaster().unwrap().state(), direct.state());
    assert!(direct.model().is_some());
    // Saved with the engine's files, reloaded exactly.
    crate::persist::write_all(&c.take_files(), crate::persist::Durability::Atomic).unwrap();
    assert!(dir.path().join(FORECAST_FILE).exists());
    let again = core(config, Some(dir.path().to_path_buf()));
    assert_eq!(again.forecaster().unwrap().state(), direct.state());
    assert_eq!(again.forecaster().unwrap().forecast(), direct.forecast());
}

/// Issue 12, item 7: with a `[reward]` table the weighted sum of the
/// reported metrics is the cycle's value (the pipeline's own ROI is not),
/// each component is in the record, and a ledger still comes first.
#[test]
fn the_weighted_reward_is_the_reported_value_and_the_ledger_comes_first() {
    use crate::reward::RewardConfig;
    let config = EngineConfig {
        reward: Some(
            RewardConfig::new([("quality", 0.75), ("speed", 0.25)])
                .with_penalty(2.0)
                .with_bonus(0.5, 0.125),
        ),
        ..EngineConfig::default()
    };
    let result = |quality: f64, speed: f64| {
        Ok(AutomationResult {
            roi: Some(RoiResult {
                roi: 100.0, // ignored: the table says what a cycle is worth
                ..Default::default()
            }),
            metrics: [("quality".into(), quality), ("speed".into(), speed)].into(),
            alerts: vec![crate::pipeline::PipelineAlert {
                kind: "loss_plateau".into(),
                message: "flat".into(),
            }],
            ..Default::default()
        })
    };
    let hosts = Hosts::default();
    let mut c = core(config.clone(), None);
    let plan = c
        .plan_requested(0.0, 1, Resources::default(), &hosts)
        .unwrap();
    let o = cycle(&mut c, plan, &hosts, result(0.8, -0.4))
        .outcome
        .unwrap();
    // 0.75·0.8 = 0.6; 0.25·(−0.4)·2 = −0.2; sum 0.4 < 0.5: no bonus.
    let w = o.weighted_reward.as_ref().unwrap();
    assert!((o.delta - 0.4).abs() < 1e-12, "{}", o.delta);
    assert_eq!(w.components[1].metric, "speed");
    assert!(w.components[1].penalized);
    assert!((w.components[1].contribution + 0.2).abs() < 1e-12);
    assert_eq!(o.alerts[0].kind, "loss_plateau");
    assert_eq!(o.metrics["speed"], -0.4, "the reported metrics are kept");
    let plan = c
        .plan_requested(1.0, 1, Resources::default(), &hosts)
        .unwrap();
    let o = cycle(&mut c, plan, &hosts, result(0.6, 0.4))
        .outcome
        .unwrap();
    // 0.45 + 0.1 = 0.55 ≥ 0.5: + 0.125.
    assert!((o.delta - 0.675).abs() < 1e-12, "{}", o.delta);
    assert_eq!(o.weighted_reward.unwrap().bonus, 0.125);
    // A failed run reported nothing: no weighted reward, delta 0.
    let plan = c
        .plan_requested(2.0, 1, Resources::default(), &hosts)
        .unwrap();
    let o = cycle(&mut c, plan, &hosts, Err(PipelineError::Failed("x".into())))
        .outcome
        .unwrap();
    assert_eq!((o.delta, o.weighted_reward), (0.0, None));
    // With a ledger, the ledger's change is the delta; the components are shown.
    let ledger = Arc::new(Ledger(Mutex::new(10.0)));
    let hosts = Hosts {
        profit: Some(ledger.clone()),
        ..Hosts::default()
    };
    let mut c = core(config, None);
    let plan = c
        .plan_requested(0.0, 1, Resources::default(), &hosts)
        .unwrap();
    let started = c.start(plan, &hosts).unwrap();
    *ledger.0.lock().unwrap() = 13.0;
    let o = finish(&mut c, started, &hosts, result(0.8, -0.4))
        .outcome
        .unwrap();
    assert_eq!(o.delta, 3.0);
    assert!((o.weighted_reward.as_ref().unwrap().value - 0.4).abs() < 1e-12);
    // The outcome reads back from JSON; one written before these fields
    // existed still reads.
    let mut v = serde_json::to_value(&o).unwrap();
    assert_eq!(
        v["alerts"],
        serde_json::json!([{"kind": "loss_plateau", "message": "flat"}])
    );
    assert_eq!(
        serde_json::from_value::<crate::record::CycleOutcome>(v.clone()).unwrap(),
        o
    );
    let fields = v.as_object_mut().unwrap();
    for new in ["alerts", "weighted_reward", "metrics"] {
        fields.remove(new);
    }
    let old: crate::record::CycleOutcome = serde_json::from_value(v).unwrap();
    assert!(old.alerts.is_empty() && old.weighted_reward.is_none() && old.metrics.is_empty());
}
