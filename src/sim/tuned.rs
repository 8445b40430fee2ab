//! `tuned`: the best fixed rule in hindsight, the yardstick a decision
//! policy has to beat.
//!
//! A fixed rule runs a cycle of one energy on each bot every `interval`
//! ticks (the `interval` baseline; at interval 1 it is `always`). `tuned`
//! tries every rule of the grid [`ENERGIES`] × [`INTERVALS`] (90 rules) on
//! the scenario with the tuning seeds [`TUNING_SEEDS`] (101–105), keeps the
//! one with the highest mean net profit over them (ties: the first in grid
//! order, energy-major), and then runs it on the seed at hand. So the rule
//! is chosen knowing every hidden parameter's effect, but not on the very
//! noise it is scored on.
//!
//! The search is one pass per tuning seed with all 90 rules side by side:
//! each bot's revenue noise is drawn once per tick and shared by every rule,
//! exactly as each rule's own [`World`](super::World) would draw it, so a
//! rule's tuning profit is the profit the world gives it (a test checks this
//! against the `interval` baseline run in the world).
//!
//! ```
//! use kaizen::sim::{Scenario, tuned};
//!
//! let scenario = Scenario::from_toml("ticks = 300\n[[bots]]\nname = \"a\"\ngain = 0.0")?;
//! let rule = tuned::tune(&scenario, 300)?;
//! // A dead end: the best rule spends the least (one cycle of energy 1 at
//! // tick 0, and then every 48 ticks).
//! assert_eq!((rule.energy, rule.interval), (1, 48));
//! # Ok::<(), kaizen::Error>(())
//! ```

use serde::Serialize;

use super::bot::{BotParams, cycle_cost, drifted, revenue, skill_gain};
use super::event::{BotEvent, sorted};
use super::scenario::Scenario;
use super::world::{Purpose, stream, symmetric};
use crate::Result;

/// The energies `tuned` tries.
pub const ENERGIES: [u32; 10] = [1, 2, 3, 5, 8, 13, 20, 30, 50, 100];
/// The intervals (in ticks) `tuned` tries; 1 is `always`.
pub const INTERVALS: [u64; 9] = [1, 2, 3, 4, 6, 8, 12, 24, 48];
/// The seeds the rule is chosen on.
pub const TUNING_SEEDS: [u64; 5] = [101, 102, 103, 104, 105];

/// A fixed rule: a cycle of `energy` on each bot every `interval` ticks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct FixedRule {
    /// The energy of every cycle.
    pub energy: u32,
    /// Ticks between a bot's cycles (counted from its last cycle that ran).
    pub interval: u64,
}

/// One rule's run over one world.
struct Lane {
    rule: FixedRule,
    skill: Vec<f64>,
    last: Vec<Option<u64>>,
    net: f64,
}

/// The bots' parameters as they change with their events.
struct Bots {
    params: Vec<BotParams>,
    events: Vec<Vec<BotEvent>>,
    applied: Vec<usize>,
}

impl Bots {
    fn new(params: &[BotParams]) -> Bots {
        Bots {
            events: params.iter().map(|p| sorted(&p.events)).collect(),
            applied: vec![0; params.len()],
            params: params.to_vec(),
        }
    }

    /// Applies the events due at the start of tick `now`; every lane's
    /// skill is set where an event sets it.
    fn apply(&mut self, now: u64, lanes: &mut [Lane]) {
        for i in 0..self.params.len() {
            while let Some(event) = self.events[i].get(self.applied[i])
                && event.tick <= now
            {
                if let Some(skill) = event.apply(&mut self.params[i]) {
                    lanes.iter_mut().for_each(|l| l.skill[i] = skill);
                }
                self.applied[i] += 1;
            }
        }
    }
}

