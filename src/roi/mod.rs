//! ROI tracking for one engine: deltas, their moving average, the short mean
//! and the long-term trend (SPEC §2).
//!
//! A [`RoiTracker`] keeps two bounded series, oldest first:
//! - the **ROI deltas** of the last [`RoiConfig::history_len`] cycles (default
//!   1,000), each already divided by [`RoiConfig::scale`] (`roi_scale`), and
//!   their exponential moving average `roi_delta_ema ← (1 − α)·ema + α·delta`
//!   (α = [`RoiConfig::ema_alpha`], `roi_ema_alpha`, default 0.1; the EMA
//!   starts at 0);
//! - the last [`RoiConfig::profit_len`] **profit readings** (default 200), from
//!   which [`RoiTracker::trend`] computes the long-term ROI trend.
//!
//! The readers ([`short_mean`](RoiTracker::short_mean),
//! [`trend`](RoiTracker::trend), [`mean_recent`](RoiTracker::mean_recent),
//! [`anomaly_rate`](RoiTracker::anomaly_rate)) walk at most their window and
//! allocate nothing; the engine calls them on every tick. The anomaly rate
//! and the trend are kept from one recorded value to the next. A window of
//! deltas all bit-identical (a bot whose deltas do not move) has an anomaly
//! rate of exactly 0 and is known so in O(1) from the length of the newest
//! run of equal deltas; any other window is rescanned (the two-pass mean and
//! standard deviation cannot be updated in O(1) to the same bits).
//!
//! Choices where SPEC is silent:
//! - A NaN or infinite delta or profit is refused with [`Error::NonFinite`] and
//!   changes nothing. So is a delta beyond ±10¹⁰⁰ once divided by `roi_scale`
//!   ([`Error::Invalid`], see [`MAX_MAGNITUDE`](crate::error::MAX_MAGNITUDE)),
//!   or one that would push the EMA past `f64`'s range.
//! - The readers never return NaN or ∞: a mean or trend beyond `f64`'s range
//!   saturates at `±f64::MAX` (e.g. a trend from an older mean of `1e-320`).
//! - [`anomaly_rate`](RoiTracker::anomaly_rate) uses the population standard
//!   deviation, and "more than 3 std" is strict (`|x − mean| > 3·std`).
//! - Settings are named after SPEC's public names in errors: `roi_ema_alpha`,
//!   `roi_scale`, `roi_history_len`, `roi_profit_len`, `roi_short_window`.
//!
//! **Persistence.** The state is a [`RoiSnapshot`] (`roi_history`,
//! `profit_samples`, `roi_delta_ema`). The engine embeds it in its
//! `engine.json` with `#[serde(flatten)]` (borrow it with
//! [`RoiTracker::snapshot`], rebuild with [`RoiTracker::from_snapshot`]);
//! [`RoiTracker::save`] and [`RoiTracker::load`] write and read it as a file of
//! its own through [`crate::persist`]. A loaded series longer than the
//! configured bound keeps its newest values; a snapshot holding a non-finite
//! number (possible when built in code, not from JSON) is refused.
//!
//! ```
//! use kaizen::roi::{RoiConfig, RoiTracker};
//!
//! let mut roi = RoiTracker::new(RoiConfig { ema_alpha: 0.5, ..RoiConfig::default() })?;
//! for delta in [1.0, 0.5, 2.0] {
//!     roi.record_delta(delta)?;
//! }
//! assert_eq!(roi.ema(), 1.25);
//! assert_eq!(roi.short_mean(), 3.5 / 3.0);
//!
//! for profit in [1.0, 2.0, 3.0, 4.0] {
//!     roi.record_profit(profit)?;
//! }
//! assert_eq!(roi.trend(), (3.5 - 1.5) / 1.5);
//! # Ok::<(), kaizen::Error>(())
//! ```

use std::collections::VecDeque;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, ensure_bounded, ensure_finite, ensure_positive};
use crate::persist::{self, Durability};

/// How many of the newest deltas [`RoiTracker::anomaly_rate`] looks at.
pub const ANOMALY_WINDOW: usize = 100;

/// A delta further than this many standard deviations from the window's mean
/// is an anomaly.
pub const ANOMALY_SIGMAS: f64 = 3.0;

