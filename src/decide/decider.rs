//! [`Decider`]: one bot's decisions — how much energy each tick's cycle
//! gets, 0 meaning none — and everything it has learned.
//!
//! A tick is: [`Decider::decide`] with what the host knows now (the
//! ledger's profit, the ticks left, the slot price, the triggers), the host
//! acts (or is refused a slot), then [`Decider::record`] says what happened.
//! The next `decide` reads the revenue of the tick in between off the
//! ledger.
//!
//! **Choosing.** The posterior is drawn from `draws` times and each draw
//! values every option ([`plan`](super::plan)); an option's expected value
//! is its mean over the draws. The choice leans on the expected values:
//! the cycle of highest expected value runs when it beats skipping (0);
//! when it does not, the bot skips — or, with the share of draws in which
//! some cycle beat skipping, runs that cycle anyway to find out (Thompson
//! sampling on *whether* to run; *how much* is always the energy best on
//! average, so an optimistic draw never buys the dearest cycle). Then a
//! floor of exploration is mixed in:
//!
//! ```text
//! π(a) = (1 − ε) · lean(a) + ε · w(a),      w(a) ∝ 1 / max(1, E_a)
//! ```
//!
//! — every option has a known probability above 0 (the record's
//! `propensity`, for off-policy evaluation), and exploring spends about as
//! much on each option, so a dear option is tried less often. The record
//! also has each option's expected value, the spread of that value over the
//! draws, and why the chosen one won ([`Why`]).
//!
//! **Starting.** With the ledger, the first decision skips (nothing is known
//! yet, not even the level), and the next one runs the smallest energy (what
//! a unit of energy costs is unknown until one is spent); without it, the
//! first decision runs the smallest energy. Each of these is taken with
//! probability `1 − ε + ε / options`, the other options with `ε / options`.
//!
//! **Triggers.** `force` (a spec's `force = [...]` matched this tick's
//! triggers) restricts the choice to the run options; `diagnostics` (the
//! host reports something wrong) widens the model's uncertainty back to its
//! prior before deciding, so the bot is looked at again; `interval` and
//! `forecast` are kept in the record as context — the time since the last
//! cycle is already in the level the model tracks, and a forecast's worth is
//! unknown until it is checked against the ledger.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::bandit::ValueBandit;
use super::level::LevelModel;
use super::plan::{Continuation, values_with};
use super::rhythm::Dynamics;
use crate::Result;
use crate::chain::{MAX_ENERGY, MIN_ENERGY};
use crate::error::{Error, ensure_finite};

/// Runs over which the cost of a unit of energy is averaged (`1/e` fade).
const COST_MEMORY: f64 = 100.0;
/// Decisions between two full searches for the best rhythm (in between,
/// only the neighbours of the last one are tried).
const FULL_SEARCH: u32 = 32;

/// A decider's settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DecideConfig {
    /// The energies a cycle may get, increasing, each in 1..=100 (default
    /// 1, 2, 3, 5, 8, 13, 20, 30, 50, 100: steps of about ×1.6).
    pub energies: Vec<u32>,
    /// The share of decisions spread evenly over every option, in
    /// [0.02, 1] (default 0.02).
    pub epsilon: f64,
    /// Posterior draws per decision, 1..=256 (default 16).
    pub draws: u32,
    /// Ticks a decision looks ahead when the host gives no horizon (default
    /// 8760: a year of hourly ticks).
    pub horizon: u64,
    /// The seed of the decider's random numbers.
    pub seed: u64,
}

impl Default for DecideConfig {
    fn default() -> Self {
        DecideConfig {
            energies: vec![1, 2, 3, 5, 8, 13, 20, 30, 50, 100],
            epsilon: 0.02,
            draws: 16,
            horizon: 8760,
            seed: 0,
        }
    }
}

