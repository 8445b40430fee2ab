//! The learning rate over a run: [`ReduceLrOnPlateau`] with an optional
//! linear warm-up ([`LrSchedule`]).
//!
//! `ReduceLrOnPlateau` follows PyTorch's `torch.optim.lr_scheduler.ReduceLROnPlateau`
//! in `mode="min"`, `threshold_mode="rel"`, with its defaults (factor 0.1,
//! patience 10, threshold 1e-4, cooldown 0, min_lr 0, eps 1e-8). On each
//! `step(metric)`:
//! 1. `metric < best·(1 − threshold)` is an improvement: `best = metric`,
//!    bad epochs 0; otherwise bad epochs + 1 (a NaN is never better);
//! 2. during a cooldown, the cooldown counter goes down by one and bad epochs
//!    are reset to 0;
//! 3. when bad epochs exceed `patience`, `lr = max(lr·factor, min_lr)` — only
//!    if that changes it by more than `eps` — the cooldown starts and bad epochs
//!    go back to 0.
//!
//! The warm-up multiplies the plateau's rate by PyTorch `LinearLR`'s factor:
//! `start_factor + (1 − start_factor)·min(step, warmup_steps)/warmup_steps`
//! at optimizer step `step` (0-based), so the first step uses
//! `start_factor·lr` and step `warmup_steps` onwards the full rate.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, ensure_finite, ensure_positive};

/// Settings of the plateau scheduler and the warm-up (PyTorch's defaults; no warm-up).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScheduleConfig {
    /// Whether the plateau scheduler acts (default true).
    pub reduce_on_plateau: bool,
    /// Multiplies the rate on a plateau (default 0.1).
    pub factor: f64,
    /// Evaluations without improvement tolerated (default 10).
    pub patience: u32,
    /// Relative improvement that counts (default 1e-4).
    pub threshold: f64,
    /// Evaluations to wait after a reduction (default 0).
    pub cooldown: u32,
    /// The rate never goes below this (default 0).
    pub min_lr: f64,
    /// A reduction smaller than this is skipped (default 1e-8).
    pub eps: f64,
    /// Optimizer steps of linear warm-up (default 0: none).
    pub warmup_steps: u64,
    /// The warm-up's first factor (default 1/3, PyTorch `LinearLR`'s).
    pub warmup_start_factor: f64,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig {
            reduce_on_plateau: true,
            factor: 0.1,
            patience: 10,
            threshold: 1e-4,
            cooldown: 0,
            min_lr: 0.0,
            eps: 1e-8,
            warmup_steps: 0,
            warmup_start_factor: 1.0 / 3.0,
        }
    }
}

impl ScheduleConfig {
    /// Checks every setting and names the first that is wrong.
    pub fn validate(&self) -> Result<()> {
        let f = ensure_finite("schedule.factor", self.factor)?;
        if !(f > 0.0 && f < 1.0) {
            return Err(Error::invalid("schedule.factor", f, "a number in (0, 1)"));
        }
        let t = ensure_finite("schedule.threshold", self.threshold)?;
        if !(0.0..1.0).contains(&t) {
            return Err(Error::invalid(
                "schedule.threshold",
                t,
                "a number in [0, 1)",
            ));
        }
        let m = ensure_finite("schedule.min_lr", self.min_lr)?;
        if m < 0.0 {
            return Err(Error::invalid("schedule.min_lr", m, "a number ≥ 0"));
        }
        ensure_positive("schedule.eps", self.eps)?;
        let s = ensure_finite("schedule.warmup_start_factor", self.warmup_start_factor)?;
        if !(s > 0.0 && s <= 1.0) {
            return Err(Error::invalid(
                "schedule.warmup_start_factor",
                s,
                "a number in (0, 1]",
            ));
        }
        Ok(())
    }
}

