//! Starting values for the likelihood search (Hannan–Rissanen).
//!
//! For a pure AR(p), the conditional least-squares fit of `x_t` on its p lags.
//! With an MA part, Hannan and Rissanen's two steps: a long AR(m) fitted by
//! Yule–Walker (m ≈ 10·log₁₀ n, at most n/3) estimates the innovations
//! `ε̂_t`; then least squares of `x_t` on `x_{t−1..p}` and `ε̂_{t−1..q}` gives
//! the coefficients. A part that comes out non-stationary or non-invertible
//! starts from 0 instead; every start is returned in the optimiser's
//! unconstrained coordinates, clipped to `|u| ≤ 5` (|partial autocorrelation|
//! ≤ 0.98) so the first simplex is not lost on a plateau.

use super::arma::{levinson_step, unconstrain_ar, unconstrain_ma};
use super::linalg::solve;

/// The largest |u| a start may have.
const MAX_START: f64 = 5.0;

/// The unconstrained start for ARMA(`p`, `q`) on standardised, zero-mean `xs`:
/// `p` AR then `q` MA coordinates.
pub(crate) fn start_values(xs: &[f64], p: usize, q: usize) -> Vec<f64> {
    let zeros = || vec![0.0; p + q];
    if p + q == 0 {
        return Vec::new();
    }
    let (innovations, first) = if q == 0 {
        (Vec::new(), p)
    } else {
        let n = xs.len();
        let long = ((10.0 * (n as f64).log10()).round() as usize)
            .min(n / 3)
            .max(p.max(q) + 1);
        let Some(phi) = yule_walker(xs, long) else {
            return zeros();
        };
        let residuals = (0..n)
            .map(|t| {
                if t < long {
                    0.0
                } else {
                    xs[t] - (0..long).map(|j| phi[j] * xs[t - 1 - j]).sum::<f64>()
                }
            })
            .collect();
        (residuals, long + q)
    };
    let Some(beta) = least_squares(xs, &innovations, p, q, first) else {
        return zeros();
    };
    let ar = unconstrain_ar(&beta[..p]).unwrap_or_else(|| vec![0.0; p]);
    let ma = unconstrain_ma(&beta[p..]).unwrap_or_else(|| vec![0.0; q]);
    ar.into_iter()
        .chain(ma)
        .map(|u| u.clamp(-MAX_START, MAX_START))
        .collect()
}

/// Yule–Walker AR(`m`) coefficients from the biased sample autocovariances
/// (always stationary); `None` for a series with no variance.
fn yule_walker(xs: &[f64], m: usize) -> Option<Vec<f64>> {
    let n = xs.len() as f64;
    let gamma: Vec<f64> = (0..=m)
        .map(|h| xs[h..].iter().zip(xs).map(|(a, b)| a * b).sum::<f64>() / n)
        .collect();
    if gamma[0] <= 0.0 {
        return None;
    }
    let mut phi = Vec::with_capacity(m);
    let mut v = gamma[0];
    for k in 1..=m {
        let r = (gamma[k] - (0..k - 1).map(|j| phi[j] * gamma[k - 1 - j]).sum::<f64>()) / v;
        if r.is_nan() || r.abs() >= 1.0 {
            break;
        }
        levinson_step(&mut phi, r);
        v *= 1.0 - r * r;
    }
    phi.resize(m, 0.0);
    Some(phi)
}

/// Least squares of `x_t` on `x_{t−1..p}` and `e_{t−1..q}` for `t ≥ first`
/// (a tiny ridge keeps collinear columns solvable). `None` with too few rows.
fn least_squares(xs: &[f64], e: &[f64], p: usize, q: usize, first: usize) -> Option<Vec<f64>> {
    let k = p + q;
    if xs.len() < first + k + 1 {
        return None;
    }
    let mut xtx = vec![0.0; k * k];
    let mut xty = vec![0.0; k];
    let mut row = vec![0.0; k];
    for t in first..xs.len() {
        for i in 0..p {
            row[i] = xs[t - 1 - i];
        }
        for j in 0..q {
            row[p + j] = e[t - 1 - j];
        }
        for i in 0..k {
            xty[i] += row[i] * xs[t];
            for j in 0..k {
                xtx[i * k + j] += row[i] * row[j];
            }
        }
    }
    let ridge = 1e-10 * (0..k).map(|i| xtx[i * k + i]).sum::<f64>() / k as f64;
    for i in 0..k {
        xtx[i * k + i] += ridge;
    }
    solve(&mut xtx, &mut xty)?;
    Some(xty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forecast::arma::{constrain_ar, constrain_ma};
    use crate::forecast::sim::simulate;

    #[test]
    fn hannan_rissanen_lands_near_the_true_coefficients() {
        let xs = simulate(&[0.5], &[0.4], 2000, 7);
        let u = start_values(&xs, 1, 1);
        let (phi, theta) = (constrain_ar(&u[..1]), constrain_ma(&u[1..]));
        assert!((phi[0] - 0.5).abs() < 0.1, "{phi:?}");
        assert!((theta[0] - 0.4).abs() < 0.1, "{theta:?}");
        let xs = simulate(&[0.6, -0.3], &[], 2000, 8);
        let phi = constrain_ar(&start_values(&xs, 2, 0));
        assert!(
            (phi[0] - 0.6).abs() < 0.06 && (phi[1] + 0.3).abs() < 0.06,
            "{phi:?}"
        );
    }

    #[test]
    fn degenerate_inputs_start_from_zero() {
        assert_eq!(start_values(&[0.0; 30], 1, 1), vec![0.0, 0.0]);
        assert_eq!(start_values(&[1.0, -1.0, 0.5], 2, 2), vec![0.0; 4]);
        assert!(start_values(&[1.0, 2.0], 0, 0).is_empty());
    }
}
