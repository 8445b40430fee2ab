//! [`EarlyStopping`]: stop a run when the validation loss no longer improves.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, ensure_finite};

/// Early-stopping settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EarlyStoppingConfig {
    /// Whether runs stop early (default true).
    pub enabled: bool,
    /// Evaluations without improvement before the run stops (default 20, twice
    /// the scheduler's patience, so the rate is cut at least once first).
    pub patience: u32,
    /// Relative improvement that counts: `loss < best·(1 − min_delta)` (default 1e-4).
    pub min_delta: f64,
    /// At the end of a run, go back to the weights of its best evaluation (default true).
    pub restore_best: bool,
}

impl Default for EarlyStoppingConfig {
    fn default() -> Self {
        EarlyStoppingConfig {
            enabled: true,
            patience: 20,
            min_delta: 1e-4,
            restore_best: true,
        }
    }
}

impl EarlyStoppingConfig {
    /// Checks every setting and names the first that is wrong.
    pub fn validate(&self) -> Result<()> {
        let d = ensure_finite("early_stopping.min_delta", self.min_delta)?;
        if !(0.0..1.0).contains(&d) {
            return Err(Error::invalid(
                "early_stopping.min_delta",
                d,
                "a number in [0, 1)",
            ));
        }
        if self.patience == 0 {
            return Err(Error::invalid("early_stopping.patience", 0, "at least 1"));
        }
        Ok(())
    }
}

/// What one evaluation meant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Observation {
    /// The loss is the best so far (by the relative margin).
    pub improved: bool,
    /// The run should stop now.
    pub stop: bool,
}

/// Tracks the best validation loss of one run.
///
/// ```
/// use kaizen::training::{EarlyStopping, EarlyStoppingConfig};
/// let mut e = EarlyStopping::new(&EarlyStoppingConfig { patience: 2, min_delta: 0.1, ..Default::default() });
/// assert!(e.observe(1.0).improved);
/// assert!(!e.observe(0.95).improved); // not 10% better
/// assert!(e.observe(0.95).stop);      // the second evaluation without improvement
/// assert_eq!(e.best(), 1.0);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct EarlyStopping {
    enabled: bool,
    patience: u32,
    min_delta: f64,
    best: f64,
    bad: u32,
}

impl EarlyStopping {
    /// Nothing seen yet.
    pub fn new(c: &EarlyStoppingConfig) -> Self {
        EarlyStopping {
            enabled: c.enabled,
            patience: c.patience,
            min_delta: c.min_delta,
            best: f64::INFINITY,
            bad: 0,
        }
    }

    /// The best loss seen.
    pub fn best(&self) -> f64 {
        self.best
    }

    /// Takes one evaluation's loss.
    pub fn observe(&mut self, loss: f64) -> Observation {
        let improved = if self.best.is_finite() {
            loss < self.best - self.min_delta * self.best.abs()
        } else {
            loss < self.best
        };
        if improved {
            self.best = loss;
            self.bad = 0;
        } else {
            self.bad += 1;
        }
        Observation {
            improved,
            stop: self.enabled && self.bad >= self.patience,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_after_patience_evaluations_without_relative_improvement() {
        let mut e = EarlyStopping::new(&EarlyStoppingConfig {
            patience: 3,
            min_delta: 0.01,
            ..Default::default()
        });
        let losses = [2.0, 1.0, 0.995, 0.99, 0.98, 0.975, 0.972, 0.9705];
        let seen: Vec<(bool, bool)> = losses
            .iter()
            .map(|&l| {
                let o = e.observe(l);
                (o.improved, o.stop)
            })
            .collect();
        // 0.99 is exactly 1% below 1.0: not strictly better. 0.98 is; then
        // 0.975, 0.972 and 0.9705 are each within 1% of 0.98.
        assert_eq!(
            seen,
            [
                (true, false),
                (true, false),
                (false, false),
                (false, false),
                (true, false),
                (false, false),
                (false, false),
                (false, true),
            ]
        );
        assert_eq!(e.best(), 0.98);
    }

    #[test]
    fn disabled_never_stops_but_still_tracks_the_best() {
        let mut e = EarlyStopping::new(&EarlyStoppingConfig {
            enabled: false,
            patience: 1,
            ..Default::default()
        });
        e.observe(1.0);
        assert!(!e.observe(5.0).stop);
        assert_eq!(e.best(), 1.0);
    }

    #[test]
    fn settings_are_checked() {
        let bad = EarlyStoppingConfig {
            min_delta: 1.5,
            ..Default::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().to_string(),
            "invalid early_stopping.min_delta = 1.5: expected a number in [0, 1)"
        );
    }
}
