//! What a bot's ledger says about its dynamics: a Bayesian filter over the
//! model of [`rhythm`](super::rhythm), learned from the revenue of each tick
//! and the energy spent in it.
//!
//! **State.** The bot's level `L` (expected revenue this tick), its
//! retention `ρ = 1 − drift`, and the two numbers that say what a cycle
//! buys: a cycle of energy `E` at pre-cycle level `P = ρ L` raises the level
//! by
//!
//! ```text
//! J = φ_h(E) · (a − b · P),      φ_h(E) = E / (E + h)
//! ```
//!
//! (`b` is the gain share `g`, `a = g · D` with `D` the ceiling), so a tick
//! maps `L ← ρ L + φ (a − b ρ L)` (`φ = 0` without a cycle). The revenue
//! booked in a tick is `L` plus noise whose standard deviation is a share
//! `√ν` of `L` (estimated from the innovations).
//!
//! **Hypotheses.** The half energy `h` and the gain share `b` enter
//! non-linearly (`h` is only seen by comparing cycles of different
//! energies, `b` by comparing cycles at different levels), so the filter
//! keeps one hypothesis per pair of two geometric grids ([`HALF_ENERGIES`] ×
//! [`GAINS`]) and, in each, an extended Kalman filter over `(L, a, ρ)` —
//! linear in `L` and `a` given `ρ`; `ρ L` is the one product, and `ρ` is
//! close to 1. A hypothesis's weight is the likelihood of the revenue it
//! predicted (the one-step-ahead Gaussian predictive); the weights forget
//! with a memory of [`MEMORY`] ticks so the filter can move when the world
//! does. Apart from a tiny random walk of the level (a 0.01% standard
//! deviation a tick, for a world that is not quite this model) the state is
//! static: the posterior narrows as evidence comes in, and a change of the
//! world is handled by the change test below. The ceiling is never below
//! the level (`a ≥ b L`, enforced on the mean).
//!
//! **Prior.** Set at the first revenue `r₀`: `L ~ N(r₀, ν₀ r₀²)`; the
//! retention `ρ ~ N(0.99, 0.02²)`; the jump per unit of `φ` at today's
//! level, `a − b r₀ ~ N(0.25 r₀, (0.75 r₀)²)`; every `(h, b)` equally likely:
//! a bot could be anywhere from perfect to broken, and a cycle could close
//! anything from none to all of the gap.
//!
//! **Change.** When the revenue keeps surprising the most likely
//! hypothesis — the moving average (weight 0.2) of the squared standardised
//! innovation passes [`SURPRISE`] (it is 1 on average when the model holds;
//! 6 standard deviations above) — the world has changed: each hypothesis's
//! uncertainty is widened by the prior's and the weights are flattened, so
//! the filter learns anew (a breakage, a new market).
//!
//! Each tick costs `O(hypotheses)`: a few hundred multiplications per
//! hypothesis.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::rhythm::Dynamics;

/// The half energies of the hypotheses.
pub const HALF_ENERGIES: [f64; 8] = [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];
/// The gain shares of the hypotheses.
pub const GAINS: [f64; 8] = [0.01, 0.03, 0.06, 0.1, 0.17, 0.28, 0.45, 0.75];
/// Ticks over which a hypothesis's evidence fades to `1/e`.
pub const MEMORY: f64 = 1000.0;
/// The moving average of squared standardised innovations that means the
/// world has changed.
pub const SURPRISE: f64 = 4.0;

/// The prior relative noise variance `ν₀` (a 5% standard deviation).
const NOISE_PRIOR: f64 = 0.0025;
/// How many ticks the prior noise counts for.
const NOISE_PRIOR_TICKS: f64 = 5.0;
/// Relative random walk per tick of the level (model error).
const LEVEL_WALK: f64 = 1e-4;

/// The state's size: `(L, a, ρ)`.
const N: usize = 3;

/// A symmetric matrix over the state.
type Cov = [[f64; N]; N];

/// One hypothesis: a half energy and a gain share, and the filter given them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Hypothesis {
    half_energy: f64,
    gain: f64,
    log_weight: f64,
    /// `(L, a, ρ)`.
    mean: [f64; N],
    cov: Cov,
}