impl DecideConfig {
    /// Checks every setting; errors name `decide.field`.
    pub fn validate(&self) -> Result<()> {
        let e = &self.energies;
        if e.is_empty()
            || e.iter().any(|x| !(MIN_ENERGY..=MAX_ENERGY).contains(x))
            || e.windows(2).any(|w| w[0] >= w[1])
        {
            return Err(Error::invalid(
                "decide.energies",
                format!("{e:?}"),
                "increasing whole numbers in 1..=100, at least one",
            ));
        }
        let eps = ensure_finite("decide.epsilon", self.epsilon)?;
        if !(0.02..=1.0).contains(&eps) {
            return Err(Error::invalid(
                "decide.epsilon",
                eps,
                "a number in [0.02, 1]",
            ));
        }
        if !(1..=256).contains(&self.draws) {
            return Err(Error::invalid(
                "decide.draws",
                self.draws,
                "a whole number in 1..=256",
            ));
        }
        if self.horizon == 0 {
            return Err(Error::invalid("decide.horizon", 0, "at least 1"));
        }
        Ok(())
    }
}

/// What the host knows at a decision.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Context {
    /// The ledger's profit now, when the host has a ledger.
    pub profit: Option<f64>,
    /// Ticks left, this one included, when the host knows (else the
    /// config's `horizon`).
    pub remaining: Option<u64>,
    /// The price of a cycle slot (0 when slots are not scarce).
    pub slot_price: f64,
    /// The engine's triggers this tick.
    pub triggers: Triggers,
}

/// The engine's triggers: inputs to a decision, not orders (see the
/// [module docs](self)).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Triggers {
    /// The interval since the last cycle has passed.
    pub interval: bool,
    /// A pre-ROI forecast of a cycle.
    pub forecast: Option<f64>,
    /// The host's diagnostics reported something.
    pub diagnostics: bool,
    /// A spec's `force = [...]` matched: a cycle must run.
    pub force: bool,
}

/// Where a cycle's value is learned from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The ledger (a `ProfitSource`): the revenue of every tick.
    Ledger,
    /// The value the pipeline reports for each cycle.
    Reported,
}

/// One option of a decision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OptionValue {
    /// The energy (0: no cycle).
    pub energy: u32,
    /// Its expected value against skipping (mean over the draws).
    pub value: f64,
    /// The standard deviation of that value over the draws.
    pub spread: f64,
    /// The probability it was taken with.
    pub probability: f64,
}

/// Why the chosen option won.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Why {
    /// Nothing is known yet: look at the level before spending.
    FirstLook,
    /// What a cycle costs (or is worth) is unknown: the smallest cycle finds out.
    FirstCycle,
    /// It has the highest expected value (for a skip: no cycle is expected
    /// to beat it).
    Best,
    /// A cycle although skipping is worth more on average: `votes` of
    /// `draws` posterior draws found a cycle worth it, and one of them was
    /// followed (Thompson sampling on whether to run, to find out).
    Sampled {
        /// Draws that found a cycle worth more than skipping.
        votes: u32,
        /// Draws made.
        draws: u32,
    },
    /// The exploration floor picked it.
    Explored,
    /// Not the decider's choice: the host asked for this cycle and its
    /// energy (a requested cycle, a forced-energy round). Its propensity is
    /// 1; off-policy estimates leave it out.
    Imposed,
}

/// A decision. See the [module docs](self).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// The energy chosen (0: no cycle).
    pub energy: u32,
    /// The probability the chosen option had.
    pub propensity: f64,
    /// Every option: skip first, then the energies.
    pub options: Vec<OptionValue>,
    /// Why it won.
    pub why: Why,
    /// The chosen option's expected value against skipping: what a slot
    /// for it is worth (0 for a skip).
    pub value: f64,
    /// Where values come from.
    pub source: Source,
    /// A cycle had to run (a forced trigger).
    pub forced: bool,
    /// What the decider was told (the ledger's profit, the ticks left, the
    /// slot price, the triggers): with the record's outcome, enough to
    /// replay the decision under other settings (`kaizen evaluate`). `None`
    /// in records written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Context>,
}

