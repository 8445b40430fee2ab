//! The first two moments of a sample: its count, mean and sum of squared
//! deviations, from a slice (two passes) or a stream (Welford's update).

use serde::{Deserialize, Serialize};

use super::error::{StatsError, ensure_all_finite};

/// Count, mean and sum of squared deviations (`m2 = Σ (x − mean)²`) of a
/// sample.
///
/// From a slice ([`Moments::from_slice`]) the mean is a compensated sum and
/// `m2` the corrected two-pass sum, so both are accurate to a few ulps; from
/// a stream ([`Moments::push`]) Welford's update keeps `m2` free of the
/// cancellation of `Σx² − n·mean²`. Assumes finite values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Moments {
    /// How many values.
    pub count: u64,
    /// Their mean (0 when there are none).
    pub mean: f64,
    /// The sum of their squared deviations from the mean.
    pub m2: f64,
}

impl Moments {
    /// The moments of `values`, refusing a non-finite value (named by `what`
    /// and its index) or values whose squares overflow.
    pub fn from_slice(what: &'static str, values: &[f64]) -> Result<Self, StatsError> {
        ensure_all_finite(what, values)?;
        let n = values.len();
        if n == 0 {
            return Ok(Moments::default());
        }
        let mean = neumaier_sum(values.iter().copied()) / n as f64;
        let deviations = || values.iter().map(|v| v - mean);
        let squares = neumaier_sum(deviations().map(|d| d * d));
        let correction = neumaier_sum(deviations());
        let m2 = squares - correction * correction / n as f64;
        if !mean.is_finite() || !m2.is_finite() {
            return Err(StatsError::Overflow {
                what: format!("the variance of {what}").into(),
            });
        }
        Ok(Moments {
            count: n as u64,
            mean,
            m2: m2.max(0.0),
        })
    }

    /// Adds one value (Welford's update). Assumes `value` is finite.
    pub fn push(&mut self, value: f64) {
        self.count += 1;
        let delta = value - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (value - self.mean);
    }

    /// The population variance `m2 / n` (ddof 0, numpy's `np.var`); 0 when empty.
    pub fn population_variance(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.m2 / self.count as f64
        }
    }

    /// The sample variance `m2 / (n − 1)` (ddof 1); 0 with fewer than 2 values.
    pub fn sample_variance(&self) -> f64 {
        if self.count < 2 {
            0.0
        } else {
            self.m2 / (self.count - 1) as f64
        }
    }

    /// Whether the spread is nothing but rounding: a population standard
    /// deviation within 8 ulps of `scale`, the largest magnitude that went
    /// into the values (a difference `a − b` carries rounding of `max(|a|, |b|)`).
    pub(crate) fn spread_is_rounding(&self, scale: f64) -> bool {
        self.population_variance().sqrt() <= 8.0 * f64::EPSILON * scale
    }
}

/// The difference of two samples' means under Student's equal-variance
/// model: `new.mean − base.mean`, its standard error
/// `√(s²_pooled · (1/n_new + 1/n_base))` with
/// `s²_pooled = (m2_base + m2_new) / (n_base + n_new − 2)`, and those degrees
/// of freedom.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct PooledDifference {
    /// `mean(new) − mean(base)`.
    pub difference: f64,
    /// Its standard error (0 when the pooled variance is 0).
    pub standard_error: f64,
    /// `n_base + n_new − 2`.
    pub df: f64,
}

impl PooledDifference {
    /// Assumes `base.count + new.count ≥ 3` and both counts ≥ 1.
    pub(crate) fn new(base: &Moments, new: &Moments) -> Self {
        let (nb, nn) = (base.count as f64, new.count as f64);
        let df = nb + nn - 2.0;
        let pooled = (base.m2 + new.m2) / df;
        PooledDifference {
            difference: new.mean - base.mean,
            standard_error: (pooled * (1.0 / nn + 1.0 / nb)).sqrt(),
            df,
        }
    }

    /// The t statistic for the hypothesis `mean(new) − mean(base) = shift`.
    pub(crate) fn t(&self, shift: f64) -> f64 {
        (self.difference - shift) / self.standard_error
    }
}

/// The largest `|x|` in `values` (0 for none).
pub(crate) fn max_abs(values: &[f64]) -> f64 {
    values.iter().fold(0.0, |m, v| m.max(v.abs()))
}

/// `Σ values` with Neumaier's compensation: exact to a few ulps of the result
/// whatever the order and the magnitudes.
pub(crate) fn neumaier_sum(values: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut compensation) = (0.0_f64, 0.0_f64);
    for v in values {
        let t = sum + v;
        compensation += if sum.abs() >= v.abs() {
            (sum - t) + v
        } else {
            (v - t) + sum
        };
        sum = t;
    }
    sum + compensation
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_and_stream_agree_on_a_hand_computed_sample() {
        // mean 5, deviations −3, −1, 1, 3 ⇒ m2 = 20.
        let xs = [2.0, 4.0, 6.0, 8.0];
        let slice = Moments::from_slice("xs", &xs).unwrap();
        assert_eq!(
            slice,
            Moments {
                count: 4,
                mean: 5.0,
                m2: 20.0
            }
        );
        let mut stream = Moments::default();
        xs.iter().for_each(|&x| stream.push(x));
        assert_eq!(stream, slice);
        assert_eq!(slice.population_variance(), 5.0);
        assert_eq!(slice.sample_variance(), 20.0 / 3.0);
    }

    #[test]
    fn compensated_sum_keeps_small_terms_next_to_large_ones() {
        assert_eq!(neumaier_sum([1e16, 1.0, -1e16, 1.0].into_iter()), 2.0);
    }

    #[test]
    fn refuses_non_finite_and_overflowing_values() {
        let err = Moments::from_slice("new", &[1.0, f64::NAN]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "new[1] is NaN: every value must be a finite number"
        );
        let err = Moments::from_slice("new", &[1e200, -1e200]).unwrap_err();
        assert!(matches!(err, StatsError::Overflow { .. }), "{err}");
    }

    #[test]
    fn rounding_spread_is_told_from_a_real_one() {
        // 0.1 + 0.2 − 0.3 style residue: all three "equal" values.
        let xs = [0.1 + 0.2, 0.3, 0.30000000000000004];
        let m = Moments::from_slice("xs", &xs).unwrap();
        assert!(m.spread_is_rounding(max_abs(&xs)));
        let m = Moments::from_slice("xs", &[0.3, 0.3 + 1e-12]).unwrap();
        assert!(!m.spread_is_rounding(0.3));
    }
}
