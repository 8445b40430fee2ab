//! The weighted multi-component reward (issue 12, item 7): a spec's
//! `[reward]` table turns the metrics a pipeline reports into the value of
//! its cycle.
//!
//! ```toml
//! [reward]
//! weights = { quality = 0.25, functionality = 0.20, architecture = 0.20, autonomy = 0.15,
//!             learning = 0.10, efficiency = 0.10, innovation = 0.05 }
//! penalty_multiplier = 1.5   # a component that lowers the value counts 1.5 times (default 1)
//! bonus_threshold = 0.8      # a weighted sum of at least 0.8 …
//! bonus = 0.1                # … earns 0.1 more (default 0.1 once a threshold is set)
//! ```
//!
//! For the metrics `m_k` a cycle's pipeline reported and the weights `w_k`:
//! ```text
//! c_k   = w_k · m_k                      a component
//! c_k   = w_k · m_k · penalty_multiplier when w_k · m_k < 0 (it lowers the value)
//! sum   = Σ_k c_k                        a weighted metric the pipeline did not report counts 0
//! bonus = bonus   if bonus_threshold is set and sum ≥ bonus_threshold, else 0
//! value = sum + bonus
//! ```
//! Metrics without a weight are ignored. Weights may be negative (a cost such
//! as `latency` lowers the value as it grows) and need not sum to 1; with
//! weights that sum to 1 and metrics scored in [0, 1], the value is a score
//! in [0, 1] before the bonus.
//!
//! The value is the cycle's *reported value* for every pipeline — a command,
//! a simulated bot, the training pipeline — and takes the place of the ROI
//! the pipeline reports itself. What the engine learns from follows one
//! precedence: a profit source (the host's ledger) when the engine has one,
//! else this value (without a `[reward]` table: the pipeline's own ROI).
//! Every component, the bonus and the value are kept in the cycle's record
//! ([`CycleOutcome::weighted_reward`](crate::record::CycleOutcome::weighted_reward)).
//! A failed cycle has no reported metrics and no weighted reward.
//!
//! The seed this comes from names a `penalty_multiplier` and a
//! `bonus_threshold` without their formulas; the ones above are kaizen's
//! choice: the multiplier scales what counts against a cycle (above 1 makes
//! the engine averse to regressions, below 1 forgiving), the threshold pays a
//! fixed bonus for a cycle good enough overall.
//!
//! ```
//! use kaizen::reward::RewardConfig;
//! use std::collections::BTreeMap;
//!
//! let config: RewardConfig = toml::from_str(
//!     "weights = { quality = 0.6, speed = 0.4 }\npenalty_multiplier = 2.0\nbonus_threshold = 0.5",
//! )?;
//! config.validate()?;
//! let metrics = BTreeMap::from([("quality".to_string(), 0.9), ("speed".to_string(), -0.1)]);
//! let r = config.score(&metrics)?;
//! // 0.6·0.9 = 0.54; 0.4·(−0.1)·2 = −0.08; sum 0.46 < 0.5: no bonus.
//! assert!((r.value - 0.46).abs() < 1e-12);
//! assert_eq!(r.bonus, 0.0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::error::{Error, Result, ensure_finite};

/// The bonus a cycle earns at the threshold when the table gives none.
pub const DEFAULT_BONUS: f64 = 0.1;

fn default_penalty() -> f64 {
    1.0
}

fn default_bonus() -> f64 {
    DEFAULT_BONUS
}

/// A `[reward]` table: which reported metrics make a cycle's value, and how.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RewardConfig {
    /// Metric name → weight (at least one).
    pub weights: BTreeMap<String, f64>,
    /// A component that lowers the value is multiplied by this (default 1; ≥ 0).
    #[serde(default = "default_penalty")]
    pub penalty_multiplier: f64,
    /// A weighted sum at or above this earns [`bonus`](Self::bonus) (default: no bonus).
    #[serde(default)]
    pub bonus_threshold: Option<f64>,
    /// What the threshold earns (default 0.1).
    #[serde(default = "default_bonus")]
    pub bonus: f64,
}