/// What happened after a decision.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// A cycle of `energy` ran.
    Ran {
        /// Its energy.
        energy: u32,
        /// The ledger's profit right after it, when there is a ledger.
        profit_after: Option<f64>,
        /// The value the pipeline reported, when there is no ledger.
        reported: Option<f64>,
    },
    /// A cycle was started and failed: it changed nothing but may have cost.
    Failed {
        /// The energy it was given.
        energy: u32,
        /// The ledger's profit right after it.
        profit_after: Option<f64>,
    },
    /// No cycle: the decision was to skip.
    Skipped,
    /// No cycle: the decision was to run but no slot was given.
    Denied,
}

/// One bot's decisions and what it has learned. See the [module docs](self).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decider {
    config: DecideConfig,
    level: LevelModel,
    bandit: ValueBandit,
    /// Discounted energy and cost of the cycles run (ledger).
    spent: (f64, f64),
    /// The ledger's profit after the last action, and the energy of that
    /// tick's cycle (0: none).
    mark: Option<f64>,
    pending: u32,
    /// The last best rhythm `(every, energy)`, and decisions since it was
    /// searched for in full.
    rhythm: Option<(u64, u32)>,
    searched: u32,
    rng: ChaCha8Rng,
}

impl Decider {
    /// A decider that knows nothing yet. Invalid settings are refused.
    pub fn new(config: DecideConfig) -> Result<Decider> {
        config.validate()?;
        Ok(Decider {
            level: LevelModel::default(),
            bandit: ValueBandit::new(config.energies.len()),
            spent: (0.0, 0.0),
            mark: None,
            pending: 0,
            rhythm: None,
            searched: FULL_SEARCH,
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            config,
        })
    }

    /// Takes new settings (a spec's `[decide]` changed), keeping what was
    /// learned: the ledger's model and the cost of a unit of energy stay;
    /// the values learned per energy without a ledger, and the last rhythm,
    /// start again when the energies change; the seed and the random
    /// numbers go on. Invalid settings are refused and nothing changes.
    pub fn reconfigure(&mut self, config: DecideConfig) -> Result<()> {
        config.validate()?;
        if config.energies != self.config.energies {
            self.bandit = ValueBandit::new(config.energies.len());
            self.rhythm = None;
            self.searched = FULL_SEARCH;
        }
        self.config = DecideConfig {
            seed: self.config.seed,
            ..config
        };
        Ok(())
    }

    /// The settings.
    pub fn config(&self) -> &DecideConfig {
        &self.config
    }

    /// What a unit of energy has cost, once a cycle has shown it.
    pub fn cost_per_energy(&self) -> Option<f64> {
        (self.spent.0 > 0.0).then(|| self.spent.1 / self.spent.0)
    }

    /// The dynamics most likely given the ledger so far (the learned cost
    /// included) and the level of the last tick; `None` before both a
    /// revenue and a cost are known.
    pub fn dynamics(&self) -> Option<(Dynamics, f64)> {
        let draw = self.level.mean()?;
        let cost = self.cost_per_energy()?;
        Some((
            Dynamics {
                cost_per_energy: cost,
                ..draw.dynamics
            },
            draw.level,
        ))
    }

    /// Decides this tick's energy. See the [module docs](self).
    pub fn decide(&mut self, context: &Context) -> Decision {
        let source = self.observe(context);
        if context.triggers.diagnostics {
            self.level.widen();
        }
        let n = self.config.energies.len() + 1;
        let forced = context.triggers.force;
        let first = match source {
            Source::Ledger if self.level.seen() == 0 && !forced => Some((0, Why::FirstLook)),
            Source::Ledger if self.spent.0 == 0.0 => Some((1, Why::FirstCycle)),
            Source::Reported if self.bandit.is_empty() => Some((1, Why::FirstCycle)),
            _ => None,
        };
        let (values, greedy, why) = match first {
            Some((k, why)) => {
                let mut greedy = vec![0.0; n];
                greedy[k] = 1.0;
                (vec![(0.0, 0.0); n], greedy, vec![why; n])
            }
            None => {
                let (values, run_votes) = self.weigh(context, source);
                let (greedy, why) = self.lean(&values, run_votes, forced);
                (values, greedy, why)
            }
        };
        let mut decision = self.choose(values, greedy, why, source, forced);
        decision.context = Some(context.clone());
        decision
    }

