//! The steady rhythm of a bot: the best way to keep it improved by a fixed
//! cycle every `τ` ticks, and the slot price that shares scarce cycle
//! slots between bots.
//!
//! **The model** ([`Dynamics`]), in money per tick. A bot earns at a
//! *level* `L` (expected revenue per tick). Without a cycle the level keeps a
//! share `ρ` (the *retention*, `1 − drift`) of itself each tick. A cycle of
//! energy `E` closes a share `ψ(E) = g · E / (E + h)` of the gap to the
//! ceiling `D` — diminishing returns in the energy and in how good the bot
//! already is — and costs `c · E`:
//!
//! ```text
//! L ← L + ψ(E) · (D − L)      (a cycle, counted in the tick it runs)
//! L ← ρ · L                   (between ticks)
//! ```
//!
//! **A rhythm** runs energy `E` every `τ` ticks. Its steady orbit has a
//! level `low` just before each cycle and `high` just after it:
//!
//! ```text
//! low  = ρ^τ · ψ · D / (1 − ρ^τ · (1 − ψ))
//! high = low + ψ · (D − low)
//! rate = (high · (1 − ρ^τ) / (1 − ρ) − c · E − λ) / τ        (profit per tick)
//! ```
//!
//! where `λ` is the price of the cycle slot the rhythm takes. The best
//! rhythm ([`Dynamics::best_rhythm`]) maximises `rate` over energies and
//! intervals; when no rhythm earns more than letting the bot decay (rate
//! 0 in the long run), there is none: the bot is not worth keeping up.
//!
//! **Slot prices** ([`clearing_price`]): when `K` slots per tick are shared
//! by bots that would together want more, each bot's best rhythm at price
//! `λ` asks for `1/τ` slots per tick, and the price is the smallest `λ` at
//! which the fleet asks for at most `K` — the Lagrange multiplier of the
//! slot constraint in the long run (a higher price stretches every bot's
//! interval, since a cycle has to be worth its slot).
//!
//! ```
//! use kaizen::decide::Dynamics;
//!
//! let bot = Dynamics { retention: 0.99, ceiling: 100.0, gain: 0.3, half_energy: 10.0, cost_per_energy: 1.0 };
//! let free = bot.best_rhythm(1..=100, 0.0, 1000).unwrap();
//! let dear = bot.best_rhythm(1..=100, 200.0, 1000).unwrap();
//! assert!(dear.every > free.every);   // a costly slot is used less often…
//! assert!(dear.energy > free.energy); // …and for a bigger cycle
//! let dead = Dynamics { gain: 0.0, ..bot };
//! assert!(dead.best_rhythm(1..=100, 0.0, 1000).is_none());
//! ```

use serde::{Deserialize, Serialize};

/// A bot's world as a planner sees it. See the [module docs](self).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dynamics {
    /// `ρ`: the share of its level a bot keeps from one tick to the next, in [0, 1].
    pub retention: f64,
    /// `D`: the level at full skill (revenue per tick), ≥ 0.
    pub ceiling: f64,
    /// `g`: the share of the gap to the ceiling a cycle of unbounded energy closes, in [0, 1].
    pub gain: f64,
    /// `h`: the energy at which a cycle gets half of `g`, > 0.
    pub half_energy: f64,
    /// `c`: what one unit of energy costs, ≥ 0.
    pub cost_per_energy: f64,
}

/// A steady rhythm: a cycle of `energy` every `every` ticks, in its steady orbit.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rhythm {
    /// Ticks between cycles, `τ`.
    pub every: u64,
    /// The energy of each cycle.
    pub energy: u32,
    /// The level just before a cycle.
    pub low: f64,
    /// The level just after it.
    pub high: f64,
    /// Profit per tick, after the slot price.
    pub rate: f64,
}

