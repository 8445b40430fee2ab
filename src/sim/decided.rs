//! The `core` policy: the decision core ([`crate::decide`]) driving the world
//! directly, one [`Decider`] per bot, without engines or actors.
//!
//! Each tick, every bot's decider is given its ledger (the world's profit),
//! the ticks left and the slot price, and decides an energy (0: none). The
//! bots that want a cycle ask for a slot with the decision's expected
//! value; when there are fewer slots than requests, the slots go to the
//! highest values (ties: the lower bot index) and the others are told they
//! were denied. Each granted cycle runs in the world and its decider is told
//! the profit right after it; then the tick ends.
//!
//! **Slot price.** When slots are scarce (fewer than bots), every
//! [`PRICE_EVERY`] ticks the price is set to [`clearing_price`] over the
//! dynamics each decider has learned (bots that have not learned any yet
//! are left out): the price at which the bots' best rhythms ask for no more
//! slots than there are. Every decider plans with it, so a bot that can only
//! get a slot now and then makes each cycle count.
//!
//! Each decider's seed comes from the run's seed and the bot's index, so the
//! same seed gives the same run.
//!
//! ```
//! use kaizen::sim::{PolicyKind, Scenario, SimOptions, simulate};
//!
//! let s = Scenario::from_toml("ticks = 300\n[[bots]]\nname = \"a\"\n[[bots]]\nname = \"dead\"\ngain = 0.0")?;
//! let options = SimOptions { policies: vec![PolicyKind::Core], ..SimOptions::default() };
//! let report = simulate(&s, &options, &mut |_, _| {})?;
//! let core = &report.policies[0];
//! // The dead end gets fewer cycles than the bot that gains from them.
//! assert!(core.bots[1].cycles < core.bots[0].cycles);
//! # Ok::<(), kaizen::Error>(())
//! ```

use rand::RngCore;

use super::scenario::Scenario;
use super::world::{Purpose, World, stream};
use crate::Result;
use crate::decide::{Context, DecideConfig, Decider, Dynamics, Outcome, clearing_price};

/// Ticks between two settings of the slot price.
pub const PRICE_EVERY: u64 = 24;

/// Runs the decision core over `scenario` for `ticks` ticks with `seed`;
/// `on_tick` after every tick. Returns the final world.
pub fn run_decided(
    scenario: &Scenario,
    seed: u64,
    ticks: u64,
    on_tick: &mut dyn FnMut(u64),
) -> Result<World> {
    let mut world = scenario.world(seed)?;
    let n = world.len();
    let mut deciders = (0..n)
        .map(|i| {
            Decider::new(DecideConfig {
                seed: stream(seed, Purpose::Policy, i).next_u64(),
                ..DecideConfig::default()
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let slots = scenario.capacity.max_concurrent as usize;
    let energies = DecideConfig::default().energies;
    let mut price = 0.0;
    let mut requests = Vec::with_capacity(n);
    for t in 0..ticks {
        if slots > 0 && slots < n && t % PRICE_EVERY == 0 {
            let fleet: Vec<Dynamics> = deciders
                .iter()
                .filter_map(|d| d.dynamics().map(|x| x.0))
                .collect();
            price = clearing_price(&fleet, energies.iter().copied(), slots as f64, ticks - t);
        }
        requests.clear();
        for (i, decider) in deciders.iter_mut().enumerate() {
            let decision = decider.decide(&Context {
                profit: Some(world.profit(i)),
                remaining: Some(ticks - t),
                slot_price: price,
                ..Context::default()
            });
            if decision.energy > 0 {
                requests.push((i, decision.energy, decision.value));
            } else {
                decider.record(Outcome::Skipped);
            }
        }
        requests.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)));
        for (k, &(i, energy, _)) in requests.iter().enumerate() {
            if slots > 0 && k >= slots {
                deciders[i].record(Outcome::Denied);
                continue;
            }
            let ran = world.run_cycle(i, energy).is_ok();
            deciders[i].record(if ran {
                Outcome::Ran {
                    energy,
                    profit_after: Some(world.profit(i)),
                    reported: None,
                }
            } else {
                Outcome::Denied
            });
        }
        world.end_tick();
        on_tick(t);
    }
    Ok(world)
}
