//! Tick latencies: how long each engine took to answer a round's tick, from
//! the moment the registry sent it (queueing behind other engines included).
//!
//! An [`hdrhistogram`] with two significant digits: any quantile is within
//! 1% of the true value, in constant memory (about 35 KiB) and with no
//! allocation per sample. The largest sample is also kept exactly.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The longest latency told apart, in nanoseconds (about 18 minutes);
/// longer samples count as this.
const HIGHEST_NS: u64 = 1 << 40;

/// Quantiles of the tick latencies seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Ticks measured.
    pub count: u64,
    /// Median, in microseconds.
    pub p50_us: f64,
    /// 99th percentile, in microseconds.
    pub p99_us: f64,
    /// The longest, in microseconds.
    pub max_us: f64,
}

/// A histogram of durations.
#[derive(Clone, Debug)]
pub struct Latencies {
    histogram: Histogram<u64>,
    max: u64,
}

impl Default for Latencies {
    fn default() -> Self {
        Latencies {
            // Bounds and precision are constants known to be valid.
            histogram: Histogram::new_with_bounds(1, HIGHEST_NS, 2)
                .expect("valid histogram bounds"),
            max: 0,
        }
    }
}

impl Latencies {
    /// Records one latency.
    pub fn record(&mut self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.histogram.saturating_record(ns.clamp(1, HIGHEST_NS));
        self.max = self.max.max(ns);
    }

    /// The `q`-quantile (0..=1) in nanoseconds, at most the largest sample.
    fn quantile(&self, q: f64) -> u64 {
        if self.histogram.is_empty() {
            return 0;
        }
        self.histogram.value_at_quantile(q).min(self.max)
    }

    /// Count, median, 99th percentile and maximum.
    pub fn summary(&self) -> LatencySummary {
        let us = |ns: u64| ns as f64 / 1000.0;
        LatencySummary {
            count: self.histogram.len(),
            p50_us: us(self.quantile(0.5)),
            p99_us: us(self.quantile(0.99)),
            max_us: us(self.max),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_of_a_known_sample() {
        let mut h = Latencies::default();
        for us in 1..=1000u64 {
            h.record(Duration::from_micros(us));
        }
        let s = h.summary();
        assert_eq!(s.count, 1000);
        assert!((s.p50_us - 500.0).abs() / 500.0 < 0.04, "{s:?}");
        assert!((s.p99_us - 990.0).abs() / 990.0 < 0.04, "{s:?}");
        assert_eq!(s.max_us, 1000.0);
        assert_eq!(Latencies::default().summary(), LatencySummary::default());
    }
}
