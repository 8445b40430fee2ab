//! The adaptive autoscaler on scripted sequences of rounds. The expected
//! means and standard deviations are Python's `statistics.mean` and
//! `statistics.pstdev` of the same series (printed values in the comments).

use super::*;
use crate::autoscale::{AutoscaleMode, EngineSummary};

fn engines(n: usize) -> Vec<EngineSummary> {
    (0..n)
        .map(|i| EngineSummary {
            name: format!("engine{i}"),
            // engine1 has the lowest EMA.
            roi_ema: if i == 1 { -1.0 } else { i as f64 },
            created: i as u64,
            pinned: false,
        })
        .collect()
}

fn round(energy: f64, trend: f64, n: usize, now: f64) -> AutoscaleInputs {
    AutoscaleInputs {
        energy,
        trend,
        cpu: 0.0,
        memory: 0.0,
        now,
        last_change: None,
        engines: engines(n),
        taken: vec![],
    }
}

fn config() -> AutoscaleConfig {
    AutoscaleConfig {
        mode: AutoscaleMode::Adaptive,
        min_engines: 1,
        max_engines: 3,
        ..AutoscaleConfig::default()
    }
}

fn yes() -> bool {
    true
}

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-12, "{a} vs {b}");
}

/// Steady rounds, a jump (held back by its own momentum), then a second
/// high round that creates.
fn warm(b: &mut Baseline, c: &AutoscaleConfig) -> AdaptiveStats {
    for i in 0..3 {
        let (d, s) = b
            .step(&round(0.5, 0.0, 1, i as f64), 1.0, c, &yes, None)
            .unwrap();
        assert_eq!(d.action, AutoscaleAction::Hold, "steady round {i}");
        assert_eq!((s.energy.z, s.trend.z, s.momentum.z), (0.0, 0.0, 0.0));
        assert_eq!(s.energy.std, STD_FLOOR);
    }
    let (d, s) = b
        .step(&round(0.9, 0.2, 1, 3.0), 1.0, c, &yes, None)
        .unwrap();
    // energy [.5 .5 .5 .9]: mean .6, pstdev .17320508075688773;
    // trend and momentum [0 0 0 .2]: mean .05, pstdev .08660254037844387,
    // momentum z 1.7320508075688776 ⇒ w_c 2.7320508075688776: the bar
    // .6 + 2.732·.1732 = 1.073 is out of reach.
    close(s.energy.mean, 0.6);
    close(s.energy.std, 0.173_205_080_756_887_73);
    close(s.trend.mean, 0.05);
    close(s.momentum.std, 0.086_602_540_378_443_87);
    close(s.momentum.z, 1.732_050_807_568_877_6);
    close(s.w_create, 2.732_050_807_568_877_6);
    assert_eq!(s.w_remove, 1.0);
    assert_eq!(d.action, AutoscaleAction::Hold, "{}", d.reason);
    s
}

#[test]
fn a_sustained_rise_creates_once_momentum_settles() {
    let c = config();
    let mut b = Baseline::new();
    warm(&mut b, &c);
    let (d, s) = b
        .step(&round(0.9, 0.2, 1, 4.0), 0.5, &c, &yes, None)
        .unwrap();
    // energy [.5 .5 .5 .9 .9]: mean .66, pstdev .19595917942265426;
    // trend [0 0 0 .2 .2]: mean .08, pstdev .09797958971132713;
    // momentum [0 0 0 .2 0]: mean .04, pstdev .08, z −.5 ⇒ w_c 1, w_r 1.5.
    close(s.energy.mean, 0.66);
    close(s.energy.std, 0.195_959_179_422_654_26);
    close(s.trend.mean, 0.08);
    close(s.trend.std, 0.097_979_589_711_327_13);
    close(s.momentum.mean, 0.04);
    close(s.momentum.std, 0.08);
    close(s.momentum.z, -0.5);
    close(s.w_create, 1.0);
    close(s.w_remove, 1.5);
    // pass rate [1 1 1 1 .5]: mean .9, pstdev .2.
    close(s.pass_rate.mean, 0.9);
    close(s.pass_rate.std, 0.2);
    close(s.pass_rate.z, -2.0);
    assert_eq!(s.rounds, 5);
    // .9 ≥ .856, .2 ≥ .178, .2 − .08 − 0 = .12 > 0.
    assert_eq!(d.action, AutoscaleAction::Create("engine1".into()));
    close(d.projected, 0.12);
    assert!(d.reason.contains("≥ 0.856"), "{}", d.reason);
}

/// The fifth round of [`warm`]'s sequence on a copy of `b`.
fn fifth(
    b: &Baseline,
    c: &AutoscaleConfig,
    i: AutoscaleInputs,
    budget: &dyn Fn() -> bool,
    approve: Option<&dyn Fn(&AutoscaleAction) -> bool>,
) -> AutoscaleDecision {
    b.clone().step(&i, 1.0, c, budget, approve).unwrap().0
}

