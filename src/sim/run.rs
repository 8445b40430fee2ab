//! Running a scenario: every chosen policy on its own copy of the world,
//! from the same seed, and the report.
//!
//! Each policy gets a fresh [`World`] built from the scenario and the seed,
//! so every policy meets the same revenue noise. The fixed policies and the
//! oracle run in a plain loop; the learned policy runs its engines and
//! registry in an actix system made for the purpose (so [`simulate`] must be
//! called from synchronous code, not from inside an async runtime). The
//! oracle always runs, since every share in the report is of its profit.
//!
//! ```
//! use kaizen::sim::{PolicyKind, Scenario, SimOptions, simulate};
//!
//! let scenario = Scenario::from_toml("ticks = 50\n[[bots]]\nname = \"a\"")?;
//! let options = SimOptions { policies: vec![PolicyKind::Interval], seed: Some(3), ..SimOptions::default() };
//! assert_eq!(options.runs(), [PolicyKind::Interval, PolicyKind::Oracle]);
//! let report = simulate(&scenario, &options, &mut |_, _| {})?;
//! assert_eq!(report.policies.len(), 1);
//! assert_eq!(report.scenario.seed, 3);
//! # Ok::<(), kaizen::Error>(())
//! ```

use super::PolicyKind;
use super::baseline::Baseline;
use super::decided::run_decided;
use super::learned::run_learned;
use super::oracle::OraclePlan;
use super::report::{PolicyReport, Report};
use super::scenario::{BaselineConfig, MAX_TICKS, Scenario};
use super::tuned::tune;
use super::world::World;
use crate::{Error, Result};

/// What to run. `Default`: the scenario's seed and ticks, every policy.
#[derive(Clone, Debug, PartialEq)]
pub struct SimOptions {
    /// The seed, instead of the scenario's.
    pub seed: Option<u64>,
    /// The ticks, instead of the scenario's (1..=1,000,000).
    pub ticks: Option<u64>,
    /// The policies to report, in any order (duplicates count once).
    pub policies: Vec<PolicyKind>,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            seed: None,
            ticks: None,
            policies: PolicyKind::ALL.to_vec(),
        }
    }
}

impl SimOptions {
    /// The policies that will run, in [`PolicyKind::ALL`] order: the chosen
    /// ones and the oracle.
    pub fn runs(&self) -> Vec<PolicyKind> {
        PolicyKind::ALL
            .iter()
            .copied()
            .filter(|k| *k == PolicyKind::Oracle || self.policies.contains(k))
            .collect()
    }
}

/// A fixed policy: a baseline or the oracle.
enum Fixed<'a> {
    Baseline(Baseline),
    Oracle(&'a mut OraclePlan),
}

/// Runs a fixed policy over a fresh world; `on_tick` after every tick.
fn run_fixed(
    mut policy: Fixed<'_>,
    scenario: &Scenario,
    seed: u64,
    ticks: u64,
    on_tick: &mut dyn FnMut(u64),
) -> Result<World> {
    let mut world = scenario.world(seed)?;
    let (mut wanted, mut ran) = (Vec::new(), Vec::new());
    for t in 0..ticks {
        wanted.clear();
        ran.clear();
        match &mut policy {
            Fixed::Baseline(b) => b.choose(t, &world, &mut wanted),
            Fixed::Oracle(plan) => plan.choose(t, &world, &mut wanted),
        }
        for &(i, energy) in &wanted {
            if world.run_cycle(i, energy).is_err() {
                break;
            }
            ran.push(i);
        }
        world.end_tick();
        if let Fixed::Baseline(b) = &mut policy {
            b.observe(t, &ran, &world);
        }
        on_tick(t);
    }
    Ok(world)
}

/// Runs `scenario` as `options` say and reports on it; `on_tick(policy,
/// tick)` is called after every tick of every policy run (for a progress
/// bar). Must be called from synchronous code (see the [module docs](self)).
pub fn simulate(
    scenario: &Scenario,
    options: &SimOptions,
    on_tick: &mut dyn FnMut(PolicyKind, u64),
) -> Result<Report> {
    scenario.validate()?;
    let seed = options.seed.unwrap_or(scenario.seed);
    let ticks = options.ticks.unwrap_or(scenario.ticks);
    if !(1..=MAX_TICKS).contains(&ticks) {
        return Err(Error::invalid(
            "ticks",
            ticks,
            "a whole number in 1..=1000000",
        ));
    }
    if scenario.has_models() {
        return super::model_world::simulate_models(scenario, options, seed, ticks, on_tick);
    }
    let names = scenario.bot_names();
    let mut plan = OraclePlan::new(
        &scenario.bot_params(),
        ticks,
        scenario.capacity.max_concurrent,
    )?;
    let mut rows = Vec::new();
    let mut oracle_net = 0.0;
    for kind in options.runs() {
        let mut tick = |t| on_tick(kind, t);
        let baseline = match kind {
            PolicyKind::Tuned => {
                let rule = tune(scenario, ticks)?;
                let config = BaselineConfig {
                    energy: rule.energy,
                    interval_ticks: rule.interval,
                    ..scenario.baselines.clone()
                };
                Baseline::new(PolicyKind::Interval, &config, names.len(), seed)
            }
            _ => Baseline::new(kind, &scenario.baselines, names.len(), seed),
        };
        let row = match (kind, baseline) {
            (_, Some(baseline)) => {
                let world = run_fixed(Fixed::Baseline(baseline), scenario, seed, ticks, &mut tick)?;
                PolicyReport::from_world(kind, &world, &names)
            }
            (PolicyKind::Core, None) => {
                let world = run_decided(scenario, seed, ticks, &mut tick)?;
                PolicyReport::from_world(kind, &world, &names)
            }
            (PolicyKind::Learned, None) => {
                let system = actix::System::new();
                let (world, tally) =
                    system.block_on(run_learned(scenario, seed, ticks, &mut tick))?;
                PolicyReport {
                    engines: Some(tally),
                    ..PolicyReport::from_world(kind, &world, &names)
                }
            }
            (_, None) => {
                let world = run_fixed(Fixed::Oracle(&mut plan), scenario, seed, ticks, &mut tick)?;
                let row = PolicyReport::from_world(kind, &world, &names);
                oracle_net = row.net_profit;
                row
            }
        };
        if kind == PolicyKind::Oracle && !options.policies.contains(&kind) {
            continue;
        }
        rows.push(row);
    }
    Ok(Report::new(scenario, seed, ticks, oracle_net, rows))
}
