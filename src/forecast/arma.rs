//! ARMA(p, q) with p, q ≤ 2 as a state-space model, its exact Gaussian
//! likelihood by the Kalman filter, and the maps that keep its parameters
//! stationary and invertible.
//!
//! **Model.** `x_t = μ + w_t` with `φ(L) w_t = θ(L) ε_t`, `ε_t ~ N(0, σ²)`,
//! `φ(L) = 1 − φ₁L − φ₂L²`, `θ(L) = 1 + θ₁L + θ₂L²` (statsmodels' signs).
//!
//! **State space** (Harvey's form, `r = max(p, q + 1) ≤ 3`):
//! `w_t = α_t[0]`, `α_{t+1} = T α_t + R ε_{t+1}`, with `T`'s first column
//! `(φ₁, …, φ_r)`, ones on its superdiagonal, and `R = (1, θ₁, …, θ_{r−1})`.
//! The filter starts from the stationary distribution: `a₁ = 0` and `P₁`
//! solving the Lyapunov equation `P = T P Tᵀ + R Rᵀ` (solved directly, an
//! `r² × r²` system). All covariances are in units of `σ²`.
//!
//! **Filter** (no observation noise): innovation `v_t = w_t − a_t[0]`, its
//! variance `F_t = P_t[0][0]` (≥ 1), gain `k_t = P_t e₀ / F_t`; then
//! `a_{t+1} = T (a_t + k_t v_t)` and `P_{t+1} = T (P_t − F_t k_t k_tᵀ) Tᵀ + R Rᵀ`.
//! Once `P` stops changing (every entry within `1e-13` of the previous step)
//! it has reached its steady state and is frozen: from then on a step costs
//! `O(r)`, not `O(r²)`.
//!
//! **Profile likelihood.** `σ²` and `μ` are concentrated out: the filter is
//! linear in the data, so running it on `x` and on a column of ones (same `F_t`,
//! same gains) gives innovations `v_t(x)`, `v_t(1)`, and the exact ML (GLS)
//! mean is `μ̂ = Σ v(x)v(1)/F ÷ Σ v(1)²/F`, with `σ̂² = Σ (v(x) − μ̂ v(1))²/F ÷ n`
//! and `log L = −n/2 (ln 2π + 1 + ln σ̂²) − ½ Σ ln F_t`. The optimiser then only
//! searches the p + q ARMA coefficients, and minimises `ln σ̂² + (1/n) Σ ln F_t`.
//!
//! **Constraints.** The optimiser works on unconstrained reals `u`: each
//! becomes a partial autocorrelation `r = u / √(1 + u²)` in (−1, 1) and the
//! Durbin–Levinson recursion turns those into the coefficients of a stationary
//! AR polynomial (Jones 1980, as statsmodels does). MA coefficients use the
//! same map with both signs flipped, `θ = −c(−u)`, so `θ(z)` has its roots
//! outside the unit circle (invertible).

use serde::{Deserialize, Serialize};

use super::linalg::solve;

/// Largest AR or MA order.
pub(crate) const MAX_LAG: usize = 2;

/// Largest state dimension, `max(p, q + 1)`.
pub(crate) const DIM: usize = MAX_LAG + 1;

/// Entries of `P` that change by less than this between steps are steady.
const STEADY_TOL: f64 = 1e-13;

/// A profile `σ̂²` at or below this (data standardised to variance 1) is an
/// exact fit: the likelihood is unbounded there and the point is refused.
const MIN_SIGMA2: f64 = 1e-14;

/// A covariance matrix of the state, in units of `σ²`.
pub(crate) type Matrix = [[f64; DIM]; DIM];

/// Stationary AR coefficients from unconstrained reals (Jones 1980).
pub(crate) fn constrain_ar(u: &[f64]) -> Vec<f64> {
    let mut phi: Vec<f64> = Vec::with_capacity(u.len());
    for &uk in u {
        levinson_step(&mut phi, uk / (1.0 + uk * uk).sqrt());
    }
    phi
}

/// One Durbin–Levinson step: the AR(k) coefficients `phi` become those of
/// AR(k + 1) whose last partial autocorrelation is `r`:
/// `φ_j ← φ_j − r φ_{k+1−j}`, then `φ_{k+1} = r`.
pub(crate) fn levinson_step(phi: &mut Vec<f64>, r: f64) {
    let prev = phi.clone();
    for (j, p) in phi.iter_mut().enumerate() {
        *p -= r * prev[prev.len() - 1 - j];
    }
    phi.push(r);
}

/// The unconstrained reals that [`constrain_ar`] maps to `phi`; `None` when
/// `phi` is not stationary (a partial autocorrelation of magnitude ≥ 1).
pub(crate) fn unconstrain_ar(phi: &[f64]) -> Option<Vec<f64>> {
    let mut cur = phi.to_vec();
    let mut u = vec![0.0; phi.len()];
    for k in (0..phi.len()).rev() {
        let r = cur[k];
        if r.is_nan() || r.abs() >= 1.0 {
            return None;
        }
        let denom = 1.0 - r * r;
        let prev: Vec<f64> = (0..k)
            .map(|j| (cur[j] + r * cur[k - 1 - j]) / denom)
            .collect();
        u[k] = r / denom.sqrt();
        cur = prev;
    }
    Some(u)
}