/// The intervals a rhythm search tries, up to `longest`: every interval to
/// 16, then steps of an eighth.
pub fn intervals(longest: u64) -> impl Iterator<Item = u64> {
    let mut next = 1u64;
    std::iter::from_fn(move || {
        let now = next;
        next = if now < 16 { now + 1 } else { now + now / 8 };
        (now <= longest.max(1)).then_some(now)
    })
}

impl Dynamics {
    /// `ψ(E)`: the share of the gap a cycle of `energy` closes.
    pub fn share(&self, energy: u32) -> f64 {
        let e = f64::from(energy);
        self.gain * e / (e + self.half_energy)
    }

    /// The level after a cycle of `energy` at level `level`.
    pub fn after(&self, level: f64, energy: u32) -> f64 {
        level + self.share(energy) * (self.ceiling - level)
    }

    /// The steady orbit of a cycle of `energy` every `every` ticks, with
    /// each cycle paying `slot_price`; `None` when a cycle changes nothing.
    pub fn rhythm(&self, energy: u32, every: u64, slot_price: f64) -> Option<Rhythm> {
        let rho = self.retention.clamp(0.0, 1.0);
        self.rhythm_with(
            energy,
            every,
            rho.powi(every.min(i32::MAX as u64) as i32),
            slot_price,
        )
    }

    /// [`rhythm`](Self::rhythm) with `q = ρ^every` given.
    fn rhythm_with(&self, energy: u32, every: u64, q: f64, slot_price: f64) -> Option<Rhythm> {
        let psi = self.share(energy);
        if psi <= 0.0 || every == 0 {
            return None;
        }
        let rho = self.retention.clamp(0.0, 1.0);
        let low = q * psi * self.ceiling / (1.0 - q * (1.0 - psi));
        let high = low + psi * (self.ceiling - low);
        let kept = if rho < 1.0 {
            (1.0 - q) / (1.0 - rho)
        } else {
            every as f64
        };
        let cost = self.cost_per_energy * f64::from(energy) + slot_price;
        Some(Rhythm {
            every,
            energy,
            low,
            high,
            rate: (high * kept - cost) / every as f64,
        })
    }

    /// The rhythm of highest rate over `energies` and the intervals up to
    /// `longest`, if it earns more than none (rate > 0).
    pub fn best_rhythm(
        &self,
        energies: impl IntoIterator<Item = u32> + Clone,
        slot_price: f64,
        longest: u64,
    ) -> Option<Rhythm> {
        let mut best: Option<Rhythm> = None;
        let rho = self.retention.clamp(0.0, 1.0);
        for every in intervals(longest) {
            let q = rho.powi(every.min(i32::MAX as u64) as i32);
            for energy in energies.clone() {
                if let Some(r) = self.rhythm_with(energy, every, q, slot_price)
                    && best.is_none_or(|b| r.rate > b.rate)
                {
                    best = Some(r);
                }
            }
        }
        best.filter(|r| r.rate > 0.0)
    }
}

/// The slots per tick `fleet` asks for at `price`: the sum of `1/τ` of each
/// bot's best rhythm.
pub fn slot_demand(
    fleet: &[Dynamics],
    energies: impl IntoIterator<Item = u32> + Clone,
    price: f64,
    longest: u64,
) -> f64 {
    fleet
        .iter()
        .filter_map(|d| d.best_rhythm(energies.clone(), price, longest))
        .map(|r| 1.0 / r.every as f64)
        .sum()
}