/// Settings of a [`RoiTracker`]. [`Default`] gives SPEC's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RoiConfig {
    /// `roi_ema_alpha`: weight of the newest delta in the EMA, in (0, 1]. Default 0.1.
    pub ema_alpha: f64,
    /// `roi_scale`: every delta is divided by it before it is recorded; finite
    /// and > 0. Default 1.0.
    pub scale: f64,
    /// How many deltas are kept (at least 1). Default 1,000.
    pub history_len: usize,
    /// How many profit readings are kept (at least 1). Default 200.
    pub profit_len: usize,
    /// How many of the newest deltas [`RoiTracker::short_mean`] averages (at
    /// least 1). Default 5.
    pub short_window: usize,
}

impl Default for RoiConfig {
    fn default() -> Self {
        RoiConfig {
            ema_alpha: 0.1,
            scale: 1.0,
            history_len: 1000,
            profit_len: 200,
            short_window: 5,
        }
    }
}

impl RoiConfig {
    /// `Ok` when every setting is in range, else the first one that is not.
    pub fn validate(&self) -> Result<()> {
        let alpha = ensure_finite("roi_ema_alpha", self.ema_alpha)?;
        if !(alpha > 0.0 && alpha <= 1.0) {
            return Err(Error::invalid("roi_ema_alpha", alpha, "a number in (0, 1]"));
        }
        ensure_positive("roi_scale", self.scale)?;
        for (what, len) in [
            ("roi_history_len", self.history_len),
            ("roi_profit_len", self.profit_len),
            ("roi_short_window", self.short_window),
        ] {
            if len == 0 {
                return Err(Error::invalid(what, len, "at least 1"));
            }
        }
        Ok(())
    }
}

/// The persisted state of a [`RoiTracker`]: the three fields the engine keeps
/// in `engine.json`. Designed to be embedded with `#[serde(flatten)]`; it has
/// no `version` field of its own (persistence adds it).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RoiSnapshot {
    /// Scaled ROI deltas, oldest first.
    pub roi_history: VecDeque<f64>,
    /// Profit readings, oldest first.
    pub profit_samples: VecDeque<f64>,
    /// Exponential moving average of the scaled deltas.
    pub roi_delta_ema: f64,
}

/// ROI deltas, their EMA, short mean, anomaly rate and the long-term profit
/// trend of one engine. See the [module docs](self).
#[derive(Clone, Debug, PartialEq)]
pub struct RoiTracker {
    config: RoiConfig,
    state: RoiSnapshot,
    /// [`anomaly_rate`](Self::anomaly_rate), recomputed when a delta comes in
    /// (the engine reads it several times per cycle).
    anomaly: f64,
    /// How many of the newest deltas are bit-identical to the newest one, at
    /// most [`ANOMALY_WINDOW`] (0 when there are none).
    same: usize,
    /// [`trend`](Self::trend), recomputed when a profit reading comes in.
    trend: f64,
}

impl RoiTracker {
    /// An empty tracker (no deltas, no profits, EMA 0).
    pub fn new(config: RoiConfig) -> Result<Self> {
        Self::from_snapshot(config, RoiSnapshot::default())
    }

    /// A tracker that resumes from `snapshot`. Series longer than the
    /// configured bounds keep their newest values; a non-finite number
    /// anywhere in the snapshot is refused with [`Error::NonFinite`] naming it
    /// (e.g. `roi_history[3]`).
    pub fn from_snapshot(config: RoiConfig, mut snapshot: RoiSnapshot) -> Result<Self> {
        config.validate()?;
        persist::check_finite(&snapshot).map_err(|at| Error::NonFinite {
            what: at.path().into(),
            value: at.value,
        })?;
        keep_newest(&mut snapshot.roi_history, config.history_len);
        keep_newest(&mut snapshot.profit_samples, config.profit_len);
        Ok(RoiTracker {
            anomaly: anomaly_rate(&snapshot.roi_history),
            same: newest_run(&snapshot.roi_history),
            trend: trend(&snapshot.profit_samples),
            config,
            state: snapshot,
        })
    }