/// Invertible MA coefficients from unconstrained reals: `θ = −c(−u)`.
pub(crate) fn constrain_ma(u: &[f64]) -> Vec<f64> {
    let neg: Vec<f64> = u.iter().map(|v| -v).collect();
    constrain_ar(&neg).into_iter().map(|v| -v).collect()
}

/// The inverse of [`constrain_ma`]; `None` when `theta` is not invertible.
pub(crate) fn unconstrain_ma(theta: &[f64]) -> Option<Vec<f64>> {
    let neg: Vec<f64> = theta.iter().map(|v| -v).collect();
    unconstrain_ar(&neg).map(|u| u.into_iter().map(|v| -v).collect())
}

/// `T` and `R` of an ARMA(p, q), p, q ≤ 2.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct StateSpace {
    r: usize,
    phi: [f64; DIM],
    rvec: [f64; DIM],
}

impl StateSpace {
    /// The state-space form of `φ`, `θ` (each at most [`MAX_LAG`] long).
    pub(crate) fn new(ar: &[f64], ma: &[f64]) -> Self {
        debug_assert!(ar.len() <= MAX_LAG && ma.len() <= MAX_LAG);
        let mut phi = [0.0; DIM];
        phi[..ar.len()].copy_from_slice(ar);
        let mut rvec = [0.0; DIM];
        rvec[0] = 1.0;
        rvec[1..=ma.len()].copy_from_slice(ma);
        StateSpace {
            r: ar.len().max(ma.len() + 1),
            phi,
            rvec,
        }
    }

    /// `T (a + k v)`: the next predicted state mean (`R` = the state dimension).
    #[inline(always)]
    fn predict<const R: usize>(&self, a: &[f64; DIM], k: &[f64; DIM], v: f64) -> [f64; DIM] {
        let head = a[0] + k[0] * v;
        let mut next = [0.0; DIM];
        for i in 0..R {
            let below = if i + 1 < R {
                a[i + 1] + k[i + 1] * v
            } else {
                0.0
            };
            next[i] = self.phi[i] * head + below;
        }
        next
    }

    /// `T M Tᵀ + R Rᵀ` (`R` = the state dimension).
    #[inline(always)]
    fn propagate<const R: usize>(&self, m: &Matrix) -> Matrix {
        let mut tm = [[0.0; DIM]; DIM];
        for i in 0..R {
            for j in 0..R {
                tm[i][j] = self.phi[i] * m[0][j] + if i + 1 < R { m[i + 1][j] } else { 0.0 };
            }
        }
        let mut out = [[0.0; DIM]; DIM];
        for i in 0..R {
            for j in 0..R {
                out[i][j] = tm[i][0] * self.phi[j]
                    + if j + 1 < R { tm[i][j + 1] } else { 0.0 }
                    + self.rvec[i] * self.rvec[j];
            }
        }
        out
    }

    /// The stationary state covariance: the solution of `P = T P Tᵀ + R Rᵀ`.
    /// `None` when the system is singular (a root on the unit circle) or the
    /// solution is not a valid variance.
    pub(crate) fn stationary_cov(&self) -> Option<Matrix> {
        let r = self.r;
        let n = r * r;
        let mut a = vec![0.0; n * n];
        let mut b = vec![0.0; n];
        // Row (i, j): P[i][j] − Σ_{k,l} T[i][k] T[j][l] P[k][l] = R_i R_j.
        let t = |i: usize, k: usize| -> f64 {
            if k == 0 {
                self.phi[i]
            } else if k == i + 1 {
                1.0
            } else {
                0.0
            }
        };
        for i in 0..r {
            for j in 0..r {
                let row = i * r + j;
                b[row] = self.rvec[i] * self.rvec[j];
                a[row * n + row] += 1.0;
                for k in 0..r {
                    for l in 0..r {
                        a[row * n + k * r + l] -= t(i, k) * t(j, l);
                    }
                }
            }
        }
        solve(&mut a, &mut b)?;
        let mut p = [[0.0; DIM]; DIM];
        for i in 0..r {
            for j in 0..r {
                p[i][j] = 0.5 * (b[i * r + j] + b[j * r + i]);
            }
        }
        (p[0][0] >= 1.0 - 1e-9 && p[0][0].is_finite()).then_some(p)
    }
}

/// The filter's state after the last observation: the predicted state mean of
/// the de-meaned series and its covariance. Persisted with a fitted model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct FilterState {
    /// Predicted state mean `a_{t+1}`.
    pub a: [f64; DIM],
    /// Its covariance `P_{t+1}`, in units of `σ²`.
    pub p: Matrix,
    /// `true` once `P` has reached its steady state (then frozen).
    pub steady: bool,
}

impl FilterState {
    /// The one-step prediction of the de-meaned series and its variance in
    /// units of `σ²`: `(a[0], P[0][0])`.
    pub(crate) fn prediction(&self) -> (f64, f64) {
        (self.a[0], self.p[0][0])
    }

