//! What each energy is worth now, for one draw of a bot's dynamics.
//!
//! The decision compares running a cycle of energy `E` now with the two
//! things it could do instead: wait one tick and then run the best cycle
//! (if waiting makes the cycle bigger and is worth the tick), or never run
//! again (a dead end, or too near the horizon). Beyond that one step, the
//! bot is assumed to follow its best steady rhythm ([`Rhythm`]), whose value
//! from a post-cycle level `y` over `n` ticks is linear around its orbit
//! (and at least what the ticks earn with no cycle, `y · S(n)`):
//!
//! ```text
//! C(y, n) = max(y · S(n), rate · n + W(n) · (y − high))
//! W(n)    = S(τ) / (1 − (1 − ψ*) ρ^τ) · (1 − κ^n),   κ = ((1 − ψ*) ρ^τ)^(1/τ),   S(n) = Σ_{k<n} ρ^k
//! ```
//!
//! `W` is what one more unit of level right after a cycle earns: it decays
//! by `ρ` a tick and the rhythm's next cycle closes a share `ψ*` of it. With
//! no rhythm worth running, `C(y, n) = y · S(n)` (the level just decays).
//! Then, at today's pre-cycle level `x = ρ · L` with `H` ticks left:
//!
//! ```text
//! run E now:        V(E)  = −c E − λ + C(x + J(E, x), H)
//! wait, then run:   V₁    = x + max over E' of [−c E' − λ + C(ρx + J(E', ρx), H − 1)]
//! never:            V₀    = x · S(H)
//! value of E:       V(E) − max(V₁, V₀)           (skipping is worth 0)
//! ```
//!
//! with `J(E, x) = ψ(E) (D − x)` the jump a cycle buys, `c` the cost of a
//! unit of energy and `λ` the price of the cycle slot. Waiting one tick
//! rather than many is enough: the gain from running only grows as the
//! level falls, so once running now beats running a tick later it beats
//! running any later (a one-step look-ahead is optimal for such monotone
//! stopping problems). At the steady orbit the rule cycles at the rhythm's
//! own interval; away from it (a broken bot, a regime shift) it runs as
//! soon and as big as the level calls for.
//!
//! ```
//! use kaizen::decide::{Dynamics, plan};
//!
//! let bot = Dynamics { retention: 0.99, ceiling: 100.0, gain: 0.3, half_energy: 10.0, cost_per_energy: 1.0 };
//! let energies = [1, 2, 3, 5, 8, 13, 20, 30, 50, 100];
//! let broken = plan::values(&bot, 10.0, &energies, 0.0, 1000);
//! let fine = plan::values(&bot, 95.0, &energies, 0.0, 1000);
//! let best = |v: &[f64]| v.iter().cloned().fold(f64::MIN, f64::max);
//! assert!(broken.iter().any(|v| *v > 0.0)); // a broken bot runs now …
//! assert!(best(&broken) > best(&fine));     // … and gains more from it than a fine one
//! ```

use super::rhythm::{Dynamics, Rhythm, intervals};

/// The longest interval a rhythm search considers, in ticks.
pub const LONGEST: u64 = 4096;

/// The intervals a rhythm may have, up to [`LONGEST`].
fn every_interval() -> &'static [u64] {
    static ALL: std::sync::OnceLock<Vec<u64>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| intervals(LONGEST).collect())
}

/// `S(n) = Σ_{k<n} ρ^k`.
fn kept(rho: f64, n: f64) -> f64 {
    if rho < 1.0 {
        (1.0 - rho.powf(n)) / (1.0 - rho)
    } else {
        n
    }
}

/// The value of the ticks after a cycle: the bot's best rhythm, or none.
#[derive(Clone, Copy, Debug)]
pub struct Continuation {
    rho: f64,
    rhythm: Option<(Rhythm, f64, f64)>,
}

impl Continuation {
    /// The continuation of `bot` at slot price `slot_price` with `ticks`
    /// left, its rhythm the best among `energies` and the intervals up to
    /// `ticks` (at most [`LONGEST`]).
    pub fn new(bot: &Dynamics, energies: &[u32], slot_price: f64, ticks: u64) -> Continuation {
        let best = bot.best_rhythm(energies.iter().copied(), slot_price, ticks.min(LONGEST));
        Continuation::of(bot, best)
    }