    /// Records one raw ROI delta: divides it by `roi_scale`, appends it (the
    /// oldest is dropped past `history_len`), updates the EMA and returns the
    /// scaled delta. A non-finite delta, or one whose scaled value or EMA is
    /// not finite, is refused and changes nothing.
    pub fn record_delta(&mut self, raw: f64) -> Result<f64> {
        let (delta, ema) = self.admit(raw)?;
        self.state.roi_delta_ema = ema;
        let history = &mut self.state.roi_history;
        let repeats = history
            .back()
            .is_some_and(|b| b.to_bits() == delta.to_bits());
        push_bounded(history, delta, self.config.history_len);
        self.same = if repeats {
            (self.same + 1).min(history.len()).min(ANOMALY_WINDOW)
        } else {
            1
        };
        self.anomaly = if self.same >= history.len().min(ANOMALY_WINDOW) {
            // Every delta of the window is the same: see `anomaly_rate`.
            0.0
        } else {
            anomaly_rate(history)
        };
        Ok(delta)
    }

    /// The scaled delta [`record_delta`](Self::record_delta) would record
    /// for `raw`, or the error it would refuse it with; changes nothing. A
    /// raw delta must be finite, and once divided by `roi_scale` within
    /// ±[`MAX_MAGNITUDE`](crate::error::MAX_MAGNITUDE).
    pub fn check_delta(&self, raw: f64) -> Result<f64> {
        self.admit(raw).map(|(delta, _)| delta)
    }

    /// The scaled delta and the EMA after it, when both are in range.
    fn admit(&self, raw: f64) -> Result<(f64, f64)> {
        let raw = ensure_finite("roi delta", raw)?;
        let delta = ensure_bounded("roi delta / roi_scale", raw / self.config.scale)?;
        let alpha = self.config.ema_alpha;
        let ema = ensure_finite(
            "roi_delta_ema",
            (1.0 - alpha) * self.state.roi_delta_ema + alpha * delta,
        )?;
        Ok((delta, ema))
    }

    /// Records one profit reading (the oldest is dropped past `profit_len`).
    /// A non-finite profit is refused and changes nothing.
    pub fn record_profit(&mut self, profit: f64) -> Result<()> {
        let profit = ensure_finite("profit", profit)?;
        push_bounded(
            &mut self.state.profit_samples,
            profit,
            self.config.profit_len,
        );
        self.trend = trend(&self.state.profit_samples);
        Ok(())
    }

    /// The EMA of the scaled deltas, `roi_delta_ema` (0 before the first delta).
    pub fn ema(&self) -> f64 {
        self.state.roi_delta_ema
    }

    /// `short_mean`: the mean of the last `min(short_window, n)` deltas, 0 if none.
    pub fn short_mean(&self) -> f64 {
        self.mean_recent(self.config.short_window)
    }

    /// The mean of the last `min(n, len)` deltas, 0 if none (the policy state
    /// uses the last 10).
    pub fn mean_recent(&self, n: usize) -> f64 {
        mean(newest(&self.state.roi_history, n))
    }

    /// The long-term ROI trend over the profit readings: with
    /// `half = max(1, n / 2)`, `(mean(rest) − mean(first half)) / |mean(first half)|`;
    /// 0 when there are fewer than 2 readings or the older mean is 0.
    pub fn trend(&self) -> f64 {
        self.trend
    }

    /// The share of the last [`ANOMALY_WINDOW`] deltas that lie more than
    /// [`ANOMALY_SIGMAS`] population standard deviations from their mean; 0
    /// with fewer than 2 deltas or when they are all equal.
    pub fn anomaly_rate(&self) -> f64 {
        self.anomaly
    }

    /// The scaled deltas, oldest first.
    pub fn history(&self) -> &VecDeque<f64> {
        &self.state.roi_history
    }

    /// The profit readings, oldest first.
    pub fn profit_samples(&self) -> &VecDeque<f64> {
        &self.state.profit_samples
    }

    /// How many deltas are kept.
    pub fn len(&self) -> usize {
        self.state.roi_history.len()
    }

    /// `true` before the first delta.
    pub fn is_empty(&self) -> bool {
        self.state.roi_history.is_empty()
    }

    /// The settings this tracker was built with.
    pub fn config(&self) -> &RoiConfig {
        &self.config
    }

    /// The state to persist, borrowed (embed it with `#[serde(flatten)]`).
    pub fn snapshot(&self) -> &RoiSnapshot {
        &self.state
    }