#[test]
fn creation_is_gated_by_budget_max_engines_cooldown_approval_and_cost() {
    let c = config();
    let mut base = Baseline::new();
    warm(&mut base, &c);

    let d = fifth(&base, &c, round(0.9, 0.2, 1, 4.0), &|| false, None);
    assert_eq!(d.action, AutoscaleAction::Hold);
    assert!(d.reason.contains("check_budget() said no"), "{}", d.reason);

    let d = fifth(&base, &c, round(0.9, 0.2, 3, 4.0), &yes, None);
    assert!(
        d.reason.contains("3 engines ≥ max_engines 3"),
        "{}",
        d.reason
    );

    let cooling = AutoscaleConfig {
        cooldown_secs: 10.0,
        ..c.clone()
    };
    let mut i = round(0.9, 0.2, 1, 4.0);
    i.last_change = Some(0.0);
    let d = fifth(&base, &cooling, i, &yes, None);
    assert!(d.reason.contains("cooldown has 6.0 s left"), "{}", d.reason);

    let refuse = |_: &AutoscaleAction| false;
    let d = fifth(&base, &c, round(0.9, 0.2, 1, 4.0), &yes, Some(&refuse));
    assert!(d.reason.starts_with("approval refused"), "{}", d.reason);

    // trend − mean_trend = .12: a cost of .13 leaves nothing.
    let costly = AutoscaleConfig {
        cost_per_engine: 0.13,
        ..c.clone()
    };
    let d = fifth(&base, &costly, round(0.9, 0.2, 1, 4.0), &yes, None);
    assert_eq!(d.action, AutoscaleAction::Hold, "{}", d.reason);
}

#[test]
fn a_drop_removes_the_lowest_ema_unless_at_min_engines() {
    let c = config();
    let mut b = Baseline::new();
    for i in 0..3 {
        b.step(&round(0.5, 0.1, 2, i as f64), 1.0, &c, &yes, None)
            .unwrap();
    }
    // The trend falls: [.1 .1 .1 0]: mean .075, pstdev .04330127; 0 ≤ .0317.
    let mut at_min = b.clone();
    let (d, s) = b
        .step(&round(0.5, 0.0, 2, 3.0), 1.0, &c, &yes, None)
        .unwrap();
    close(s.trend.std, 0.043_301_270_189_221_94);
    assert_eq!(d.action, AutoscaleAction::Remove("engine1".into()));
    assert!(d.reason.contains("trend 0.000 ≤ 0.032"), "{}", d.reason);
    let (d, _) = at_min
        .step(&round(0.5, 0.0, 1, 3.0), 1.0, &c, &yes, None)
        .unwrap();
    assert!(
        d.reason.contains("1 engines ≤ min_engines 1"),
        "{}",
        d.reason
    );
}

#[test]
fn three_lagging_rounds_in_a_row_remove_or_warn() {
    let c = config();
    // Noisy energies make a wide baseline; .45 sits below the mean but
    // well within one standard deviation, so only the lag rule acts.
    let script = [0.2, 0.8, 0.2, 0.8, 0.2, 0.8, 0.45, 0.45, 0.45];
    let lagging = [0, 0, 1, 0, 1, 0, 1, 2, 0];
    for n in [2, 1] {
        let mut b = Baseline::new();
        for (k, &e) in script.iter().enumerate() {
            let (d, s) = b
                .step(&round(e, 0.0, n, k as f64), 1.0, &c, &yes, None)
                .unwrap();
            assert_eq!(s.lagging, lagging[k], "round {k}");
            if k < 8 {
                assert_eq!(d.action, AutoscaleAction::Hold, "round {k}: {}", d.reason);
                continue;
            }
            // [.2 .8 .2 .8 .2 .8 .45 .45 .45]: mean .48333333333333334,
            // pstdev .24608038433722335, z −.13545709229571923.
            close(s.energy.mean, 0.483_333_333_333_333_34);
            close(s.energy.std, 0.246_080_384_337_223_35);
            close(s.energy.z, -0.135_457_092_295_719_23);
            if n == 2 {
                assert_eq!(d.action, AutoscaleAction::Remove("engine1".into()));
                assert!(s.warning.is_none());
            } else {
                assert_eq!(d.action, AutoscaleAction::Hold);
                let w = s.warning.unwrap();
                assert!(w.contains("at min_engines 1: nothing removed"), "{w}");
            }
            assert!(
                d.reason.starts_with("lagging 3 rounds in a row"),
                "{}",
                d.reason
            );
        }
    }
    // A tolerance of .05 forgives the .45 rounds (.483 − .05 > .45 is false).
    let lenient = AutoscaleConfig {
        tolerance: 0.05,
        ..c
    };
    let mut b = Baseline::new();
    for (k, &e) in script.iter().enumerate() {
        let (d, s) = b
            .step(&round(e, 0.0, 2, k as f64), 1.0, &lenient, &yes, None)
            .unwrap();
        assert_eq!(d.action, AutoscaleAction::Hold, "round {k}");
        assert!(s.lagging <= 1, "round {k}");
    }
}

#[test]
fn the_window_bounds_the_baseline_and_bad_input_changes_nothing() {
    let c = AutoscaleConfig {
        window: 2,
        ..config()
    };
    let mut b = Baseline::new();
    for (k, e) in [0.1, 0.5, 0.9].into_iter().enumerate() {
        b.step(&round(e, 0.0, 1, k as f64), 1.0, &c, &yes, None)
            .unwrap();
    }
    let kept: Vec<f64> = b.rounds().iter().map(|r| r.energy).collect();
    assert_eq!(kept, [0.5, 0.9]);
    let before = b.clone();
    let err = b
        .step(&round(0.5, 0.0, 1, 3.0), 1.5, &c, &yes, None)
        .unwrap_err();
    assert!(err.to_string().contains("autoscale pass_rate"), "{err}");
    let err = b
        .step(&round(f64::NAN, 0.0, 1, 3.0), 1.0, &c, &yes, None)
        .unwrap_err();
    assert!(err.to_string().contains("autoscale energy"), "{err}");
    assert_eq!(b, before);
    let bad = AutoscaleConfig {
        window: 0,
        ..config()
    };
    assert!(
        bad.validate()
            .unwrap_err()
            .to_string()
            .contains("autoscale.window")
    );
    let bad = AutoscaleConfig {
        tolerance: -1.0,
        ..config()
    };
    assert!(
        bad.validate()
            .unwrap_err()
            .to_string()
            .contains("autoscale.tolerance")
    );
}
