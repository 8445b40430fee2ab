//! Curriculum: train on easy samples first, then on all of them.
//!
//! The training samples are ordered easy → hard by the current champion's
//! per-sample loss (with no champion yet, by the naive predictor's), ties in
//! their original order. At step `t` of a run of `T` steps the batch is drawn
//! from the easiest `⌈p(t)·n⌉` samples (never fewer than a batch), with the
//! linear pacing `p(t) = start_fraction + (1 − start_fraction)·min(1, t / (ramp·T))`:
//! the run starts on the easiest `start_fraction` and uses everything from
//! `ramp·T` on. Off by default.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, ensure_finite};

/// Curriculum settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CurriculumConfig {
    /// Whether runs use a curriculum (default false).
    pub enabled: bool,
    /// Share of the samples, easiest first, available at the first step (default 0.3).
    pub start_fraction: f64,
    /// Share of the run after which every sample is available (default 0.5).
    pub ramp: f64,
}

impl Default for CurriculumConfig {
    fn default() -> Self {
        CurriculumConfig {
            enabled: false,
            start_fraction: 0.3,
            ramp: 0.5,
        }
    }
}

impl CurriculumConfig {
    /// Checks every setting and names the first that is wrong.
    pub fn validate(&self) -> Result<()> {
        let s = ensure_finite("curriculum.start_fraction", self.start_fraction)?;
        if !(s > 0.0 && s <= 1.0) {
            return Err(Error::invalid(
                "curriculum.start_fraction",
                s,
                "a number in (0, 1]",
            ));
        }
        let r = ensure_finite("curriculum.ramp", self.ramp)?;
        if !(r > 0.0 && r <= 1.0) {
            return Err(Error::invalid("curriculum.ramp", r, "a number in (0, 1]"));
        }
        Ok(())
    }
}

/// The samples of one run in curriculum order, and the pacing.
///
/// ```
/// use kaizen::training::{Curriculum, CurriculumConfig};
/// let c = CurriculumConfig { enabled: true, start_fraction: 0.25, ramp: 0.5 };
/// let cur = Curriculum::new(&[0.9, 0.1, 0.5, 0.3, 0.7, 0.2, 0.8, 0.4], &c, 100);
/// assert_eq!(cur.order(), [1, 5, 3, 7, 2, 4, 6, 0]);
/// assert_eq!(cur.available(0, 1), [1, 5]);           // 25% of 8
/// assert_eq!(cur.available(25, 1).len(), 5);         // 62.5% → ⌈5⌉
/// assert_eq!(cur.available(50, 1).len(), 8);         // ramp reached
/// assert_eq!(cur.available(0, 4).len(), 4);          // never less than a batch
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Curriculum {
    order: Vec<usize>,
    start: f64,
    ramp_steps: f64,
}

impl Curriculum {
    /// The curriculum of samples whose difficulties (per-sample losses) are
    /// `difficulty`, for a run of `steps` steps.
    pub fn new(difficulty: &[f64], c: &CurriculumConfig, steps: u64) -> Self {
        let mut order: Vec<usize> = (0..difficulty.len()).collect();
        // Stable sort: ties keep their order; a NaN counts as hardest.
        order.sort_by(|&a, &b| {
            let (x, y) = (difficulty[a], difficulty[b]);
            x.partial_cmp(&y)
                .unwrap_or_else(|| x.is_nan().cmp(&y.is_nan()))
        });
        Curriculum {
            order,
            start: c.start_fraction,
            ramp_steps: (c.ramp * steps as f64).max(1.0),
        }
    }

    /// Every sample, easiest first.
    pub fn order(&self) -> &[usize] {
        &self.order
    }

    /// The samples a batch of `batch` may be drawn from at step `step` (0-based).
    pub fn available(&self, step: u64, batch: usize) -> &[usize] {
        let n = self.order.len();
        let p = self.start + (1.0 - self.start) * (step as f64 / self.ramp_steps).min(1.0);
        let k = ((p * n as f64 - 1e-9).ceil() as usize).clamp(batch.min(n), n);
        &self.order[..k]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_difficulty_is_hardest_and_ties_keep_order() {
        let c = CurriculumConfig {
            enabled: true,
            ..Default::default()
        };
        let cur = Curriculum::new(&[f64::NAN, 1.0, 0.5, 1.0], &c, 10);
        assert_eq!(cur.order(), [2, 1, 3, 0]);
    }

    #[test]
    fn pacing_grows_linearly_to_everything() {
        let c = CurriculumConfig {
            enabled: true,
            start_fraction: 0.5,
            ramp: 1.0,
        };
        let diff: Vec<f64> = (0..10).map(f64::from).collect();
        let cur = Curriculum::new(&diff, &c, 10);
        let sizes: Vec<usize> = (0..=10).map(|t| cur.available(t, 1).len()).collect();
        assert_eq!(sizes, [5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10]);
    }

    #[test]
    fn settings_are_checked() {
        let bad = CurriculumConfig {
            start_fraction: 0.0,
            ..Default::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().to_string(),
            "invalid curriculum.start_fraction = 0: expected a number in (0, 1]"
        );
        assert!(
            CurriculumConfig {
                ramp: 2.0,
                ..Default::default()
            }
            .validate()
            .is_err()
        );
    }
}