    /// Writes the snapshot to `path` as versioned JSON, atomically. Returns the
    /// bytes written.
    pub fn save(&self, path: &Path, durability: Durability) -> Result<u64> {
        Ok(persist::save_json(path, &self.state, durability)?)
    }

    /// Reads a snapshot saved by [`save`](Self::save). A missing file, or a
    /// corrupt one without a good backup, gives a fresh tracker; a file from a
    /// newer version is an error and is left untouched.
    pub fn load(path: &Path, config: RoiConfig) -> Result<Self> {
        match persist::load_json::<RoiSnapshot>(path)? {
            Some(snapshot) => Self::from_snapshot(config, snapshot),
            None => Self::new(config),
        }
    }
}

/// Appends `value`, dropping the oldest values beyond `bound`. Shared with
/// the meta logger and the energy score.
pub(crate) fn push_bounded<T>(series: &mut VecDeque<T>, value: T, bound: usize) {
    if series.len() >= bound {
        series.pop_front();
    }
    series.push_back(value);
}

/// Drops the oldest values beyond `bound`.
pub(crate) fn keep_newest<T>(series: &mut VecDeque<T>, bound: usize) {
    let excess = series.len().saturating_sub(bound);
    series.drain(..excess);
}

/// The last `min(n, len)` values of `series`, oldest first.
fn newest(series: &VecDeque<f64>, n: usize) -> impl ExactSizeIterator<Item = f64> + Clone {
    series.range(series.len().saturating_sub(n)..).copied()
}

/// How many of the newest values are bit-identical to the newest one, at
/// most [`ANOMALY_WINDOW`].
fn newest_run(history: &VecDeque<f64>) -> usize {
    let newest = history.back().map(|b| b.to_bits());
    history
        .iter()
        .rev()
        .take(ANOMALY_WINDOW)
        .take_while(|v| Some(v.to_bits()) == newest)
        .count()
}

/// The share of the last [`ANOMALY_WINDOW`] deltas more than
/// [`ANOMALY_SIGMAS`] population standard deviations from their mean.
///
/// A window whose values are all the same `x` gives exactly 0, which lets
/// [`RoiTracker::record_delta`] skip the scan: every deviation is the same
/// `d = x − mean`, and the computed std is `|d|` within a relative error far
/// below 2/3 (sums of equal terms; when `d²` is subnormal, its rounding to a
/// multiple of the smallest subnormal keeps it above 2/3 of itself, or sends
/// it to 0, where the std is 0), so no `|d|` exceeds `3·std`.
/// `anomaly_rate_skips_scanning_equal_windows_exactly` checks it against
/// this scan.
fn anomaly_rate(history: &VecDeque<f64>) -> f64 {
    let window = newest(history, ANOMALY_WINDOW);
    let n = window.len();
    if n < 2 {
        return 0.0;
    }
    let (mean, std) = mean_std(window.clone());
    if std == 0.0 {
        return 0.0;
    }
    let limit = ANOMALY_SIGMAS * std;
    let anomalies = window.filter(|d| (d - mean).abs() > limit).count();
    anomalies as f64 / n as f64
}

/// SPEC §2's long-term trend of the profit readings.
fn trend(samples: &VecDeque<f64>) -> f64 {
    let n = samples.len();
    if n < 2 {
        return 0.0;
    }
    let half = (n / 2).max(1);
    let older = mean(samples.range(..half).copied());
    if older == 0.0 {
        return 0.0;
    }
    let newer = mean(samples.range(half..).copied());
    saturate((newer - older) / older.abs())
}

/// `x` with ±∞ saturated to `±f64::MAX`.
fn saturate(x: f64) -> f64 {
    x.clamp(f64::MIN, f64::MAX)
}

/// The mean of `values` (0 when empty), saturated to `f64`'s range.
fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(sum, n), v| (sum + v, n + 1));
    if n == 0 {
        0.0
    } else {
        saturate(sum / n as f64)
    }
}

/// The mean and the population standard deviation of `values` (0, 0 when
/// empty), in two passes and without allocating. Shared with the meta logger.
pub(crate) fn mean_std(values: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let m = mean(values.clone());
    let variance = mean(values.map(|v| (v - m) * (v - m)));
    (m, variance.sqrt())
}

#[cfg(test)]
pub(crate) mod tests;
