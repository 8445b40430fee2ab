//! A seeded world of simulated bots.
//!
//! - [`bot`]: a bot's parameters ([`BotParams`]) and the world's formulas
//!   (hidden skill that drifts down, noisy revenue, what a cycle adds and costs).
//! - [`world`]: every bot's skill and ledger, seeded noise, cycle slots per
//!   tick and their fair sharing ([`World`]).
//! - [`pipeline`]: a bot's improvement job ([`SimulatedPipeline`]: it reports
//!   measured evaluation changes and projected ROI, never the hidden skill),
//!   the world's ledger as a [`ProfitSource`](crate::host::ProfitSource)
//!   ([`SimLedger`]), and [`standalone`], a one-bot world for `kaizen run`.
//! - [`capacity`]: cycle slots and the simulated CPU/memory they use, as the
//!   registry's probe ([`SimProbe`]) and as an engine's energy source
//!   ([`CapacityEnergy`]).
//!
//! Every random number comes from a [`ChaCha8Rng`](rand_chacha::ChaCha8Rng)
//! stream derived from the seed (one per purpose and bot).
//!
//! ```
//! use kaizen::sim::{BotParams, World};
//!
//! let mut world = World::new(vec![BotParams::default(); 2], 1, 7);
//! assert!(world.run_cycle(0, 10).is_ok());
//! assert!(world.run_cycle(1, 10).is_err()); // one slot per tick
//! world.end_tick();
//! assert!(world.profit(0) > 0.0);
//! ```

pub mod bot;
pub mod capacity;
pub mod pipeline;
pub mod world;

pub use bot::{BotParams, cycle_cost, drifted, energy_share, revenue, skill_gain};
pub use capacity::{CapacityConfig, CapacityEnergy, SimProbe};
pub use pipeline::{
    DEFAULT_PAYBACK_TICKS, ReportConfig, SimLedger, SimMetric, SimulatedPipeline, standalone,
};
pub use world::{CycleEffect, NoCapacity, SharedWorld, World};
