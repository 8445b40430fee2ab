//! A fixed-sample significance test of a new sample against a baseline: the
//! seed's `statistical_significance_test`, reproduced exactly (issue 12,
//! item 3).
//!
//! [`significance`] runs the two-sided **paired t-test** of `new` against
//! `baseline` when they have the same length (scipy's
//! `ttest_rel(new, baseline)`), and otherwise **Student's two-sample t-test**
//! with a pooled variance (`ttest_ind(new, baseline, equal_var=True)`). It
//! returns, under the seed's field names:
//! - `t_statistic`, `p_value` (two-sided), `significant = p_value < alpha`;
//! - `effect_size`, Cohen's d as the seed computes it: `(mean(new) −
//!   mean(base)) / √(((n_b − 1)·var_b + (n_n − 1)·var_n) / (n_b + n_n − 2))`
//!   where `var` is the population variance (ddof 0) — the seed's mix, kept;
//! - `mean_improvement = mean(new) − mean(base)` (for losses, an improvement is
//!   negative);
//! - `confidence_interval`: the seed's interval, `mean_improvement ±
//!   t(1 − α/2; n_b + n_n − 2) · √(var_n/n_n + var_b/n_b)` (ddof 0), for both
//!   tests;
//! - `paired_confidence_interval` (paired tests only): the textbook one,
//!   `mean(d) ± t(1 − α/2; n − 1) · sd(d)/√n` with `d = new − base` and the
//!   sample standard deviation (ddof 1). Prefer it for paired data: the
//!   seed's interval ignores the pairing.
//!
//! Every number agrees with scipy to `1e-9·(1 + |scipy|)`
//! (`tests/data/stats/significance.json`, made by
//! `scripts/reference/stats_reference.py`); the t distribution is
//! kaizen's own (module `student_t`), accurate to ~1e-13.
//!
//! **What it assumes.** The values are independent draws (pairs independent
//! of each other, for the paired test) and the mean is close to normally
//! distributed — true for roughly normal values, and for others once the
//! sample is large (say ≥ 30 per side). The two-sample test also assumes
//! equal variances on both sides. The sample sizes are fixed **before** the
//! data are looked at.
//!
//! **Errors.** Fewer than 2 values on a side, a non-finite value, an `alpha`
//! outside (0, 1), and zero variance — of the paired differences (paired
//! test) or of both samples (two-sample test) — are errors. "Zero" means a
//! standard deviation within 8 ulps of the largest input magnitude: a spread
//! that is only rounding (`0.1 + 0.2` against `0.3`) would otherwise give a
//! t of 10¹⁶ and a p-value of 0 for what is, in truth, no difference at all.
//!
//! # The peeking problem, and where kaizen avoids it
//!
//! A p-value is valid for **one** look at a sample size fixed in advance. An
//! operator who watches a running comparison and stops the first time
//! `p < 0.05` gets many chances at a 5% event: with a look after every
//! outcome, up to 500 outcomes, a true null is "significant" at some point in
//! 38.5% of the runs (one-sided, 1,000 seeded A/A tests,
//! `examples/abtest_sim.rs`; 6.0% when looked at once at the end), and with
//! no limit on looks in every run eventually (the law of the iterated
//! logarithm).
//!
//! So kaizen uses this test only where the sample is complete before the
//! test is run: the training gate compares a champion and a challenger on one
//! fixed held-out set. Live comparisons of variants, whose outcomes arrive one
//! by one and are watched continuously, use the anytime-valid test of
//! [`super::abtest`] instead, whose error rate holds however often and
//! whenever it is looked at.
//!
//! ```
//! use kaizen::stats::{significance, TestType};
//!
//! // Paired: the same 5 held-out samples scored by both models.
//! let base = [0.50, 0.61, 0.40, 0.72, 0.55];
//! let new = [0.41, 0.50, 0.36, 0.60, 0.49];
//! let r = significance(&base, &new, 0.05)?;
//! assert_eq!(r.test_type, TestType::PairedTTest);
//! assert!(r.significant && r.mean_improvement < 0.0);
//! let [lo, hi] = r.paired_confidence_interval.unwrap();
//! assert!(lo < r.mean_improvement && r.mean_improvement < hi && hi < 0.0);
//! # Ok::<(), kaizen::stats::StatsError>(())
//! ```

use serde::{Deserialize, Serialize};

use super::error::{StatsError, ensure_level};
use super::moments::{Moments, PooledDifference, max_abs};
use super::student_t;

/// Which t-test [`significance`] ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestType {
    /// Equal-length samples, taken as pairs: scipy's `ttest_rel`.
    PairedTTest,
    /// Samples of different lengths: scipy's `ttest_ind` with a pooled variance.
    IndependentTTest,
}

