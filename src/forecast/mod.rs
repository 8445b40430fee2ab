//! The built-in ROI forecaster: the next ROI delta, with a 95% interval, from
//! an engine's own history (issue 16 item 6). It feeds the `forecast` trigger
//! and the energy chain's forecast factor (SPEC §4, E2).
//!
//! # What it does
//! - **20 points or more** ([`ForecasterConfig::min_arima_points`]): every
//!   ARIMA(p, d, q) with p, q ≤ 2 and d ∈ {0, 1} is fitted by exact maximum
//!   likelihood and the one with the smallest AIC forecasts — as the
//!   reference system does with statsmodels' `ARIMA`. With d = 0 the model has
//!   a constant mean, `y_t = μ + w_t`; with d = 1 a drift,
//!   `Δy_t = δ + w_t` (statsmodels' `trend="c"` and `trend="t"`); in both
//!   `w` is a stationary, invertible ARMA(p, q) with Gaussian innovations:
//!   `w_t = φ₁w_{t−1} + φ₂w_{t−2} + ε_t + θ₁ε_{t−1} + θ₂ε_{t−2}`.
//! - **3 to 19 points**, or when no ARIMA can be fitted: a straight line
//!   fitted to the values by least squares on their index, with its 95%
//!   prediction interval ([`linear_forecast`]).
//! - **Fewer than 3 points**: no forecast (`None`).
//!
//! # Likelihood: exact, not conditional sum of squares
//! The fit maximises the **exact Gaussian likelihood**, computed by a Kalman
//! filter started from the stationary distribution (see `arma.rs` for the
//! state space and the recursions), as statsmodels does. Why not CSS:
//! - the reference numbers (and the AIC that picks the order) are
//!   statsmodels' exact-likelihood ones; CSS estimates differ from them by
//!   O(1/n), most on short histories and for MA roots near the unit circle —
//!   exactly the ROI histories an engine has early on;
//! - CSS drops the first p points, so candidates of different p are fitted
//!   to different samples and their AICs do not compare cleanly;
//! - the exact filter is cheap here: the state has at most 3 dimensions, and
//!   once its covariance is steady (a few steps for an AR, more for an MA
//!   near non-invertibility) a step costs a handful of multiply-adds.
//!
//! The mean (or drift) and `σ²` are concentrated out in closed form (GLS),
//! so the optimiser searches only the p + q ARMA coefficients. It works on
//! unconstrained reals mapped through partial autocorrelations (Jones 1980),
//! so every point it tries is stationary and invertible (clipped at a
//! partial autocorrelation of 0.99995, so optima on the boundary, such as
//! the MA unit root of an over-differenced series, are approached, not
//! chased to infinity). It is a Nelder–Mead simplex: a coarse search from
//! Hannan–Rissanen estimates and from the optima of the nested orders
//! (p − 1, q) and (p, q − 1) (white noise for ARIMA(p,d,0) and (0,d,q)'s
//! first), then the best of those polished with a restart. Fitting the
//! orders in increasing p and q this way, a larger order's likelihood is
//! never below a nested one's. Like any local search it can miss a distant
//! mode: against statsmodels, ours is higher on 28 of 126 candidate fits,
//! equal (within 0.01 in log L) on 97 and lower on one (a boundary mode, by
//! 0.78).
//!
//! **AIC** = `−2 log L + 2k` with `k = p + q + 2` (the ARMA coefficients, the
//! mean or drift, and `σ²`), as statsmodels counts; the smallest wins within
//! each d (the first in p, q on a tie). A d = 1 model's likelihood is that
//! of `y₂ … y_n` given `y₁` (statsmodels' diffuse start gives the same), so
//! the best d = 0 and d = 1 models are compared on those same points: the
//! d = 0 AIC without its first point's density
//! ([`ArimaModel::aic_after_first`]). **This is the one deliberate
//! departure from a plain loop over statsmodels' fits**, whose full AICs
//! compare likelihoods of different data: scaling the history by `c` moves
//! every d = 0 AIC by `2 ln c` against the d = 1 ones, so the unit of the ROI
//! (or `roi_scale`) would change the model (on the committed `ar1` history
//! the two best AICs are 0.43 apart: a change of unit by 1.25 flips it).
//! Here the choice is scale-invariant; on every committed history it is
//! statsmodels' choice.
//!
//! **The interval** is `ŷ ± 1.959964·σ̂·√F`, `F` the one-step variance from
//! the filter in units of `σ²` (1 once steady): it assumes Gaussian
//! innovations and, like statsmodels, ignores the uncertainty of the
//! estimated parameters, so it is somewhat narrow on short histories.
//!
//! # Degenerate histories
//! Nothing here panics on a finite input; a NaN or infinite delta is refused
//! at the door ([`Forecaster::observe`], [`ForecastError::NonFinite`]).
//! - Values are divided by the largest |value| before any sum, so histories
//!   near `f64::MAX` fit; a forecast beyond `f64`'s range is `None`.
//! - A constant history, or one whose differences are constant (an exact
//!   line), has an unbounded likelihood: no ARIMA is fitted
//!   ([`ForecastError::Constant`]) and the line fits exactly, with an
//!   interval of zero width, until a point breaks the pattern.
//! - A candidate whose likelihood cannot be computed, or that fits exactly
//!   (`σ̂²` below 1e-14 of the series' variance), is skipped; when all are,
//!   the linear fallback forecasts.
//!
//! # Cost: fit once, update cheaply
//! [`Forecaster`] keeps the history (the last 1,000 deltas by default) and
//! the chosen model with its filter state. [`Forecaster::observe`] refits —
//! all 18 candidates — only every [`ForecasterConfig::refit_every`] points
//! (default 10); in between it runs one Kalman step with the parameters held
//! fixed, `O((p + q)²)` and `O(p + q)` once steady. [`Forecaster::forecast`]
//! returns the cached forecast, `O(1)`: an engine may ask on every tick.
//! `benches/forecast.rs` measures choosing the order on 200 and 1,000 points
//! (119 ms and 461 ms on the project's shared 2-core machine under load: the
//! d = 1 candidates of a stationary series have MA roots near the unit
//! circle, where the filter never settles and every step costs `O(r²)`), one
//! update without a refit (40–160 ns) and the cached forecast (2.6 ns).
//!
//! # Persistence
//! [`ForecasterState`] (history, fitted model, points since the fit) is
//! plain serde; [`Forecaster::save`] and [`Forecaster::load`] write and read
//! it through [`crate::persist`]. A loaded model is checked (orders,
//! stationarity, invertibility, positive scales) and used without refitting.
//!
//! # Checked against statsmodels
//! `scripts/reference/forecast_reference.py` fits the same 18 candidates
//! with statsmodels on the committed histories in `tests/data/forecast/`
//! and prints its numbers to `tests/data/forecast/statsmodels.json`;
//! `tests/it/forecast_statsmodels.rs` holds every point forecast within 5% of
//! the history's standard deviation of statsmodels'.
//!
//! ```
//! use kaizen::forecast::{Forecaster, ForecasterConfig, Order};
//!
//! let mut f = Forecaster::new(ForecasterConfig::default())?;
//! for t in 0..40 {
//!     f.observe(0.5 + 0.3 * ((t * 7 % 5) as f64 - 2.0))?;
//! }
//! let next = f.forecast().expect("40 points give a forecast");
//! assert!(next.lower <= next.mean && next.mean <= next.upper);
//! assert!(matches!(next.order, Order::Arima(_)));
//! # Ok::<(), kaizen::Error>(())
//! ```