/// One weighted metric of a cycle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RewardComponent {
    /// The metric.
    pub metric: String,
    /// What the pipeline reported; `None` when it did not report it (counts 0).
    pub value: Option<f64>,
    /// Its weight.
    pub weight: f64,
    /// What it adds to the value: `weight · value`, times the penalty
    /// multiplier when that is negative.
    pub contribution: f64,
    /// The penalty multiplier was applied.
    pub penalized: bool,
}

/// A cycle's value, component by component (kept in its record).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WeightedReward {
    /// Every weighted metric, in name order.
    pub components: Vec<RewardComponent>,
    /// The sum of the contributions.
    pub sum: f64,
    /// The bonus earned (0 when none).
    pub bonus: f64,
    /// `sum + bonus`: the cycle's reported value.
    pub value: f64,
}

impl RewardConfig {
    /// Checks the table; errors name the key (`reward.weights.quality`).
    pub fn validate(&self) -> Result<()> {
        if self.weights.is_empty() {
            return Err(Error::invalid(
                "reward.weights",
                "{}",
                "at least one metric and its weight, e.g. weights = { quality = 1.0 }",
            ));
        }
        for (name, w) in &self.weights {
            if name.trim().is_empty() {
                return Err(Error::invalid("reward.weights", "\"\"", "metric names"));
            }
            ensure_finite(format!("reward.weights.{name}"), *w)?;
        }
        let p = ensure_finite("reward.penalty_multiplier", self.penalty_multiplier)?;
        if p < 0.0 {
            return Err(Error::invalid(
                "reward.penalty_multiplier",
                p,
                "a number ≥ 0",
            ));
        }
        if let Some(t) = self.bonus_threshold {
            ensure_finite("reward.bonus_threshold", t)?;
        }
        ensure_finite("reward.bonus", self.bonus)?;
        Ok(())
    }

    /// The value of a cycle that reported `metrics`; an error when the sum
    /// is not a finite number (weights and metrics so large it overflows).
    ///
    /// ```
    /// use kaizen::reward::RewardConfig;
    /// use std::collections::BTreeMap;
    /// let config = RewardConfig::new([("accuracy", 1.0)]).with_bonus(0.9, 0.5);
    /// let r = config.score(&BTreeMap::from([("accuracy".to_string(), 0.95)]))?;
    /// assert_eq!((r.sum, r.bonus, r.value), (0.95, 0.5, 1.45));
    /// let none = config.score(&BTreeMap::new())?; // not reported: counts 0
    /// assert_eq!((none.components[0].value, none.value), (None, 0.0));
    /// # Ok::<(), kaizen::Error>(())
    /// ```
    pub fn score(&self, metrics: &BTreeMap<String, f64>) -> Result<WeightedReward> {
        let components: Vec<RewardComponent> = self
            .weights
            .iter()
            .map(|(name, &weight)| {
                let value = metrics.get(name).copied();
                let raw = weight * value.unwrap_or(0.0);
                let penalized = raw < 0.0 && self.penalty_multiplier != 1.0;
                RewardComponent {
                    metric: name.clone(),
                    value,
                    weight,
                    contribution: if penalized {
                        raw * self.penalty_multiplier
                    } else {
                        raw
                    },
                    penalized,
                }
            })
            .collect();
        let sum = ensure_finite(
            "the weighted reward",
            components.iter().map(|c| c.contribution).sum(),
        )?;
        let bonus = match self.bonus_threshold {
            Some(t) if sum >= t => self.bonus,
            _ => 0.0,
        };
        Ok(WeightedReward {
            components,
            sum,
            bonus,
            value: ensure_finite("the weighted reward", sum + bonus)?,
        })
    }

