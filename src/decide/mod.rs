//! Decisions that learn: how much energy each cycle of a bot gets (0 meaning
//! no cycle), from what the bot's own ledger showed earlier cycles bought.
//!
//! - [`rhythm`]: the model of a bot's profit the decisions plan with
//!   ([`Dynamics`]: a level that decays, a cycle that closes a share of the
//!   gap to a ceiling with diminishing returns in its energy, a cost per
//!   unit of energy), its best steady rhythm ([`Rhythm`]) and the price that
//!   shares scarce cycle slots ([`clearing_price`]).
//! - [`level`]: what the ledger says about that model — a Bayesian filter
//!   ([`LevelModel`]) of the level, drift and what a cycle buys, with its
//!   uncertainty, that notices when the world changes.
//! - [`plan`]: what each energy is worth now for one draw of the model (run
//!   now, against waiting a tick or never running again).
//! - [`bandit`]: without a ledger, what the pipeline's reported values say
//!   each energy is worth.
//! - [`decider`]: one bot's decisions ([`Decider`]): Thompson sampling over
//!   the posterior, an exploration floor so every option has a known
//!   probability (the record's propensity), and the record of each option's
//!   expected value and why the chosen one won.
//!
//! **Credit: where a cycle's value comes from.** One precedence:
//!
//! | the host has | a decision's value is learned from | how |
//! |---|---|---|
//! | a ledger (`Context::profit`, a `ProfitSource`) | the profit of every tick after it | the filter explains each tick's revenue by the level the bot would have had without the cycle (its decay) plus the jump the cycle bought; the jump's posterior is the counterfactual credit, with its uncertainty, over every later tick it keeps paying (through the retention) — no payback rule, no reward scale |
//! | no ledger | the value the pipeline reports for the cycle ([`Outcome::Ran`]'s `reported`) | taken as the cycle's value, per energy, in the bandit |
//!
//! The model is a structural assumption: a host whose bots improve by some
//! other law (a cycle that changes the drift, a gain that does not depend on
//! the gap to a ceiling) is fitted with the nearest member of this family.
//! The simulated world follows this family; worlds that do not are not yet
//! measured.
//!
//! Everything here is pure: no actor, no clock, no file; randomness comes from
//! seeded generators held in the state, and the state is serde, for saving.

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
