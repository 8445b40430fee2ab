//! Comparing two versions metric by metric.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

use super::meta::{VersionId, VersionMeta};

/// Whether a metric is better low (a loss) or high (an accuracy).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Goal {
    /// Lower is better.
    Minimize,
    /// Higher is better.
    Maximize,
}

/// Words that, as a whole word of a metric's name, mark it lower-is-better.
const LOWER_IS_BETTER: [&str; 13] = [
    "loss",
    "logloss",
    "error",
    "errors",
    "err",
    "mse",
    "rmse",
    "mae",
    "mape",
    "nll",
    "perplexity",
    "latency",
    "cost",
];

impl Goal {
    /// The goal a metric's name implies: [`Goal::Minimize`] when one of its
    /// words (the name split at `_`, `-`, `.`, `/` and spaces) is `loss`,
    /// `logloss`, `error`, `errors`, `err`, `mse`, `rmse`, `mae`, `mape`,
    /// `nll`, `perplexity`, `latency` or `cost` (any case); [`Goal::Maximize`]
    /// otherwise. A version's `goals` override this.
    ///
    /// ```
    /// use kaizen::models::Goal;
    /// assert_eq!(Goal::for_metric("val_loss"), Goal::Minimize);
    /// assert_eq!(Goal::for_metric("Test-RMSE"), Goal::Minimize);
    /// assert_eq!(Goal::for_metric("accuracy"), Goal::Maximize);
    /// assert_eq!(Goal::for_metric("glossary"), Goal::Maximize);
    /// ```
    pub fn for_metric(name: &str) -> Goal {
        let lower = name.to_ascii_lowercase();
        let hit = lower
            .split(['_', '-', '.', '/', ' '])
            .any(|word| LOWER_IS_BETTER.contains(&word));
        if hit { Goal::Minimize } else { Goal::Maximize }
    }

    /// The relative improvement of `after` over `before` for this goal:
    /// `(before − after) / |before|` to minimise, `(after − before) / |before|`
    /// to maximise; `None` when `before` is 0. Positive means better.
    ///
    /// ```
    /// use kaizen::models::Goal;
    /// assert_eq!(Goal::Minimize.improvement(0.5, 0.375), Some(0.25)); // a loss 25% lower
    /// assert_eq!(Goal::Maximize.improvement(0.5, 0.375), Some(-0.25)); // an accuracy 25% lower
    /// assert_eq!(Goal::Minimize.improvement(0.0, 0.1), None);
    /// ```
    pub fn improvement(self, before: f64, after: f64) -> Option<f64> {
        if before == 0.0 {
            return None;
        }
        let gain = match self {
            Goal::Minimize => before - after,
            Goal::Maximize => after - before,
        };
        Some(gain / before.abs())
    }
}

/// One metric of a [`Comparison`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricChange {
    /// The metric's name.
    pub name: String,
    /// Which way is better.
    pub goal: Goal,
    /// Its value in the first version, if it has it.
    pub before: Option<f64>,
    /// Its value in the second version, if it has it.
    pub after: Option<f64>,
    /// `after − before`, when both exist.
    pub change: Option<f64>,
    /// The relative improvement of the second version ([`Goal::improvement`]),
    /// when both exist and `before` is not 0. Positive means the second is better.
    pub improvement: Option<f64>,
}

/// How a second version's metrics differ from a first's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The first version (the baseline).
    pub before: VersionId,
    /// The second version.
    pub after: VersionId,
    /// Every metric either version has, by name.
    pub metrics: Vec<MetricChange>,
}

/// Compares `after` with `before`, metric by metric. A metric's goal comes
/// from `after`'s goals, else `before`'s, else its name.
pub fn compare(before: &VersionMeta, after: &VersionMeta) -> Comparison {
    let names: BTreeSet<&String> = before
        .info
        .metrics
        .keys()
        .chain(after.info.metrics.keys())
        .collect();
    let metrics = names
        .into_iter()
        .map(|name| {
            let goal = after
                .info
                .goals
                .get(name)
                .or_else(|| before.info.goals.get(name))
                .copied()
                .unwrap_or_else(|| Goal::for_metric(name));
            let b = before.info.metrics.get(name).copied();
            let a = after.info.metrics.get(name).copied();
            let both = b.zip(a);
            MetricChange {
                name: name.clone(),
                goal,
                before: b,
                after: a,
                change: both.map(|(b, a)| a - b),
                improvement: both.and_then(|(b, a)| goal.improvement(b, a)),
            }
        })
        .collect();
    Comparison {
        before: before.id,
        after: after.id,
        metrics,
    }
}