/// A draw from the filter's posterior: the dynamics and the current level.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Draw {
    /// The bot's dynamics (cost per energy left at 0: the ledger's cost is
    /// learned apart).
    pub dynamics: Dynamics,
    /// The level of the last tick seen.
    pub level: f64,
}

/// The filter. See the [module docs](self).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LevelModel {
    hypotheses: Vec<Hypothesis>,
    /// Relative noise variance `ν` and the weight of its estimate.
    noise: f64,
    noise_ticks: f64,
    /// Moving average of the squared standardised innovation.
    surprise: f64,
    /// The level scale the prior was set at (`r₀`, at least a small floor).
    scale: f64,
    /// Revenues seen.
    seen: u64,
}

impl Default for LevelModel {
    fn default() -> Self {
        LevelModel {
            hypotheses: Vec::new(),
            noise: NOISE_PRIOR,
            noise_ticks: NOISE_PRIOR_TICKS,
            surprise: 1.0,
            scale: 0.0,
            seen: 0,
        }
    }
}

/// The prior covariance of `(L, a, ρ)` at level scale `r`.
fn prior_cov(r: f64) -> Cov {
    [
        [NOISE_PRIOR * r * r, 0.0, 0.0],
        [0.0, (0.75 * r).powi(2), 0.0],
        [0.0, 0.0, 0.02f64.powi(2)],
    ]
}

fn phi(energy: u32, half: f64) -> f64 {
    let e = f64::from(energy);
    e / (e + half)
}