mod arima;
mod arma;
mod forecaster;
mod linalg;
mod linear;
mod neldermead;
#[cfg(test)]
mod sim;
mod start;

pub use arima::ArimaModel;
pub use forecaster::{Forecaster, ForecasterConfig, ForecasterState, Refit, Refitted, forecast};
pub use linear::{MIN_LINEAR_POINTS, linear_forecast};

use serde::{Deserialize, Serialize};
use std::fmt;

/// The 0.975 quantile of the standard normal distribution.
pub const Z_975: f64 = 1.959_963_984_540_054;

/// An ARIMA order: p AR lags, d differences, q MA lags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ArimaOrder {
    /// AR lags, at most 2.
    pub p: u8,
    /// Differences, 0 or 1.
    pub d: u8,
    /// MA lags, at most 2.
    pub q: u8,
}

impl ArimaOrder {
    /// ARIMA(`p`, `d`, `q`).
    pub fn new(p: u8, d: u8, q: u8) -> Self {
        ArimaOrder { p, d, q }
    }

    /// The 18 candidate orders, d then p then q ascending.
    pub fn all() -> impl Iterator<Item = ArimaOrder> {
        (0..=1)
            .flat_map(|d| (0..=2).flat_map(move |p| (0..=2).map(move |q| ArimaOrder { p, d, q })))
    }
}

