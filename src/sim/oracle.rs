//! The oracle: a policy that knows every bot's hidden skill, parameters and
//! future events, but not the future noise.
//!
//! **One bot.** Revenue noise has mean 0 and never moves the skill, so
//! expected profit is the profit of the skill path, and the oracle plans it
//! by backward induction over the whole horizon on a grid of skills ([`GRID`]
//! points in [0, 1], values between points interpolated linearly):
//! `V_T(s) = 0` and
//!
//! ```text
//! Q_t(s, E) = demand_t · s'(E) − cost_t · E − λ_t · [E > 0] + V_{t+1}(next)
//! s'(E)     = s + gain_t · (1 − s) · E / (E + half_energy_t)      (s'(0) = s)
//! next      = s'(E) · (1 − drift_t), or the skill an event sets at t + 1
//! V_t(s)    = max over E in 0..=100 of Q_t(s, E)
//! ```
//!
//! with each parameter as it stands at tick `t` (events change them). Each
//! tick the oracle computes, at each bot's true skill, the best energy `E*`
//! over every energy and its advantage `Q_t(s, E*) − Q_t(s, 0)`.
//!
//! **Shared slots.** With `K` cycle slots per tick, each cycle pays a slot
//! price `λ_t`: the Lagrange multiplier of the slot constraint, set per
//! stretch between events by [`clearing_price`] (the smallest price at
//! which the bots' best steady rhythms ask for at most `K` cycles a tick; 0
//! when slots are not scarce). A bot then plans as if it paid `λ` for each
//! slot it takes, which stretches its intervals and raises its energies
//! exactly as much as scarcity calls for. Each tick the slots go to the bots
//! whose best cycle is worth most (advantage after `λ`, highest first), and a
//! slot left over goes to a bot whose cycle pays without the price (a free
//! slot costs nothing now); planning stays per bot, and a bot denied a slot
//! plans again from its true skill the next tick.
//!
//! **Cost.** Once the values stop changing shape — when
//! `V_t − V_{t+1}` is the same function as `V_{t+1} − V_{t+2}` (to 1e-9 of
//! the bot's demand) within a stretch of constant parameters — the earlier
//! rows of that stretch are `V_u + (u − t) · (V_u − V_{u+1})`, exact for a
//! settled plan, so any horizon costs the same. Of the rows that are
//! computed, every `k`-th is kept (`k ≈ √rows`, at most 256) and the others
//! are computed again, a block at a time, when the run reaches them. In the
//! backward pass each grid point's best energy is climbed to by steps of one
//! from its best energy a tick later (from the best rung of a ladder of
//! energies at the end of each stretch and every 64 ticks); at decision
//! time, at the bot's true skill, every energy is tried. Bots with the same
//! parameters share one plan.
//!
//! ```
//! use kaizen::sim::{BotParams, OraclePlan};
//!
//! let good = BotParams { skill: 0.5, ..BotParams::default() };
//! let dead = BotParams { gain: 0.0, ..good.clone() };
//! let mut plan = OraclePlan::new(&[good, dead], 200, 0)?;
//! assert!(plan.best(0, 0, 0.5).0 > 0);   // worth improving
//! assert_eq!(plan.best(1, 0, 0.5).0, 0); // nothing to gain: never pay
//! # Ok::<(), kaizen::Error>(())
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use super::bot::{BotParams, energy_share};
use super::event::regimes;
use super::world::World;
use crate::Result;
use crate::chain::MAX_ENERGY;
use crate::decide::{Dynamics, clearing_price};

/// Grid points of skill in [0, 1].
pub const GRID: usize = 201;

/// The energies tried first at each grid point of the backward pass.
const LADDER: [u32; 12] = [1, 2, 3, 5, 8, 12, 18, 27, 40, 60, 80, 100];

/// The longest interval slot pricing considers, in ticks.
const LONGEST: u64 = 4096;

/// The most rows kept between two checkpoints.
const MAX_BLOCK: u64 = 256;

type Row = Box<[f64]>;
/// The best energy ≥ 1 at each grid point of a row.
type Hints = Box<[u8]>;

/// A search of the backward pass starts from the ladder every this many ticks.
const FULL_SEARCH: u64 = 64;

/// What holds for one bot from one tick on.
#[derive(Clone, Debug)]
struct Regime {
    from: u64,
    params: BotParams,
    /// The skill an event sets at `from`, if any.
    set: Option<f64>,
    /// The slot price.
    price: f64,
    /// `E / (E + half_energy)` for E in 0..=100.
    share: Vec<f64>,
}

