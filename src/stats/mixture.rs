//! The normal-mixture t-test martingale behind kaizen's anytime-valid A/B
//! test: its e-value, its confidence sequence and its tuning.
//!
//! **Model.** Outcomes `y` of two arms, `y = μ + θ·z + σ·ε` with `z = 1` for
//! the challenger and 0 for the serving arm, `ε` standard normal and
//! independent, `μ` and `σ` unknown. `θ`, the uplift, is what is tested.
//!
//! **The statistic.** After `n = n_s + n_c` outcomes, let `θ̂ = ȳ_c − ȳ_s`,
//! `ν = n − 2`, `s² = (Σ_s (y − ȳ_s)² + Σ_c (y − ȳ_c)²)/ν` (pooled),
//! `I = n_s·n_c/n` (the information about `θ` per unit variance), and for a
//! hypothesised uplift `θ₀`, `t = (θ̂ − θ₀)·√I / s` — Student's two-sample
//! statistic. With a flat prior on `μ`, the scale-invariant prior `dσ/σ` on
//! `σ`, and a normal prior `(θ − θ₀)/σ ~ N(0, g)` on the standardised uplift,
//! the Bayes factor of "uplift ≠ θ₀" against "uplift = θ₀" is, in closed form,
//!
//! `B_n(θ₀) = (1 + gI)^(−1/2) · [(1 + t²/ν) / (1 + t²/(ν(1 + gI)))]^((n − 1)/2)`.
//!
//! (Integrate the normal likelihood of `t`'s numerator and of the residual
//! sum of squares over `σ` with `dσ/σ`, once with the prior on the uplift and
//! once without; `scripts/reference/stats_reference.py abtest` checks the
//! closed form against that double integral done numerically.)
//!
//! **Why it is valid at any time, without knowing σ.** Both hypotheses are
//! invariant under shifting and rescaling every outcome, and the priors on
//! `μ` and `σ` are the right Haar measures of that group, so `B_n(θ₀)` equals
//! the likelihood ratio of the *maximal invariant* (the outcomes up to shift
//! and scale), a statistic whose law does not depend on `μ` or `σ`
//! (Wijsman's representation theorem; Lai 1976; Pérez-Ortiz, Lardy, de Heide
//! & Grünwald 2024). A likelihood ratio of a growing sequence of observations
//! is a nonnegative martingale with mean 1 under the null, so by Ville's
//! inequality `P(∃n: B_n(θ₀) ≥ 1/α) ≤ α` when the uplift is `θ₀` —
//! whenever, and however often, it is looked at. No variance is plugged in:
//! the unknown `σ` is integrated out exactly, which is why the test needs no
//! burn-in and stays exact at `n = 3`.
//!
//! **What it assumes.** Outcomes independent, normal within each arm, with
//! the same variance in both arms; which arm the next outcome comes from may
//! depend on the past only through its invariant part (a fixed or
//! alternating schedule, or randomisation, is fine; choosing the arm from
//! the raw outcome levels is not). Non-normal outcomes make it approximate,
//! as for the t-test: good for sums of many small effects (ROI per cycle),
//! poor for rare huge outcomes. `examples/abtest_sim.rs` measures it on
//! skewed outcomes too.
//!
//! **Confidence sequence.** `{θ₀ : B_n(θ₀) < 1/α}` covers the true uplift at
//! every `n` at once with probability ≥ 1 − α. `B_n` grows with `t²`, so it
//! is `θ̂ ± r_n` with `r_n = √(ν·u)·s/√I` and `u` from
//! `(1 + u)/(1 + u/c) = ρ`, `c = 1 + gI`, `ρ = (√c/α)^(2/(n − 1))`:
//! `u = (ρ − 1)/(1 − ρ/c)` when `ρ < c`, else the whole line.
//!
//! **Tuning.** `g` sets where the boundary is tightest. With
//! `c = 1 + g·I*` the boundary at information `I*` is, for large `n`,
//! `t² ≈ c/(c − 1)·(ln c + 2 ln(1/α))`, smallest where
//! `c − 1 = ln c + 2 ln(1/α)` (c ≈ 9.21 at α = 0.05). kaizen
//! solves that for the information of a balanced test of a given length.

