//! The fixed policies the learned one is compared with. They see what a
//! host sees — each bot's revenue per tick — never the hidden skill.
//!
//! Every baseline cycle gets the same energy, `[baselines] energy` (default
//! 10, which with the shipped bots' `half_energy` of 8–12 buys about half of
//! a cycle's possible gain — an operator's middle-of-the-road choice, not
//! tuned to any scenario).
//! - `always`: a cycle on every bot, every tick.
//! - `interval`: a cycle on each bot every `interval_ticks` ticks (counted
//!   from its last cycle that ran; the first tick runs every bot).
//! - `threshold`: a cycle when the bot's mean revenue over the last
//!   `threshold_short` ticks is more than `threshold_drop` (10%) under its
//!   mean over the last `threshold_long` ticks (or all ticks seen, when
//!   fewer), once more than `threshold_short` ticks have been seen.
//! - `random`: a cycle with chance `random_chance` per bot and tick, from
//!   each bot's own seeded stream (one draw per bot and tick).
//!
//! When the tick's cycle slots run short, bots are served round-robin: the
//! first bot asked rotates with the tick, so no bot is always last.
//!
//! ```
//! use kaizen::sim::{Baseline, BaselineConfig, BotParams, World};
//!
//! let world = World::new(vec![BotParams::default(); 2], 0, 1)?;
//! let mut always = Baseline::new(kaizen::sim::PolicyKind::Always, &BaselineConfig::default(), 2, 1).unwrap();
//! let mut out = Vec::new();
//! always.choose(0, &world, &mut out);
//! assert_eq!(out, vec![(0, 10), (1, 10)]);
//! # Ok::<(), kaizen::Error>(())
//! ```

use rand_chacha::ChaCha8Rng;
use std::collections::VecDeque;

use super::PolicyKind;
use super::scenario::BaselineConfig;
use super::world::{Purpose, World, stream, unit};

/// What each kind of baseline keeps.
#[derive(Clone, Debug)]
enum Rule {
    Always,
    Interval {
        every: u64,
        last: Vec<Option<u64>>,
    },
    Threshold {
        short: usize,
        long: usize,
        drop: f64,
        seen: Vec<VecDeque<f64>>,
    },
    Random {
        chance: f64,
        rngs: Vec<ChaCha8Rng>,
    },
}

/// A fixed policy over a world of `bots` bots. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct Baseline {
    rule: Rule,
    energy: u32,
    bots: usize,
}

/// `rule` wants a cycle on bot `i` at tick `t`.
fn wants(rule: &mut Rule, i: usize, t: u64) -> bool {
    match rule {
        Rule::Always => true,
        Rule::Interval { every, last } => last[i].is_none_or(|l| t - l >= *every),
        Rule::Threshold {
            short,
            long,
            drop,
            seen,
        } => threshold_fires(&seen[i], *short, *long, *drop),
        Rule::Random { chance, rngs } => unit(&mut rngs[i]) < *chance,
    }
}

/// The threshold rule on a revenue history (oldest first): more than
/// `short` values, and the mean of the last `short` under `(1 − drop)` times
/// the mean of the last `long` (or of all, when fewer).
pub fn threshold_fires(revenue: &VecDeque<f64>, short: usize, long: usize, drop: f64) -> bool {
    let n = revenue.len();
    if n <= short {
        return false;
    }
    let mean = |k: usize| revenue.iter().skip(n - k).sum::<f64>() / k as f64;
    mean(short) < (1.0 - drop) * mean(long.min(n))
}

impl Baseline {
    /// The baseline `kind` for `bots` bots, its randomness from `seed`.
    /// `None` for the policies that are not one of these four rules
    /// (`tuned` is an `interval` rule with the energy and interval it chose).
    pub fn new(kind: PolicyKind, config: &BaselineConfig, bots: usize, seed: u64) -> Option<Self> {
        let rule = match kind {
            PolicyKind::Always => Rule::Always,
            PolicyKind::Interval => Rule::Interval {
                every: config.interval_ticks,
                last: vec![None; bots],
            },
            PolicyKind::Threshold => Rule::Threshold {
                short: config.threshold_short,
                long: config.threshold_long,
                drop: config.threshold_drop,
                seen: vec![VecDeque::with_capacity(config.threshold_long); bots],
            },
            PolicyKind::Random => Rule::Random {
                chance: config.random_chance(),
                rngs: (0..bots)
                    .map(|i| stream(seed, Purpose::Random, i))
                    .collect(),
            },
            PolicyKind::Learned | PolicyKind::Core | PolicyKind::Tuned | PolicyKind::Oracle => {
                return None;
            }
        };
        Some(Baseline {
            rule,
            energy: config.energy,
            bots,
        })
    }

    /// The cycles wanted at tick `t`, as `(bot, energy)`, round-robin from
    /// bot `t mod bots`, into `out`. Every bot is asked every tick.
    pub fn choose(&mut self, t: u64, _world: &World, out: &mut Vec<(usize, u32)>) {
        let n = self.bots;
        if n == 0 {
            return;
        }
        let start = (t % n as u64) as usize;
        for k in 0..n {
            let i = (start + k) % n;
            if wants(&mut self.rule, i, t) {
                out.push((i, self.energy));
            }
        }
    }