impl LevelModel {
    /// Revenues seen so far.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    fn start(&mut self, revenue: f64) {
        let r = revenue.abs().max(1e-9);
        self.scale = r;
        let cov = prior_cov(r);
        self.hypotheses = HALF_ENERGIES
            .iter()
            .flat_map(|&half_energy| {
                GAINS.iter().map(move |&gain| Hypothesis {
                    half_energy,
                    gain,
                    log_weight: 0.0,
                    mean: [revenue, (gain + 0.25) * r, 0.99],
                    cov,
                })
            })
            .collect();
    }

    /// Takes in one tick: `energy` was spent on a cycle in it (0: none) and
    /// `revenue` was booked.
    pub fn observe(&mut self, energy: u32, revenue: f64) {
        if !revenue.is_finite() {
            return;
        }
        if self.hypotheses.is_empty() {
            self.start(revenue);
            self.seen = 1;
            return;
        }
        self.seen += 1;
        let keep = (-1.0 / MEMORY).exp();
        let floor = (1e-3 * self.scale).powi(2);
        let best = self.best();
        let (mut z2, mut resid) = (0.0, 0.0);
        for (k, h) in self.hypotheses.iter_mut().enumerate() {
            let f = if energy == 0 {
                0.0
            } else {
                phi(energy, h.half_energy)
            };
            let [l, a, rho] = h.mean;
            let b = h.gain;
            // Predict: only the level moves.
            let pre = rho * l;
            let level = pre + f * (a - b * pre);
            let jac = [rho * (1.0 - f * b), f, l * (1.0 - f * b)];
            let c = &h.cov;
            let fs: [f64; N] = std::array::from_fn(|j| (0..N).map(|i| jac[i] * c[i][j]).sum());
            let mut p = *c;
            p[0][0] = (0..N).map(|i| fs[i] * jac[i]).sum::<f64>() + (LEVEL_WALK * level).powi(2);
            for j in 1..N {
                p[0][j] = fs[j];
                p[j][0] = fs[j];
            }
            // Update with the revenue.
            let v = (self.noise * level * level).max(floor);
            let s = p[0][0] + v;
            let e = revenue - level;
            let gain: [f64; N] = std::array::from_fn(|i| p[i][0] / s);
            let mut mean = [level, a, rho];
            for i in 0..N {
                mean[i] += gain[i] * e;
                for j in 0..N {
                    p[i][j] -= gain[i] * gain[j] * s;
                }
            }
            mean[2] = mean[2].clamp(0.5, 1.0);
            // The ceiling is never under the level (a ≥ b · L).
            mean[1] = mean[1].max(b * mean[0]);
            h.mean = mean;
            h.cov = p;
            h.log_weight = keep * h.log_weight - 0.5 * (s.ln() + e * e / s);
            if k == best {
                z2 = e * e / s;
                resid = (e * e - p[0][0]).max(0.0) / (level * level).max(floor);
            }
        }
        let top = self
            .hypotheses
            .iter()
            .map(|h| h.log_weight)
            .fold(f64::NEG_INFINITY, f64::max);
        for h in &mut self.hypotheses {
            h.log_weight -= top;
        }
        let n = self.noise_ticks.min(MEMORY);
        self.noise = (n * self.noise + resid) / (n + 1.0);
        self.noise_ticks = n + 1.0;
        self.surprise += 0.2 * (z2 - self.surprise);
        if self.surprise > SURPRISE {
            self.widen();
        }
    }

    /// The world has changed: uncertainty back to the prior's, weights flattened.
    pub(crate) fn widen(&mut self) {
        let floor = self.scale * 1e-3;
        for h in &mut self.hypotheses {
            let prior = prior_cov(h.mean[0].abs().max(floor));
            for (row, add) in h.cov.iter_mut().zip(&prior) {
                for (x, a) in row.iter_mut().zip(add) {
                    *x += a;
                }
            }
            h.log_weight *= 0.1;
        }
        self.surprise = 1.0;
    }

    /// The index of the most likely hypothesis.
    fn best(&self) -> usize {
        self.hypotheses.iter().enumerate().fold(0, |best, (k, h)| {
            if h.log_weight > self.hypotheses[best].log_weight {
                k
            } else {
                best
            }
        })
    }

    /// The posterior mean of the dynamics and level (the most likely
    /// hypothesis, at its mean); `None` before any revenue.
    pub fn mean(&self) -> Option<Draw> {
        let h = self.hypotheses.get(self.best())?;
        Some(draw_of(h, h.mean))
    }

    /// `k` draws from the posterior: each a hypothesis by weight, then
    /// `(L, a, ρ)` from its Gaussian; none before any revenue.
    pub fn draws(&self, rng: &mut ChaCha8Rng, k: usize) -> Vec<Draw> {
        if self.hypotheses.is_empty() {
            return Vec::new();
        }
        let mut total = 0.0;
        let cumulative: Vec<f64> = self
            .hypotheses
            .iter()
            .map(|h| {
                total += h.log_weight.exp();
                total
            })
            .collect();
        let mut factors: Vec<Option<Cov>> = vec![None; self.hypotheses.len()];
        (0..k)
            .map(|_| {
                let u = rng.random::<f64>() * total;
                let i = cumulative
                    .partition_point(|&c| c < u)
                    .min(self.hypotheses.len() - 1);
                let pick = &self.hypotheses[i];
                let l = *factors[i].get_or_insert_with(|| cholesky(&pick.cov));
                let z: [f64; N] = std::array::from_fn(|_| normal(rng));
                let mut x = pick.mean;
                for i in 0..N {
                    for j in 0..=i {
                        x[i] += l[i][j] * z[j];
                    }
                }
                draw_of(pick, x)
            })
            .collect()
    }
}

/// The dynamics of hypothesis `h` at state `x = (L, a, ρ)`.
fn draw_of(h: &Hypothesis, x: [f64; N]) -> Draw {
    let gain = h.gain;
    Draw {
        dynamics: Dynamics {
            retention: x[2].clamp(0.5, 1.0),
            ceiling: x[1] / gain,
            gain,
            half_energy: h.half_energy,
            cost_per_energy: 0.0,
        },
        level: x[0].max(0.0),
    }
}

/// The lower Cholesky factor of a covariance (a tiny floor keeps it
/// defined when a variance has collapsed).
fn cholesky(c: &Cov) -> Cov {
    let mut l = [[0.0; N]; N];
    for i in 0..N {
        for j in 0..=i {
            let sum = (0..j).fold(c[i][j], |s, k| s - l[i][k] * l[j][k]);
            l[i][j] = if i == j {
                sum.max(1e-18).sqrt()
            } else {
                sum / l[j][j]
            };
        }
    }
    l
}

