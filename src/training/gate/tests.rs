//! The gate on hand-made losses. The champion's ten held-out losses average
//! exactly 1; the challenger's gain on sample i is `g + s` or `g − s`,
//! alternating, so the gains average `g` with sample standard deviation
//! `s·√(10/9)` and the paired t is `g / (s·√(10/9)/√10) = 3g/s` — by hand:
//! 12 for (4%, 0.01), 6 for (6%, 0.03), 0.36 for (6%, 0.5). The p-values are
//! scipy's `ttest_rel` (`scripts/reference/training_gate.py`).

use super::*;

const CHAMPION: [f64; 10] = [0.8, 1.2, 0.9, 1.1, 1.0, 1.0, 0.7, 1.3, 0.95, 1.05];

fn challenger(gain: f64, spread: f64) -> Vec<f64> {
    CHAMPION
        .iter()
        .enumerate()
        .map(|(i, c)| c - (gain + if i % 2 == 1 { spread } else { -spread }))
        .collect()
}

fn close(got: f64, want: f64) {
    assert!(
        (got - want).abs() <= 1e-9 * (1.0 + want.abs()),
        "{got} vs {want}"
    );
}

#[test]
fn four_percent_better_never_deploys_however_significant() {
    let d = judge(&GateConfig::default(), &CHAMPION, &challenger(0.04, 0.01));
    close(d.improvement, 0.04);
    let s = d.significance.as_ref().unwrap();
    close(s.t_statistic, -12.0);
    close(s.p_value, 7.699886222985664e-07);
    assert!(!d.deploy);
    assert_eq!(
        d.reason,
        "improvement 4.00% does not exceed 5.00% (p = 0.0000)"
    );
}

#[test]
fn six_percent_better_and_significant_deploys() {
    let d = judge(&GateConfig::default(), &CHAMPION, &challenger(0.06, 0.03));
    close(d.improvement, 0.06);
    close(d.baseline_loss, 1.0);
    close(d.challenger_loss, 0.94);
    close(d.significance.as_ref().unwrap().t_statistic, -6.0);
    close(d.p_value().unwrap(), 0.00020249932206763984);
    assert!(d.deploy, "{}", d.reason);
    assert_eq!(d.reason, "improvement 6.00% > 5.00%, p = 0.0002 < 0.05");
}

#[test]
fn six_percent_better_but_not_significant_does_not_deploy() {
    let d = judge(&GateConfig::default(), &CHAMPION, &challenger(0.06, 0.5));
    close(d.improvement, 0.06);
    close(d.significance.as_ref().unwrap().t_statistic, -0.36);
    close(d.p_value().unwrap(), 0.7271503886382105);
    assert!(!d.deploy);
    assert_eq!(
        d.reason,
        "improvement 6.00% is not significant (p = 0.7272 ≥ 0.05)"
    );
}

#[test]
fn a_significantly_worse_challenger_does_not_deploy() {
    let d = judge(&GateConfig::default(), &CHAMPION, &challenger(-0.06, 0.03));
    close(d.improvement, -0.06);
    close(d.p_value().unwrap(), 0.00020249932206763997);
    assert!(!d.deploy);
    assert!(
        d.reason.starts_with("the challenger is not better"),
        "{}",
        d.reason
    );
}

#[test]
fn thresholds_are_the_configured_ones() {
    // 6% with p = 0.0002 fails a 10% bar and passes at alpha 0.001.
    let strict = GateConfig {
        min_improvement: 0.10,
        alpha: 0.05,
    };
    assert!(!judge(&strict, &CHAMPION, &challenger(0.06, 0.03)).deploy);
    let tight_alpha = GateConfig {
        min_improvement: 0.05,
        alpha: 0.001,
    };
    assert!(judge(&tight_alpha, &CHAMPION, &challenger(0.06, 0.03)).deploy);
    let tighter = GateConfig {
        alpha: 0.0001,
        ..tight_alpha
    };
    assert!(!judge(&tighter, &CHAMPION, &challenger(0.06, 0.03)).deploy);
}

#[test]
fn an_untestable_comparison_keeps_the_champion() {
    // The same losses: the paired differences have no variance.
    let d = judge(&GateConfig::default(), &CHAMPION, &CHAMPION);
    assert!(!d.deploy && d.significance.is_none());
    assert!(d.reason.contains("no significance test"), "{}", d.reason);
    let d = judge(&GateConfig::default(), &[0.0, 0.0, 0.0], &[0.0, 1.0, 0.0]);
    assert!(!d.deploy);
    assert!(
        judge(&GateConfig::default(), &[1.0], &[0.5])
            .reason
            .contains("no significance test")
    );
}

#[test]
fn settings_are_checked() {
    assert!(GateConfig::default().validate().is_ok());
    let e = GateConfig {
        alpha: 1.0,
        ..Default::default()
    }
    .validate()
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid gate.alpha = 1: expected a number in (0, 1)"
    );
}
