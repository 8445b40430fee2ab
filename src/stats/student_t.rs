//! Student's t distribution: its tails and their inverse, to near machine
//! precision for every `df > 0`.
//!
//! The tail of `t(ν)` is a regularised incomplete beta function:
//! `P(|T| > |t|) = I_x(ν/2, 1/2)` with `x = ν / (ν + t²)`. It is evaluated
//! here with three precautions that a textbook transcription lacks:
//! - `x`, `1 − x` and their logarithms are formed from `t²/ν` (or `ν/t²`)
//!   with `ln_1p`, never by subtracting from 1, so neither a tiny `t` nor a
//!   huge one loses digits;
//! - `ln B(a, b)` for a large `a` uses Stirling's series for the difference
//!   `ln Γ(a) − ln Γ(a + b)` instead of subtracting two large `ln Γ` values
//!   (which would lose ~`log10(a ln a)` digits at `ν` = 10⁶);
//! - the continued fraction (modified Lentz) runs until it has converged, not
//!   for a fixed number of terms: it needs `O(√a)` terms near its switch-over
//!   point, about 3,000 at `ν` = 10⁹.
//!
//! The inverse uses closed forms for `ν` = 1 and 2 and otherwise a
//! safeguarded Newton iteration on `ln P(T > t)` in `ln t`, bracketed so it
//! cannot diverge. `tests/data/stats/significance.json` holds scipy's values
//! (Boost's `students_t`) for `ν` from 1 to 10⁹ and tails down to 10⁻³⁰⁰; the
//! tests ask for a relative agreement of 1e-12.

use statrs::function::erf::erfc_inv;
use statrs::function::gamma::ln_gamma;

use super::normal;

/// Upper tail `P(T > t)` of Student's t with `df` degrees of freedom.
///
/// Assumes `df > 0` (finite) and `t` not NaN; `t` may be infinite.
pub(crate) fn sf(t: f64, df: f64) -> f64 {
    let p = two_sided_p(t, df);
    if t >= 0.0 { 0.5 * p } else { 1.0 - 0.5 * p }
}

/// Two-sided tail `P(|T| > |t|)` of Student's t with `df` degrees of freedom.
///
/// Assumes `df > 0` (finite) and `t` not NaN; `t` may be infinite.
pub(crate) fn two_sided_p(t: f64, df: f64) -> f64 {
    let t = t.abs();
    if t == 0.0 {
        return 1.0;
    }
    if t.is_infinite() {
        return 0.0;
    }
    // r = |t| / √ν; x = 1/(1 + r²), y = 1 − x = r²/(1 + r²), both formed
    // without a subtraction from 1.
    let ln_r = t.ln() - 0.5 * df.ln();
    let (x, y, ln_x, ln_y) = if ln_r <= 0.0 {
        let z = (2.0 * ln_r).exp(); // r² ≤ 1
        let l = z.ln_1p();
        (1.0 / (1.0 + z), z / (1.0 + z), -l, 2.0 * ln_r - l)
    } else {
        let w = (-2.0 * ln_r).exp(); // 1/r² < 1, may underflow to 0
        let l = w.ln_1p();
        (w / (1.0 + w), 1.0 / (1.0 + w), -2.0 * ln_r - l, -l)
    };
    if df >= LARGE_DF && -ln_x <= 1.0 {
        beta_reg_half_large_a(0.5 * df, -ln_x)
    } else {
        beta_reg(0.5 * df, 0.5, Unit { x, y, ln_x, ln_y })
    }
}

/// From this many degrees of freedom on, and for `ln(1 + t²/ν) ≤ 1`, the
/// tail comes from the large-`a` expansion ([`beta_reg_half_large_a`]): that
/// is where the continued fraction would need `O(√ν)` terms and lose digits.
/// Further out (`x ≤ 1/e`) the fraction converges in a few terms.
const LARGE_DF: f64 = 50.0;