/// PyTorch's `ReduceLROnPlateau` (mode min, relative threshold).
///
/// ```
/// use kaizen::training::{ReduceLrOnPlateau, ScheduleConfig};
/// let mut s = ReduceLrOnPlateau::new(1.0, &ScheduleConfig { patience: 2, ..Default::default() });
/// assert_eq!(s.step(5.0), None); // best 5
/// assert_eq!(s.step(5.0), None); // 1 bad
/// assert_eq!(s.step(5.0), None); // 2 bad
/// assert_eq!(s.step(5.0), Some(0.1)); // 3 bad > patience 2
/// assert_eq!(s.lr(), 0.1);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ReduceLrOnPlateau {
    lr: f64,
    best: f64,
    num_bad: u32,
    cooldown_counter: u32,
    factor: f64,
    patience: u32,
    threshold: f64,
    cooldown: u32,
    min_lr: f64,
    eps: f64,
}

impl ReduceLrOnPlateau {
    /// A scheduler starting at `lr`.
    pub fn new(lr: f64, c: &ScheduleConfig) -> Self {
        ReduceLrOnPlateau {
            lr,
            best: f64::INFINITY,
            num_bad: 0,
            cooldown_counter: 0,
            factor: c.factor,
            patience: c.patience,
            threshold: c.threshold,
            cooldown: c.cooldown,
            min_lr: c.min_lr,
            eps: c.eps,
        }
    }

    /// The rate now.
    pub fn lr(&self) -> f64 {
        self.lr
    }

    /// The best metric seen.
    pub fn best(&self) -> f64 {
        self.best
    }

    /// Evaluations without improvement so far.
    pub fn num_bad_epochs(&self) -> u32 {
        self.num_bad
    }

    /// Takes one evaluation's metric; returns the new rate when it was reduced.
    pub fn step(&mut self, metric: f64) -> Option<f64> {
        if metric < self.best * (1.0 - self.threshold) {
            self.best = metric;
            self.num_bad = 0;
        } else {
            self.num_bad += 1;
        }
        if self.cooldown_counter > 0 {
            self.cooldown_counter -= 1;
            self.num_bad = 0;
        }
        if self.num_bad > self.patience {
            self.cooldown_counter = self.cooldown;
            self.num_bad = 0;
            let new_lr = (self.lr * self.factor).max(self.min_lr);
            if self.lr - new_lr > self.eps {
                self.lr = new_lr;
                return Some(new_lr);
            }
        }
        None
    }
}

/// The rate of every optimizer step of a run: the plateau scheduler's rate
/// times the warm-up factor.
#[derive(Clone, Debug, PartialEq)]
pub struct LrSchedule {
    plateau: Option<ReduceLrOnPlateau>,
    base: f64,
    warmup_steps: u64,
    start_factor: f64,
}

impl LrSchedule {
    /// A schedule from the base rate `lr`.
    ///
    /// ```
    /// use kaizen::training::{LrSchedule, ScheduleConfig};
    /// let c = ScheduleConfig { warmup_steps: 4, warmup_start_factor: 0.2, ..Default::default() };
    /// let s = LrSchedule::new(1.0, &c);
    /// let rates: Vec<f64> = (0..6).map(|t| s.lr_at(t)).collect();
    /// assert_eq!(rates, [0.2, 0.4, 0.6000000000000001, 0.8, 1.0, 1.0]);
    /// ```
    pub fn new(lr: f64, c: &ScheduleConfig) -> Self {
        LrSchedule {
            plateau: c.reduce_on_plateau.then(|| ReduceLrOnPlateau::new(lr, c)),
            base: lr,
            warmup_steps: c.warmup_steps,
            start_factor: c.warmup_start_factor,
        }
    }

    /// The rate for optimizer step `step` (0-based).
    pub fn lr_at(&self, step: u64) -> f64 {
        let lr = self.plateau.as_ref().map_or(self.base, |p| p.lr());
        if step >= self.warmup_steps {
            return lr;
        }
        let done = step as f64 / self.warmup_steps as f64;
        lr * (self.start_factor + (1.0 - self.start_factor) * done)
    }