    /// A cycle of `energy` the host imposed this tick instead of asking
    /// ([`Why::Imposed`], propensity 1, no options): the ledger is read as
    /// at a decision, and [`record`](Self::record) is told what happened as
    /// after one, so what the cycle bought is learned all the same.
    pub fn impose(&mut self, context: &Context, energy: u32) -> Decision {
        let source = self.observe(context);
        Decision {
            energy,
            propensity: 1.0,
            options: Vec::new(),
            why: Why::Imposed,
            value: 0.0,
            source,
            forced: true,
            context: Some(context.clone()),
        }
    }

    /// Reads the tick's ledger (the revenue since the last action, into the
    /// level model); where values come from this tick.
    fn observe(&mut self, context: &Context) -> Source {
        let source = match context.profit.filter(|p| p.is_finite()) {
            Some(profit) => {
                if let Some(mark) = self.mark {
                    self.level.observe(self.pending, profit - mark);
                }
                self.mark = Some(profit);
                Source::Ledger
            }
            None => Source::Reported,
        };
        self.pending = 0;
        source
    }

    /// Each option's mean value and spread over the draws, and how many
    /// draws found a cycle better than skipping.
    fn weigh(&mut self, context: &Context, source: Source) -> (Vec<(f64, f64)>, u32) {
        let energies = self.config.energies.clone();
        let n = energies.len() + 1;
        let draws = self.config.draws;
        let ticks = context.remaining.unwrap_or(self.config.horizon).max(1);
        let price = context.slot_price.max(0.0);
        let mut sums = vec![(0.0, 0.0); n];
        let mut run_votes = 0;
        let cost = self.cost_per_energy().unwrap_or(0.0);
        let then = self.dynamics().map(|(d, _)| {
            let then = if self.searched < FULL_SEARCH {
                self.searched += 1;
                let around = match self.rhythm {
                    Some((every, energy)) => Continuation::following(every, energy),
                    None => Continuation::none(),
                };
                Continuation::near(&d, &around, &energies, price, ticks)
            } else {
                self.searched = 0;
                Continuation::new(&d, &energies, price, ticks)
            };
            self.rhythm = then.rhythm().map(|r| (r.every, r.energy));
            then
        });
        let mut posterior = match source {
            Source::Ledger => self.level.draws(&mut self.rng, draws as usize),
            Source::Reported => Vec::new(),
        }
        .into_iter();
        for _ in 0..draws {
            let mut row = vec![0.0; n];
            match source {
                Source::Ledger => {
                    if let (Some(then), Some(draw)) = (&then, posterior.next()) {
                        let bot = Dynamics {
                            cost_per_energy: cost,
                            ..draw.dynamics
                        };
                        let then = Continuation::near(&bot, then, &energies, price, ticks);
                        let v = values_with(&bot, &then, draw.level, &energies, price, ticks);
                        row[1..].copy_from_slice(&v);
                    }
                }
                Source::Reported => {
                    let v = self.bandit.draw(&mut self.rng);
                    for (k, x) in v.into_iter().enumerate() {
                        row[k + 1] = x - price;
                    }
                }
            }
            if row[1..].iter().any(|&v| v > 0.0) {
                run_votes += 1;
            }
            for (s, v) in sums.iter_mut().zip(&row) {
                s.0 += v;
                s.1 += v * v;
            }
        }
        let d = f64::from(draws);
        let values = sums
            .into_iter()
            .map(|(s, ss)| (s / d, (ss / d - (s / d).powi(2)).max(0.0).sqrt()))
            .collect();
        (values, run_votes)
    }

