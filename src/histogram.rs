//! Histograms with explicit bucket bounds, as Prometheus keeps them: a count
//! per bucket (`le`, cumulative when read), a sum and a total count, updated
//! with atomics from any thread without a lock.
//!
//! [`Histogram::snapshot`] copies the counts; the difference of two
//! snapshots is what happened between them, and [`Snapshot::quantile`]
//! estimates a quantile from it the way PromQL's `histogram_quantile` does
//! (linear interpolation inside the bucket the rank falls in; the lowest
//! bucket starts at 0; a rank in the `+Inf` bucket answers the highest
//! finite bound). So an alert computed here over a window and the same rule
//! in Prometheus over `rate(…[window])` agree.
//!
//! ```
//! use kaizen::histogram::Histogram;
//! let h = Histogram::new(&[0.1, 0.5, 1.0]);
//! for v in [0.05, 0.2, 0.3, 0.7] {
//!     h.observe(v);
//! }
//! let s = h.snapshot();
//! assert_eq!(s.count(), 4);
//! assert_eq!(s.cumulative(), vec![1, 3, 4, 4]);
//! // Rank 2 of 4 falls in (0.1, 0.5], halfway through its two samples.
//! assert!((s.quantile(0.5).unwrap() - 0.3).abs() < 1e-12);
//! ```

use std::sync::atomic::{AtomicU64, Ordering};

/// Bounds of tick (decision) latency buckets, in seconds.
pub const LATENCY_BOUNDS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// Bounds of cycle duration buckets, in seconds (a pipeline may run for an hour).
pub const DURATION_BOUNDS: &[f64] = &[
    0.001, 0.01, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0,
];

/// Bounds of cycle energy buckets (energy is a whole number in 1..=100).
pub const ENERGY_BOUNDS: &[f64] = &[1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 30.0, 50.0, 75.0, 100.0];

/// A histogram with fixed, explicit bucket bounds.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// One count per bound, then the `+Inf` bucket (not cumulative).
    counts: Vec<AtomicU64>,
    /// The sum of the observations, as `f64` bits.
    sum: AtomicU64,
}

impl Histogram {
    /// An empty histogram over `bounds` (increasing, finite).
    pub fn new(bounds: &'static [f64]) -> Self {
        debug_assert!(bounds.windows(2).all(|w| w[0] < w[1]));
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0f64.to_bits()),
        }
    }

    /// The bucket bounds.
    pub fn bounds(&self) -> &'static [f64] {
        self.bounds
    }

    /// Counts one observation. A NaN is ignored (it has no bucket).
    pub fn observe(&self, value: f64) {
        if value.is_nan() {
            return;
        }
        let i = self.bounds.partition_point(|&b| b < value);
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        let _ = self
            .sum
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + value).to_bits())
            });
    }

    /// The counts and sum now.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            bounds: self.bounds,
            counts: self
                .counts
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .collect(),
            sum: f64::from_bits(self.sum.load(Ordering::Relaxed)),
        }
    }
}

/// A histogram's counts at one moment (or the difference of two moments).
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    bounds: &'static [f64],
    counts: Vec<u64>,
    sum: f64,
}

impl Snapshot {
    /// The bucket bounds.
    pub fn bounds(&self) -> &'static [f64] {
        self.bounds
    }

    /// Observations counted.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The sum of the observations.
    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// Counts per bucket (not cumulative): one per bound, then `+Inf`.
    pub fn per_bucket(&self) -> &[u64] {
        &self.counts
    }

    /// Cumulative counts: one per bound (`le`), then `+Inf` (= [`count`](Self::count)).
    pub fn cumulative(&self) -> Vec<u64> {
        self.counts
            .iter()
            .scan(0, |acc, c| {
                *acc += c;
                Some(*acc)
            })
            .collect()
    }

    /// What was observed after `earlier` (a snapshot of the same histogram):
    /// counts that went down (a reset) count as 0.
    pub fn since(&self, earlier: &Snapshot) -> Snapshot {
        Snapshot {
            bounds: self.bounds,
            counts: self
                .counts
                .iter()
                .zip(earlier.counts.iter().chain(std::iter::repeat(&0)))
                .map(|(now, then)| now.saturating_sub(*then))
                .collect(),
            sum: (self.sum - earlier.sum).max(0.0),
        }
    }

    /// The `q`-quantile (0..=1) estimated as PromQL's `histogram_quantile`
    /// does; `None` without observations or for `q` outside [0, 1].
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.count();
        if total == 0 || !(0.0..=1.0).contains(&q) {
            return None;
        }
        let rank = q * total as f64;
        let cumulative = self.cumulative();
        let i = cumulative.partition_point(|&c| (c as f64) < rank);
        if i >= self.bounds.len() {
            return self.bounds.last().copied();
        }
        let (lower, below) = match i {
            0 => (0.0, 0),
            _ => (self.bounds[i - 1], cumulative[i - 1]),
        };
        let upper = self.bounds[i];
        let in_bucket = cumulative[i] - below;
        if in_bucket == 0 {
            return Some(upper);
        }
        Some(lower + (upper - lower) * (rank - below as f64) / in_bucket as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_fall_in_the_first_bucket_whose_bound_is_not_below_them() {
        let h = Histogram::new(&[1.0, 2.0]);
        for v in [0.5, 1.0, 1.5, 2.0, 9.0, f64::NAN] {
            h.observe(v);
        }
        let s = h.snapshot();
        assert_eq!(s.cumulative(), vec![2, 4, 5]);
        assert_eq!(s.sum(), 14.0);
    }

    #[test]
    fn quantiles_follow_promql() {
        // histogram_quantile(0.99, …) over buckets le=0.1:50, le=1:99, le=+Inf:100
        // is 0.1 + 0.9 · (99 − 50) / 49 = 1.0, and 0.9 gives 0.1 + 0.9·40/49.
        let h = Histogram::new(&[0.1, 1.0]);
        for _ in 0..50 {
            h.observe(0.05);
        }
        for _ in 0..49 {
            h.observe(0.5);
        }
        h.observe(7.0);
        let s = h.snapshot();
        assert!((s.quantile(0.99).unwrap() - 1.0).abs() < 1e-12);
        assert!((s.quantile(0.9).unwrap() - (0.1 + 0.9 * 40.0 / 49.0)).abs() < 1e-12);
        assert!((s.quantile(0.5).unwrap() - 0.1).abs() < 1e-12);
        assert_eq!(s.quantile(1.0), Some(1.0));
        assert_eq!(s.quantile(1.5), None);
        assert_eq!(Histogram::new(&[1.0]).snapshot().quantile(0.5), None);
    }

    #[test]
    fn the_difference_of_two_snapshots_is_what_happened_between_them() {
        let h = Histogram::new(&[1.0, 2.0]);
        h.observe(0.5);
        let before = h.snapshot();
        h.observe(1.5);
        h.observe(1.5);
        let window = h.snapshot().since(&before);
        assert_eq!(window.cumulative(), vec![0, 2, 2]);
        assert_eq!(window.sum(), 3.0);
        assert!((window.quantile(0.5).unwrap() - 1.5).abs() < 1e-12);
    }
}