    /// A table with these weights, no penalty and no bonus.
    pub fn new<'a>(weights: impl IntoIterator<Item = (&'a str, f64)>) -> Self {
        RewardConfig {
            weights: weights
                .into_iter()
                .map(|(k, w)| (k.to_string(), w))
                .collect(),
            penalty_multiplier: default_penalty(),
            bonus_threshold: None,
            bonus: default_bonus(),
        }
    }

    /// The same table, paying `bonus` from a weighted sum of `threshold`.
    pub fn with_bonus(mut self, threshold: f64, bonus: f64) -> Self {
        self.bonus_threshold = Some(threshold);
        self.bonus = bonus;
        self
    }

    /// The same table with `multiplier` on what lowers the value.
    pub fn with_penalty(mut self, multiplier: f64) -> Self {
        self.penalty_multiplier = multiplier;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    /// The seed's seven components, scored by hand.
    #[test]
    fn the_seeds_weights_sum_by_hand() {
        let config: RewardConfig = toml::from_str(
            r#"
            weights = { quality = 0.25, functionality = 0.20, architecture = 0.20,
                        autonomy = 0.15, learning = 0.10, efficiency = 0.10, innovation = 0.05 }
            penalty_multiplier = 0.5
            bonus_threshold = 0.8
            "#,
        )
        .unwrap();
        config.validate().unwrap();
        assert_eq!(config.bonus, DEFAULT_BONUS);
        let m = metrics(&[
            ("quality", 0.9),
            ("functionality", 1.0),
            ("architecture", 0.8),
            ("autonomy", 0.6),
            ("learning", 0.5),
            ("efficiency", -0.4),
            ("innovation", 1.0),
            ("unweighted", 100.0),
        ]);
        let r = config.score(&m).unwrap();
        // 0.225 + 0.2 + 0.16 + 0.09 + 0.05 + (0.1 × −0.4 × 0.5 = −0.02) + 0.05 = 0.755
        assert!((r.sum - 0.755).abs() < 1e-12, "{}", r.sum);
        assert_eq!(r.bonus, 0.0, "0.755 < 0.8");
        let eff = r
            .components
            .iter()
            .find(|c| c.metric == "efficiency")
            .unwrap();
        assert!(eff.penalized);
        assert!((eff.contribution + 0.02).abs() < 1e-12);
        assert_eq!(r.components.len(), 7, "the unweighted metric is ignored");
        // Efficiency at +0.4 instead: 0.755 + 0.02 + 0.04 = 0.815 ≥ 0.8 earns 0.1.
        let mut better = m.clone();
        better.insert("efficiency".into(), 0.4);
        let r = config.score(&better).unwrap();
        assert!((r.sum - 0.815).abs() < 1e-12, "{}", r.sum);
        assert_eq!(r.bonus, 0.1);
        assert!((r.value - 0.915).abs() < 1e-12);
    }

    #[test]
    fn negative_weights_are_costs_and_missing_metrics_count_zero() {
        let config = RewardConfig::new([("accuracy", 1.0), ("latency_s", -0.5)]).with_penalty(2.0);
        let r = config
            .score(&metrics(&[("accuracy", 0.8), ("latency_s", 0.2)]))
            .unwrap();
        // 0.8 + (−0.5 × 0.2 × 2 = −0.2) = 0.6
        assert!((r.value - 0.6).abs() < 1e-12);
        let r = config.score(&metrics(&[("latency_s", 0.2)])).unwrap();
        assert_eq!(r.components[0].value, None);
        assert!((r.value + 0.2).abs() < 1e-12);
        // A multiplier of 1 marks nothing as penalized.
        let plain = RewardConfig::new([("x", 1.0)]);
        assert!(!plain.score(&metrics(&[("x", -1.0)])).unwrap().components[0].penalized);
    }

    #[test]
    fn bad_tables_and_overflow_are_named() {
        let cases = [
            (RewardConfig::new([]), "invalid reward.weights ="),
            (
                RewardConfig::new([("q", f64::NAN)]),
                "reward.weights.q must be a finite number",
            ),
            (
                RewardConfig::new([("q", 1.0)]).with_penalty(-1.0),
                "invalid reward.penalty_multiplier = -1",
            ),
            (
                RewardConfig::new([("q", 1.0)]).with_bonus(f64::INFINITY, 1.0),
                "reward.bonus_threshold must be a finite number",
            ),
        ];
        for (config, start) in cases {
            let e = config.validate().unwrap_err().to_string();
            assert!(e.starts_with(start), "{e}");
        }
        let typo = toml::from_str::<RewardConfig>("weights = { q = 1.0 }\nbonus_treshold = 0.8")
            .unwrap_err()
            .to_string();
        assert!(typo.contains("bonus_treshold"), "{typo}");
        let huge = RewardConfig::new([("a", 1e300), ("b", 1e300)]);
        let e = huge
            .score(&metrics(&[("a", 1e10), ("b", 1e10)]))
            .unwrap_err();
        assert!(matches!(e, Error::NonFinite { .. }), "{e}");
    }
}