    /// Takes in the next de-meaned observation `z`: one Kalman step.
    pub(crate) fn update(&mut self, ss: &StateSpace, z: f64) {
        match ss.r {
            1 => self.update_in::<1>(ss, z),
            2 => self.update_in::<2>(ss, z),
            _ => self.update_in::<3>(ss, z),
        }
    }

    fn update_in<const R: usize>(&mut self, ss: &StateSpace, z: f64) {
        let (k, f) = gain::<R>(&self.p);
        self.a = ss.predict::<R>(&self.a, &k, z - self.a[0]);
        advance::<R>(ss, &mut self.p, &mut self.steady, &k, f);
    }
}

/// `(P e₀ / F, F)`.
#[inline(always)]
fn gain<const R: usize>(p: &Matrix) -> ([f64; DIM], f64) {
    let f = p[0][0];
    let inv = 1.0 / f;
    let mut k = [0.0; DIM];
    for i in 0..R {
        k[i] = p[i][0] * inv;
    }
    (k, f)
}

/// `P ← T (P − F k kᵀ) Tᵀ + R Rᵀ`, unless it is already steady.
#[inline(always)]
fn advance<const R: usize>(
    ss: &StateSpace,
    p: &mut Matrix,
    steady: &mut bool,
    k: &[f64; DIM],
    f: f64,
) {
    if *steady {
        return;
    }
    let mut filtered = *p;
    for i in 0..R {
        for j in 0..R {
            filtered[i][j] -= f * k[i] * k[j];
        }
    }
    let next = ss.propagate::<R>(&filtered);
    let mut change = 0.0_f64;
    for i in 0..R {
        for j in 0..R {
            change = change.max((next[i][j] - p[i][j]).abs());
        }
    }
    *steady = change <= STEADY_TOL;
    *p = next;
}

/// The profile (concentrated) likelihood of standardised data at one set of
/// ARMA coefficients, and the filter's state after the last point.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Profile {
    /// The ML mean `μ̂` of the data.
    pub mean: f64,
    /// The ML innovation variance `σ̂²`.
    pub sigma2: f64,
    /// The maximised log-likelihood of the data.
    pub llf: f64,
    /// The minimised objective, `ln σ̂² + (1/n) Σ ln F_t`.
    pub objective: f64,
    /// `F₁`: the stationary variance of the series in units of `σ²`.
    pub first_f: f64,
    /// The filter's state for the de-meaned data `x − μ̂` after the last point.
    pub end: FilterState,
}

/// The exact Gaussian profile likelihood of `xs` under ARMA(`ar`, `ma`) with
/// an unknown mean. `None` when the coefficients are not stationary, the data
/// are fitted exactly (`σ̂²` ≤ 1e-14), or a number is not finite.
pub(crate) fn profile(ar: &[f64], ma: &[f64], xs: &[f64]) -> Option<Profile> {
    let ss = StateSpace::new(ar, ma);
    match ss.r {
        1 => profile_in::<1>(&ss, xs),
        2 => profile_in::<2>(&ss, xs),
        _ => profile_in::<3>(&ss, xs),
    }
}

/// [`profile`] with the state dimension `R` known at compile time.
fn profile_in<const R: usize>(ss: &StateSpace, xs: &[f64]) -> Option<Profile> {
    let mut p = ss.stationary_cov()?;
    let first_f = p[0][0];
    let mut steady = false;
    let (mut k, mut f) = gain::<R>(&p);
    let (mut inv_f, mut log_f) = (1.0 / f, f.ln());
    let (mut ax, mut a1) = ([0.0; DIM], [0.0; DIM]);
    let (mut sxx, mut sx1, mut s11, mut sum_log_f) = (0.0, 0.0, 0.0, 0.0);
    for &x in xs {
        let (vx, v1) = (x - ax[0], 1.0 - a1[0]);
        sxx += vx * vx * inv_f;
        sx1 += vx * v1 * inv_f;
        s11 += v1 * v1 * inv_f;
        sum_log_f += log_f;
        ax = ss.predict::<R>(&ax, &k, vx);
        a1 = ss.predict::<R>(&a1, &k, v1);
        // Once steady, the gain and F stay as they are.
        if !steady {
            advance::<R>(ss, &mut p, &mut steady, &k, f);
            (k, f) = gain::<R>(&p);
            (inv_f, log_f) = (1.0 / f, f.ln());
        }
    }
    let n = xs.len() as f64;
    let mean = sx1 / s11;
    let sigma2 = (sxx - sx1 * mean) / n;
    if !(sigma2 > MIN_SIGMA2 && sigma2.is_finite() && mean.is_finite()) {
        return None;
    }
    let objective = sigma2.ln() + sum_log_f / n;
    let llf = -0.5 * n * ((2.0 * std::f64::consts::PI).ln() + 1.0 + objective);
    let mut a = [0.0; DIM];
    for i in 0..DIM {
        a[i] = ax[i] - mean * a1[i];
    }
    Some(Profile {
        mean,
        sigma2,
        llf,
        objective,
        first_f,
        end: FilterState { a, p, steady },
    })
}

#[cfg(test)]
#[path = "arma_tests.rs"]
mod tests;
