//! A fitted ARIMA(p, d, q) model: maximum-likelihood fit of one order, the
//! choice of order by AIC, the one-step forecast from the filter's state and
//! the cheap update with each new point.
//!
//! **Standardisation.** Before fitting, the series (the history for d = 0, its
//! first differences for d = 1) is divided by the history's largest |value|
//! `m` (so nothing overflows, even for values near `f64::MAX`), then centred
//! on its mean `c` and divided by its standard deviation `s`. The fit runs on
//! this unit-variance series and the results are mapped back:
//! `log L = log L_std − n·ln(m·s)` (the Jacobian), so the log-likelihood
//! and AIC are those of the original data, as statsmodels reports them. A series whose standard deviation is below `1e-12` of `m`
//! is **constant** ([`ForecastError::Constant`]): every model fits it exactly
//! and its likelihood is unbounded.

use serde::{Deserialize, Serialize};

use super::arma::{
    FilterState, MAX_LAG, StateSpace, constrain_ar, constrain_ma, profile, unconstrain_ar,
    unconstrain_ma,
};
use super::neldermead::{Tolerances, minimize};
use super::start::start_values;
use super::{ArimaOrder, Forecast, ForecastError, Order, Z_975};

/// A relative standard deviation below this makes a series constant.
const CONSTANT_TOL: f64 = 1e-12;

/// The series a model of one `d` is fitted to, standardised.
#[derive(Clone, Debug)]
struct Standardized {
    /// `m`: the history's largest |value|.
    scale: f64,
    /// `c`: the mean of the (differenced) series divided by `m`.
    center: f64,
    /// `s`: the standard deviation of the (differenced) series divided by `m`.
    spread: f64,
    /// `(series / m − c) / s`.
    xs: Vec<f64>,
}

impl Standardized {
    /// Standardises `history` (or its differences when `d = 1`).
    fn new(history: &[f64], d: u8) -> Option<Standardized> {
        let scale = history.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        if scale == 0.0 {
            return None;
        }
        let u: Vec<f64> = match d {
            0 => history.iter().map(|y| y / scale).collect(),
            _ => history
                .windows(2)
                .map(|w| w[1] / scale - w[0] / scale)
                .collect(),
        };
        let n = u.len() as f64;
        let center = u.iter().sum::<f64>() / n;
        let spread = (u.iter().map(|v| (v - center).powi(2)).sum::<f64>() / n).sqrt();
        if spread <= CONSTANT_TOL {
            return None;
        }
        let xs = u.iter().map(|v| (v - center) / spread).collect();
        Some(Standardized {
            scale,
            center,
            spread,
            xs,
        })
    }
}

/// A fitted ARIMA(p, d, q) with a constant mean (d = 0) or drift (d = 1),
/// and the Kalman filter's state after the last point it has seen.
///
/// Serialisable: persist it to resume forecasting without refitting.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArimaModel {
    order: ArimaOrder,
    ar: Vec<f64>,
    ma: Vec<f64>,
    /// `m`, `c`, `s` of the standardisation.
    scale: f64,
    center: f64,
    spread: f64,
    /// ML mean and innovation variance of the standardised series.
    mean_std: f64,
    sigma2_std: f64,
    llf: f64,
    aic: f64,
    /// The log-density of the first point under the fitted stationary model
    /// (d = 0); 0 for d = 1.
    llf_first: f64,
    /// Points the likelihood was computed on (`n − d`).
    nobs: usize,
    /// Points seen in all: the fitted history and every later observation.
    seen: usize,
    /// The last point seen (the level a d = 1 forecast starts from).
    last: f64,
    converged: bool,
    filter: FilterState,
}