/// `I_x(a, 1/2)` for `a ≥ 25` and `w₀ = −ln x ≤ 1`, from the asymptotic
/// expansion of DiDonato & Morris (1992, "BGRAT"), worked out for `b = 1/2`:
///
/// with `x = e^(−w₀)` and `T = a + (b − 1)/2`,
/// `I_x(a, b) = 1/B(a, b) · ∫_{w₀}^∞ e^(−Tw) w^(b−1) φ(w) dw` where
/// `φ(w) = (sinh(w/2)/(w/2))^(b−1) = Σ pₙ w²ⁿ`, so
/// `I_x(a, b) = 1/B(a, b) · Σ pₙ Γ(b + 2n, T·w₀) / T^(b+2n)`.
///
/// For `b = 1/2`, `Γ(1/2, u) = √π·erfc(√u)` and `Γ(s + 1, u) = s·Γ(s, u) +
/// uˢe^(−u)` give every term. The series of `φ` converges for `|w| < 2π`, so
/// the sum does where `w₀` is well inside that: its n-th term shrinks like
/// `max(w₀/2π, 2n/(2πT))²ⁿ`, and at `w₀ ≤ 1`, `T ≥ 25` a dozen terms reach
/// machine precision.
fn beta_reg_half_large_a(a: f64, w0: f64) -> f64 {
    const TERMS: usize = 24;
    let p = sinhc_power_coefficients::<TERMS>(-0.5);
    let t = a - 0.25;
    let u = t * w0;
    let ln_u = u.ln();
    let mut gamma = normal::upper_gamma_half(u);
    let mut s = 0.5;
    let mut sum = gamma;
    let mut scale = 1.0;
    let inv_t2 = 1.0 / (t * t);
    for p_n in &p[1..] {
        for _ in 0..2 {
            gamma = s * gamma + (s * ln_u - u).exp();
            s += 1.0;
        }
        scale *= inv_t2;
        let term = p_n * gamma * scale;
        sum += term;
        if term.abs() <= 0.5 * f64::EPSILON * sum {
            break;
        }
    }
    ((-ln_beta(a, 0.5) - 0.5 * t.ln()).exp() * sum).min(1.0)
}

/// The coefficients `p₀ … p_{N−1}` of `(sinh(w/2)/(w/2))^β = Σ pₙ w²ⁿ`.
///
/// `sinh(v)/v = Σ sₖ zᵏ` with `z = v²`, `sₖ = 1/(2k + 1)!`; its power
/// `Σ fₙ zⁿ` follows J. C. P. Miller's recurrence
/// `fₙ = 1/(n·s₀) · Σ_{k=1}^{n} (k(β + 1) − n)·sₖ·f_{n−k}`, and `v = w/2`
/// makes `pₙ = fₙ / 4ⁿ`.
fn sinhc_power_coefficients<const N: usize>(beta: f64) -> [f64; N] {
    let mut s = [0.0; N];
    let mut factorial = 1.0; // (2k + 1)!
    for (k, sk) in s.iter_mut().enumerate() {
        if k > 0 {
            factorial *= (2 * k) as f64 * (2 * k + 1) as f64;
        }
        *sk = 1.0 / factorial;
    }
    let mut f = [0.0; N];
    f[0] = 1.0;
    for n in 1..N {
        let nf = n as f64;
        f[n] = (1..=n)
            .map(|k| (k as f64 * (beta + 1.0) - nf) * s[k] * f[n - k])
            .sum::<f64>()
            / nf;
    }
    let mut quarter = 1.0;
    for fn_ in f.iter_mut() {
        *fn_ *= quarter;
        quarter *= 0.25;
    }
    f
}

/// Density of Student's t with `df` degrees of freedom at `t`.
///
/// Assumes `df > 0` (finite) and `t` finite.
pub(crate) fn pdf(t: f64, df: f64) -> f64 {
    // 1 / (√ν · B(ν/2, 1/2)) · (1 + t²/ν)^(−(ν+1)/2)
    let ln = -ln_beta(0.5 * df, 0.5) - 0.5 * df.ln() - 0.5 * (df + 1.0) * (t * t / df).ln_1p();
    ln.exp()
}

