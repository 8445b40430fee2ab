//! A seeded world of simulated bots, to compare the learned policy — the real
//! engines and registry — with fixed baselines and an oracle.
//!
//! - [`bot`]: a bot's parameters ([`BotParams`]) and the world's formulas
//!   (hidden skill that drifts down, noisy revenue, what a cycle adds and costs);
//!   [`event`]: regime shifts, changes to a bot at a tick ([`BotEvent`]).
//! - [`world`]: every bot's skill and ledger, seeded noise, cycle slots per
//!   tick and their fair sharing ([`World`]).
//! - [`pipeline`]: a bot's improvement job ([`SimulatedPipeline`]: it reports
//!   measured evaluation changes and projected ROI, never the hidden skill),
//!   the world's ledger as a [`ProfitSource`](crate::host::ProfitSource)
//!   ([`SimLedger`]), and [`standalone`], a one-bot world for `kaizen run`;
//!   [`spec`]: an engine spec's `[pipeline.simulated]` bot ([`spec_pipeline`]).
//! - [`capacity`]: cycle slots and the simulated CPU/memory they use, as the
//!   registry's probe ([`SimProbe`]) and as an engine's energy source
//!   ([`CapacityEnergy`]).
//! - [`baseline`]: `always`, `interval`, `threshold`, `random` ([`Baseline`]);
//!   [`tuned`]: the best fixed rule in hindsight; [`oracle`]: the oracle,
//!   planning with the hidden skill ([`OraclePlan`]).
//! - [`learned`]: the learned policy, real engines driven tick by tick
//!   ([`run_learned`]); [`decided`]: the decision core driving the world
//!   directly ([`run_decided`]).
//! - [`model_bot`]: bots whose skill is a real candle model's live accuracy
//!   on a drifting stream ([`ModelBot`]); [`model_world`]: the fixed
//!   policies over them ([`simulate_models`]).
//! - [`scenario`]: all of it in TOML ([`Scenario`]); [`run`]: [`simulate`]
//!   runs it; [`report`]: the result, as a table or deterministic JSON
//!   ([`Report`]); [`yardstick`]: every policy over scenarios and seeds as
//!   a share of the oracle (the table in README).
//!
//! Every random number comes from a [`ChaCha8Rng`](rand_chacha::ChaCha8Rng)
//! stream derived from the seed (one per purpose and bot), so the same seed
//! and scenario give the same report, byte for byte.
//!
//! ```
//! use kaizen::sim::{PolicyKind, Scenario, SimOptions, simulate};
//!
//! let scenario = Scenario::from_toml(r#"
//!     ticks = 100
//!     [[bots]]
//!     name = "good"
//!     [[bots]]
//!     name = "dead_end"
//!     gain = 0.0
//! "#)?;
//! let report = simulate(&scenario, &SimOptions::default(), &mut |_, _| {})?;
//! let oracle = report.policy(PolicyKind::Oracle).unwrap();
//! let always = report.policy(PolicyKind::Always).unwrap();
//! assert!(oracle.net_profit > always.net_profit);
//! assert_eq!(oracle.bots[1].cycles, 0); // the oracle never pays for a dead end
//! println!("{}", report.table());
//! # Ok::<(), kaizen::Error>(())
//! ```

pub mod baseline;
pub mod bot;
pub mod capacity;
pub mod decided;
pub mod event;
pub mod learned;
pub mod model_bot;
pub mod model_world;
pub mod oracle;
pub mod pipeline;
pub mod report;
pub mod run;
pub mod scenario;
pub mod spec;
pub mod tuned;
pub mod world;
pub mod yardstick;

pub use baseline::{Baseline, threshold_fires};
pub use bot::{BotParams, cycle_cost, drifted, energy_share, revenue, skill_gain};
pub use capacity::{CapacityConfig, CapacityEnergy, SimProbe, SlotGate};
pub use decided::run_decided;
pub use event::{BotEvent, regimes};
pub use learned::{EngineTally, run_learned};
pub use model_bot::{DriftingStream, ModelBot, ModelBotParams};
pub use model_world::{run_models, simulate_models};
pub use oracle::{GRID, OraclePlan};
pub use pipeline::{
    DEFAULT_PAYBACK_TICKS, ReportConfig, SimLedger, SimMetric, SimulatedPipeline, standalone,
};
pub use report::{BotReport, PolicyReport, Report, ScenarioSummary};
pub use run::{SimOptions, simulate};
pub use scenario::{
    AutoscaleSection, BaselineConfig, BotSpec, DeltaSource, LearnedConfig, MAX_BOTS, MAX_TICKS,
    Scenario,
};
pub use spec::{simulated_params, spec_pipeline};
pub use world::{CycleEffect, NoCapacity, SharedWorld, World};

use serde::Serialize;

use crate::Error;

/// The policies a simulation can compare, in report order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    /// The real engines and registry, learning.
    Learned,
    /// The decision core ([`crate::decide`]) driving the world directly.
    Core,
    /// A cycle on every bot every tick.
    Always,
    /// A cycle on each bot every `interval_ticks`.
    Interval,
    /// A cycle when recent revenue falls 10% under its longer mean.
    Threshold,
    /// A cycle by chance.
    Random,
    /// The best fixed rule in hindsight ([`tuned`]).
    Tuned,
    /// Plans with the hidden skill.
    Oracle,
}

impl PolicyKind {
    /// Every policy, in report order.
    pub const ALL: [PolicyKind; 8] = [
        PolicyKind::Learned,
        PolicyKind::Core,
        PolicyKind::Always,
        PolicyKind::Interval,
        PolicyKind::Threshold,
        PolicyKind::Random,
        PolicyKind::Tuned,
        PolicyKind::Oracle,
    ];

    /// The policy's name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::Learned => "learned",
            PolicyKind::Core => "core",
            PolicyKind::Always => "always",
            PolicyKind::Interval => "interval",
            PolicyKind::Threshold => "threshold",
            PolicyKind::Random => "random",
            PolicyKind::Tuned => "tuned",
            PolicyKind::Oracle => "oracle",
        }
    }

    /// Whether it is a fixed baseline (the four rules and `tuned`).
    pub fn is_baseline(self) -> bool {
        !matches!(
            self,
            PolicyKind::Learned | PolicyKind::Core | PolicyKind::Oracle
        )
    }
}

impl std::str::FromStr for PolicyKind {
    type Err = Error;

    /// A policy by name; an unknown name lists the known ones.
    ///
    /// ```
    /// use kaizen::sim::PolicyKind;
    /// assert_eq!("oracle".parse::<PolicyKind>().unwrap(), PolicyKind::Oracle);
    /// assert!("smart".parse::<PolicyKind>().is_err());
    /// ```
    fn from_str(name: &str) -> Result<Self, Error> {
        PolicyKind::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| Error::UnknownName {
                kind: "policy",
                name: name.to_string(),
                known: PolicyKind::ALL.map(PolicyKind::name).join(", "),
            })
    }
}

impl std::fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests;