/// The smallest slot price at which `fleet` asks for at most `slots` cycles
/// per tick (to a relative 1e-3), 0 when it does at no price. See the
/// [module docs](self).
///
/// ```
/// use kaizen::decide::{Dynamics, clearing_price, slot_demand};
///
/// let bot = Dynamics { retention: 0.99, ceiling: 100.0, gain: 0.3, half_energy: 10.0, cost_per_energy: 1.0 };
/// let fleet = vec![bot; 20];
/// assert_eq!(clearing_price(&fleet, 1..=100, 20.0, 1000), 0.0); // a slot each
/// let price = clearing_price(&fleet, 1..=100, 2.0, 1000);
/// assert!(price > 0.0);
/// assert!(slot_demand(&fleet, 1..=100, price, 1000) <= 2.0);
/// assert!(slot_demand(&fleet, 1..=100, 0.99 * price, 1000) > 2.0);
/// ```
pub fn clearing_price(
    fleet: &[Dynamics],
    energies: impl IntoIterator<Item = u32> + Clone,
    slots: f64,
    longest: u64,
) -> f64 {
    let demand = |price| slot_demand(fleet, energies.clone(), price, longest);
    if demand(0.0) <= slots {
        return 0.0;
    }
    let scale = fleet.iter().map(|d| d.ceiling).fold(1.0, f64::max);
    let mut high = scale;
    while demand(high) > slots && high < scale * 1e12 {
        high *= 2.0;
    }
    let mut low = 0.0;
    while high - low > 1e-3 * high {
        let mid = 0.5 * (low + high);
        if demand(mid) > slots {
            low = mid;
        } else {
            high = mid;
        }
    }
    high
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bot() -> Dynamics {
        Dynamics {
            retention: 0.98,
            ceiling: 100.0,
            gain: 0.4,
            half_energy: 10.0,
            cost_per_energy: 1.0,
        }
    }

    /// The orbit by brute force: run the rule until it repeats.
    fn simulated(d: &Dynamics, energy: u32, every: u64, price: f64) -> (f64, f64) {
        let mut level = 50.0;
        let (mut low, mut profit) = (0.0, 0.0);
        for cycle in 0..5000 {
            low = level;
            level = d.after(level, energy);
            let mut earned = -d.cost_per_energy * f64::from(energy) - price;
            for _ in 0..every {
                earned += level;
                level *= d.retention;
            }
            if cycle == 4999 {
                profit = earned / every as f64;
            }
        }
        (low, profit)
    }

    #[test]
    fn the_steady_orbit_matches_a_long_run() {
        for (energy, every, price) in [(10, 1, 0.0), (3, 7, 5.0), (40, 30, 80.0)] {
            let r = bot().rhythm(energy, every, price).unwrap();
            let (low, rate) = simulated(&bot(), energy, every, price);
            assert!((r.low - low).abs() < 1e-6, "{r:?} vs {low}");
            assert!((r.rate - rate).abs() < 1e-6, "{r:?} vs {rate}");
            assert!((r.high - bot().after(r.low, energy)).abs() < 1e-9);
        }
    }

    #[test]
    fn no_drift_keeps_the_level_at_the_ceiling() {
        let still = Dynamics {
            retention: 1.0,
            ..bot()
        };
        let r = still.rhythm(5, 10, 0.0).unwrap();
        assert!((r.low - 100.0).abs() < 1e-9 && (r.high - 100.0).abs() < 1e-9);
        assert!((r.rate - (100.0 - 0.5)).abs() < 1e-9);
        assert!(still.rhythm(0, 10, 0.0).is_none());
    }

    #[test]
    fn the_best_rhythm_beats_its_neighbours_and_a_dear_bot_has_none() {
        let best = bot().best_rhythm(1..=100, 0.0, 500).unwrap();
        for (e, t) in [(1, 1), (50, 1), (best.energy + 1, best.every)] {
            assert!(bot().rhythm(e, t, 0.0).unwrap().rate <= best.rate);
        }
        let dear = Dynamics {
            cost_per_energy: 500.0,
            ..bot()
        };
        assert!(dear.best_rhythm(1..=100, 0.0, 500).is_none());
    }

    #[test]
    fn intervals_are_dense_then_geometric() {
        let all: Vec<u64> = intervals(40).collect();
        assert_eq!(
            all,
            [
                1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 20, 22, 24, 27, 30, 33,
                37
            ]
        );
        assert_eq!(intervals(0).collect::<Vec<_>>(), [1]);
    }
}