/// The mean net profit of each rule of `rules` over `seeds`, on the
/// scenario's bots and slots for `ticks` ticks.
pub fn profits(
    scenario: &Scenario,
    rules: &[FixedRule],
    seeds: &[u64],
    ticks: u64,
) -> Result<Vec<f64>> {
    scenario.validate()?;
    let params = scenario.bot_params();
    let n = params.len();
    let slots = scenario.capacity.max_concurrent as usize;
    let mut total = vec![0.0; rules.len()];
    for &seed in seeds {
        let mut bots = Bots::new(&params);
        let mut lanes: Vec<Lane> = rules
            .iter()
            .map(|&rule| Lane {
                rule,
                skill: params.iter().map(|p| p.skill).collect(),
                last: vec![None; n],
                net: 0.0,
            })
            .collect();
        let mut noise: Vec<_> = (0..n).map(|i| stream(seed, Purpose::Noise, i)).collect();
        for t in 0..ticks {
            bots.apply(t, &mut lanes);
            let start = (t % n as u64) as usize;
            for lane in &mut lanes {
                let mut used = 0;
                for k in 0..n {
                    let i = (start + k) % n;
                    if lane.last[i].is_some_and(|l| t - l < lane.rule.interval) {
                        continue;
                    }
                    if slots > 0 && used == slots {
                        break;
                    }
                    used += 1;
                    let p = &bots.params[i];
                    let s = lane.skill[i];
                    lane.skill[i] = (s + skill_gain(p, s, lane.rule.energy)).min(1.0);
                    lane.net -= cycle_cost(p, lane.rule.energy);
                    lane.last[i] = Some(t);
                }
            }
            for (i, rng) in noise.iter_mut().enumerate() {
                let u = symmetric(rng);
                let p = &bots.params[i];
                for lane in &mut lanes {
                    let s = lane.skill[i];
                    lane.net += revenue(p.demand, s, p.noise, u);
                    lane.skill[i] = drifted(s, p.drift);
                }
            }
        }
        for (sum, lane) in total.iter_mut().zip(&lanes) {
            *sum += lane.net;
        }
    }
    Ok(total
        .into_iter()
        .map(|sum| sum / seeds.len().max(1) as f64)
        .collect())
}

/// Every rule of the grid, energy-major.
pub fn grid() -> Vec<FixedRule> {
    ENERGIES
        .iter()
        .flat_map(|&energy| {
            INTERVALS
                .iter()
                .map(move |&interval| FixedRule { energy, interval })
        })
        .collect()
}

/// The rule `tuned` runs on `scenario` over `ticks` ticks: the best of the
/// grid over the tuning seeds. See the [module docs](self).
pub fn tune(scenario: &Scenario, ticks: u64) -> Result<FixedRule> {
    let rules = grid();
    let profits = profits(scenario, &rules, &TUNING_SEEDS, ticks)?;
    let best = profits
        .iter()
        .enumerate()
        .fold(0, |best, (k, p)| if *p > profits[best] { k } else { best });
    Ok(rules[best])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{PolicyKind, SimOptions, simulate};

    fn scenario(slots: u32) -> Scenario {
        Scenario::from_toml(&format!(
            r#"
            ticks = 120
            [capacity]
            max_concurrent = {slots}
            [[bots]]
            name = "a"
            noise = 0.3
            [[bots]]
            name = "b"
            skill = 0.3
            drift = 0.03
            [[bots.events]]
            tick = 50
            skill = 0.1
            gain = 0.6
            [[bots]]
            name = "c"
            gain = 0.0
            "#
        ))
        .unwrap()
    }

    #[test]
    fn a_rules_tuning_profit_is_what_the_world_gives_it() {
        // The interval baseline at energy 13 every 3 ticks, in the world,
        // against the one-pass evaluator, with and without slot limits.
        for slots in [0, 1, 2] {
            let mut s = scenario(slots);
            s.baselines.energy = 13;
            s.baselines.interval_ticks = 3;
            let options = SimOptions {
                seed: Some(7),
                policies: vec![PolicyKind::Interval],
                ..SimOptions::default()
            };
            let world = simulate(&s, &options, &mut |_, _| {}).unwrap();
            let rule = FixedRule {
                energy: 13,
                interval: 3,
            };
            let fast = profits(&s, &[rule], &[7], 120).unwrap()[0];
            let real = world.policies[0].net_profit;
            assert!((fast - real).abs() < 1e-6 * real.abs(), "{fast} vs {real}");
        }
    }

    #[test]
    fn the_grid_has_ninety_rules_and_the_best_is_chosen() {
        let rules = grid();
        assert_eq!(rules.len(), 90);
        assert_eq!(
            rules[0],
            FixedRule {
                energy: 1,
                interval: 1
            }
        );
        let s = scenario(0);
        let chosen = tune(&s, 120).unwrap();
        let all = profits(&s, &rules, &TUNING_SEEDS, 120).unwrap();
        let best = all.iter().copied().fold(f64::MIN, f64::max);
        let k = rules.iter().position(|r| *r == chosen).unwrap();
        assert_eq!(all[k], best);
    }
}
