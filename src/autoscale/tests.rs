use super::*;
use std::cell::Cell;

fn engine(name: &str, roi_ema: f64, created: u64) -> EngineSummary {
    EngineSummary {
        name: name.into(),
        roi_ema,
        created,
        pinned: false,
    }
}

fn inputs(energy: f64, trend: f64, engines: Vec<EngineSummary>) -> AutoscaleInputs {
    AutoscaleInputs {
        energy,
        trend,
        cpu: 0.1,
        memory: 0.1,
        now: 1000.0,
        last_change: None,
        engines,
        taken: Vec::new(),
    }
}

#[test]
fn spec_example_grows_to_two_then_back_to_one() {
    let config = AutoscaleConfig {
        max_engines: 2,
        roi_threshold: 0.1,
        ..Default::default()
    };
    let one = vec![engine("engine0", 0.0, 0)];
    let d = decide(&inputs(0.9, 0.5, one.clone()), &config, None).unwrap();
    assert_eq!(d.action, AutoscaleAction::Create("engine1".into()));
    let two = vec![engine("engine0", 0.0, 0), engine("engine1", 0.0, 1)];
    // At the maximum nothing more is created.
    let d = decide(&inputs(0.9, 0.5, two.clone()), &config, None).unwrap();
    assert_eq!(d.action, AutoscaleAction::Hold);
    assert!(d.reason.contains("max_engines 2"), "{}", d.reason);
    // energy 0.2, trend −0.2 ⇒ remove; ties on EMA ⇒ the oldest goes.
    let d = decide(&inputs(0.2, -0.2, two), &config, None).unwrap();
    assert_eq!(d.action, AutoscaleAction::Remove("engine0".into()));
    // Back at one engine = min_engines: hold.
    let d = decide(&inputs(0.2, -0.2, one), &config, None).unwrap();
    assert_eq!(d.action, AutoscaleAction::Hold);
    assert!(d.reason.contains("min_engines"), "{}", d.reason);
}

#[test]
fn removes_the_lowest_ema_engine() {
    let engines = vec![
        engine("a", 0.5, 0),
        engine("b", -0.3, 1),
        engine("c", -0.3, 2),
        engine("d", 0.1, 3),
    ];
    let d = decide(
        &inputs(0.1, 0.5, engines),
        &AutoscaleConfig::default(),
        None,
    )
    .unwrap();
    assert_eq!(d.action, AutoscaleAction::Remove("b".into()));
    assert!(
        d.reason.contains("energy 0.100 ≤ remove_energy 0.3"),
        "{}",
        d.reason
    );
}

#[test]
fn new_engine_takes_the_first_free_name() {
    let engines = vec![engine("engine0", 0.0, 0), engine("engine2", 0.0, 1)];
    let d = decide(
        &inputs(0.9, 0.5, engines),
        &AutoscaleConfig::default(),
        None,
    )
    .unwrap();
    assert_eq!(d.action, AutoscaleAction::Create("engine1".into()));
    let d = decide(&inputs(0.9, 0.5, vec![]), &AutoscaleConfig::default(), None).unwrap();
    assert_eq!(d.action, AutoscaleAction::Create("engine0".into()));
    // A failed or retiring engine's name is not reused.
    let mut i = inputs(0.9, 0.5, vec![engine("engine1", 0.0, 0)]);
    i.taken = vec!["engine0".into(), "engine2".into()];
    let d = decide(&i, &AutoscaleConfig::default(), None).unwrap();
    assert_eq!(d.action, AutoscaleAction::Create("engine3".into()));
}

#[test]
fn each_create_condition_blocks_on_its_own() {
    let base = AutoscaleConfig::default();
    let one = || vec![engine("engine0", 0.0, 0)];
    let mut i = inputs(0.9, 0.5, one());
    assert!(matches!(
        decide(&i, &base, None).unwrap().action,
        AutoscaleAction::Create(_)
    ));
    // energy just under create_energy, above remove_energy: hold
    i.energy = 0.79;
    let d = decide(&i, &base, None).unwrap();
    assert_eq!(d.action, AutoscaleAction::Hold);
    assert!(d.reason.contains("create_energy"), "{}", d.reason);
    // cpu at max_cpu but under the pressure limit: hold
    let mut i = inputs(0.9, 0.5, one());
    i.cpu = 0.8;
    assert_eq!(
        decide(&i, &base, None).unwrap().action,
        AutoscaleAction::Hold
    );
    let mut i = inputs(0.9, 0.5, one());
    i.memory = 0.85;
    assert_eq!(
        decide(&i, &base, None).unwrap().action,
        AutoscaleAction::Hold
    );
    // cost makes the projection non-positive: that is a reason to remove
    let with_cost = AutoscaleConfig {
        cost_per_engine: 0.5,
        ..Default::default()
    };
    let two = vec![engine("engine0", 0.0, 0), engine("engine1", 1.0, 1)];
    let d = decide(&inputs(0.9, 0.5, two), &with_cost, None).unwrap();
    assert_eq!(d.action, AutoscaleAction::Remove("engine0".into()));
    assert_eq!(d.projected, 0.0);
}