/// The result of [`significance`], serialised with the seed's field names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Significance {
    /// `paired_t_test` or `independent_t_test`.
    pub test_type: TestType,
    /// The t statistic of `new − baseline` (positive when `new` is larger).
    pub t_statistic: f64,
    /// The two-sided p-value.
    pub p_value: f64,
    /// `p_value < alpha`.
    pub significant: bool,
    /// Cohen's d with the seed's pooled standard deviation.
    pub effect_size: f64,
    /// The seed's interval for `mean_improvement`, `[low, high]`.
    pub confidence_interval: [f64; 2],
    /// `mean(new) − mean(baseline)`.
    pub mean_improvement: f64,
    /// For a paired test, the textbook paired interval for the mean
    /// difference, `[low, high]`; absent for a two-sample test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paired_confidence_interval: Option<[f64; 2]>,
}

/// Tests whether `new` differs from `baseline` at level `alpha` (two-sided),
/// exactly as the module docs describe.
///
/// Assumes independent observations (or independent pairs), a roughly normal
/// mean, equal variances for the two-sample test, and a sample size fixed in
/// advance (see the peeking problem in the module docs).
///
/// # Errors
/// Fewer than 2 values on a side, a non-finite value, `alpha` outside (0, 1),
/// zero variance of the paired differences (equal lengths) or of both samples
/// (different lengths), or values so large their squares overflow.
pub fn significance(baseline: &[f64], new: &[f64], alpha: f64) -> Result<Significance, StatsError> {
    let alpha = ensure_level("alpha", alpha)?;
    for (what, values) in [("baseline", baseline), ("new", new)] {
        if values.len() < 2 {
            return Err(StatsError::TooFewValues {
                what: what.into(),
                needed: 2,
                got: values.len(),
            });
        }
    }
    let base = Moments::from_slice("baseline", baseline)?;
    let newm = Moments::from_slice("new", new)?;
    let (nb, nn) = (base.count as f64, newm.count as f64);

    let (test_type, t_statistic, p_value, paired_confidence_interval) =
        if baseline.len() == new.len() {
            let (t, p, interval) = paired(baseline, new, alpha)?;
            (TestType::PairedTTest, t, p, Some(interval))
        } else {
            if base.spread_is_rounding(max_abs(baseline)) && newm.spread_is_rounding(max_abs(new)) {
                return Err(StatsError::ZeroVariance {
                    what: "both samples (baseline and new)".into(),
                });
            }
            let pooled = PooledDifference::new(&base, &newm);
            let t = pooled.t(0.0);
            (
                TestType::IndependentTTest,
                t,
                student_t::two_sided_p(t, pooled.df),
                None,
            )
        };

    let mean_improvement = newm.mean - base.mean;
    let df = nb + nn - 2.0;
    let pooled_std =
        ((nb - 1.0) * base.population_variance() + (nn - 1.0) * newm.population_variance()) / df;
    let effect_size = mean_improvement / pooled_std.sqrt();
    let spread = (newm.population_variance() / nn + base.population_variance() / nb).sqrt();
    let half = student_t::upper_quantile(alpha / 2.0, df) * spread;
    Ok(Significance {
        test_type,
        t_statistic,
        p_value,
        significant: p_value < alpha,
        effect_size,
        confidence_interval: [mean_improvement - half, mean_improvement + half],
        mean_improvement,
        paired_confidence_interval,
    })
}

