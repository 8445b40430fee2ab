//! Whole simulations: determinism, the policies against each other, the
//! learned driver with capacity and autoscaling.

use super::*;

/// A small world: two good bots and a dead end sharing two slots, the
/// learned engines on the SPEC chain with the settings of round 1.
fn small(ticks: u64) -> Scenario {
    Scenario::from_toml(&format!(
        r#"
        ticks = {ticks}
        [capacity]
        max_concurrent = 2
        [baselines]
        interval_ticks = 6
        # The chain's settings these tests were written for.
        [learned.engine]
        interval = "1d"
        roi_scale = 5000.0
        [learned.policy]
        epsilon = 0.05
        [[bots]]
        name = "good"
        skill = 0.6
        cost_per_energy = 2.0
        [[bots]]
        name = "fast"
        skill = 0.7
        drift = 0.03
        cost_per_energy = 2.0
        [[bots]]
        name = "dead"
        gain = 0.0
        cost_per_energy = 3.0
        "#
    ))
    .unwrap()
}

fn quiet(scenario: &Scenario, options: &SimOptions) -> Report {
    simulate(scenario, options, &mut |_, _| {}).unwrap()
}

#[test]
fn same_seed_same_bytes_different_seed_different_bytes() {
    let s = small(150);
    let a = quiet(&s, &SimOptions::default()).to_json();
    let b = quiet(&s, &SimOptions::default()).to_json();
    assert_eq!(a, b);
    let c = quiet(
        &s,
        &SimOptions {
            seed: Some(2),
            ..SimOptions::default()
        },
    )
    .to_json();
    assert_ne!(a, c);
    assert!(c.contains("\"seed\": 2"));
}

#[test]
fn every_policy_meets_the_same_noise() {
    // With no cycles the revenue is pure noise and drift: `interval` with
    // an interval past the horizon and `threshold` that cannot fire yet
    // earn exactly the same.
    let mut s = small(4);
    s.baselines.interval_ticks = 1000;
    s.baselines.threshold_short = 10;
    s.baselines.threshold_long = 20;
    let r = quiet(&s, &SimOptions::default());
    let interval = r.policy(PolicyKind::Interval).unwrap();
    let threshold = r.policy(PolicyKind::Threshold).unwrap();
    // Interval runs at tick 0 only; compare the revenue of the dead end,
    // which no cycle can change.
    assert_eq!(interval.bots[2].revenue, threshold.bots[2].revenue);
    assert_eq!(threshold.cycles, 0);
}

#[test]
fn the_oracle_beats_every_baseline_and_never_pays_for_a_dead_end() {
    let r = quiet(&small(300), &SimOptions::default());
    let oracle = r.policy(PolicyKind::Oracle).unwrap();
    assert_eq!(oracle.share_of_oracle, Some(1.0));
    assert_eq!(oracle.bots[2].cycles, 0);
    for p in r.policies.iter().filter(|p| p.policy.is_baseline()) {
        assert!(p.net_profit < oracle.net_profit, "{:?}", p.policy);
    }
    // Capacity holds for everyone: at most 2 cycles a tick.
    assert!(r.policies.iter().all(|p| p.cycles <= 600));
}

#[test]
fn the_learned_engines_learn_to_leave_the_dead_end_alone() {
    let r = quiet(
        &small(400),
        &SimOptions {
            policies: vec![PolicyKind::Learned],
            ..SimOptions::default()
        },
    );
    assert_eq!(r.policies.len(), 1);
    let learned = &r.policies[0];
    let [good, fast, dead] = [&learned.bots[0], &learned.bots[1], &learned.bots[2]];
    assert!(dead.cycles * 4 < good.cycles, "{dead:?} vs {good:?}");
    assert!(dead.cycles * 4 < fast.cycles, "{dead:?} vs {fast:?}");
    let share = learned.share_of_oracle.unwrap();
    assert!(share > 0.8, "{share}");
    let engines = learned.engines.as_ref().unwrap();
    assert_eq!(engines.failed, 0);
    // The capacity source made engines wait rather than fail.
    assert!(engines.skips.get("no_slot").copied().unwrap_or(0) > 0);
    assert_eq!(
        engines.runs.values().sum::<u64>(),
        learned.cycles,
        "every run the engines recorded is a cycle in the world"
    );
}

#[test]
fn autoscaling_drops_and_adds_engines_through_the_registry() {
    let mut s = small(240);
    s.learned.deltas = DeltaSource::Ledger;
    s.autoscale = AutoscaleSection {
        enabled: true,
        every_ticks: 40,
        initial_engines: Some(2),
        options: crate::autoscale::AutoscaleConfig {
            min_engines: 1,
            max_engines: 3,
            create_energy: 0.0,
            ..crate::autoscale::AutoscaleConfig::default()
        },
    };
    let run = |s: &Scenario| {
        quiet(
            s,
            &SimOptions {
                policies: vec![PolicyKind::Learned],
                ..SimOptions::default()
            },
        )
    };
    let r = run(&s);
    let learned = &r.policies[0];
    let steps = &learned.engines.as_ref().unwrap().autoscale;
    assert!(!steps.is_empty(), "no autoscale step changed anything");
    // The third bot starts without an engine: it only runs cycles once the
    // autoscaler has created one for it.
    assert!(
        steps.iter().any(|(_, a)| a.starts_with("create")),
        "{steps:?}"
    );
    assert!(learned.bots[2].cycles > 0);
    assert_eq!(r.to_json(), run(&s).to_json());
}

#[test]
fn options_choose_what_runs() {
    let o = SimOptions {
        policies: vec![PolicyKind::Random, PolicyKind::Always, PolicyKind::Random],
        ..SimOptions::default()
    };
    assert_eq!(
        o.runs(),
        [PolicyKind::Always, PolicyKind::Random, PolicyKind::Oracle]
    );
    let r = quiet(&small(20), &o);
    let kinds: Vec<PolicyKind> = r.policies.iter().map(|p| p.policy).collect();
    assert_eq!(kinds, [PolicyKind::Always, PolicyKind::Random]);
    assert!(r.oracle_net_profit > 0.0);
    let mut ticks = 0;
    simulate(&small(20), &o, &mut |_, _| ticks += 1).unwrap();
    assert_eq!(ticks, 60);
    let bad = SimOptions {
        ticks: Some(0),
        ..SimOptions::default()
    };
    assert_eq!(
        simulate(&small(20), &bad, &mut |_, _| {})
            .unwrap_err()
            .to_string(),
        "invalid ticks = 0: expected a whole number in 1..=1000000"
    );
}

#[test]
fn policy_names_round_trip() {
    for k in PolicyKind::ALL {
        assert_eq!(k.name().parse::<PolicyKind>().unwrap(), k);
        assert_eq!(k.to_string(), k.name());
    }
    assert_eq!(
        "best".parse::<PolicyKind>().unwrap_err().to_string(),
        "unknown policy \"best\"; known: learned, core, always, interval, threshold, random, tuned, oracle"
    );
}