/// A standard normal number (Box–Muller, one of the pair).
pub(crate) fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let v: f64 = rng.random();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// A bot of known dynamics, observed with relative noise `noise`.
    fn run(
        truth: Dynamics,
        start: f64,
        energies: impl Fn(u64) -> u32,
        ticks: u64,
        noise: f64,
    ) -> LevelModel {
        let mut model = LevelModel::default();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut level = start;
        for t in 0..ticks {
            let e = energies(t);
            if e > 0 {
                level = truth.after(level, e);
            }
            let u: f64 = rng.random::<f64>() * 2.0 - 1.0;
            model.observe(e, level * (1.0 + noise * u));
            level *= truth.retention;
        }
        model
    }

    fn truth() -> Dynamics {
        Dynamics {
            retention: 0.99,
            ceiling: 100.0,
            gain: 0.3,
            half_energy: 8.0,
            cost_per_energy: 0.0,
        }
    }

    #[test]
    fn the_filter_finds_the_drift_and_what_a_cycle_buys() {
        // Cycles of energies 2, 8 and 30 in turn every 5 ticks.
        let ladder = [2, 8, 30];
        let model = run(
            truth(),
            60.0,
            |t| {
                if t % 5 == 0 {
                    ladder[(t / 5 % 3) as usize]
                } else {
                    0
                }
            },
            3000,
            0.1,
        );
        let mean = model.mean().unwrap();
        assert!((mean.dynamics.retention - 0.99).abs() < 0.004, "{mean:?}");
        // What a cycle buys at the levels the bot has been at (about 78).
        for e in [2, 8, 30] {
            let want = truth().share(e) * (100.0 - 78.0);
            let got = mean.dynamics.share(e) * (mean.dynamics.ceiling - 78.0);
            assert!((got - want).abs() < 0.15 * want, "E {e}: {got} vs {want}");
        }
        // Relative noise: uniform ±10% has variance 0.01/3.
        assert!((model.noise - 0.01 / 3.0).abs() < 0.001, "{}", model.noise);
    }

    #[test]
    fn a_breakage_is_noticed_and_relearned() {
        let mut model = run(truth(), 60.0, |t| if t % 5 == 0 { 8 } else { 0 }, 1000, 0.1);
        let before = model.mean().unwrap().level;
        // The level falls to a fifth and stays down.
        for _ in 0..30 {
            model.observe(0, before / 5.0);
        }
        let after = model.mean().unwrap().level;
        assert!(
            (after - before / 5.0).abs() < 0.05 * before,
            "{after} vs {}",
            before / 5.0
        );
    }

    #[test]
    fn draws_follow_the_seed_and_spread_with_uncertainty() {
        let model = run(truth(), 60.0, |t| if t % 7 == 0 { 8 } else { 0 }, 300, 0.1);
        let draws = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            model
                .draws(&mut rng, 50)
                .iter()
                .map(|d| d.dynamics.share(8))
                .collect::<Vec<_>>()
        };
        assert_eq!(draws(1), draws(1));
        let d = draws(2);
        let spread =
            d.iter().copied().fold(f64::MIN, f64::max) - d.iter().copied().fold(f64::MAX, f64::min);
        assert!(spread > 0.0);
        assert_eq!(d.len(), 50);
        assert!(
            LevelModel::default()
                .draws(&mut ChaCha8Rng::seed_from_u64(1), 5)
                .is_empty()
        );
    }

    #[test]
    fn cholesky_by_hand() {
        let c = [[4.0, 2.0, 0.0], [2.0, 5.0, 1.0], [0.0, 1.0, 2.0]];
        let l = cholesky(&c);
        for i in 0..N {
            for j in 0..N {
                let v: f64 = (0..N).map(|k| l[i][k] * l[j][k]).sum();
                assert!((v - c[i][j]).abs() < 1e-12);
            }
        }
    }
}