impl fmt::Display for ArimaOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({},{},{})", self.p, self.d, self.q)
    }
}

/// Which model made a forecast.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum Order {
    /// The ARIMA chosen by AIC.
    Arima(ArimaOrder),
    /// The linear trend on the index (short or degenerate history).
    Linear,
}

impl fmt::Display for Order {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Order::Arima(o) => write!(f, "ARIMA{o}"),
            Order::Linear => f.write_str("linear"),
        }
    }
}

/// The next value's forecast and its 95% interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    /// The point forecast.
    pub mean: f64,
    /// The interval's lower end.
    pub lower: f64,
    /// The interval's upper end.
    pub upper: f64,
    /// The model that made it.
    pub order: Order,
    /// That model's AIC; `None` for the linear fallback (not chosen by AIC).
    pub aic: Option<f64>,
}

impl Forecast {
    /// `true` when every number is finite.
    fn is_finite(&self) -> bool {
        self.mean.is_finite()
            && self.lower.is_finite()
            && self.upper.is_finite()
            && self.aic.is_none_or(f64::is_finite)
    }
}

/// Why a model could not be fitted or could not take a point.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ForecastError {
    /// A value of the series is NaN or infinite.
    #[error("history[{index}] must be a finite number, got {value}")]
    NonFinite {
        /// Its position in the series (0 = oldest).
        index: usize,
        /// The value.
        value: f64,
    },
    /// An order outside p, q ≤ 2, d ≤ 1.
    #[error("ARIMA{order} is not offered: p and q must be at most 2 and d at most 1")]
    Order {
        /// The order asked for.
        order: ArimaOrder,
    },
    /// Too few points for the order's parameters.
    #[error("ARIMA{order} needs at least {needed} points, got {len}")]
    TooShort {
        /// The order.
        order: ArimaOrder,
        /// Points given.
        len: usize,
        /// Points needed.
        needed: usize,
    },
    /// The series (d = 0) or its differences (d = 1) are constant: every
    /// model fits exactly and the likelihood is unbounded.
    #[error("ARIMA{order} cannot be fitted: {} constant, so any model fits it exactly", constant_what(.order))]
    Constant {
        /// The order.
        order: ArimaOrder,
    },
    /// No stationary, invertible parameters gave a finite likelihood.
    #[error("ARIMA{order}: no stationary, invertible parameters give a finite likelihood")]
    NoLikelihood {
        /// The order.
        order: ArimaOrder,
    },
    /// A new point is too far beyond the fitted scale to standardise.
    #[error(
        "ARIMA{order} cannot take point {index} = {value}: it is beyond the scale the model was fitted on; refit"
    )]
    OutOfScale {
        /// The order.
        order: ArimaOrder,
        /// The point's position in the series.
        index: usize,
        /// The point.
        value: f64,
    },
}

/// What [`ForecastError::Constant`] found constant.
fn constant_what(order: &ArimaOrder) -> &'static str {
    if order.d == 0 {
        "the history is"
    } else {
        "the history's differences are"
    }
}

#[cfg(test)]
mod tests;