    /// Takes an evaluation's validation loss; returns the new plateau rate when it was reduced.
    pub fn on_evaluation(&mut self, metric: f64) -> Option<f64> {
        self.plateau.as_mut().and_then(|p| p.step(metric))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rates PyTorch 2.15 gives for the same metrics, printed by
    /// `scripts/reference/reduce_lr_on_plateau.py`; they agree to the bit.
    #[test]
    fn matches_pytorch_reduce_lr_on_plateau() {
        let mut default_metrics = vec![1.0, 0.99995];
        default_metrics.extend([1.0; 11]);
        default_metrics.push(0.5);
        let cases: [(ScheduleConfig, &[f64], &[f64]); 3] = [
            (
                // 0.99995 is not 1e-4 better than 1: eleven bad evaluations
                // after the best, so the twelfth (index 11) cuts the rate.
                ScheduleConfig::default(),
                &default_metrics,
                &[
                    1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.1, 0.1, 0.1,
                ],
            ),
            (
                ScheduleConfig {
                    patience: 1,
                    cooldown: 2,
                    factor: 0.5,
                    min_lr: 0.2,
                    ..Default::default()
                },
                &[3.0; 11],
                &[1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.2],
            ),
            (
                ScheduleConfig {
                    patience: 0,
                    threshold: 0.1,
                    ..Default::default()
                },
                &[10.0, 9.5, 8.9, 8.1, 8.0, f64::NAN],
                &[
                    1.0,
                    0.1,
                    0.1,
                    0.010000000000000002,
                    0.010000000000000002,
                    0.0010000000000000002,
                ],
            ),
        ];
        for (i, (config, metrics, want)) in cases.iter().enumerate() {
            let mut s = ReduceLrOnPlateau::new(1.0, config);
            let got: Vec<f64> = metrics
                .iter()
                .map(|&m| {
                    s.step(m);
                    s.lr()
                })
                .collect();
            assert_eq!(&got, want, "case {i}");
        }
    }

    #[test]
    fn no_reduction_below_eps_or_when_disabled() {
        let c = ScheduleConfig {
            patience: 0,
            min_lr: 0.1,
            ..Default::default()
        };
        let mut s = ReduceLrOnPlateau::new(0.1 + 5e-9, &c);
        s.step(1.0);
        assert_eq!(s.step(1.0), None, "a change of 5e-9 is below eps");
        let off = LrSchedule::new(
            0.5,
            &ScheduleConfig {
                reduce_on_plateau: false,
                patience: 0,
                ..Default::default()
            },
        );
        let mut off2 = off.clone();
        for _ in 0..5 {
            assert_eq!(off2.on_evaluation(1.0), None);
        }
        assert_eq!(off2.lr_at(100), 0.5);
    }

    #[test]
    fn warmup_scales_the_plateau_rate() {
        let c = ScheduleConfig {
            patience: 0,
            warmup_steps: 10,
            warmup_start_factor: 0.5,
            ..Default::default()
        };
        let mut s = LrSchedule::new(1.0, &c);
        assert_eq!(s.lr_at(0), 0.5);
        s.on_evaluation(1.0);
        assert_eq!(s.on_evaluation(1.0), Some(0.1));
        assert!((s.lr_at(5) - 0.1 * 0.75).abs() < 1e-15);
        assert_eq!(s.lr_at(10), 0.1);
    }

    #[test]
    fn settings_are_checked() {
        assert!(ScheduleConfig::default().validate().is_ok());
        let e = ScheduleConfig {
            factor: 1.0,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid schedule.factor = 1: expected a number in (0, 1)"
        );
        assert!(
            ScheduleConfig {
                min_lr: -1.0,
                ..Default::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            ScheduleConfig {
                warmup_start_factor: 0.0,
                ..Default::default()
            }
            .validate()
            .is_err()
        );
    }
}
