//! Recent values of the synergy metrics and the change between them.
//!
//! [`metric_delta`] is SPEC §5's change of one metric over its history;
//! [`MetricHistory`] keeps the recent values of every synergy metric and
//! turns them into [`SynergyDeltas`] for the learners and the energy chain.
//!
//! Choices where SPEC is silent:
//! - A history keeps the last [`MetricHistory::CAPACITY`] = 6 values per metric:
//!   `metric_delta` with the window of 3 never looks further back, so older
//!   values could not change any result. A longer list loaded from a file keeps
//!   its newest values.
//! - `metric_delta` with `window = 0` uses a window of 1.
//! - For finite input `metric_delta` is always finite: a mean is taken without
//!   overflowing, and a difference beyond `±f64::MAX` saturates there.
//! - Names that are not synergy metrics are not this history's business:
//!   [`MetricHistory::record`] ignores them (whatever their value) and says so.
//!
//! ```
//! use kaizen::synergy::{MetricHistory, SynergyKey, SynergyKeys, metric_delta};
//!
//! assert!((metric_delta(&[0.0, 0.1, 0.2, 0.3], 3) - 0.2).abs() < 1e-12);
//!
//! let mut history = MetricHistory::new();
//! history.record("synergy_roi", 0.0)?;
//! history.record("synergy_roi", 0.2)?;
//! assert_eq!(history.record("latency_ms", 12.0)?, None); // not a synergy metric
//! let deltas = history.deltas(SynergyKeys::Core);
//! assert!((deltas.get(SynergyKey::Roi).unwrap() - 0.1).abs() < 1e-12);
//! assert_eq!(deltas.get(SynergyKey::Efficiency), Some(0.0));
//! # Ok::<(), kaizen::Error>(())
//! ```

use serde::de::{Deserialize, Deserializer};
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::collections::BTreeMap;

use super::key::{SynergyKey, SynergyKeys};
use super::vector::{SynergyDeltas, saturate};
use crate::Result;
use crate::error::ensure_bounded;

/// The window SPEC §5 uses for synergy deltas.
pub const DELTA_WINDOW: usize = 3;

/// Mean of a non-empty slice, without overflow for finite values.
fn mean(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let sum: f64 = values.iter().sum();
    if sum.is_finite() {
        sum / n
    } else {
        // The true mean lies within ±f64::MAX; only rounding can push the
        // scaled sum past it.
        saturate(values.iter().map(|v| v / n).sum())
    }
}

/// The change of one metric over its `history` (oldest first), SPEC §5:
/// none ⇒ 0; `w = min(window, n)`, `cur = mean(last w)`; if `n > w`:
/// `pw = min(w, n − w)`, `prev = mean(the pw values before those)`; else if
/// `n ≥ 2`: `prev = v[n−2]`; else the single value itself. Returns `cur − prev`.
///
/// `[0, 0.2]` ⇒ 0.1; `[0, 0.1, 0.2, 0.3]` ⇒ 0.2 (window 3).
pub fn metric_delta(history: &[f64], window: usize) -> f64 {
    let n = history.len();
    if n == 0 {
        return 0.0;
    }
    let w = window.clamp(1, n);
    let cur = mean(&history[n - w..]);
    let prev = if n > w {
        let pw = w.min(n - w);
        mean(&history[n - w - pw..n - w])
    } else if n >= 2 {
        history[n - 2]
    } else {
        return history[0];
    };
    saturate(cur - prev)
}

/// The last values of every synergy metric, oldest first. Fixed size, no heap.
///
/// Serialized as a map from metric name to its values, in key order, listing
/// only metrics that have values: `{"synergy_roi":[0.0,0.2]}`. Loading ignores
/// names that are not synergy metrics and keeps the newest
/// [`CAPACITY`](Self::CAPACITY) values of a longer list.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetricHistory {
    values: [[f64; Self::CAPACITY]; SynergyKey::ALL.len()],
    lens: [u8; SynergyKey::ALL.len()],
}

impl MetricHistory {
    /// Values kept per metric: the two windows `metric_delta` compares.
    pub const CAPACITY: usize = 2 * DELTA_WINDOW;

    /// An empty history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `value` for the metric called `name` when it is a synergy
    /// metric (`synergy_roi`, …) and returns its key; any other name is
    /// ignored and gives `Ok(None)`. A non-finite value of a synergy metric is
    /// refused with [`Error::NonFinite`](crate::Error::NonFinite) and nothing changes.
    pub fn record(&mut self, name: &str, value: f64) -> Result<Option<SynergyKey>> {
        match SynergyKey::from_metric_name(name) {
            Some(key) => self.record_key(key, value).map(|()| Some(key)),
            None => Ok(None),
        }
    }