/// The paired test of `new − baseline` (equal lengths ≥ 2): its t statistic,
/// two-sided p-value and textbook interval for the mean difference.
fn paired(baseline: &[f64], new: &[f64], alpha: f64) -> Result<(f64, f64, [f64; 2]), StatsError> {
    let diffs: Vec<f64> = new.iter().zip(baseline).map(|(n, b)| n - b).collect();
    let d = Moments::from_slice("paired differences (new - baseline)", &diffs)?;
    if d.spread_is_rounding(max_abs(baseline).max(max_abs(new))) {
        return Err(StatsError::ZeroVariance {
            what: "the paired differences (new - baseline)".into(),
        });
    }
    let n = d.count as f64;
    let se = (d.sample_variance() / n).sqrt();
    let t = d.mean / se;
    let df = n - 1.0;
    let half = student_t::upper_quantile(alpha / 2.0, df) * se;
    Ok((
        t,
        student_t::two_sided_p(t, df),
        [d.mean - half, d.mean + half],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_paired_test() {
        // d = [1, 2, 3]: mean 2, sd 1, se 1/√3, t = 2√3, df 2.
        let r = significance(&[0.0, 0.0, 0.0], &[1.0, 2.0, 3.0], 0.05).unwrap();
        assert_eq!(r.test_type, TestType::PairedTTest);
        assert!((r.t_statistic - 2.0 * 3f64.sqrt()).abs() < 1e-15);
        // ν = 2: P(|T| > t) = 1 − t/√(2 + t²) = 1 − √12/√14.
        assert!((r.p_value - (1.0 - (12f64 / 14.0).sqrt())).abs() < 1e-15);
        assert!(!r.significant); // p ≈ 0.074
        // var_b = 0, var_n = 2/3: pooled = (2·2/3)/4 = 1/3 ⇒ d = 2√3.
        assert!((r.effect_size - 2.0 * 3f64.sqrt()).abs() < 1e-14);
        assert_eq!(r.mean_improvement, 2.0);
    }

    #[test]
    fn hand_computed_independent_test() {
        // base [1, 3] (mean 2, m2 2), new [4, 5, 6] (mean 5, m2 2):
        // pooled 4/3, se = √(4/3 · 5/6) = √(10/9), t = 3/√(10/9) = 0.9·√10, df 3.
        let r = significance(&[1.0, 3.0], &[4.0, 5.0, 6.0], 0.05).unwrap();
        assert_eq!(r.test_type, TestType::IndependentTTest);
        assert!((r.t_statistic - 0.9 * 10f64.sqrt()).abs() < 1e-14);
        assert!(r.paired_confidence_interval.is_none());
        // pooled std with ddof-0 variances: ((1)(1) + (2)(2/3)) / 3 = 7/9.
        assert!((r.effect_size - 3.0 / (7f64 / 9.0).sqrt()).abs() < 1e-14);
    }

    #[test]
    fn serialises_with_the_seed_field_names() {
        let r = significance(&[1.0, 3.0], &[4.0, 5.0, 6.0], 0.05).unwrap();
        let text = serde_json::to_string(&r).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mut keys: Vec<(usize, &str)> = json
            .as_object()
            .unwrap()
            .keys()
            .map(|k| (text.find(&format!("\"{k}\"")).unwrap(), k.as_str()))
            .collect();
        keys.sort();
        let keys: Vec<&str> = keys.into_iter().map(|(_, k)| k).collect();
        assert_eq!(
            keys,
            [
                "test_type",
                "t_statistic",
                "p_value",
                "significant",
                "effect_size",
                "confidence_interval",
                "mean_improvement"
            ]
        );
        assert_eq!(json["test_type"], "independent_t_test");
        assert!(json["confidence_interval"].as_array().unwrap().len() == 2);
        let back: Significance = serde_json::from_value(json).unwrap();
        assert_eq!(back, r);
        let paired = significance(&[0.0, 0.0, 0.0], &[1.0, 2.0, 3.0], 0.05).unwrap();
        let json = serde_json::to_value(&paired).unwrap();
        assert_eq!(json["test_type"], "paired_t_test");
        assert_eq!(
            json["paired_confidence_interval"].as_array().unwrap().len(),
            2
        );
    }

    #[test]
    fn refuses_what_a_t_test_cannot_judge() {
        let err = significance(&[1.0], &[1.0, 2.0], 0.05).unwrap_err();
        assert_eq!(err.to_string(), "baseline needs at least 2 values, got 1");
        let err = significance(&[1.0, 2.0, 3.0], &[2.0, 3.0, 4.0], 0.05).unwrap_err();
        assert!(matches!(err, StatsError::ZeroVariance { .. }), "{err}");
        // Differences equal only to rounding are zero variance too.
        let base = [0.1, 0.2, 0.3];
        let new: Vec<f64> = base.iter().map(|b| b + 0.1).collect();
        assert!(matches!(
            significance(&base, &new, 0.05),
            Err(StatsError::ZeroVariance { .. })
        ));
        let err = significance(&[1.0, 1.0], &[2.0, 2.0, 2.0], 0.05).unwrap_err();
        assert!(err.to_string().contains("both samples"), "{err}");
        let err = significance(&[1.0, 2.0], &[1.0, f64::INFINITY], 0.05).unwrap_err();
        assert_eq!(
            err.to_string(),
            "new[1] is inf: every value must be a finite number"
        );
        let err = significance(&[1.0, 2.0], &[1.0, 3.0], 1.0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid alpha = 1: expected a number strictly between 0 and 1"
        );
    }

    #[test]
    fn one_constant_side_is_fine_for_the_two_sample_test() {
        let r = significance(&[1.0, 1.0], &[2.0, 2.5, 3.0], 0.05).unwrap();
        assert!(r.t_statistic > 0.0 && r.p_value > 0.0 && r.p_value < 1.0);
    }
}