#[test]
fn resource_pressure_removes_even_with_good_roi() {
    let two = vec![engine("engine0", 0.2, 0), engine("engine1", 0.1, 1)];
    let mut i = inputs(0.9, 0.5, two);
    i.cpu = 0.95;
    let d = decide(&i, &AutoscaleConfig::default(), None).unwrap();
    assert_eq!(d.action, AutoscaleAction::Remove("engine1".into()));
    assert!(d.reason.contains("cpu 0.950 ≥ 0.9"), "{}", d.reason);
}

#[test]
fn cooldown_blocks_both_directions_until_it_has_passed() {
    let config = AutoscaleConfig {
        cooldown_secs: 60.0,
        ..Default::default()
    };
    let mut i = inputs(0.9, 0.5, vec![engine("engine0", 0.0, 0)]);
    i.last_change = Some(950.0);
    let d = decide(&i, &config, None).unwrap();
    assert_eq!(d.action, AutoscaleAction::Hold);
    assert!(
        d.reason.contains("cooldown has 10.0 s left"),
        "{}",
        d.reason
    );
    i.last_change = Some(940.0);
    assert!(matches!(
        decide(&i, &config, None).unwrap().action,
        AutoscaleAction::Create(_)
    ));
    let mut i = inputs(0.1, 0.5, vec![engine("a", 0.0, 0), engine("b", 0.0, 1)]);
    i.last_change = Some(999.0);
    assert_eq!(
        decide(&i, &config, None).unwrap().action,
        AutoscaleAction::Hold
    );
}

#[test]
fn approval_is_asked_before_creating_and_a_refusal_holds() {
    let asked = Cell::new(0);
    let refuse = |_: &AutoscaleAction| {
        asked.set(asked.get() + 1);
        false
    };
    let i = inputs(0.9, 0.5, vec![engine("engine0", 0.0, 0)]);
    let d = decide(&i, &AutoscaleConfig::default(), Some(&refuse)).unwrap();
    assert_eq!(d.action, AutoscaleAction::Hold);
    assert!(d.reason.starts_with("approval refused"), "{}", d.reason);
    assert_eq!(asked.get(), 1);
}

/// Issue 9 item 14: SPEC §8 gates creation only.
#[test]
fn removals_do_not_ask_the_approval_callback() {
    let asked = Cell::new(0);
    let refuse = |_: &AutoscaleAction| {
        asked.set(asked.get() + 1);
        false
    };
    // CPU pressure with two engines: a callback refusing everything still shrinks.
    let mut i = inputs(0.5, 0.5, vec![engine("a", 0.0, 0), engine("b", 0.0, 1)]);
    i.cpu = 0.95;
    let d = decide(&i, &AutoscaleConfig::default(), Some(&refuse)).unwrap();
    assert_eq!(d.action, AutoscaleAction::Remove("a".into()));
    assert_eq!(asked.get(), 0);
}

#[test]
fn approval_is_not_asked_when_holding() {
    let asked = Cell::new(false);
    let f = |_: &AutoscaleAction| {
        asked.set(true);
        true
    };
    let i = inputs(0.5, 0.5, vec![engine("engine0", 0.0, 0)]);
    assert_eq!(
        decide(&i, &AutoscaleConfig::default(), Some(&f))
            .unwrap()
            .action,
        AutoscaleAction::Hold
    );
    assert!(!asked.get());
}

#[test]
fn bad_inputs_and_configs_are_refused() {
    let config = AutoscaleConfig::default();
    let mut i = inputs(f64::NAN, 0.5, vec![]);
    assert!(decide(&i, &config, None).is_err());
    i.energy = 1.2;
    assert!(decide(&i, &config, None).is_err());
    let mut i = inputs(0.5, f64::INFINITY, vec![]);
    assert!(decide(&i, &config, None).is_err());
    i.trend = 0.0;
    i.cpu = -0.1;
    assert!(decide(&i, &config, None).is_err());
    let i = inputs(0.5, 0.0, vec![engine("a", f64::NAN, 0)]);
    assert!(decide(&i, &config, None).is_err());
    let bad = AutoscaleConfig {
        min_engines: 3,
        max_engines: 2,
        ..Default::default()
    };
    let err = bad.validate().unwrap_err();
    assert!(err.to_string().contains("autoscale.min_engines"), "{err}");
    let bad = AutoscaleConfig {
        cooldown_secs: -1.0,
        ..Default::default()
    };
    assert!(bad.validate().is_err());
    let bad = AutoscaleConfig {
        max_cpu: 1.5,
        ..Default::default()
    };
    assert!(bad.validate().is_err());
    assert!(AutoscaleConfig::default().validate().is_ok());
}