    /// Records `value` for `key`, dropping the oldest value when full.
    /// A non-finite value, or one beyond ±[`MAX_MAGNITUDE`](crate::error::MAX_MAGNITUDE),
    /// is refused and nothing changes.
    pub fn record_key(&mut self, key: SynergyKey, value: f64) -> Result<()> {
        let value = ensure_bounded(format!("metric {}", key.metric_name()), value)?;
        self.push(key, value);
        Ok(())
    }

    fn push(&mut self, key: SynergyKey, value: f64) {
        let (values, len) = (&mut self.values[key.index()], &mut self.lens[key.index()]);
        let n = usize::from(*len);
        if n == Self::CAPACITY {
            values.copy_within(1.., 0);
            values[n - 1] = value;
        } else {
            values[n] = value;
            *len += 1;
        }
    }

    /// The recent values of `key`, oldest first.
    pub fn values(&self, key: SynergyKey) -> &[f64] {
        &self.values[key.index()][..usize::from(self.lens[key.index()])]
    }

    /// Whether no metric has a value.
    pub fn is_empty(&self) -> bool {
        self.lens.iter().all(|&n| n == 0)
    }

    /// [`metric_delta`] of `key` with the window of 3.
    pub fn delta(&self, key: SynergyKey) -> f64 {
        metric_delta(self.values(key), DELTA_WINDOW)
    }

    /// The deltas of every key of `keys` (0 for a metric never recorded).
    pub fn deltas(&self, keys: SynergyKeys) -> SynergyDeltas {
        SynergyDeltas::from_finite(keys, |key| self.delta(key))
    }
}

