//! Variants that evolve (issue 14): a bot carries a population of variants —
//! parameter sets in a declared search space and, optionally, alternative
//! commands — that a mutation engine evolves from their outcomes, while an
//! anytime-valid A/B test decides which variant serves.
//!
//! Core and pure: seeded generators, no clock (times are handed in), no I/O.
//!
//! - [`space`]: the search space (`[variants.space]`) and parameter values.
//! - [`mutate`]: the operators (perturb, resample, neighbour, crossover) and
//!   first populations (grid, random).
//! - [`population`]: the mutation engine.
//! - [`trial`]: the A/B test of a challenger against the serving variant,
//!   and the fleet's false-discovery-rate rule.
//! - [`controller`]: [`Variants`], the state a cycle asks which variant runs
//!   and tells the outcome to.
//! - [`config`]: the `[variants]` table of a spec.
//! - [`pbt`]: population-based training's exploit-and-explore step across
//!   the bots of a group (core only).

pub mod config;
pub mod controller;
pub mod mutate;
pub mod pbt;
pub mod population;
pub mod space;
pub mod trial;

pub use config::{TestSettings, VariantsSpec};
pub use controller::{Assignment, VariantAction, VariantEvent, Variants, event_name};
pub use pbt::{ModelCopy, PbtCopy, PbtMember, pbt_step};
pub use population::{EvolutionConfig, Generation, Init, Population, Variant};
pub use space::{Param, ParamSpec, Params, Space, Value};
pub use trial::{Fleet, VariantTest, Verdict};