#[test]
fn decision_serializes_with_its_action() {
    let d = AutoscaleDecision {
        action: AutoscaleAction::Create("engine1".into()),
        projected: 0.5,
        reason: "r".into(),
    };
    let json = serde_json::to_string(&d).unwrap();
    assert_eq!(
        json,
        r#"{"action":"create","engine":"engine1","projected":0.5,"reason":"r"}"#
    );
    let back: AutoscaleDecision = serde_json::from_str(&json).unwrap();
    assert_eq!(back, d);
}

fn snapshot(
    name: &str,
    trend: f64,
    ema: f64,
    score: Option<f64>,
) -> crate::snapshot::EngineSnapshot {
    use crate::record::{CycleAction, Reason};
    crate::snapshot::EngineSnapshot {
        engine: name.into(),
        bot: name.into(),
        paused: false,
        busy: false,
        cycles: 1,
        failures: 0,
        success_rate: 1.0,
        roi_delta_ema: ema,
        short_mean: 0.0,
        trend,
        last_run: None,
        last_module: None,
        learner: None,
        weights: Vec::new(),
        last: Some(crate::snapshot::LastTick {
            time: 0.0,
            cycle: 1,
            action: CycleAction::Skip,
            reason: Reason::Policy,
            energy_score: score,
            energy: None,
            delta: None,
            ok: None,
        }),
        training: None,
    }
}

#[test]
fn inputs_average_what_the_engines_answered() {
    let (a, b) = (
        snapshot("a", 0.2, 0.5, Some(0.6)),
        snapshot("b", -0.4, -1.0, None),
    );
    let engines = [
        Observed {
            name: "a",
            created: 0,
            snapshot: Some(&a),
            pinned: false,
        },
        Observed {
            name: "b",
            created: 1,
            snapshot: Some(&b),
            pinned: false,
        },
        Observed {
            name: "c",
            created: 2,
            snapshot: None,
            pinned: false,
        },
    ];
    let load = Resources {
        cpu: 0.3,
        memory: 0.4,
    };
    let mut sampled = 0;
    let i = crate::autoscale::inputs(
        &engines,
        vec!["x".into()],
        &AutoscaleRequest::default(),
        || {
            sampled += 1;
            load
        },
        5.0,
        Some(1.0),
    );
    assert_eq!(sampled, 1);
    // Only a has an energy score; the trend is the mean of a and b.
    assert_eq!(i.energy, 0.6);
    assert!((i.trend - -0.1).abs() < 1e-12, "{}", i.trend);
    assert_eq!(
        (i.cpu, i.memory, i.now, i.last_change),
        (0.3, 0.4, 5.0, Some(1.0))
    );
    let emas: Vec<(&str, f64, u64)> = i
        .engines
        .iter()
        .map(|e| (e.name.as_str(), e.roi_ema, e.created))
        .collect();
    assert_eq!(emas, [("a", 0.5, 0), ("b", -1.0, 1), ("c", 0.0, 2)]);
    assert_eq!(i.taken, ["x"]);
    // What the request says wins, and the probe is not asked then.
    let request = AutoscaleRequest {
        energy: Some(0.1),
        trend: Some(2.0),
        resources: Some(Resources {
            cpu: 0.9,
            memory: 0.1,
        }),
        config: None,
    };
    let i = crate::autoscale::inputs(
        &engines,
        vec![],
        &request,
        || panic!("the probe was asked"),
        0.0,
        None,
    );
    assert_eq!((i.energy, i.trend, i.cpu, i.memory), (0.1, 2.0, 0.9, 0.1));
}

/// Issue 9 item 15: an engine an `engines/*.toml` file defines is never removed.
#[test]
fn engines_defined_by_a_spec_are_never_removed() {
    let mut spec = engine("alpha", -1.0, 0);
    spec.pinned = true;
    let copy = engine("engine0", 0.5, 1);
    // Under pressure, the copy goes even though alpha's EMA is lower.
    let mut i = inputs(0.1, 0.0, vec![spec.clone(), copy]);
    let d = decide(&i, &AutoscaleConfig::default(), None).unwrap();
    assert_eq!(d.action, AutoscaleAction::Remove("engine0".into()));
    // Spec engines count towards min_engines/max_engines but are kept.
    let mut other = engine("beta", -2.0, 2);
    other.pinned = true;
    i.engines = vec![spec, other];
    let d = decide(&i, &AutoscaleConfig::default(), None).unwrap();
    assert_eq!(d.action, AutoscaleAction::Hold, "{}", d.reason);
}