/// `g`, the precision of the mixture prior on the standardised uplift, that
/// makes the boundary at level `alpha` tightest after `outcomes` outcomes split
/// evenly between the arms (information `outcomes/4`).
///
/// Assumes `0 < alpha < 1` and `outcomes ≥ 4`.
pub(crate) fn mixture_precision(alpha: f64, outcomes: u64) -> f64 {
    let two_l = 2.0 * (1.0 / alpha).ln();
    // c = 1 + 2L + ln c: a contraction for c > 1, so fixed-point iteration
    // converges from any start ≥ 1.
    let mut c = 1.0 + two_l;
    for _ in 0..100 {
        let next = 1.0 + two_l + c.ln();
        if (next - c).abs() <= 4.0 * f64::EPSILON * c {
            c = next;
            break;
        }
        c = next;
    }
    (c - 1.0) / (outcomes as f64 / 4.0)
}

/// The sufficient statistics of the mixture after some outcomes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct MixtureState {
    /// `n`, outcomes in both arms (≥ 3, both arms ≥ 1).
    pub n: f64,
    /// `θ̂`, the difference of the arms' means.
    pub uplift: f64,
    /// `s`, the pooled standard deviation (may be 0).
    pub scale: f64,
    /// `I = n_s·n_c/n`.
    pub information: f64,
    /// `g`, the mixture prior's precision.
    pub g: f64,
}

impl MixtureState {
    /// `ν = n − 2`.
    fn nu(&self) -> f64 {
        self.n - 2.0
    }

    /// `c = 1 + gI`.
    fn c(&self) -> f64 {
        1.0 + self.g * self.information
    }

    /// `t²` for the hypothesised uplift `theta0` (∞ when the pooled scale
    /// is 0 and `θ̂ ≠ θ₀`, 0 when equal).
    fn t_squared(&self, theta0: f64) -> f64 {
        let gap = self.uplift - theta0;
        if gap == 0.0 {
            return 0.0;
        }
        let t = gap * self.information.sqrt() / self.scale;
        t * t
    }

    /// `ln B_n(θ₀)` at `t² = t2` (stable for every `t2 ∈ [0, ∞]`).
    fn ln_bayes_factor_at(&self, t2: f64) -> f64 {
        let (nu, c) = (self.nu(), self.c());
        let bracket = if t2.is_infinite() {
            c.ln()
        } else {
            (t2 / nu).ln_1p() - (t2 / (nu * c)).ln_1p()
        };
        -0.5 * c.ln() + 0.5 * (self.n - 1.0) * bracket
    }

    /// `B_n(θ₀)`, the e-value against "the uplift is exactly `theta0`".
    #[cfg(test)]
    fn bayes_factor(&self, theta0: f64) -> f64 {
        self.ln_bayes_factor_at(self.t_squared(theta0)).exp()
    }

    /// The e-value against "the uplift is at most `delta`": the smallest
    /// `B_n(θ₀)` over `θ₀ ≤ δ`, which is `B_n(δ)` when `θ̂ > δ` and the floor
    /// `(1 + gI)^(−1/2)` otherwise. An e-process for that composite null: it
    /// is below the test martingale of every `θ₀ ≤ δ`.
    pub(crate) fn evidence_above(&self, delta: f64) -> f64 {
        let t2 = if self.uplift > delta {
            self.t_squared(delta)
        } else {
            0.0
        };
        self.ln_bayes_factor_at(t2).exp()
    }