    /// The continuation of `bot` with its rhythm searched only next to
    /// `around`'s (the neighbouring energies of `energies` and intervals of
    /// [`intervals`]): for a draw of dynamics close to those `around` was
    /// made for, at a fraction of the cost of [`new`](Self::new).
    pub fn near(
        bot: &Dynamics,
        around: &Continuation,
        energies: &[u32],
        slot_price: f64,
        ticks: u64,
    ) -> Continuation {
        let Some(r) = around.rhythm() else {
            return Continuation::of(bot, None);
        };
        let all = every_interval();
        let everies = &all[..all.partition_point(|&t| t <= ticks.clamp(1, LONGEST))];
        let i = everies.iter().position(|&t| t == r.every).unwrap_or(0);
        let j = energies.iter().position(|&e| e == r.energy).unwrap_or(0);
        let mut best: Option<Rhythm> = None;
        for every in &everies[i.saturating_sub(1)..(i + 2).min(everies.len())] {
            for energy in &energies[j.saturating_sub(1)..(j + 2).min(energies.len())] {
                if let Some(x) = bot.rhythm(*energy, *every, slot_price)
                    && best.is_none_or(|b| x.rate > b.rate)
                {
                    best = Some(x);
                }
            }
        }
        Continuation::of(bot, best.filter(|b| b.rate > 0.0))
    }

    /// A stand-in for a continuation whose rhythm was `every` and `energy`,
    /// to search near it with [`near`](Self::near).
    pub fn following(every: u64, energy: u32) -> Continuation {
        let r = Rhythm {
            every,
            energy,
            low: 0.0,
            high: 0.0,
            rate: 0.0,
        };
        Continuation {
            rho: 1.0,
            rhythm: Some((r, 0.0, 0.0)),
        }
    }

    /// A stand-in for a continuation with no rhythm.
    pub fn none() -> Continuation {
        Continuation {
            rho: 1.0,
            rhythm: None,
        }
    }

    /// The continuation of `bot` following `rhythm` (none: no more cycles).
    fn of(bot: &Dynamics, rhythm: Option<Rhythm>) -> Continuation {
        let rho = bot.retention.clamp(0.0, 1.0);
        let rhythm = rhythm.map(|r| {
            let psi = bot.share(r.energy);
            let decay = (1.0 - psi) * rho.powi(r.every as i32);
            let worth = kept(rho, r.every as f64) / (1.0 - decay);
            (r, worth, decay.powf(1.0 / r.every as f64))
        });
        Continuation { rho, rhythm }
    }

    /// The best rhythm, if any is worth running.
    pub fn rhythm(&self) -> Option<Rhythm> {
        self.rhythm.map(|r| r.0)
    }

    /// `C(·, n)` for `n` ticks, as a function of the post-cycle level.
    pub fn over(&self, n: f64) -> Value {
        Value {
            alone: kept(self.rho, n),
            rhythm: self
                .rhythm
                .map(|(r, worth, keep)| (r.rate * n, worth * (1.0 - keep.powf(n)), r.high)),
        }
    }

    /// `C(y, n)`: the value of `n` ticks that start at post-cycle level `y`
    /// — at least what they earn with no further cycle.
    pub fn value(&self, y: f64, n: f64) -> f64 {
        self.over(n).at(y)
    }
}

/// `C(·, n)` for one `n`: what the ticks earn from a post-cycle level.
#[derive(Clone, Copy, Debug)]
pub struct Value {
    alone: f64,
    rhythm: Option<(f64, f64, f64)>,
}

impl Value {
    /// `C(y, n)`.
    pub fn at(&self, y: f64) -> f64 {
        let alone = y * self.alone;
        match self.rhythm {
            Some((base, worth, high)) => alone.max(base + worth * (y - high)),
            None => alone,
        }
    }
}

/// The value of each energy of `energies` now, relative to skipping, for a
/// bot of dynamics `bot` (its `cost_per_energy` included) whose level last
/// tick was `level`, at slot price `slot_price` with `ticks` ticks left
/// (this one included). See the [module docs](self).
pub fn values(
    bot: &Dynamics,
    level: f64,
    energies: &[u32],
    slot_price: f64,
    ticks: u64,
) -> Vec<f64> {
    let then = Continuation::new(bot, energies, slot_price, ticks);
    values_with(bot, &then, level, energies, slot_price, ticks)
}

