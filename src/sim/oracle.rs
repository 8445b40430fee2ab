//! The oracle: a policy that knows every bot's hidden skill and parameters.
//!
//! For each bot it plans by backward induction over the remaining horizon on
//! a grid of skills ([`GRID`] points in [0, 1], values between points
//! interpolated linearly): `V_T(s) = 0` and
//!
//! ```text
//! Q_t(s, E) = demand · s'(E) − cost_per_energy · E + V_{t+1}(s'(E) · (1 − drift))
//! s'(E)     = s + gain · (1 − s) · E / (E + half_energy)        (s'(0) = s)
//! V_t(s)    = max over E in 0..=100 of Q_t(s, E)
//! ```
//!
//! (expected revenue: the noise has mean 0). Each tick it runs, on each bot,
//! the best-energy cycle `E*` when its expected gain over the remaining
//! horizon beats its cost — `Q_t(s, E*) > Q_t(s, 0)` — which, unlike a
//! one-cycle payback rule, counts that the oracle itself will keep
//! improving the bot later. When there are fewer cycle slots than bots that
//! want one, the bots with the largest advantage `Q_t(s, E*) − Q_t(s, 0)`
//! go first (a greedy split; planning is per bot).
//!
//! Far from the end the plan stops changing: once `V_t − V_{t+1}` is the
//! same constant at every grid point (to 1e-9 of the bot's demand), earlier
//! ticks decide exactly as that tick does, so only the rows from there to
//! the end are kept — at most [`MAX_ROWS`] per bot (3.3 MB): further from
//! the end than that, a bot is planned as if the horizon were `MAX_ROWS`
//! ticks away (with a drift of 0.5% a tick, 1 − 0.995^2048 > 99.99% of a
//! gain's value lies within that window). In the backward pass the best energy at each grid point
//! is found on a coarse ladder of energies refined around its best rung;
//! at decision time, at the bot's true skill, every energy is tried.
//!
//! ```
//! use kaizen::sim::{BotParams, OraclePlan};
//!
//! let good = BotParams { skill: 0.5, ..BotParams::default() };
//! let dead = BotParams { gain: 0.0, ..good.clone() };
//! let plan = OraclePlan::new(&[good, dead], 200)?;
//! assert!(plan.best(0, 0, 0.5).0 > 0);   // worth improving
//! assert_eq!(plan.best(1, 0, 0.5).0, 0); // nothing to gain: never pay
//! # Ok::<(), kaizen::Error>(())
//! ```

use super::bot::{BotParams, energy_share};
use super::world::World;
use crate::Result;
use crate::chain::MAX_ENERGY;

/// Grid points of skill in [0, 1].
pub const GRID: usize = 201;

/// The most ticks before the horizon a bot's plan keeps values for.
pub const MAX_ROWS: usize = 2048;

/// The coarse ladder of energies searched first in the backward pass.
const LADDER: [u32; 22] = [
    0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 14, 17, 20, 24, 28, 33, 40, 48, 57, 68, 80, 100,
];

/// One bot's plan.
#[derive(Clone, Debug)]
struct BotPlan {
    params: BotParams,
    /// `E / (E + half_energy)` for E in 0..=100.
    share: Vec<f64>,
    /// `V_t` on the grid for t from `first` to the horizon (the last row is `V_T = 0`).
    rows: Vec<Box<[f64]>>,
    /// The tick of `rows[0]`; earlier ticks use it.
    first: u64,
}

/// The oracle's plan for every bot over a horizon. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct OraclePlan {
    bots: Vec<BotPlan>,
    horizon: u64,
}

/// `v` (a row on the grid) at skill `s`, linearly interpolated.
fn interpolate(v: &[f64], s: f64) -> f64 {
    let x = s.clamp(0.0, 1.0) * (GRID - 1) as f64;
    let j = (x.floor() as usize).min(GRID - 2);
    let w = x - j as f64;
    v[j] + w * (v[j + 1] - v[j])
}

