//! Decisions that learn: how much energy each cycle of a bot gets (0 meaning
//! no cycle), from what the bot's own ledger showed earlier cycles bought.
//!
//! - [`rhythm`]: the model of a bot's profit the decisions plan with
//!   ([`Dynamics`]), its best steady rhythm ([`Rhythm`]) and the price that
//!   shares scarce cycle slots ([`clearing_price`]).
//!
//! Everything here is pure: no actor, no clock, no file; randomness comes from
//! seeded generators held in the state.

pub mod bandit;
pub mod decider;
pub mod level;
pub mod plan;
pub mod rhythm;

#[cfg(test)]
mod tests;

pub use decider::{
    Context, DecideConfig, Decider, Decision, OptionValue, Outcome, Source, Triggers, Why,
};
pub use level::{Draw, LevelModel};
pub use plan::Continuation;
pub use rhythm::{Dynamics, Rhythm, clearing_price, intervals, slot_demand};