impl Serialize for MetricHistory {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let present = SynergyKey::ALL
            .iter()
            .filter(|k| !self.values(**k).is_empty());
        let mut map = serializer.serialize_map(Some(present.clone().count()))?;
        for &key in present {
            map.serialize_entry(key.metric_name(), self.values(key))?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for MetricHistory {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let raw = BTreeMap::<String, Vec<f64>>::deserialize(deserializer)?;
        let mut history = MetricHistory::new();
        for (name, values) in &raw {
            let Some(key) = SynergyKey::from_metric_name(name) else {
                continue;
            };
            let newest = &values[values.len().saturating_sub(Self::CAPACITY)..];
            for &v in newest {
                history
                    .record_key(key, v)
                    .map_err(serde::de::Error::custom)?;
            }
        }
        Ok(history)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn spec_examples() {
        assert!(close(metric_delta(&[0.0, 0.2], 3), 0.1));
        assert!(close(metric_delta(&[0.0, 0.1, 0.2, 0.3], 3), 0.2));
        assert_eq!(metric_delta(&[], 3), 0.0);
        assert_eq!(metric_delta(&[0.7], 3), 0.7);
        assert_eq!(metric_delta(&[-2.5], 3), -2.5);
    }

    #[test]
    fn hand_cases() {
        // n = w = 3: cur = 2, prev = v[1] = 2.
        assert!(close(metric_delta(&[1.0, 2.0, 3.0], 3), 0.0));
        // n = 5: cur = mean(3,4,5) = 4; pw = 2, prev = mean(1,2) = 1.5.
        assert!(close(metric_delta(&[1.0, 2.0, 3.0, 4.0, 5.0], 3), 2.5));
        // n = 6: cur = 5, prev = mean(1,2,3) = 2.
        assert!(close(metric_delta(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3), 3.0));
        // n = 7: values before the previous window are not used: cur = 6, prev = 3.
        assert!(close(
            metric_delta(&[100.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], 3),
            3.0
        ));
        // Falling metric.
        assert!(close(metric_delta(&[1.0, 0.5], 3), -0.25));
        // window 1: last minus the one before; window 0 behaves the same.
        assert!(close(metric_delta(&[1.0, 4.0, 2.0], 1), -2.0));
        assert!(close(metric_delta(&[1.0, 4.0, 2.0], 0), -2.0));
        // window larger than the history: cur = mean(all), prev = v[n−2].
        assert!(close(metric_delta(&[1.0, 2.0, 6.0], 10), 1.0));
    }

    #[test]
    fn extreme_values_stay_finite() {
        let big = [f64::MAX, f64::MAX, f64::MAX];
        let d = metric_delta(&big, 3);
        assert!(d.is_finite() && d.abs() < 1e300, "{d}");
        let d = metric_delta(
            &[
                -f64::MAX,
                -f64::MAX,
                -f64::MAX,
                f64::MAX,
                f64::MAX,
                f64::MAX,
            ],
            3,
        );
        assert_eq!(d, f64::MAX);
        let d = metric_delta(&[f64::MAX, -f64::MAX], 3);
        assert!(d.is_finite() && d < 0.0, "{d}");
    }

    #[test]
    fn record_keeps_synergy_metrics_and_ignores_others() {
        let mut h = MetricHistory::new();
        assert!(h.is_empty());
        assert_eq!(
            h.record("synergy_efficiency", 0.5).unwrap(),
            Some(SynergyKey::Efficiency)
        );
        assert_eq!(h.record("cpu_load", 0.9).unwrap(), None);
        assert_eq!(h.record("cpu_load", f64::NAN).unwrap(), None);
        assert_eq!(h.record("efficiency", 0.9).unwrap(), None);
        assert_eq!(h.values(SynergyKey::Efficiency), &[0.5]);
        assert!(!h.is_empty());
    }

    #[test]
    fn non_finite_values_are_refused_and_nothing_changes() {
        let mut h = MetricHistory::new();
        h.record("synergy_roi", 1.0).unwrap();
        let before = h.clone();
        let err = h.record("synergy_roi", f64::NAN).unwrap_err();
        assert_eq!(
            err.to_string(),
            "metric synergy_roi must be a finite number, got NaN"
        );
        assert!(matches!(
            h.record_key(SynergyKey::Roi, f64::INFINITY),
            Err(Error::NonFinite { .. })
        ));
        assert_eq!(h, before);
    }

    #[test]
    fn history_is_bounded_and_drops_the_oldest() {
        let mut h = MetricHistory::new();
        for i in 0..10 {
            h.record_key(SynergyKey::Throughput, f64::from(i)).unwrap();
        }
        assert_eq!(
            h.values(SynergyKey::Throughput),
            &[4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
        );
        // Same delta as over the full history: cur = 8, prev = 5.
        assert!(close(h.delta(SynergyKey::Throughput), 3.0));
        let full: Vec<f64> = (0..10).map(f64::from).collect();
        assert_eq!(h.delta(SynergyKey::Throughput), metric_delta(&full, 3));
    }

    #[test]
    fn deltas_follow_the_key_set() {
        let mut h = MetricHistory::new();
        for (name, v) in [
            ("synergy_roi", 0.0),
            ("synergy_roi", 0.2),
            ("synergy_resilience", 3.0),
            ("synergy_reliability", 1.0),
            ("synergy_reliability", 2.0),
        ] {
            h.record(name, v).unwrap();
        }
        let core = h.deltas(SynergyKeys::Core);
        assert_eq!(core.keys(), SynergyKeys::Core);
        assert!(close(core.get(SynergyKey::Roi).unwrap(), 0.1));
        assert_eq!(core.get(SynergyKey::Resilience), Some(3.0));
        assert_eq!(core.get(SynergyKey::Reliability), None);
        let ext = h.deltas(SynergyKeys::Extended);
        assert!(close(ext.get(SynergyKey::Reliability).unwrap(), 0.5));
        assert_eq!(ext.get(SynergyKey::Throughput), Some(0.0));
    }

    #[test]
    fn serde_round_trip_in_key_order() {
        let mut h = MetricHistory::new();
        h.record("synergy_throughput", 2.0).unwrap();
        h.record("synergy_roi", 0.5).unwrap();
        h.record("synergy_roi", -1.0).unwrap();
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(
            json,
            r#"{"synergy_roi":[0.5,-1.0],"synergy_throughput":[2.0]}"#
        );
        let back: MetricHistory = serde_json::from_str(&json).unwrap();
        assert_eq!(back, h);
        assert_eq!(serde_json::to_string(&MetricHistory::new()).unwrap(), "{}");
    }

    #[test]
    fn loading_is_bounded_and_ignores_other_names() {
        let h: MetricHistory = serde_json::from_str(
            r#"{"synergy_roi":[1,2,3,4,5,6,7,8,9,10],"latency":[1.0],"synergy_efficiency":[]}"#,
        )
        .unwrap();
        assert_eq!(h.values(SynergyKey::Roi), &[5.0, 6.0, 7.0, 8.0, 9.0, 10.0]);
        assert!(h.values(SynergyKey::Efficiency).is_empty());
        for bad in [
            r#"{"synergy_roi":[1e999]}"#,
            r#"{"synergy_roi":"x"}"#,
            r#"{"synergy_roi":[null]}"#,
            r#"[1,2]"#,
        ] {
            assert!(serde_json::from_str::<MetricHistory>(bad).is_err(), "{bad}");
        }
    }
}