/// Ticks `t` in `[regime start, until)` have `V_t = row + (until − t) · step`.
#[derive(Clone, Debug)]
struct Settled {
    until: u64,
    row: Row,
    step: Row,
}

/// One bot's plan.
#[derive(Clone, Debug)]
struct BotPlan {
    regimes: Vec<Regime>,
    settled: Vec<Option<Settled>>,
    /// `V_t` and its best energies, kept for some computed (not settled) ticks.
    checkpoints: BTreeMap<u64, (Row, Hints)>,
    horizon: u64,
    /// `V_t` for t in `block.0 ..` (recomputed from a checkpoint).
    block: (u64, Vec<Row>),
}

/// `v` (a row on the grid) at skill `s`, linearly interpolated.
fn interpolate(v: &[f64], s: f64) -> f64 {
    let x = s.clamp(0.0, 1.0) * (GRID - 1) as f64;
    let j = (x.floor() as usize).min(GRID - 2);
    let w = x - j as f64;
    v[j] + w * (v[j + 1] - v[j])
}

fn grid_skill(j: usize) -> f64 {
    j as f64 / (GRID - 1) as f64
}

impl BotPlan {
    fn new(params: &BotParams, horizon: u64, prices: &[(u64, f64)]) -> BotPlan {
        let mut starts: Vec<(u64, BotParams, Option<f64>)> = regimes(params, horizon);
        for &(tick, _) in prices {
            if let Err(k) = starts.binary_search_by_key(&tick, |r| r.0) {
                let (_, p, _) = starts[k - 1].clone();
                starts.insert(k, (tick, p, None));
            }
        }
        let price_at = |t: u64| {
            let k = prices.partition_point(|p| p.0 <= t);
            if k == 0 { 0.0 } else { prices[k - 1].1 }
        };
        let regimes: Vec<Regime> = starts
            .into_iter()
            .map(|(from, params, set)| Regime {
                from,
                share: (0..=MAX_ENERGY)
                    .map(|e| energy_share(params.half_energy, e))
                    .collect(),
                price: price_at(from),
                params,
                set,
            })
            .collect();
        let mut plan = BotPlan {
            settled: vec![None; regimes.len()],
            regimes,
            checkpoints: BTreeMap::new(),
            horizon,
            block: (horizon, Vec::new()),
        };
        plan.backward();
        plan
    }

    /// The backward pass: settles what it can, keeps checkpoints.
    fn backward(&mut self) {
        let every = ((self.horizon as f64).sqrt().ceil() as u64).clamp(1, MAX_BLOCK);
        let mut next: Row = vec![0.0; GRID].into();
        let mut hints: Hints = vec![1; GRID].into();
        let mut last_step: Option<Row> = None;
        let mut computed = 0u64;
        for t in (0..self.horizon).rev() {
            let r = self.regime(t);
            let row = self.row(t, &next, &mut hints);
            if self.settled[r].as_ref().is_some_and(|s| t < s.until) {
                next = row;
                continue;
            }
            computed += 1;
            if computed.is_multiple_of(every) {
                self.checkpoints.insert(t, (row.clone(), hints.clone()));
            }
            let step: Row = row.iter().zip(next.iter()).map(|(a, b)| a - b).collect();
            // Settled when the last two steps agree, all three rows in this regime.
            let inside = t + 2 < self.regime_end(r) && t > self.regimes[r].from;
            let tolerance = 1e-9 * self.regimes[r].params.demand.max(1.0);
            if inside
                && last_step.as_ref().is_some_and(|last| {
                    step.iter()
                        .zip(last.iter())
                        .all(|(a, b)| (a - b).abs() <= tolerance)
                })
            {
                self.settled[r] = Some(Settled {
                    until: t,
                    row: row.clone(),
                    step: step.clone(),
                });
            }
            last_step = (t > self.regimes[r].from).then_some(step);
            next = row;
        }
    }

    /// The regime of tick `t`.
    fn regime(&self, t: u64) -> usize {
        self.regimes.partition_point(|r| r.from <= t) - 1
    }

    /// The first tick after regime `r`.
    fn regime_end(&self, r: usize) -> u64 {
        self.regimes.get(r + 1).map_or(self.horizon, |n| n.from)
    }