    /// The confidence sequence `θ̂ ± r_n` at level `alpha`, `[lo, hi]`
    /// (`[−∞, ∞]` while no uplift can be excluded).
    pub(crate) fn confidence_sequence(&self, alpha: f64) -> [f64; 2] {
        let (nu, c) = (self.nu(), self.c());
        // ln ρ = 2/(n − 1) · (ln(1/α) + ½ ln c); need ρ < c.
        let ln_rho = 2.0 / (self.n - 1.0) * ((1.0 / alpha).ln() + 0.5 * c.ln());
        if ln_rho >= c.ln() {
            return [f64::NEG_INFINITY, f64::INFINITY];
        }
        let u = ln_rho.exp_m1() / -(ln_rho - c.ln()).exp_m1();
        let radius = (nu * u).sqrt() * self.scale / self.information.sqrt();
        [self.uplift - radius, self.uplift + radius]
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::stats::Moments;
    use crate::stats::simulation::standard_normal;

    fn state() -> MixtureState {
        MixtureState {
            n: 40.0,
            uplift: 0.3,
            scale: 1.2,
            information: 10.0,
            g: 0.05,
        }
    }

    #[test]
    fn tuning_solves_its_equation() {
        let g = mixture_precision(0.05, 400);
        let c = 1.0 + g * 100.0;
        assert!((c - 1.0 - c.ln() - 2.0 * 20f64.ln()).abs() < 1e-12);
        assert!((c - 9.21).abs() < 0.01, "{c}");
    }

    #[test]
    fn the_interval_ends_are_where_the_evidence_reaches_one_over_alpha() {
        let s = state();
        let [lo, hi] = s.confidence_sequence(0.05);
        for end in [lo, hi] {
            assert!(
                (s.bayes_factor(end) - 20.0).abs() < 1e-9,
                "{}",
                s.bayes_factor(end)
            );
        }
        assert!(s.bayes_factor(s.uplift) < 1.0);
    }

    #[test]
    fn evidence_against_at_most_delta_is_one_sided() {
        let s = state();
        assert_eq!(s.evidence_above(0.0), s.bayes_factor(0.0));
        // θ̂ = 0.3 ≤ δ = 0.5: the floor (1 + gI)^(−1/2) whatever δ.
        let floor = (1.0f64 + 0.5).powf(-0.5);
        assert!((s.evidence_above(0.5) - floor).abs() < 1e-15);
        assert!((s.evidence_above(3.0) - floor).abs() < 1e-15);
    }

    /// The martingale property itself: under the null, `E[B_n(θ)] = 1` at
    /// every fixed `n`, whatever `μ` and `σ`. At n = 40 with `g` tuned for
    /// 500 outcomes, `g·I = 0.66 < 1`, so `B_n` has a finite variance and a
    /// Monte Carlo mean over 20,000 A/A runs has a standard error of ~0.01.
    #[test]
    fn the_bayes_factor_has_mean_one_under_the_null() {
        let g = mixture_precision(0.05, 500);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let runs = 20_000;
        let mut total = 0.0;
        for _ in 0..runs {
            let (mut a, mut b) = (Moments::default(), Moments::default());
            for _ in 0..20 {
                a.push(3.0 + 2.0 * standard_normal(&mut rng));
                b.push(3.0 + 2.0 * standard_normal(&mut rng));
            }
            let state = MixtureState {
                n: 40.0,
                uplift: b.mean - a.mean,
                scale: ((a.m2 + b.m2) / 38.0).sqrt(),
                information: 10.0,
                g,
            };
            total += state.bayes_factor(0.0);
        }
        let mean = total / f64::from(runs);
        assert!((mean - 1.0).abs() < 0.04, "E[B] = {mean}");
    }

    #[test]
    fn too_little_data_gives_the_whole_line() {
        let s = MixtureState {
            n: 3.0,
            information: 2.0 / 3.0,
            ..state()
        };
        assert_eq!(
            s.confidence_sequence(0.05),
            [f64::NEG_INFINITY, f64::INFINITY]
        );
    }

    #[test]
    fn zero_spread_is_infinite_t_not_nan() {
        let s = MixtureState {
            scale: 0.0,
            ..state()
        };
        let c = 1.5f64;
        assert!((s.bayes_factor(0.0).ln() - 0.5 * (40.0 - 2.0) * c.ln()).abs() < 1e-12);
        assert!(s.bayes_factor(0.3) < 1.0);
    }
}