/// The `t` with `P(T > t) = q` for Student's t with `df` degrees of freedom:
/// the upper `q` quantile (`q = α/2` gives the two-sided critical value).
///
/// Assumes `0 < q < 1` and `df > 0` (finite).
pub(crate) fn upper_quantile(q: f64, df: f64) -> f64 {
    if q > 0.5 {
        return -upper_quantile(1.0 - q, df);
    }
    if q == 0.5 {
        return 0.0;
    }
    if df == 1.0 {
        // Cauchy: P(T > t) = 1/2 − atan(t)/π  ⇒  t = cot(πq).
        let a = std::f64::consts::PI * q;
        return a.cos() / a.sin();
    }
    if df == 2.0 {
        // P(T > t) = 1/2 − t / (2√(2 + t²))  ⇒  t = (1 − 2q) / √(2q(1 − q)).
        return (1.0 - 2.0 * q) / (2.0 * q * (1.0 - q)).sqrt();
    }
    newton_quantile(q, df)
}

/// Upper quantile by Newton's method on `f(u) = ln P(T > eᵘ) − ln q`, which
/// is close to linear in `u` for a power-law tail and smooth for a normal one;
/// every step that would leave the bracket `[lo, hi]` bisects instead.
fn newton_quantile(q: f64, df: f64) -> f64 {
    let ln_q = q.ln();
    let f = |t: f64| sf(t, df).ln() - ln_q; // decreasing in t
    // Start from the normal quantile with its first two Cornish–Fisher terms.
    let z = std::f64::consts::SQRT_2 * erfc_inv(2.0 * q);
    let guess = z
        + (z.powi(3) + z) / (4.0 * df)
        + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * df * df);
    let mut t = if guess.is_finite() && guess > 0.0 {
        guess
    } else {
        1.0
    };
    // Bracket: f(lo) > 0 > f(hi).
    let (mut lo, mut hi) = (0.0_f64, t);
    while f(hi) > 0.0 && hi < f64::MAX / 4.0 {
        lo = hi;
        hi *= 4.0;
    }
    t = t.clamp(lo, hi);
    for _ in 0..200 {
        let ft = f(t);
        if ft == 0.0 {
            return t;
        }
        if ft > 0.0 {
            lo = t;
        } else {
            hi = t;
        }
        // d f / d u = −t · pdf(t) / sf(t)
        let slope = -t * pdf(t, df) / sf(t, df);
        let stepped = t * (-ft / slope).exp();
        let next = if stepped.is_finite() && stepped > lo && stepped < hi {
            stepped
        } else if lo > 0.0 {
            (lo * hi).sqrt()
        } else {
            0.5 * hi
        };
        if (next - t).abs() <= 4.0 * f64::EPSILON * t {
            return next;
        }
        t = next;
    }
    t
}

/// A point of the unit interval given as `x` and `y = 1 − x`, each with its
/// logarithm, all computed without cancellation by the caller.
#[derive(Clone, Copy, Debug)]
struct Unit {
    x: f64,
    y: f64,
    ln_x: f64,
    ln_y: f64,
}

/// The regularised incomplete beta function `I_x(a, b)`, for `a, b > 0`.
///
/// Uses the continued fraction for `I_x(a, b)` where it converges fast
/// (`x < (a + 1)/(a + b + 2)`) and `1 − I_{1−x}(b, a)` elsewhere.
fn beta_reg(a: f64, b: f64, p: Unit) -> f64 {
    if p.x == 0.0 {
        return 0.0;
    }
    if p.y == 0.0 {
        return 1.0;
    }
    let ln_front = a * p.ln_x + b * p.ln_y - ln_beta(a, b);
    if p.x < (a + 1.0) / (a + b + 2.0) {
        (ln_front.exp() / a * continued_fraction(a, b, p.x)).min(1.0)
    } else {
        (1.0 - ln_front.exp() / b * continued_fraction(b, a, p.y)).max(0.0)
    }
}