    /// The skill an event sets at tick `t`, if one does.
    fn set_at(&self, t: u64) -> Option<f64> {
        let r = self.regime(t.min(self.horizon.saturating_sub(1)));
        let regime = &self.regimes[r];
        (regime.from == t).then_some(regime.set).flatten()
    }

    /// `Q_t(s, E)` against the next tick's values, without the slot price.
    fn q(&self, r: &Regime, set_next: Option<f64>, next: &[f64], s: f64, energy: u32) -> f64 {
        let p = &r.params;
        let after = s + p.gain * (1.0 - s) * r.share[energy as usize];
        let then = set_next.unwrap_or(after * (1.0 - p.drift));
        p.demand * after - p.cost_per_energy * f64::from(energy) + interpolate(next, then)
    }

    /// `V_t` from `V_{t+1}` (`next`); a settled tick's row directly.
    /// `hints` holds each grid point's best energy of the row after; it is
    /// left holding this row's.
    fn row(&self, t: u64, next: &[f64], hints: &mut [u8]) -> Row {
        let k = self.regime(t);
        match &self.settled[k] {
            Some(s) if t < s.until => {
                let n = (s.until - t) as f64;
                s.row
                    .iter()
                    .zip(s.step.iter())
                    .map(|(v, d)| v + n * d)
                    .collect()
            }
            _ => self.search(t, next, hints),
        }
    }

    /// `V_t` from `V_{t+1}` by search. At each grid point the best energy is
    /// climbed to by steps of one from the best energy of the row after (it
    /// changes little from tick to tick); on the last tick of a regime and
    /// every [`FULL_SEARCH`] ticks the climb starts from the best rung of a
    /// ladder instead.
    fn search(&self, t: u64, next: &[f64], hints: &mut [u8]) -> Row {
        let k = self.regime(t);
        let r = &self.regimes[k];
        let set = self.set_at(t + 1);
        let full = t + 1 == self.regime_end(k) || t.is_multiple_of(FULL_SEARCH);
        (0..GRID)
            .map(|j| {
                let s = grid_skill(j);
                let value = |e: u32| self.q(r, set, next, s, e);
                let mut best_e = u32::from(hints[j]);
                let mut best = value(best_e);
                if full {
                    for &e in &LADDER {
                        let v = value(e);
                        if v > best {
                            (best_e, best) = (e, v);
                        }
                    }
                }
                let start = best_e;
                for dir in [1i64, -1] {
                    let mut e = i64::from(start) + dir;
                    while (1..=i64::from(MAX_ENERGY)).contains(&e) {
                        let v = value(e as u32);
                        if v <= best {
                            break;
                        }
                        (best_e, best) = (e as u32, v);
                        e += dir;
                    }
                }
                hints[j] = best_e as u8;
                (best - r.price).max(value(0))
            })
            .collect()
    }

    /// `V_t` for `t` in 1..=horizon (the run asks in increasing `t`).
    fn values(&mut self, t: u64) -> Row {
        if t >= self.horizon {
            return vec![0.0; GRID].into();
        }
        let k = self.regime(t);
        if self.settled[k].as_ref().is_some_and(|s| t < s.until) {
            return self.row(t, &[], &mut []);
        }
        let (start, rows) = &self.block;
        if t >= *start && ((t - start) as usize) < rows.len() {
            return rows[(t - start) as usize].clone();
        }
        // Compute the block again from the checkpoint at or after t, back
        // to the checkpoint before it.
        let (end, mut next, mut hints) = match self.checkpoints.range(t..).next() {
            Some((&c, (row, hints))) => (c, row.clone(), hints.clone()),
            None => (self.horizon, vec![0.0; GRID].into(), vec![1; GRID].into()),
        };
        let first = self
            .checkpoints
            .range(..t)
            .next_back()
            .map_or(0, |(&c, _)| c + 1)
            .max(t);
        let mut rows = vec![next.clone()];
        for u in (first..end).rev() {
            next = self.row(u, &next, &mut hints);
            rows.push(next.clone());
        }
        rows.reverse();
        let row = rows[0].clone();
        self.block = (first, rows);
        row
    }
}

/// The oracle's plan for every bot over a horizon. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct OraclePlan {
    /// Each bot's plan (bots with the same parameters share one).
    plans: Vec<Arc<std::sync::Mutex<BotPlan>>>,
    /// The slot price from each tick on.
    prices: Vec<(u64, f64)>,
    slots: u32,
    horizon: u64,
}