impl BotPlan {
    fn new(params: &BotParams, horizon: u64) -> BotPlan {
        let share = (0..=MAX_ENERGY)
            .map(|e| energy_share(params.half_energy, e))
            .collect();
        let mut plan = BotPlan {
            params: params.clone(),
            share,
            rows: vec![vec![0.0; GRID].into_boxed_slice()],
            first: horizon,
        };
        let tolerance = 1e-9 * params.demand.max(1.0);
        while plan.first > 0 {
            let next = plan.rows.last().map(|r| &r[..]).unwrap_or(&[]);
            let row: Box<[f64]> = (0..GRID)
                .map(|j| plan.search(next, j as f64 / (GRID - 1) as f64))
                .collect();
            let step0 = row[0] - next[0];
            let settled = plan.rows.len() > 1
                && row
                    .iter()
                    .zip(next)
                    .all(|(a, b)| ((a - b) - step0).abs() <= tolerance);
            plan.rows.push(row);
            plan.first -= 1;
            if settled || plan.rows.len() > MAX_ROWS {
                break;
            }
        }
        plan.rows.reverse();
        plan
    }

    /// `Q(s, E)` against the next tick's values `next`.
    fn q(&self, next: &[f64], s: f64, energy: u32) -> f64 {
        let p = &self.params;
        let after = s + p.gain * (1.0 - s) * self.share[energy as usize];
        p.demand * after - p.cost_per_energy * f64::from(energy)
            + interpolate(next, after * (1.0 - p.drift))
    }

    /// The best value at `s`: the ladder, then every energy between the
    /// best rung's neighbours.
    fn search(&self, next: &[f64], s: f64) -> f64 {
        let (mut best_rung, mut best) = (0, f64::NEG_INFINITY);
        for (k, &e) in LADDER.iter().enumerate() {
            let q = self.q(next, s, e);
            if q > best {
                (best_rung, best) = (k, q);
            }
        }
        let lo = LADDER[best_rung.saturating_sub(1)];
        let hi = LADDER[(best_rung + 1).min(LADDER.len() - 1)];
        (lo..=hi).fold(best, |m, e| m.max(self.q(next, s, e)))
    }

    /// The row of `V_{t+1}` for a decision at tick `t`.
    fn next_row(&self, t: u64) -> &[f64] {
        let k = (t.max(self.first) + 1 - self.first) as usize;
        &self.rows[k.min(self.rows.len() - 1)]
    }
}

impl OraclePlan {
    /// Plans `bots` over `horizon` ticks. Invalid parameters are refused,
    /// naming `bots[i].field`.
    pub fn new(bots: &[BotParams], horizon: u64) -> Result<OraclePlan> {
        for (i, bot) in bots.iter().enumerate() {
            bot.validate(&format!("bots[{i}]"))?;
        }
        Ok(OraclePlan {
            bots: bots.iter().map(|p| BotPlan::new(p, horizon)).collect(),
            horizon,
        })
    }

    /// The best energy for bot `i` at tick `t` and skill `s` (0: no cycle),
    /// and its advantage over no cycle, `Q(s, E*) − Q(s, 0)`. No cycle is
    /// worth anything at or after the horizon.
    pub fn best(&self, i: usize, t: u64, s: f64) -> (u32, f64) {
        if t >= self.horizon {
            return (0, 0.0);
        }
        let plan = &self.bots[i];
        let next = plan.next_row(t);
        let idle = plan.q(next, s, 0);
        let (mut energy, mut best) = (0, idle);
        for e in 1..=MAX_ENERGY {
            let q = plan.q(next, s, e);
            if q > best {
                (energy, best) = (e, q);
            }
        }
        (energy, best - idle)
    }