    /// After tick `t` ended: the bots whose cycles ran, and the revenue
    /// every bot earned.
    pub fn observe(&mut self, t: u64, ran: &[usize], world: &World) {
        match &mut self.rule {
            Rule::Interval { last, .. } => {
                for &i in ran {
                    last[i] = Some(t);
                }
            }
            Rule::Threshold { long, seen, .. } => {
                for (i, history) in seen.iter_mut().enumerate() {
                    if history.len() == *long {
                        history.pop_front();
                    }
                    history.push_back(world.last_revenue(i));
                }
            }
            Rule::Always | Rule::Random { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::BotParams;

    fn config() -> BaselineConfig {
        BaselineConfig {
            energy: 7,
            interval_ticks: 3,
            threshold_short: 2,
            threshold_long: 4,
            threshold_drop: 0.1,
            random_chance: Some(0.25),
        }
    }

    fn history(v: &[f64]) -> VecDeque<f64> {
        v.iter().copied().collect()
    }

    #[test]
    fn threshold_ten_percent_rule_by_hand() {
        // Long mean of [100, 100, 90, 80] = 92.5; 90% of it = 83.25;
        // short mean of [90, 80] = 85 ⇒ not under ⇒ no cycle.
        assert!(!threshold_fires(
            &history(&[100., 100., 90., 80.]),
            2,
            4,
            0.1
        ));
        // [100, 100, 85, 75]: long 90, bar 81, short 80 ⇒ cycle.
        assert!(threshold_fires(
            &history(&[100., 100., 85., 75.]),
            2,
            4,
            0.1
        ));
        // Exactly at the bar is not under it: long 90 · 0.9 = 81, short 81.
        assert!(!threshold_fires(&history(&[99., 99., 81., 81.]), 2, 4, 0.1));
        // The long window is the last 4 of 6: [50, 50, 40, 40] ⇒ 45 · 0.9 = 40.5 > 40.
        assert!(threshold_fires(
            &history(&[1000., 1000., 50., 50., 40., 40.]),
            2,
            4,
            0.1
        ));
        // Too few values seen: never.
        assert!(!threshold_fires(&history(&[100., 10.]), 2, 4, 0.1));
        // Fewer than `long`: the mean of all. [100, 100, 80]: 93.3 · 0.9 = 84 > short 90? no.
        assert!(!threshold_fires(&history(&[100., 100., 80.]), 2, 4, 0.1));
    }

    #[test]
    fn interval_runs_every_n_ticks_from_the_last_cycle_that_ran() {
        let world = World::new(vec![BotParams::default(); 2], 0, 1).unwrap();
        let mut b = Baseline::new(PolicyKind::Interval, &config(), 2, 1).unwrap();
        let mut ran_at = Vec::new();
        for t in 0..7 {
            let mut out = Vec::new();
            b.choose(t, &world, &mut out);
            // Bot 1's cycle at tick 0 "did not run" (no slot): it asks again.
            let ran: Vec<usize> = out
                .iter()
                .map(|c| c.0)
                .filter(|&i| !(t == 0 && i == 1))
                .collect();
            ran_at.push(ran.clone());
            b.observe(t, &ran, &world);
        }
        assert_eq!(ran_at[0], vec![0]);
        assert_eq!(ran_at[1], vec![1]);
        assert_eq!(ran_at[3], vec![0]);
        assert_eq!(ran_at[4], vec![1]);
        assert_eq!(ran_at[6], vec![0]);
        assert!(ran_at[2].is_empty() && ran_at[5].is_empty());
    }

    #[test]
    fn always_rotates_who_goes_first() {
        let world = World::new(vec![BotParams::default(); 3], 0, 1).unwrap();
        let mut b = Baseline::new(PolicyKind::Always, &config(), 3, 1).unwrap();
        let mut out = Vec::new();
        b.choose(4, &world, &mut out);
        assert_eq!(out, vec![(1, 7), (2, 7), (0, 7)]);
    }

    #[test]
    fn random_follows_its_chance_and_its_seed() {
        let world = World::new(vec![BotParams::default(); 4], 0, 1).unwrap();
        let runs = |seed| {
            let mut b = Baseline::new(PolicyKind::Random, &config(), 4, seed).unwrap();
            let mut out = Vec::new();
            for t in 0..1000 {
                b.choose(t, &world, &mut out);
            }
            out
        };
        let a = runs(5);
        assert_eq!(a, runs(5));
        assert_ne!(a, runs(6));
        // 4000 draws at 0.25: about 1000.
        assert!((800..1200).contains(&a.len()), "{}", a.len());
    }

    #[test]
    fn learned_and_oracle_are_not_baselines() {
        assert!(Baseline::new(PolicyKind::Learned, &config(), 1, 1).is_none());
        assert!(Baseline::new(PolicyKind::Oracle, &config(), 1, 1).is_none());
    }
}
