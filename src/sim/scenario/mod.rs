//! Scenarios: a simulation described in TOML (see `examples/scenarios/`).
//!
//! ```toml
//! name = "steady"                 # shown in reports
//! description = "…"
//! seed = 1                        # the default seed (`--seed` overrides)
//! ticks = 2000                    # the horizon (`--ticks` overrides)
//! tick_seconds = 3600.0           # simulated seconds per tick
//!
//! [capacity]                      # CapacityConfig: cycle slots and simulated CPU/memory
//! max_concurrent = 3
//!
//! [baselines]                     # BaselineConfig: the fixed policies' settings
//! energy = 10
//!
//! [learned]                       # LearnedConfig: how the real engines are wired
//! deltas = "projected"
//! [learned.engine]                # the same tables as an engine spec (crate::spec)
//! interval = "1d"
//! [learned.policy]
//! [learned.synergy]
//!
//! [autoscale]                     # optional: the registry's autoscaler
//! enabled = false
//!
//! [[bots]]                        # one table per bot: a name and BotParams
//! name = "alpha"
//! skill = 0.7
//! ```
//!
//! Every table and key is optional except `[[bots]]` (at least one) and each
//! bot's `name`; unknown keys are errors. [`Scenario::from_toml`] parses and
//! validates: a TOML or type error gives its line, a value out of range names
//! its place (`scenario.bots[2].gain`).
//!
//! ```
//! use kaizen::sim::Scenario;
//!
//! let s = Scenario::from_toml("ticks = 50\n[[bots]]\nname = \"a\"\n[[bots]]\nname = \"b\"\ngain = 0.0")?;
//! assert_eq!(s.bot_names(), ["a", "b"]);
//! let err = Scenario::from_toml("[[bots]]\nname = \"a\"\ngain = 2.0").unwrap_err();
//! assert_eq!(err.to_string(), "invalid scenario.bots[0].gain = 2: expected a number in [0, 1]");
//! # Ok::<(), kaizen::Error>(())
//! ```

use serde::de::{DeserializeOwned, Deserializer, Error as _};
use serde::{Deserialize, Serialize};
use std::path::Path;

use super::bot::BotParams;
use super::capacity::CapacityConfig;
use super::model_bot::{MEANINGLESS, ModelBotParams};
use super::pipeline::ReportConfig;
use super::world::World;
use crate::autoscale::AutoscaleConfig;
use crate::cycle::EngineConfig;
use crate::engine::validate_name;
use crate::error::{Error, ensure_positive, ensure_unit};
use crate::persist::PersistError;
use crate::policy::PolicyConfig;
use crate::spec::{EngineOptions, EngineTable, SynergyTable};
use crate::{Result, chain};

/// The most ticks a scenario may run.
pub const MAX_TICKS: u64 = 1_000_000;
/// The most bots a scenario may have.
pub const MAX_BOTS: usize = 1000;

/// A whole simulation. See the [module docs](self).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scenario {
    /// Shown in reports. Default `"scenario"`.
    pub name: String,
    /// What the scenario is about.
    pub description: String,
    /// The seed of every random number (default 1).
    pub seed: u64,
    /// Ticks to simulate, 1..=1,000,000 (default 1000).
    pub ticks: u64,
    /// Simulated seconds per tick, > 0 (default 3600): the engines' clock
    /// moves this much each tick.
    pub tick_seconds: f64,
    /// Cycle slots and simulated CPU/memory.
    pub capacity: CapacityConfig,
    /// Settings of the fixed policies.
    pub baselines: BaselineConfig,
    /// How the learned policy's engines are wired.
    pub learned: LearnedConfig,
    /// The registry's autoscaler, if enabled.
    pub autoscale: AutoscaleSection,
    /// The bots.
    pub bots: Vec<BotSpec>,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            name: "scenario".into(),
            description: String::new(),
            seed: 1,
            ticks: 1000,
            tick_seconds: 3600.0,
            capacity: CapacityConfig::default(),
            baselines: BaselineConfig::default(),
            learned: LearnedConfig::default(),
            autoscale: AutoscaleSection::default(),
            bots: Vec::new(),
        }
    }
}

