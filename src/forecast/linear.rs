//! The fallback for short histories: ordinary least squares of the values on
//! their index, `y_i = a + b·i + e_i` (i = 0, …, n − 1), forecast at i = n.
//!
//! With `ī = (n − 1)/2`, `S_xx = Σ(i − ī)²`, `b = Σ(i − ī)(y_i − ȳ) / S_xx`,
//! the forecast is `ŷ = ȳ + b(n − ī)` and its 95% **prediction** interval
//! (for the next value, not for the line) is
//! `ŷ ± t_{0.975, n−2} · s · √(1 + 1/n + (n − ī)²/S_xx)` with
//! `s² = Σ residual² / (n − 2)`: it assumes independent, equal-variance
//! normal errors around a straight line. Needs n ≥ 3 (one degree of freedom
//! for `s`). Values are divided by the largest |value| first, so histories
//! near `f64::MAX` do not overflow; an exact line (a constant included) has a
//! zero-width interval.

use super::{Forecast, ForecastError, Order};
use crate::stats::student_t::upper_quantile;

/// The fewest points the linear fallback needs.
pub const MIN_LINEAR_POINTS: usize = 3;

/// The linear-trend forecast of the value after `history`, with its 95%
/// prediction interval. `Ok(None)` with fewer than [`MIN_LINEAR_POINTS`]
/// points or when the forecast lies beyond `f64`'s range; an error names the
/// first value that is not finite.
pub fn linear_forecast(history: &[f64]) -> Result<Option<Forecast>, ForecastError> {
    if let Some(index) = history.iter().position(|v| !v.is_finite()) {
        return Err(ForecastError::NonFinite {
            index,
            value: history[index],
        });
    }
    Ok(fallback(history.iter().copied(), history.len()))
}

/// [`linear_forecast`] of `n` finite values.
pub(crate) fn fallback(values: impl Iterator<Item = f64> + Clone, n: usize) -> Option<Forecast> {
    if n < MIN_LINEAR_POINTS {
        return None;
    }
    let scale = values.clone().fold(0.0_f64, |m, v| m.max(v.abs()));
    let scale = if scale > 0.0 { scale } else { 1.0 };
    let nf = n as f64;
    let ibar = (nf - 1.0) / 2.0;
    let sxx = nf * (nf * nf - 1.0) / 12.0;
    let ybar = values.clone().map(|v| v / scale).sum::<f64>() / nf;
    let sxy: f64 = values
        .clone()
        .enumerate()
        .map(|(i, v)| (i as f64 - ibar) * (v / scale - ybar))
        .sum();
    let slope = sxy / sxx;
    let sse: f64 = values
        .enumerate()
        .map(|(i, v)| (v / scale - ybar - slope * (i as f64 - ibar)).powi(2))
        .sum();
    let s = (sse / (nf - 2.0)).sqrt();
    let lever = 1.0 + 1.0 / nf + (nf - ibar).powi(2) / sxx;
    // The upper 2.5% point of t with n − 2 degrees of freedom (stats' quantile,
    // checked against mpmath there and against scipy in tests/it).
    let half = upper_quantile(0.025, nf - 2.0) * s * lever.sqrt();
    let mid = ybar + slope * (nf - ibar);
    let out = Forecast {
        mean: scale * mid,
        lower: scale * (mid - half),
        upper: scale * (mid + half),
        order: Order::Linear,
        aic: None,
    };
    out.is_finite().then_some(out)
}