/// [`values`] with the continuation given (made for `bot`, e.g. with
/// [`Continuation::near`]).
pub fn values_with(
    bot: &Dynamics,
    then: &Continuation,
    level: f64,
    energies: &[u32],
    slot_price: f64,
    ticks: u64,
) -> Vec<f64> {
    let n = ticks.max(1) as f64;
    let rho = bot.retention.clamp(0.0, 1.0);
    let x = rho * level;
    let run = |at: f64, e: u32, then: &Value| {
        -bot.cost_per_energy * f64::from(e) - slot_price + then.at(bot.after(at, e))
    };
    let never = x * kept(rho, n);
    let wait = if n > 1.0 {
        let shorter = then.over(n - 1.0);
        let later = energies
            .iter()
            .map(|&e| run(rho * x, e, &shorter))
            .fold(f64::NEG_INFINITY, f64::max);
        x + later
    } else {
        x
    };
    let alternative = wait.max(never);
    let now = then.over(n);
    energies
        .iter()
        .map(|&e| run(x, e, &now) - alternative)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENERGIES: [u32; 10] = [1, 2, 3, 5, 8, 13, 20, 30, 50, 100];

    fn bot() -> Dynamics {
        Dynamics {
            retention: 0.99,
            ceiling: 100.0,
            gain: 0.3,
            half_energy: 10.0,
            cost_per_energy: 1.0,
        }
    }

    /// Runs the rule on the deterministic model; returns the profit.
    fn follow(d: &Dynamics, start: f64, price: f64, ticks: u64) -> (f64, u64) {
        let mut level = start / d.retention;
        let (mut profit, mut cycles) = (0.0, 0);
        for t in 0..ticks {
            let v = values(d, level, &ENERGIES, price, ticks - t);
            let (k, best) = v
                .iter()
                .enumerate()
                .fold((0, f64::MIN), |b, (k, &x)| if x > b.1 { (k, x) } else { b });
            let mut now = d.retention * level;
            if best > 0.0 {
                now = d.after(now, ENERGIES[k]);
                profit -= d.cost_per_energy * f64::from(ENERGIES[k]) + price;
                cycles += 1;
            }
            profit += now;
            level = now;
        }
        (profit, cycles)
    }

    /// The best fixed rule of the grid on the deterministic model.
    fn best_rule(d: &Dynamics, start: f64, price: f64, ticks: u64) -> f64 {
        let mut best = f64::MIN;
        for &e in &ENERGIES {
            for every in [1u64, 2, 3, 4, 6, 8, 12, 24, 48, 96] {
                let mut level = start;
                let mut profit = 0.0;
                for t in 0..ticks {
                    if t % every == 0 {
                        level = d.after(level, e);
                        profit -= d.cost_per_energy * f64::from(e) + price;
                    }
                    profit += level;
                    level *= d.retention;
                }
                best = best.max(profit);
            }
        }
        best
    }

    #[test]
    fn the_rule_beats_every_fixed_rule_on_the_model() {
        for (d, start, price) in [
            (bot(), 70.0, 0.0),
            (bot(), 70.0, 60.0),
            (
                Dynamics {
                    retention: 0.999,
                    ..bot()
                },
                60.0,
                0.0,
            ),
            (
                Dynamics {
                    half_energy: 1.0,
                    cost_per_energy: 4.0,
                    ..bot()
                },
                60.0,
                0.0,
            ),
            (
                Dynamics {
                    gain: 0.7,
                    half_energy: 40.0,
                    ..bot()
                },
                5.0,
                10.0,
            ),
            (
                Dynamics {
                    cost_per_energy: 12.0,
                    ..bot()
                },
                80.0,
                0.0,
            ),
        ] {
            let (rule, _) = follow(&d, start, price, 2000);
            let fixed = best_rule(&d, start, price, 2000);
            assert!(
                rule >= fixed - 1e-3 * fixed.abs(),
                "{d:?}: {rule} vs {fixed}"
            );
        }
    }

    #[test]
    fn a_dead_end_never_runs_and_the_last_tick_only_counts_itself() {
        let dead = Dynamics { gain: 0.0, ..bot() };
        assert_eq!(follow(&dead, 70.0, 0.0, 500).1, 0);
        // Last tick: the value of E is J(E) − c E.
        let v = values(&bot(), 50.0, &ENERGIES, 0.0, 1);
        let x = 0.99 * 50.0;
        for (k, &e) in ENERGIES.iter().enumerate() {
            let want = bot().share(e) * (100.0 - x) - f64::from(e);
            assert!((v[k] - want).abs() < 1e-9, "{e}: {} vs {want}", v[k]);
        }
    }

    #[test]
    fn a_slot_price_makes_cycles_rarer() {
        let (_, free) = follow(&bot(), 70.0, 0.0, 1000);
        let (_, dear) = follow(&bot(), 70.0, 100.0, 1000);
        assert!(dear * 3 < free, "{dear} vs {free}");
    }
}