/// One `[[bots]]` table: a name and the bot's parameters.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BotSpec {
    /// The bot's name (`[A-Za-z0-9_.-]{1,64}`, not starting with `.`).
    pub name: String,
    /// Its parameters.
    #[serde(flatten)]
    pub params: BotParams,
    /// `[bots.model]`: a model bot's stream and model ([`super::model_bot`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelBotParams>,
}

impl<'de> Deserialize<'de> for BotSpec {
    /// `name` plus the keys of [`BotParams`]; anything else is an error.
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let mut table = toml::Table::deserialize(d)?;
        let name = match table.remove("name") {
            Some(toml::Value::String(s)) => s,
            Some(other) => {
                return Err(D::Error::custom(format!(
                    "a bot's name must be a string, not {}",
                    other.type_str()
                )));
            }
            None => return Err(D::Error::missing_field("name")),
        };
        let model = match table.remove("model") {
            Some(m) => {
                if let Some(key) = MEANINGLESS.iter().find(|k| table.contains_key(**k)) {
                    return Err(D::Error::custom(format!(
                        "`{key}` does not apply to a model bot (one with a [bots.model] table): its skill is its model's live accuracy"
                    )));
                }
                Some(m.try_into().map_err(|e: toml::de::Error| {
                    D::Error::custom(format!("in [bots.model]: {}", e.message().trim()))
                })?)
            }
            None => None,
        };
        let params = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| D::Error::custom(e.message().trim()))?;
        Ok(BotSpec {
            name,
            params,
            model,
        })
    }
}

/// The `[baselines]` table: how the fixed policies behave.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BaselineConfig {
    /// The energy every baseline cycle gets, 1..=100 (default 10).
    pub energy: u32,
    /// `interval`: a cycle on each bot every this many ticks, ≥ 1 (default 24).
    pub interval_ticks: u64,
    /// `threshold`: ticks in the recent revenue mean, ≥ 1 (default 5).
    pub threshold_short: usize,
    /// `threshold`: ticks in the longer revenue mean, > `threshold_short` (default 50).
    pub threshold_long: usize,
    /// `threshold`: run when the recent mean is this share under the longer
    /// one, in [0, 1) (default 0.1, the issue's 10%).
    pub threshold_drop: f64,
    /// `random`: chance of a cycle per bot and tick, in [0, 1]; by default
    /// `1 / interval_ticks`, so it runs as often as `interval` on average.
    pub random_chance: Option<f64>,
}

impl Default for BaselineConfig {
    fn default() -> Self {
        BaselineConfig {
            energy: 10,
            interval_ticks: 24,
            threshold_short: 5,
            threshold_long: 50,
            threshold_drop: 0.1,
            random_chance: None,
        }
    }
}

impl BaselineConfig {
    /// The `random` baseline's chance per bot and tick.
    pub fn random_chance(&self) -> f64 {
        self.random_chance
            .unwrap_or(1.0 / self.interval_ticks.max(1) as f64)
    }

    fn validate(&self) -> Result<()> {
        if !(chain::MIN_ENERGY..=chain::MAX_ENERGY).contains(&self.energy) {
            return Err(Error::invalid(
                "scenario.baselines.energy",
                self.energy,
                "a whole number in 1..=100",
            ));
        }
        if self.interval_ticks == 0 {
            return Err(Error::invalid(
                "scenario.baselines.interval_ticks",
                0,
                "at least 1",
            ));
        }
        if self.threshold_short == 0 {
            return Err(Error::invalid(
                "scenario.baselines.threshold_short",
                0,
                "at least 1",
            ));
        }
        if self.threshold_long <= self.threshold_short {
            return Err(Error::invalid(
                "scenario.baselines.threshold_long",
                self.threshold_long,
                format!(
                    "more than scenario.baselines.threshold_short ({})",
                    self.threshold_short
                ),
            ));
        }
        let drop = ensure_unit("scenario.baselines.threshold_drop", self.threshold_drop)?;
        if drop >= 1.0 {
            return Err(Error::invalid(
                "scenario.baselines.threshold_drop",
                drop,
                "a number in [0, 1)",
            ));
        }
        if let Some(p) = self.random_chance {
            ensure_unit("scenario.baselines.random_chance", p)?;
        }
        Ok(())
    }
}

