//! Off-policy evaluation: what a candidate policy would have earned on
//! decisions logged under another, from the logged propensities.
//!
//! Each [`LoggedDecision`] holds the probability `pᵢ` with which the logging
//! policy took the action it took, the probability `πᵢ` with which the
//! candidate (target) policy would have taken that same action in that same
//! situation, and the reward `rᵢ` that followed. With importance weights
//! `wᵢ = πᵢ/pᵢ`:
//!
//! | estimator | value | standard error |
//! |---|---|---|
//! | [`ips`] (inverse propensity scoring) | `V = mean(wᵢ·rᵢ)` | `sd(wᵢ·rᵢ)/√n` |
//! | [`snips`] (self-normalised IPS) | `V = Σ wᵢrᵢ / Σ wᵢ` | `√(Σ wᵢ²(rᵢ − V)²) / Σ wᵢ` (delta method) |
//! | [`doubly_robust`] | `V = mean(v̂ᵢ + wᵢ·(rᵢ − q̂ᵢ))` | `sd(…)/√n` |
//!
//! (`sd` with ddof 1.) For doubly robust, a reward model supplies, per
//! decision, `q̂ᵢ` — its predicted reward for the logged action — and `v̂ᵢ` —
//! its predicted reward under the candidate policy, `Σ_a π(a|xᵢ)·q̂(xᵢ, a)`
//! ([`RewardPrediction`]). It is unbiased if either the propensities or the
//! reward model are right, and has a smaller variance than IPS when the model
//! is good.
//!
//! **Intervals.** Each estimate comes with a normal-approximation interval
//! `V ± z(1 − α/2)·se`: the estimators are means of independent terms, so the
//! central limit theorem applies — but slowly when a few weights dominate.
//! [`OffPolicyEstimate::effective_sample_size`] `(Σw)²/Σw²` says how many
//! decisions the estimate effectively rests on; below ~30, distrust the
//! interval.
//!
//! **What they assume.** Decisions independent given the logging policy
//! (contexts drawn i.i.d., the policy fixed over the log); propensities known
//! exactly and `pᵢ > 0` wherever the candidate may act (every option was
//! explored, which is why kaizen mixes in a minimum exploration); rewards not
//! changed by the policy beyond the decision itself. IPS and DR are unbiased
//! under these; SNIPS has a small `O(1/n)` bias and usually a lower variance.
//! `scripts/reference/stats_reference.py offpolicy` recomputes every number
//! with numpy and scipy.

use serde::{Deserialize, Serialize};

use super::error::{StatsError, ensure_level};
use super::moments::{Moments, neumaier_sum};
use super::normal;

/// One logged decision.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoggedDecision {
    /// `pᵢ ∈ (0, 1]`: the probability the logging policy took the logged action.
    pub propensity: f64,
    /// `πᵢ ∈ [0, 1]`: the probability the candidate policy takes that action there.
    pub target_probability: f64,
    /// `rᵢ`: the reward that followed.
    pub reward: f64,
}

/// A reward model's predictions for one logged decision (doubly robust).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RewardPrediction {
    /// `q̂ᵢ`: predicted reward of the logged action.
    pub logged_action: f64,
    /// `v̂ᵢ = Σ_a π(a|xᵢ)·q̂(xᵢ, a)`: predicted reward under the candidate policy.
    pub target_policy: f64,
}

/// Which estimator produced an [`OffPolicyEstimate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Estimator {
    /// Inverse propensity scoring.
    Ips,
    /// Self-normalised inverse propensity scoring.
    Snips,
    /// Doubly robust.
    DoublyRobust,
}

/// An off-policy estimate of a candidate policy's mean reward per decision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OffPolicyEstimate {
    /// The estimator.
    pub estimator: Estimator,
    /// The estimated mean reward per decision under the candidate policy.
    pub value: f64,
    /// Its standard error.
    pub std_error: f64,
    /// `value ± z(1 − α/2)·std_error`, `[low, high]` (normal approximation).
    pub confidence_interval: [f64; 2],
    /// The number of logged decisions used.
    pub samples: usize,
    /// `(Σw)²/Σw²`: how many decisions the estimate effectively rests on.
    pub effective_sample_size: f64,
}

/// Inverse propensity scoring with a normal-approximation interval at level
/// `alpha`. See the module docs for the formula and what it assumes.
///
/// # Errors
/// Fewer than 2 decisions, a propensity outside (0, 1], a target probability
/// outside [0, 1], a non-finite reward, or `alpha` outside (0, 1).
pub fn ips(log: &[LoggedDecision], alpha: f64) -> Result<OffPolicyEstimate, StatsError> {
    let weights = weights(log)?;
    let terms: Vec<f64> = weights.iter().zip(log).map(|(w, d)| w * d.reward).collect();
    mean_estimate(Estimator::Ips, &terms, &weights, alpha)
}

