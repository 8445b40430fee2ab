//! The deploy gate: does the challenger replace the champion?
//!
//! Both are scored on the **same** held-out recent samples; `baseline` and
//! `challenger` are their per-sample losses, pair by pair. The challenger is
//! deployed only when all three hold (issue 12, item 2):
//! 1. its improvement `(L_baseline − L_challenger) / L_baseline` — the
//!    relative reduction of the mean held-out loss — exceeds `min_improvement`
//!    (default 5%);
//! 2. the paired t-test of [`crate::stats::significance`] on the per-sample
//!    losses gives `p_value < alpha` (default 0.05);
//! 3. the challenger's mean loss is the lower one — a two-sided test alone
//!    would also pass a significantly *worse* model.
//!
//! With no champion yet the baseline is the [`NaivePredictor`](super::NaivePredictor)
//! (the training mean, or the class frequencies), judged the same way.
//!
//! The test is a fixed-sample test run once on a held-out set fixed before
//! either model is scored, which is what its p-value assumes (see the
//! peeking note in [`crate::stats`]). It also assumes the per-sample loss
//! differences are independent and their mean near-normal: with very few
//! held-out samples (under ~10) it rarely passes, which errs on the side of
//! keeping the champion.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, ensure_finite};
use crate::stats::{Significance, significance};

/// The gate's thresholds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GateConfig {
    /// The relative improvement to exceed (default 0.05).
    pub min_improvement: f64,
    /// The significance level (default 0.05).
    pub alpha: f64,
}

impl Default for GateConfig {
    fn default() -> Self {
        GateConfig {
            min_improvement: 0.05,
            alpha: 0.05,
        }
    }
}

impl GateConfig {
    /// Checks every setting and names the first that is wrong.
    pub fn validate(&self) -> Result<()> {
        let m = ensure_finite("gate.min_improvement", self.min_improvement)?;
        if !(0.0..1.0).contains(&m) {
            return Err(Error::invalid(
                "gate.min_improvement",
                m,
                "a number in [0, 1)",
            ));
        }
        let a = ensure_finite("gate.alpha", self.alpha)?;
        if !(a > 0.0 && a < 1.0) {
            return Err(Error::invalid("gate.alpha", a, "a number in (0, 1)"));
        }
        Ok(())
    }
}

/// The gate's decision and its numbers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GateDecision {
    /// Mean held-out loss of the baseline (champion or naive predictor).
    pub baseline_loss: f64,
    /// Mean held-out loss of the challenger.
    pub challenger_loss: f64,
    /// `(baseline − challenger) / baseline` (0 when the baseline loss is 0).
    pub improvement: f64,
    /// The paired test, when it could be run.
    pub significance: Option<Significance>,
    /// Whether the challenger is deployed.
    pub deploy: bool,
    /// Why, in words.
    pub reason: String,
}

impl GateDecision {
    /// The test's p-value, when it could be run.
    pub fn p_value(&self) -> Option<f64> {
        self.significance.as_ref().map(|s| s.p_value)
    }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// Judges a challenger against a baseline on the same held-out samples.
///
/// ```
/// use kaizen::training::{GateConfig, judge};
/// let champion = [1.0, 1.2, 0.8, 1.1, 0.9, 1.0];
/// let challenger = [0.9, 1.1, 0.7, 1.0, 0.8, 0.92]; // ~9.7% lower, consistently
/// let d = judge(&GateConfig::default(), &champion, &challenger);
/// assert!(d.deploy, "{}", d.reason);
/// assert!(d.p_value().unwrap() < 0.05);
/// ```
pub fn judge(config: &GateConfig, baseline: &[f64], challenger: &[f64]) -> GateDecision {
    let (lb, lc) = (mean(baseline), mean(challenger));
    let improvement = if lb > 0.0 { (lb - lc) / lb } else { 0.0 };
    let mut d = GateDecision {
        baseline_loss: lb,
        challenger_loss: lc,
        improvement,
        significance: None,
        deploy: false,
        reason: String::new(),
    };
    let test = significance(baseline, challenger, config.alpha);
    let pct = |x: f64| format!("{:.2}%", 100.0 * x);
    d.reason = match test {
        Err(e) => format!(
            "improvement {} but no significance test: {e}",
            pct(improvement)
        ),
        Ok(s) => {
            let p = s.p_value;
            let verdict = if lb <= 0.0 {
                "the baseline's loss is 0: nothing to improve".to_string()
            } else if lc >= lb {
                format!("the challenger is not better (loss {lc:.6} vs {lb:.6}, p = {p:.4})")
            } else if improvement <= config.min_improvement {
                format!(
                    "improvement {} does not exceed {} (p = {p:.4})",
                    pct(improvement),
                    pct(config.min_improvement)
                )
            } else if p >= config.alpha {
                format!(
                    "improvement {} is not significant (p = {p:.4} ≥ {})",
                    pct(improvement),
                    config.alpha
                )
            } else {
                d.deploy = true;
                format!(
                    "improvement {} > {}, p = {p:.4} < {}",
                    pct(improvement),
                    pct(config.min_improvement),
                    config.alpha
                )
            };
            d.significance = Some(s);
            verdict
        }
    };
    d
}

#[cfg(test)]
mod tests;