/// Where the learned engines' ROI deltas come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeltaSource {
    /// No profit source: a cycle's delta is the `roi` its pipeline reports
    /// (the measured gain valued over `payback_ticks`, minus the cost).
    #[default]
    Projected,
    /// The world's ledger is the engines' profit source: a cycle's delta is
    /// the ledger's change while it ran (its cost: revenue is earned between
    /// cycles, and shows in the rewards of policy skips).
    Ledger,
}

/// The `[learned]` table: how the real engines of the `learned` policy are
/// wired. `engine`, `policy` and `synergy` are the tables of an engine spec
/// ([`crate::spec`]); `policy.seed` is replaced by a seed derived from the
/// run's seed and the bot.
///
/// Defaults: the engines' own defaults (SPEC's, as for an engine spec that
/// leaves the tables out), the pipeline's default report, projected deltas
/// and the world's free capacity as energy source. No setting is tuned to a
/// scenario: what a scenario without a `[learned]` table measures is what a
/// user gets.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LearnedConfig {
    /// Where ROI deltas come from (default `projected`).
    pub deltas: DeltaSource,
    /// What the simulated pipeline reports, `[learned.report]`.
    pub report: ReportConfig,
    /// Use the world's free capacity as the engines' energy source
    /// ([`CapacityEnergy`](super::CapacityEnergy)) instead of
    /// `engine.energy` (default true).
    pub capacity_energy: bool,
    /// `[learned.engine]`.
    pub engine: EngineTable,
    /// `[learned.policy]`.
    pub policy: PolicyConfig,
    /// `[learned.synergy]`.
    pub synergy: SynergyTable,
}

impl Default for LearnedConfig {
    fn default() -> Self {
        LearnedConfig {
            deltas: DeltaSource::Projected,
            report: ReportConfig::default(),
            capacity_energy: true,
            engine: EngineTable::default(),
            policy: PolicyConfig::default(),
            synergy: SynergyTable::default(),
        }
    }
}

impl LearnedConfig {
    /// The engine tables as [`EngineOptions`].
    pub fn options(&self) -> EngineOptions {
        EngineOptions {
            engine: self.engine.clone(),
            policy: self.policy.clone(),
            synergy: self.synergy.clone(),
            decide: crate::decide::DecideConfig::default(),
        }
    }

    /// The engines' configuration; errors name `scenario.learned.engine.…`.
    pub fn engine_config(&self) -> Result<EngineConfig> {
        self.options()
            .config()
            .map_err(|e| e.renamed(|what| format!("scenario.learned.{what}")))
    }
}

/// The `[autoscale]` table. When enabled, the learned driver calls the
/// registry's autoscaler every `every_ticks` ticks with `options`; its
/// factory gives each new engine the first bot without one (bots never
/// looked after first, then those dropped longest ago), and a removed
/// engine's bot goes unattended until an engine is created for it again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AutoscaleSection {
    /// Whether the autoscaler runs (default false).
    pub enabled: bool,
    /// Ticks between two autoscale steps, ≥ 1 (default 24).
    pub every_ticks: u64,
    /// Engines at the start, for the first bots (default: one per bot).
    pub initial_engines: Option<usize>,
    /// The autoscaler's options (SPEC §8), `[autoscale.options]`.
    #[serde(deserialize_with = "strict")]
    pub options: AutoscaleConfig,
}

impl Default for AutoscaleSection {
    fn default() -> Self {
        AutoscaleSection {
            enabled: false,
            every_ticks: 24,
            initial_engines: None,
            options: AutoscaleConfig::default(),
        }
    }
}

/// Deserializes `T` from a TOML table and refuses keys `T` does not
/// write back (for settings types that ignore unknown keys).
fn strict<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned + Serialize,
{
    let table = toml::Table::deserialize(d)?;
    let keys: Vec<String> = table.keys().cloned().collect();
    let value: T = toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| D::Error::custom(e.message().trim()))?;
    let known = toml::Table::try_from(&value).map_err(D::Error::custom)?;
    match keys.iter().find(|k| !known.contains_key(k.as_str())) {
        Some(k) => {
            let mut names: Vec<&str> = known.keys().map(String::as_str).collect();
            names.sort_unstable();
            Err(D::Error::custom(format!(
                "unknown field `{k}`, expected one of {}",
                names.join(", ")
            )))
        }
        None => Ok(value),
    }
}