impl ArimaModel {
    /// Fits `order` to `history` by exact maximum likelihood.
    ///
    /// Errors: a non-finite value ([`ForecastError::NonFinite`]), an order
    /// outside p, q ≤ 2, d ≤ 1 ([`ForecastError::Order`]), fewer than
    /// `d + p + q + 3` points ([`ForecastError::TooShort`]), a constant series
    /// ([`ForecastError::Constant`]), no parameters with a finite likelihood
    /// ([`ForecastError::NoLikelihood`]).
    pub fn fit(history: &[f64], order: ArimaOrder) -> Result<ArimaModel, ForecastError> {
        order.check()?;
        check_history(history)?;
        let needed = order.min_points();
        if history.len() < needed {
            return Err(ForecastError::TooShort {
                order,
                len: history.len(),
                needed,
            });
        }
        if Standardized::new(history, order.d).is_none() {
            return Err(ForecastError::Constant { order });
        }
        fit_family(history, order.d, order.p, order.q)
            .pop()
            .expect("a family holds at least its own order")
    }

    /// Fits every order with p, q ≤ 2 and d ≤ 1 and chooses by AIC.
    ///
    /// Within each d, the smallest AIC wins (statsmodels' AIC; the first in
    /// the order p, q on a tie). Between the best d = 0 and the best d = 1
    /// model, the AICs compared are those of the same observations: the
    /// d = 1 likelihood is that of `y₂ … y_n` given `y₁`, so the d = 0 one
    /// drops its first point's density ([`aic_after_first`](Self::aic_after_first)).
    /// Comparing the two full AICs, as a plain loop over statsmodels' fits
    /// does, is not scale-invariant: multiplying the history by `c` moves
    /// the d = 0 AICs by `2 ln c` against the d = 1 ones, so the unit of the
    /// ROI (or `roi_scale`) would change the model. On a tie d = 0 wins.
    ///
    /// A history whose differences are constant (an exact line, a constant
    /// included) is [`ForecastError::Constant`]: a d = 1 model fits it
    /// exactly, so no finite AIC can be compared. When no order can be
    /// fitted, the error of the first order tried, ARIMA(0, 0, 0), says why.
    pub fn select(history: &[f64]) -> Result<ArimaModel, ForecastError> {
        check_history(history)?;
        if history.len() > 1 && Standardized::new(history, 1).is_none() {
            // An exact line (a constant included): the d = 1 likelihood is
            // unbounded, so it beats any stationary model.
            return Err(ForecastError::Constant {
                order: ArimaOrder::new(0, 1, 0),
            });
        }
        let mut best: [Option<ArimaModel>; 2] = [None, None];
        let mut first_error = None;
        for d in 0..=1 {
            for fitted in fit_family(history, d, MAX_ORDER, MAX_ORDER) {
                match fitted {
                    Ok(m) if best[usize::from(d)].as_ref().is_none_or(|b| m.aic < b.aic) => {
                        best[usize::from(d)] = Some(m)
                    }
                    Ok(_) => {}
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            }
        }
        match best {
            [Some(level), Some(diff)] if diff.aic < level.aic_after_first() => Ok(diff),
            [Some(level), _] => Ok(level),
            [None, Some(diff)] => Ok(diff),
            [None, None] => Err(first_error.expect("at least one order was tried")),
        }
    }

    /// The order.
    pub fn order(&self) -> ArimaOrder {
        self.order
    }

    /// The AR coefficients `φ₁, …, φ_p` (statsmodels' signs: `w_t = φ₁w_{t−1} + … + ε_t + …`).
    pub fn ar(&self) -> &[f64] {
        &self.ar
    }

    /// The MA coefficients `θ₁, …, θ_q` (`… + ε_t + θ₁ε_{t−1} + …`).
    pub fn ma(&self) -> &[f64] {
        &self.ma
    }

    /// The mean of the series (d = 0) or the drift per step (d = 1).
    pub fn mean(&self) -> f64 {
        saturate(self.scale * (self.center + self.spread * self.mean_std))
    }

    /// The innovation variance `σ²` (saturated at `f64::MAX` for histories
    /// whose scale squared overflows).
    pub fn sigma2(&self) -> f64 {
        let sd = self.scale * self.spread;
        saturate(sd * sd * self.sigma2_std)
    }

    /// The maximised log-likelihood of the fitted history.
    pub fn llf(&self) -> f64 {
        self.llf
    }

    /// Akaike's information criterion, `−2 log L + 2k`, `k = p + q + 2` (the
    /// mean or drift, and `σ²`), as statsmodels counts it.
    pub fn aic(&self) -> f64 {
        self.aic
    }

    /// The AIC of the likelihood of every point but the first, given the
    /// first: `aic() + 2·log f(y₁)` for d = 0 (`f` the model's stationary
    /// density), `aic()` for d = 1 (whose likelihood already is that).
    /// Comparable across d, and what [`select`](Self::select) compares them by.
    pub fn aic_after_first(&self) -> f64 {
        self.aic + 2.0 * self.llf_first
    }

    /// How many points the likelihood was computed on (`n − d`).
    pub fn nobs(&self) -> usize {
        self.nobs
    }

    /// `true` when the optimiser met its tolerances (rather than its budget).
    pub fn converged(&self) -> bool {
        self.converged
    }

    /// The next value's forecast with its 95% interval, from the filter's
    /// state: `O(1)`. `None` when it lies beyond `f64`'s range.
    pub fn forecast(&self) -> Option<Forecast> {
        let (z, f) = self.filter.prediction();
        // In units of the history divided by `m`, then scaled back.
        let base = if self.order.d == 1 {
            self.last / self.scale
        } else {
            0.0
        };
        let mid = base + self.center + self.spread * (self.mean_std + z);
        let half = Z_975 * self.spread * (self.sigma2_std * f).sqrt();
        let out = Forecast {
            mean: self.scale * mid,
            lower: self.scale * (mid - half),
            upper: self.scale * (mid + half),
            order: Order::Arima(self.order),
            aic: Some(self.aic),
        };
        out.is_finite().then_some(out)
    }

    /// Takes in the next point of the series with the parameters held fixed:
    /// one Kalman step, `O((p + q)²)` at most and `O(p + q)` once the filter
    /// is steady. A value that is not finite, or that the model's scale cannot
    /// represent (its standardised form overflows), is refused and changes
    /// nothing: refit then.
    pub fn observe(&mut self, value: f64) -> Result<(), ForecastError> {
        if !value.is_finite() {
            return Err(ForecastError::NonFinite {
                index: self.seen,
                value,
            });
        }
        let u = match self.order.d {
            0 => value / self.scale,
            _ => value / self.scale - self.last / self.scale,
        };
        let x = (u - self.center) / self.spread;
        if !x.is_finite() {
            return Err(ForecastError::OutOfScale {
                order: self.order,
                index: self.seen,
                value,
            });
        }
        let ss = StateSpace::new(&self.ar, &self.ma);
        self.filter.update(&ss, x - self.mean_std);
        self.last = value;
        self.seen += 1;
        Ok(())
    }

    /// Checks a model read from a file: the order, the coefficients'
    /// stationarity and invertibility, and the signs of the scales and
    /// variances. Returns the name of the first field that is wrong and why.
    pub(crate) fn check(&self) -> Result<(), (&'static str, String, &'static str)> {
        let o = self.order;
        if o.check().is_err() {
            return Err(("order", o.to_string(), "p, q <= 2 and d <= 1"));
        }
        if self.ar.len() != usize::from(o.p) || unconstrain_ar(&self.ar).is_none() {
            return Err((
                "ar",
                format!("{:?}", self.ar),
                "p stationary AR coefficients",
            ));
        }
        if self.ma.len() != usize::from(o.q) || unconstrain_ma(&self.ma).is_none() {
            return Err((
                "ma",
                format!("{:?}", self.ma),
                "q invertible MA coefficients",
            ));
        }
        for (what, v) in [
            ("scale", self.scale),
            ("spread", self.spread),
            ("sigma2_std", self.sigma2_std),
        ] {
            if !(v > 0.0 && v.is_finite()) {
                return Err((what, v.to_string(), "a finite number greater than 0"));
            }
        }
        let f = self.filter.p[0][0];
        if !(f >= 1.0 - 1e-9 && f.is_finite()) {
            return Err((
                "filter.p",
                f.to_string(),
                "a one-step variance of at least 1",
            ));
        }
        Ok(())
    }
}

/// The largest p and q, as the type of [`ArimaOrder`]'s fields.
const MAX_ORDER: u8 = MAX_LAG as u8;

/// Fits ARIMA(p, `d`, q) for every p ≤ `max_p`, q ≤ `max_q`, in the order
/// p then q, each searched from the optima of its nested orders (p − 1, q)
/// and (p, q − 1) as well as its own starts: a larger order's likelihood is
/// then never below a nested one's. One result per order, in that order.
fn fit_family(
    history: &[f64],
    d: u8,
    max_p: u8,
    max_q: u8,
) -> Vec<Result<ArimaModel, ForecastError>> {
    let data = Standardized::new(history, d);
    let mut optima: [[Option<Vec<f64>>; MAX_LAG + 1]; MAX_LAG + 1] = Default::default();
    let mut out = Vec::new();
    for p in 0..=max_p {
        for q in 0..=max_q {
            let order = ArimaOrder { p, d, q };
            let (pu, qu) = (usize::from(p), usize::from(q));
            let result = match &data {
                _ if history.len() < order.min_points() => Err(ForecastError::TooShort {
                    order,
                    len: history.len(),
                    needed: order.min_points(),
                }),
                None => Err(ForecastError::Constant { order }),
                Some(data) => {
                    // A nested optimum is a point of this order's space: a zero
                    // partial autocorrelation appended to its AR or MA part.
                    let mut nested = Vec::new();
                    if let Some(Some(u)) = pu.checked_sub(1).map(|pp| &optima[pp][qu]) {
                        let mut u = u.clone();
                        u.insert(pu - 1, 0.0);
                        nested.push(u);
                    }
                    if let Some(Some(u)) = qu.checked_sub(1).map(|qq| &optima[pu][qq]) {
                        let mut u = u.clone();
                        u.push(0.0);
                        nested.push(u);
                    }
                    fit_standardized(history, data, order, nested).map(|(model, u)| {
                        optima[pu][qu] = Some(u);
                        model
                    })
                }
            };
            out.push(result);
        }
    }
    out
}

/// The search's first phase: a coarse search from each start.
const EXPLORE: Tolerances = Tolerances {
    f_tol: 1e-6,
    x_tol: 1e-3,
    step: 0.3,
    max_evals: 400,
    max_restarts: 0,
};

/// The second phase: the best of the first polished, with restarts (the
/// objective is `ln σ̂² + mean ln F`, so `f_tol` is a change of
/// `n·f_tol/2` in the log-likelihood).
const POLISH: Tolerances = Tolerances {
    f_tol: 1e-10,
    x_tol: 1e-5,
    step: 0.05,
    max_evals: 1000,
    max_restarts: 1,
};

/// Fits `order` to the standardised `data` of `history`, searching from
/// Hannan–Rissanen estimates and the `nested` optima (white noise when there
/// are none). Returns the
/// model and its optimum in the optimiser's coordinates.
fn fit_standardized(
    history: &[f64],
    data: &Standardized,
    order: ArimaOrder,
    nested: Vec<Vec<f64>>,
) -> Result<(ArimaModel, Vec<f64>), ForecastError> {
    let (p, q) = (usize::from(order.p), usize::from(order.q));
    let xs = &data.xs;
    let objective = |u: &[f64]| {
        let (ar, ma) = coefficients(u, p);
        profile(&ar, &ma, xs).map_or(f64::INFINITY, |r| r.objective)
    };
    let mut starts = vec![start_values(xs, p, q)];
    if nested.is_empty() {
        starts.push(vec![0.0; p + q]);
    }
    starts.extend(nested);
    // Starts within 0.01 of an earlier one (after clipping) add nothing.
    let mut distinct: Vec<Vec<f64>> = Vec::with_capacity(starts.len());
    for s in starts {
        let s: Vec<f64> = s.iter().map(|v| v.clamp(-MAX_U, MAX_U)).collect();
        let near = |t: &Vec<f64>| t.iter().zip(&s).all(|(a, b)| (a - b).abs() < 0.01);
        if !distinct.iter().any(near) {
            distinct.push(s);
        }
    }
    let best = if p + q == 0 {
        minimize(objective, &[], POLISH)
    } else {
        let coarse = distinct
            .iter()
            .map(|s| minimize(objective, s, EXPLORE))
            .min_by(|a, b| a.f.total_cmp(&b.f))
            .expect("at least two starts");
        let polished = minimize(objective, &coarse.x, POLISH);
        if polished.f <= coarse.f {
            polished
        } else {
            coarse
        }
    };
    let (ar, ma) = coefficients(&best.x, p);
    let fit = match profile(&ar, &ma, xs) {
        Some(fit) if best.f.is_finite() => fit,
        _ => return Err(ForecastError::NoLikelihood { order }),
    };
    let nobs = xs.len();
    let log_unit = data.scale.ln() + data.spread.ln();
    let llf = fit.llf - nobs as f64 * log_unit;
    let llf_first = if order.d == 0 {
        // y₁ ~ N(μ, σ² F₁), F₁ the stationary variance in units of σ².
        let var = fit.sigma2 * fit.first_f;
        let v = xs[0] - fit.mean;
        -0.5 * ((2.0 * std::f64::consts::PI * var).ln() + v * v / var) - log_unit
    } else {
        0.0
    };
    let aic = -2.0 * llf + 2.0 * (p + q + 2) as f64;
    let model = ArimaModel {
        order,
        ar,
        ma,
        scale: data.scale,
        center: data.center,
        spread: data.spread,
        mean_std: fit.mean,
        sigma2_std: fit.sigma2,
        llf,
        aic,
        llf_first,
        nobs,
        seen: history.len(),
        last: history[history.len() - 1],
        converged: best.converged,
        filter: fit.end,
    };
    Ok((model, best.x))
}

/// The largest |u| the search uses: a partial autocorrelation of 0.99995.
/// Optima on the boundary (a root on the unit circle, common for
/// over-differenced series) are approached this far instead of the simplex
/// drifting towards infinity.
const MAX_U: f64 = 100.0;

/// The AR and MA coefficients at the optimiser's point `u` (`p` AR
/// coordinates first), each coordinate clipped to `±MAX_U`.
fn coefficients(u: &[f64], p: usize) -> (Vec<f64>, Vec<f64>) {
    let clipped: Vec<f64> = u.iter().map(|v| v.clamp(-MAX_U, MAX_U)).collect();
    (constrain_ar(&clipped[..p]), constrain_ma(&clipped[p..]))
}

/// `Ok` when every value is finite, else the first that is not.
fn check_history(history: &[f64]) -> Result<(), ForecastError> {
    match history.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(ForecastError::NonFinite {
            index,
            value: history[index],
        }),
        None => Ok(()),
    }
}

/// `x` with ±∞ saturated to `±f64::MAX`.
fn saturate(x: f64) -> f64 {
    x.clamp(-f64::MAX, f64::MAX)
}

impl ArimaOrder {
    /// `Ok` when p, q ≤ 2 and d ≤ 1.
    fn check(self) -> Result<(), ForecastError> {
        if usize::from(self.p) <= MAX_LAG && usize::from(self.q) <= MAX_LAG && self.d <= 1 {
            Ok(())
        } else {
            Err(ForecastError::Order { order: self })
        }
    }

    /// The fewest points a fit of this order accepts: one more than its
    /// parameters (p + q, the mean, σ²) after differencing.
    pub fn min_points(self) -> usize {
        usize::from(self.d) + usize::from(self.p) + usize::from(self.q) + 3
    }
}

#[cfg(test)]
#[path = "arima_tests.rs"]
mod tests;