/// The continued fraction of `I_x(a, b)` (after the prefactor
/// `xᵃ(1 − x)ᵇ / (a B(a, b))`), by the modified Lentz method, run until a
/// step changes it by less than one ulp.
fn continued_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let fix = |v: f64| if v.abs() < TINY { TINY } else { v };
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 / fix(1.0 - qab * x / qap);
    let mut h = d;
    // Convergence takes O(√max(a, b)) terms in the worst case; the bound
    // only guards against a non-terminating loop.
    let max_terms = 1000 + (100.0 * a.max(b).sqrt()).min(1e8) as u64;
    for m in 1..=max_terms {
        let m = m as f64;
        let m2 = 2.0 * m;
        let even = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 / fix(1.0 + even * d);
        c = fix(1.0 + even / c);
        h *= d * c;
        let odd = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 / fix(1.0 + odd * d);
        c = fix(1.0 + odd / c);
        let delta = d * c;
        h *= delta;
        if (delta - 1.0).abs() <= f64::EPSILON {
            break;
        }
    }
    h
}

/// `ln B(a, b) = ln Γ(a) + ln Γ(b) − ln Γ(a + b)`, for `a, b > 0`, without
/// the cancellation of large `ln Γ` terms when one argument is large.
fn ln_beta(a: f64, b: f64) -> f64 {
    let (small, large) = if a <= b { (a, b) } else { (b, a) };
    if large < STIRLING_FROM {
        ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
    } else {
        ln_gamma(small) + ln_gamma_difference(large, small)
    }
}

/// Below this argument `ln Γ` differences are taken directly.
const STIRLING_FROM: f64 = 8.0;

/// `ln Γ(x) − ln Γ(x + s)` for `x ≥ 8`, `s > 0`, from Stirling's series:
/// `ln Γ(z) = (z − ½) ln z − z + ½ ln 2π + δ(z)`, so the difference is
/// `−(x − ½)·ln(1 + s/x) − s·ln(x + s) + s + δ(x) − δ(x + s)`.
fn ln_gamma_difference(x: f64, s: f64) -> f64 {
    -(x - 0.5) * (s / x).ln_1p() - s * (x + s).ln() + s + stirling_delta(x) - stirling_delta(x + s)
}