impl Scenario {
    /// Parses and validates a scenario. A TOML or type error gives the line
    /// and column where it is.
    pub fn from_toml(text: &str) -> Result<Scenario> {
        let scenario: Scenario = toml::from_str(text).map_err(|e| {
            let at = e.span().map(|s| {
                let before = &text[..s.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.len() - before.rfind('\n').map_or(0, |n| n + 1) + 1;
                format!("line {line}, column {column}: ")
            });
            Error::invalid(
                "scenario",
                format!("{}{}", at.unwrap_or_default(), e.message().trim()),
                "a scenario in the format of examples/scenarios/*.toml",
            )
        })?;
        scenario.validate()?;
        Ok(scenario)
    }

    /// Reads a scenario file (see [`from_toml`](Self::from_toml)).
    pub fn load(path: &Path) -> Result<Scenario> {
        let text = std::fs::read_to_string(path).map_err(|source| PersistError::Io {
            op: "read",
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text)
    }

    /// Checks every setting; the first error names its place.
    pub fn validate(&self) -> Result<()> {
        if !(1..=MAX_TICKS).contains(&self.ticks) {
            return Err(Error::invalid(
                "scenario.ticks",
                self.ticks,
                "a whole number in 1..=1000000",
            ));
        }
        ensure_positive("scenario.tick_seconds", self.tick_seconds)?;
        if self.bots.is_empty() || self.bots.len() > MAX_BOTS {
            return Err(Error::invalid(
                "scenario.bots",
                format!("{} bots", self.bots.len()),
                "1 to 1000 [[bots]] tables",
            ));
        }
        for (i, bot) in self.bots.iter().enumerate() {
            let at = format!("scenario.bots[{i}]");
            validate_name("name", &bot.name).map_err(|e| e.renamed(|_| format!("{at}.name")))?;
            if let Some(j) = self.bots[..i].iter().position(|b| b.name == bot.name) {
                return Err(Error::invalid(
                    format!("{at}.name"),
                    format!("{:?}", bot.name),
                    format!("a name no other bot has (scenario.bots[{j}] has it)"),
                ));
            }
            bot.params.validate(&at)?;
            if let Some(m) = &bot.model {
                m.validate(&format!("{at}.model"))?;
            }
        }
        self.capacity.validate("scenario.capacity")?;
        self.baselines.validate()?;
        self.learned.report.validate("scenario.learned.report")?;
        self.learned.engine_config()?;
        let a = &self.autoscale;
        if a.every_ticks == 0 {
            return Err(Error::invalid(
                "scenario.autoscale.every_ticks",
                0,
                "at least 1",
            ));
        }
        if let Some(n) = a.initial_engines
            && (n == 0 || n > self.bots.len())
        {
            return Err(Error::invalid(
                "scenario.autoscale.initial_engines",
                n,
                format!("1 to the number of bots ({})", self.bots.len()),
            ));
        }
        a.options.validate().map_err(|e| {
            e.renamed(|what| {
                format!(
                    "scenario.{}",
                    what.replacen("autoscale.", "autoscale.options.", 1)
                )
            })
        })
    }

    /// The bots' names, in order.
    pub fn bot_names(&self) -> Vec<String> {
        self.bots.iter().map(|b| b.name.clone()).collect()
    }

    /// Whether any bot is a model bot.
    pub fn has_models(&self) -> bool {
        self.bots.iter().any(|b| b.model.is_some())
    }

    /// The bots' parameters, in order.
    pub fn bot_params(&self) -> Vec<BotParams> {
        self.bots.iter().map(|b| b.params.clone()).collect()
    }

    /// A fresh world of the scenario's bots and cycle slots, seeded with `seed`.
    pub fn world(&self, seed: u64) -> Result<World> {
        World::new(self.bot_params(), self.capacity.max_concurrent, seed)
    }
}

pub mod random;

#[cfg(test)]
mod tests;