impl OraclePlan {
    /// Plans `bots` over `horizon` ticks with `slots` cycle slots per tick
    /// (0: no limit). Invalid parameters are refused, naming `bots[i].field`.
    pub fn new(bots: &[BotParams], horizon: u64, slots: u32) -> Result<OraclePlan> {
        for (i, bot) in bots.iter().enumerate() {
            bot.validate(&format!("bots[{i}]"))?;
        }
        let prices = slot_prices(bots, horizon, slots);
        let mut plans: Vec<Arc<std::sync::Mutex<BotPlan>>> = Vec::with_capacity(bots.len());
        for (i, bot) in bots.iter().enumerate() {
            let plan = match bots[..i].iter().position(|b| b == bot) {
                Some(j) => plans[j].clone(),
                None => Arc::new(std::sync::Mutex::new(BotPlan::new(bot, horizon, &prices))),
            };
            plans.push(plan);
        }
        Ok(OraclePlan {
            plans,
            prices,
            slots,
            horizon,
        })
    }

    /// The slot price at tick `t`.
    pub fn price(&self, t: u64) -> f64 {
        let k = self.prices.partition_point(|p| p.0 <= t);
        if k == 0 { 0.0 } else { self.prices[k - 1].1 }
    }

    /// The best energy ≥ 1 for bot `i` at tick `t` and skill `s`, and its
    /// advantage over no cycle, `Q(s, E*) − Q(s, 0)`, after the slot price
    /// (0 energy when no cycle is worth its cost even with a free slot). No
    /// cycle is worth anything at or after the horizon.
    pub fn best(&mut self, i: usize, t: u64, s: f64) -> (u32, f64) {
        if t >= self.horizon {
            return (0, 0.0);
        }
        let mut plan = self.plans[i].lock().unwrap_or_else(|p| p.into_inner());
        let next = plan.values(t + 1);
        let r = &plan.regimes[plan.regime(t)];
        let set = plan.set_at(t + 1);
        let idle = plan.q(r, set, &next, s, 0);
        let (mut energy, mut best) = (0, f64::NEG_INFINITY);
        for e in 1..=MAX_ENERGY {
            let q = plan.q(r, set, &next, s, e);
            if q > best {
                (energy, best) = (e, q);
            }
        }
        if best <= idle {
            return (0, best - idle - r.price);
        }
        (energy, best - idle - r.price)
    }

    /// The cycles the oracle runs at tick `t`, best advantage first (ties:
    /// the lower bot index), at most the slots there are, into `out`.
    pub fn choose(&mut self, t: u64, world: &World, out: &mut Vec<(usize, u32)>) {
        let price = self.price(t);
        let mut wanted: Vec<(usize, u32, f64)> = (0..world.len())
            .filter_map(|i| {
                let (e, advantage) = self.best(i, t, world.skill(i));
                (e > 0 && advantage + price > 0.0).then_some((i, e, advantage))
            })
            .collect();
        wanted.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)));
        if self.slots > 0 {
            wanted.truncate(self.slots as usize);
        }
        out.extend(wanted.into_iter().map(|(i, e, _)| (i, e)));
    }
}

/// The slot price of each stretch between events: `(first tick, price)`.
fn slot_prices(bots: &[BotParams], horizon: u64, slots: u32) -> Vec<(u64, f64)> {
    if slots == 0 || bots.len() <= slots as usize {
        return vec![(0, 0.0)];
    }
    let all: Vec<Vec<(u64, BotParams, Option<f64>)>> =
        bots.iter().map(|b| regimes(b, horizon)).collect();
    let mut starts: Vec<u64> = all.iter().flatten().map(|r| r.0).collect();
    starts.sort_unstable();
    starts.dedup();
    starts
        .into_iter()
        .map(|from| {
            let fleet: Vec<Dynamics> = all
                .iter()
                .map(|r| {
                    let p = &r[r.partition_point(|x| x.0 <= from) - 1].1;
                    Dynamics {
                        retention: 1.0 - p.drift,
                        ceiling: p.demand,
                        gain: p.gain,
                        half_energy: p.half_energy,
                        cost_per_energy: p.cost_per_energy,
                    }
                })
                .collect();
            let longest = (horizon - from).min(LONGEST);
            (
                from,
                clearing_price(&fleet, 1..=MAX_ENERGY, f64::from(slots), longest),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests;