/// Self-normalised inverse propensity scoring with a delta-method
/// normal-approximation interval at level `alpha`. See the module docs.
///
/// # Errors
/// As [`ips`], and a log in which the candidate policy gives every logged
/// action probability 0 (`Σw = 0`: nothing to normalise by).
pub fn snips(log: &[LoggedDecision], alpha: f64) -> Result<OffPolicyEstimate, StatsError> {
    let alpha = ensure_level("alpha", alpha)?;
    let weights = weights(log)?;
    let total = neumaier_sum(weights.iter().copied());
    if total <= 0.0 {
        return Err(StatsError::invalid(
            "target_probability",
            "0 for every logged decision",
            "a candidate policy that takes at least one logged action",
        ));
    }
    let value = neumaier_sum(weights.iter().zip(log).map(|(w, d)| w * d.reward)) / total;
    let spread = neumaier_sum(
        weights
            .iter()
            .zip(log)
            .map(|(w, d)| (w * (d.reward - value)).powi(2)),
    );
    finish(
        Estimator::Snips,
        value,
        spread.sqrt() / total,
        &weights,
        alpha,
    )
}

/// Doubly robust estimation with a reward model's `predictions` (one per
/// logged decision, in the same order), with a normal-approximation interval
/// at level `alpha`. See the module docs.
///
/// # Errors
/// As [`ips`], a different number of predictions than decisions, or a
/// non-finite prediction.
pub fn doubly_robust(
    log: &[LoggedDecision],
    predictions: &[RewardPrediction],
    alpha: f64,
) -> Result<OffPolicyEstimate, StatsError> {
    let weights = weights(log)?;
    if predictions.len() != log.len() {
        return Err(StatsError::invalid(
            "predictions",
            format!("{} predictions", predictions.len()),
            format!("one per logged decision ({})", log.len()),
        ));
    }
    for (i, p) in predictions.iter().enumerate() {
        for value in [p.logged_action, p.target_policy] {
            if !value.is_finite() {
                return Err(StatsError::NonFinite {
                    what: "predictions".into(),
                    index: i,
                    value,
                });
            }
        }
    }
    let terms: Vec<f64> = weights
        .iter()
        .zip(log)
        .zip(predictions)
        .map(|((w, d), p)| p.target_policy + w * (d.reward - p.logged_action))
        .collect();
    mean_estimate(Estimator::DoublyRobust, &terms, &weights, alpha)
}

/// The importance weights `πᵢ/pᵢ`, validating every decision.
fn weights(log: &[LoggedDecision]) -> Result<Vec<f64>, StatsError> {
    if log.len() < 2 {
        return Err(StatsError::TooFewValues {
            what: "the decision log".into(),
            needed: 2,
            got: log.len(),
        });
    }
    log.iter()
        .enumerate()
        .map(|(i, d)| {
            if !(d.propensity > 0.0 && d.propensity <= 1.0) {
                return Err(StatsError::invalid(
                    format!("log[{i}].propensity"),
                    d.propensity,
                    "a probability in (0, 1] (every logged action must have been possible)",
                ));
            }
            if !(0.0..=1.0).contains(&d.target_probability) {
                return Err(StatsError::invalid(
                    format!("log[{i}].target_probability"),
                    d.target_probability,
                    "a probability in [0, 1]",
                ));
            }
            if !d.reward.is_finite() {
                return Err(StatsError::NonFinite {
                    what: "log reward".into(),
                    index: i,
                    value: d.reward,
                });
            }
            Ok(d.target_probability / d.propensity)
        })
        .collect()
}

/// An estimate that is the mean of `terms`, with `sd(terms)/√n`.
fn mean_estimate(
    estimator: Estimator,
    terms: &[f64],
    weights: &[f64],
    alpha: f64,
) -> Result<OffPolicyEstimate, StatsError> {
    let alpha = ensure_level("alpha", alpha)?;
    let m = Moments::from_slice("estimator terms", terms)?;
    let se = (m.sample_variance() / m.count as f64).sqrt();
    finish(estimator, m.mean, se, weights, alpha)
}

fn finish(
    estimator: Estimator,
    value: f64,
    std_error: f64,
    weights: &[f64],
    alpha: f64,
) -> Result<OffPolicyEstimate, StatsError> {
    let half = normal::upper_quantile(alpha / 2.0) * std_error;
    let sum = neumaier_sum(weights.iter().copied());
    let squares = neumaier_sum(weights.iter().map(|w| w * w));
    Ok(OffPolicyEstimate {
        estimator,
        value,
        std_error,
        confidence_interval: [value - half, value + half],
        samples: weights.len(),
        effective_sample_size: if squares > 0.0 {
            sum * sum / squares
        } else {
            0.0
        },
    })
}

#[cfg(test)]
mod tests;