    /// The cycles the oracle wants at tick `t`, best advantage first (ties:
    /// the lower bot index), into `out`.
    pub fn choose(&self, t: u64, world: &World, out: &mut Vec<(usize, u32)>) {
        let mut wanted: Vec<(usize, u32, f64)> = (0..world.len())
            .filter_map(|i| {
                let (e, advantage) = self.best(i, t, world.skill(i));
                (e > 0 && advantage > 0.0).then_some((i, e, advantage))
            })
            .collect();
        wanted.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)));
        out.extend(wanted.into_iter().map(|(i, e, _)| (i, e)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bot() -> BotParams {
        BotParams {
            skill: 0.5,
            drift: 0.02,
            demand: 100.0,
            noise: 0.0,
            gain: 0.4,
            half_energy: 10.0,
            cost_per_energy: 1.0,
            eval_noise: 0.0,
            events: Vec::new(),
        }
    }

    #[test]
    fn interpolation_is_linear_between_grid_points() {
        let row: Vec<f64> = (0..GRID).map(|j| (j * j) as f64).collect();
        assert_eq!(interpolate(&row, 0.0), 0.0);
        assert_eq!(interpolate(&row, 1.0), ((GRID - 1) * (GRID - 1)) as f64);
        // Halfway between points 1 (1) and 2 (4).
        let s = 1.5 / (GRID - 1) as f64;
        assert!((interpolate(&row, s) - 2.5).abs() < 1e-9);
    }

    #[test]
    fn last_tick_decision_by_hand() {
        // At the last tick only this tick's revenue counts:
        // Q(E) = 100 · (0.5 + 0.4 · 0.5 · E/(E+10)) − E.
        // Q(0) = 50; dQ/dE = 20 · 10/(E+10)² − 1 = 0 at E = √200 − 10 ≈ 4.14:
        // Q(4) = 50 + 20·4/14 − 4 = 51.714…, Q(5) = 50 + 20/3 − 5 = 51.667.
        let plan = OraclePlan::new(&[bot()], 10).unwrap();
        let (e, adv) = plan.best(0, 9, 0.5);
        assert_eq!(e, 4);
        assert!((adv - (20.0 * 4.0 / 14.0 - 4.0)).abs() < 1e-9, "{adv}");
        // Past the horizon nothing is worth it.
        assert_eq!(plan.best(0, 10, 0.5), (0, 0.0));
    }

    #[test]
    fn a_cycle_that_cannot_pay_back_is_not_run() {
        // Cost 30 per energy: even at the last tick E = 1 earns 100 · 0.4 · 0.5 / 11 ≈ 1.8.
        let dear = BotParams {
            cost_per_energy: 30.0,
            ..bot()
        };
        let plan = OraclePlan::new(&[dear], 5).unwrap();
        assert_eq!(plan.best(0, 4, 0.5).0, 0);
    }

    #[test]
    fn a_longer_horizon_invests_more() {
        let plan = OraclePlan::new(&[bot()], 400).unwrap();
        let (late, _) = plan.best(0, 399, 0.5);
        let (early, _) = plan.best(0, 0, 0.5);
        assert!(early > late, "{early} vs {late}");
        // A bot near perfect skill needs little.
        let (near, _) = plan.best(0, 0, 0.99);
        assert!(near < early);
    }

    #[test]
    fn the_plan_settles_far_from_the_end() {
        let plan = OraclePlan::new(&[bot()], 100_000).unwrap();
        assert!(
            plan.bots[0].rows.len() < 5_000,
            "{}",
            plan.bots[0].rows.len()
        );
        // Decisions before the settled tick are those of the settled tick.
        let first = plan.bots[0].first;
        assert_eq!(plan.best(0, 0, 0.6), plan.best(0, first, 0.6));
    }

    #[test]
    fn a_bot_that_never_settles_keeps_a_bounded_plan() {
        // No drift and nothing to gain: each tick adds demand · s, which
        // differs between skills, so values never settle; the plan stops
        // at MAX_ROWS rows.
        let still = BotParams {
            drift: 0.0,
            gain: 0.0,
            ..bot()
        };
        let plan = OraclePlan::new(&[still], 10_000).unwrap();
        assert_eq!(plan.bots[0].rows.len(), MAX_ROWS + 1);
        assert_eq!(plan.bots[0].first, 10_000 - MAX_ROWS as u64);
        assert_eq!(plan.best(0, 0, 0.5), plan.best(0, plan.bots[0].first, 0.5));
        let bad = BotParams {
            half_energy: 0.0,
            ..bot()
        };
        assert!(OraclePlan::new(&[bot(), bad], 10).is_err());
    }

    #[test]
    fn choose_orders_by_advantage_and_skips_dead_ends() {
        let low = BotParams {
            skill: 0.2,
            ..bot()
        };
        let dead = BotParams { gain: 0.0, ..bot() };
        let bots = vec![bot(), dead, low];
        let world = World::new(bots.clone(), 0, 1).unwrap();
        let plan = OraclePlan::new(&bots, 300).unwrap();
        let mut out = Vec::new();
        plan.choose(0, &world, &mut out);
        // The low-skill bot has the most to gain; the dead end none.
        let order: Vec<usize> = out.iter().map(|c| c.0).collect();
        assert_eq!(order, vec![2, 0]);
    }
}
