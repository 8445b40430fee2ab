//! Quantiles of Student's t distribution with a whole number of degrees of
//! freedom, for the linear fallback's prediction interval.
//!
//! For integer ν the two-sided probability `A(t | ν) = P(|T| ≤ t)` has a
//! closed form (Abramowitz & Stegun 26.7.3–4), with `θ = atan(t / √ν)`:
//! - ν = 1: `A = 2θ/π`;
//! - ν odd > 1: `A = (2/π)[θ + sin θ (cos θ + (2/3)cos³θ + … + (2·4⋯(ν−3))/(3·5⋯(ν−2)) cos^{ν−2}θ)]`;
//! - ν even: `A = sin θ [1 + (1/2)cos²θ + (1·3)/(2·4)cos⁴θ + … + (1·3⋯(ν−3))/(2·4⋯(ν−2)) cos^{ν−2}θ]`.
//!
//! Every term is positive (no cancellation), so `A` is accurate to a few ulps;
//! the quantile is found by bisection on this monotone function.

use std::f64::consts::PI;

/// `P(|T| ≤ t)` for `t ≥ 0` and `nu ≥ 1` degrees of freedom.
fn two_sided(t: f64, nu: u64) -> f64 {
    let theta = (t / (nu as f64).sqrt()).atan();
    let (s, c) = theta.sin_cos();
    let c2 = c * c;
    if nu % 2 == 1 {
        let mut term = c;
        let mut sum = if nu > 1 { c } else { 0.0 };
        for k in 1..=(nu.saturating_sub(3) / 2) {
            term *= (2 * k) as f64 / (2 * k + 1) as f64 * c2;
            sum += term;
        }
        2.0 / PI * (theta + s * sum)
    } else {
        let mut term = 1.0;
        let mut sum = 1.0;
        for k in 1..=((nu - 2) / 2) {
            term *= (2 * k - 1) as f64 / (2 * k) as f64 * c2;
            sum += term;
        }
        s * sum
    }
}

/// The `p` quantile of Student's t with `nu ≥ 1` degrees of freedom, for
/// `p` in `[0.5, 1)`.
pub(crate) fn quantile(p: f64, nu: u64) -> f64 {
    debug_assert!((0.5..1.0).contains(&p) && nu >= 1);
    let target = 2.0 * p - 1.0;
    let mut hi = 1.0;
    while two_sided(hi, nu) < target {
        hi *= 2.0;
    }
    let mut lo = 0.0;
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if two_sided(mid, nu) < target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_forms_for_small_nu() {
        // ν = 2: A = t / √(2 + t²); ν = 3: A = (2/π)(θ + sin θ cos θ).
        for t in [0.1, 1.0, 4.3, 30.0] {
            assert!((two_sided(t, 2) - t / (2.0 + t * t).sqrt()).abs() < 1e-15);
            let th = (t / 3f64.sqrt()).atan();
            assert!((two_sided(t, 3) - 2.0 / PI * (th + th.sin() * th.cos())).abs() < 1e-15);
        }
        // ν = 1 is the Cauchy distribution: the 0.975 quantile is tan(0.475π).
        assert!((quantile(0.975, 1) - (0.475 * PI).tan()).abs() < 1e-10);
    }

    #[test]
    fn large_nu_approaches_the_normal() {
        let q = quantile(0.975, 100_000);
        assert!((q - 1.959_963_984_540_054).abs() < 1e-4, "{q}");
    }
}