/// The remainder `δ(z)` of Stirling's series for `ln Γ(z)`, `z ≥ 8`: seven
/// terms of `Σ B₂ₖ / (2k(2k − 1) z²ᵏ⁻¹)`, accurate to below 1e-16 there.
fn stirling_delta(z: f64) -> f64 {
    const C: [f64; 7] = [
        1.0 / 12.0,
        -1.0 / 360.0,
        1.0 / 1260.0,
        -1.0 / 1680.0,
        1.0 / 1188.0,
        -691.0 / 360_360.0,
        1.0 / 156.0,
    ];
    let w = 1.0 / (z * z);
    let series = C.iter().rev().fold(0.0, |acc, c| acc * w + c);
    series / z
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: f64, want: f64, rel: f64) -> bool {
        (got - want).abs() <= rel * want.abs()
    }

    #[test]
    fn cauchy_and_two_degrees_have_closed_forms() {
        // ν = 1: P(T > 1) = 1/4; ν = 2: P(T > √2) = 1/2 − √2/(2·2) .
        assert!(close(sf(1.0, 1.0), 0.25, 1e-14));
        let t = 2f64.sqrt();
        assert!(close(sf(t, 2.0), 0.5 - t / 4.0, 1e-14));
        assert!(close(upper_quantile(0.25, 1.0), 1.0, 1e-15));
        assert!(close(upper_quantile(0.5 - t / 4.0, 2.0), t, 1e-14));
    }

    #[test]
    fn tails_are_symmetric_and_bounded() {
        assert_eq!(sf(0.0, 7.0), 0.5);
        assert_eq!(two_sided_p(f64::INFINITY, 7.0), 0.0);
        assert!(close(sf(-1.3, 7.0), 1.0 - sf(1.3, 7.0), 1e-15));
        assert!(close(
            upper_quantile(0.975, 7.0),
            -upper_quantile(0.025, 7.0),
            1e-15
        ));
    }

    #[test]
    fn sinhc_power_series_starts_as_expanded_by_hand() {
        // (1 + w²/24 + w⁴/1920 + …)^(−1/2) = 1 − w²/48 + (3/8·1/576 − 1/3840)·w⁴ + …
        let p = sinhc_power_coefficients::<3>(-0.5);
        assert_eq!(p[0], 1.0);
        assert!((p[1] + 1.0 / 48.0).abs() < 1e-17);
        assert!((p[2] - (3.0 / 8.0 / 576.0 - 1.0 / 3840.0)).abs() < 1e-17);
    }

    #[test]
    fn both_tail_methods_agree_where_they_meet() {
        for t in [0.3, 1.0, 1.7, 2.5, 6.0, 9.2] {
            let ln_x = -(t * t / LARGE_DF).ln_1p();
            let z = t * t / LARGE_DF;
            let unit = Unit {
                x: 1.0 / (1.0 + z),
                y: z / (1.0 + z),
                ln_x,
                ln_y: z.ln() - z.ln_1p(),
            };
            let cf = beta_reg(0.5 * LARGE_DF, 0.5, unit);
            let expansion = beta_reg_half_large_a(0.5 * LARGE_DF, -ln_x);
            assert!(
                close(expansion, cf, 1e-13),
                "t {t}: {expansion:e} vs {cf:e}"
            );
        }
    }

    #[test]
    fn ln_beta_matches_the_direct_form_where_both_are_exact() {
        // B(9, 1/2) = Γ(9)Γ(1/2)/Γ(9.5), computed directly at moderate size.
        for a in [8.0, 9.0, 12.5, 30.0] {
            let direct = ln_gamma(a) + ln_gamma(0.5) - ln_gamma(a + 0.5);
            assert!((ln_beta(a, 0.5) - direct).abs() < 1e-13, "a = {a}");
        }
    }

    #[test]
    fn quantile_inverts_the_tail() {
        for df in [3.0, 4.5, 10.0, 1e3, 1e6] {
            for q in [0.4, 0.05, 1e-3, 1e-12, 1e-100] {
                let t = upper_quantile(q, df);
                assert!(
                    close(sf(t, df), q, 1e-12),
                    "df {df} q {q}: sf({t}) = {}",
                    sf(t, df)
                );
            }
        }
    }
}

#[cfg(test)]
mod reference {
    //! Against mpmath's incomplete beta at 40 digits (`stats.t.sf` itself is
    //! off by 1.6e-9 at t = 1e-8, df = 1), from `tests/data/stats/significance.json`.
    use super::*;

    /// Checks `f(df, input)` against every row of the table `name` to 1e-12
    /// relative, naming the row on failure.
    fn check(name: &str, input: &str, output: &str, min_rows: usize, f: fn(f64, f64) -> f64) {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/stats/significance.json"
        );
        let data: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let rows = data[name].as_array().unwrap();
        assert!(rows.len() >= min_rows, "{name}: {} rows", rows.len());
        for row in rows {
            let field = |key: &str| row[key].as_f64().unwrap();
            let (df, x, want) = (field("df"), field(input), field(output));
            let got = f(df, x);
            assert!(
                (got - want).abs() <= 1e-12 * want,
                "{output}({input} = {x}, df {df}) = {got:e}, mpmath {want:e}"
            );
        }
    }

    #[test]
    fn tails_agree_with_mpmath_to_1e_12_relative() {
        check("student_t_tails", "t", "sf", 150, |df, t| sf(t, df));
    }

    #[test]
    fn quantiles_agree_with_mpmath_to_1e_12_relative() {
        check("student_t_quantiles", "q", "isf", 100, |df, q| {
            upper_quantile(q, df)
        });
    }
}