    /// The choice before exploration: the best cycle by expected value when
    /// it beats skipping (or a cycle is forced); else skip, or that cycle
    /// with the share of draws that found a cycle worth it. With each
    /// option, why it would win.
    fn lean(&self, values: &[(f64, f64)], run_votes: u32, forced: bool) -> (Vec<f64>, Vec<Why>) {
        let n = values.len();
        let draws = self.config.draws;
        let best = (1..n).fold(1, |b, k| if values[k].0 > values[b].0 { k } else { b });
        let mut greedy = vec![0.0; n];
        let mut why = vec![Why::Best; n];
        if forced || values[best].0 > 0.0 {
            greedy[best] = 1.0;
        } else {
            let share = f64::from(run_votes) / f64::from(draws);
            greedy[best] = share;
            greedy[0] = 1.0 - share;
            why[best] = Why::Sampled {
                votes: run_votes,
                draws,
            };
        }
        (greedy, why)
    }

    /// Draws the option from `π` and makes the record.
    fn choose(
        &mut self,
        values: Vec<(f64, f64)>,
        greedy: Vec<f64>,
        why: Vec<Why>,
        source: Source,
        forced: bool,
    ) -> Decision {
        let eps = self.config.epsilon;
        let from = usize::from(forced);
        let n = values.len();
        let explore = self.exploration(from);
        let probability: Vec<f64> = (0..n)
            .map(|k| (1.0 - eps) * greedy[k] + eps * explore[k])
            .collect();
        let explored = self.rng.random::<f64>() < eps;
        let weights = if explored { &explore } else { &greedy };
        let mut u = self.rng.random::<f64>();
        let mut k = from;
        while k + 1 < n && u >= weights[k] {
            u -= weights[k];
            k += 1;
        }
        let energy = if k == 0 {
            0
        } else {
            self.config.energies[k - 1]
        };
        Decision {
            energy,
            propensity: probability[k],
            value: if k == 0 { 0.0 } else { values[k].0 },
            options: values
                .iter()
                .zip(&probability)
                .enumerate()
                .map(|(j, (v, p))| OptionValue {
                    energy: if j == 0 {
                        0
                    } else {
                        self.config.energies[j - 1]
                    },
                    value: v.0,
                    spread: v.1,
                    probability: *p,
                })
                .collect(),
            why: if explored {
                Why::Explored
            } else {
                why[k].clone()
            },
            source,
            forced,
            context: None,
        }
    }

    /// How the exploration floor is spread over the options (from option
    /// `from` on): each in proportion to `1 / max(1, E)`, so exploring
    /// spends about as much on each option.
    fn exploration(&self, from: usize) -> Vec<f64> {
        let weight = |k: usize| {
            let e = if k == 0 {
                1
            } else {
                self.config.energies[k - 1]
            };
            if k < from {
                0.0
            } else {
                1.0 / f64::from(e.max(1))
            }
        };
        let n = self.config.energies.len() + 1;
        let total: f64 = (0..n).map(weight).sum();
        (0..n).map(|k| weight(k) / total).collect()
    }

    /// What happened after the last decision.
    pub fn record(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Ran {
                energy,
                profit_after,
                reported,
            } => {
                self.pending = energy;
                self.charge(energy, profit_after);
                let option = self.config.energies.iter().position(|&e| e == energy);
                if let (Some(k), Some(v)) = (option, reported) {
                    self.bandit.observe(k, v);
                }
            }
            Outcome::Failed {
                energy,
                profit_after,
            } => self.charge(energy, profit_after),
            Outcome::Skipped | Outcome::Denied => {}
        }
    }

    /// Counts what the cycle of `energy` cost, as the ledger shows it.
    fn charge(&mut self, energy: u32, profit_after: Option<f64>) {
        let Some(after) = profit_after.filter(|p| p.is_finite()) else {
            return;
        };
        if let Some(before) = self.mark {
            let keep = (-1.0 / COST_MEMORY).exp();
            let cost = (before - after).max(0.0);
            self.spent = (
                keep * self.spent.0 + f64::from(energy),
                keep * self.spent.1 + cost,
            );
        }
        self.mark = Some(after);
    }
}
