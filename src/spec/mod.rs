//! Engine specs: one TOML file per bot in `engines/`, read by `kaizen run`.
//!
//! ```toml
//! bot = "alpha"                       # the bot; also the engine's name and state folder
//!
//! [pipeline]                          # the improvement job: a command …
//! command = ["./improve.sh", "--fast"] # runs in the spec file's folder
//! timeout = "15m"                     # seconds as a number, or "250ms", "90s", "15m", "2h", "1d"
//!
//! [engine]                            # every key optional; SPEC's defaults shown
//! decision = "learned"                # new engines: the learned energy (crate::decide);
//!                                     # "chain": SPEC's policy and energy chain (an engine
//!                                     # whose state predates the modes keeps "chain")
//! force = []                          # learned mode: triggers that force a cycle,
//!                                     # of "interval", "forecast", "diagnostics"
//! interval = "1h"                     # a cycle is forced after this long
//! energy_threshold = 0.5              # ticks with a lower energy score are skipped
//! energy = "capital"                  # "capital" (CapitalEnergy) or "none" (score 1)
//! default_energy = 1                  # requested energy of tick-driven cycles without a score
//! energy_cost = 0.0                   # cost of one unit of energy in the policy's reward
//! pre_roi_bias = 0.0                  # a forecast above this forces a cycle
//! forecast = "none"                   # or "arima": the built-in forecaster on this engine's deltas
//! forecast_history = 200              # deltas it keeps and fits (~119 ms per refit at 200)
//! forecast_refit_every = 10           # cycles between refits, run off the engine's thread
//! roi_ema_alpha = 0.1                 # weight of the newest ROI delta in the EMA
//! roi_scale = 1.0                     # deltas are divided by this
//! persistence = "per_cycle"           # or "write_behind" (see write_behind_window)
//! write_behind_window = "1s"
//! fsync = true                        # false: survive a process crash, not a power cut
//!
//! [policy]                            # SelfImprovementPolicy settings
//! strategy = "q_learning"             # q_learning | sarsa | q_lambda | actor_critic
//!                                     # | dqn | double_dqn | deep_q (unset: see below)
//! alpha = 0.5
//! gamma = 0.9
//! epsilon = 0.1                       # where epsilon_schedule starts
//! epsilon_schedule = { kind = "linear", to = 0.01, over = 1000 }   # or "constant" (default),
//!                                     # { kind = "exponential", rate = 0.999, floor = 0.01 }
//! temperature_schedule = "constant"   # the same kinds, from `temperature`
//!
//! [policy.network]                    # dqn, double_dqn and deep_q only; defaults shown
//! hidden = 32
//! lr = 1e-3
//! batch_size = 32
//! replay_capacity = 1000
//! target_sync = 10
//!
//! [synergy]
//! learner = "weights"                 # or "dqn"
//! keys = "core"                       # or "extended" (seven metrics)
//! lr = 0.1                            # 0.1 for weights, 1e-3 for dqn when not given
//!
//! [decide]                            # learned mode: every key optional, defaults shown
//! energies = [1, 2, 3, 5, 8, 13, 20, 30, 50, 100]  # the energies a cycle may get
//! epsilon = 0.02                      # the exploration floor, in [0.02, 1]
//! draws = 16                          # posterior draws per decision
//! horizon = 8760                      # ticks a decision looks ahead
//! seed = 0                            # mixed with the bot's name
//!
//! [variants]                          # optional: the bot's variants (crate::variants::config)
//! [variants.space]
//! lr = { float = [1e-4, 0.1], log = true }
//! [profit]                            # optional: the bot's ledger, a file the host writes
//! file = "profit.txt"                 # its last line is the cumulative profit (see profit)
//! [reward]                            # optional: the cycle's value from the pipeline's metrics
//! weights = { quality = 0.6, speed = 0.4 }  # (see kaizen::reward)
//! penalty_multiplier = 1.0
//! bonus_threshold = 0.8
//! bonus = 0.1
//! ```
//!
//! Instead of `command`, a `[pipeline.training]` table runs kaizen's own
//! training pipeline on the bot's data ([`training`]: `data` and `task` are
//! enough), and a `[pipeline.simulated]` table (the parameters of a
//! simulated bot, all optional) runs a bot of the simulated world, with
//! `seed = N` in `[pipeline]` for its noise. This module keeps that table as
//! it is; [`crate::sim::spec_pipeline`] reads and checks it (the simulation
//! builds on specs, not the other way round). Unknown keys are errors. Every
//! error names the file and, where it can be found, the line of the
//! offending key ([`LoadedSpec::locate`]).
//!
//! A spec without `[policy] strategy` takes the strategy from the
//! environment when it is loaded from a file ([`EngineSpec::load`]):
//! `KAIZEN_POLICY_CONFIG`, then `KAIZEN_POLICY_STRATEGY`, then `q_learning`
//! (see [`strategy_from_config`]); [`LoadedSpec::strategy_source`] says
//! which.

use serde::Deserialize;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cycle::EngineConfig;
use crate::engine::{EngineBuilder, Origin, validate_name};
use crate::pipeline::{CommandPipeline, DEFAULT_TIMEOUT, Pipeline, SharedFleet, VariantPipeline};
use crate::policy::PolicyConfig;
use crate::reward::RewardConfig;
use crate::training::TrainingConfig;
use crate::variants::{Fleet, VariantsSpec};
use crate::{Error, Result};

/// The `[pipeline]` table: a `command`, or a `[pipeline.simulated]` bot.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineTable {
    /// The program and its arguments, run in the spec file's folder.
    pub command: Option<Vec<String>>,
    /// A bot of the simulated world instead of a program: its parameters,
    /// as written (read by [`crate::sim::spec_pipeline`]); each run first
    /// advances its world by one tick.
    pub simulated: Option<toml::Table>,
    /// kaizen's own training pipeline instead of a program (see
    /// [`training`]): `data` and `task` are enough.
    pub training: Option<TrainingConfig>,
    /// The simulated world's seed (default 0).
    #[serde(default)]
    pub seed: u64,
    /// The pipeline's timeout (default 15 min).
    #[serde(default = "default_timeout")]
    pub timeout: SpecDuration,
}

fn default_timeout() -> SpecDuration {
    SpecDuration(DEFAULT_TIMEOUT)
}

/// One engine spec file.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineSpec {
    /// The bot: also the engine's name and its state folder.
    pub bot: String,
    /// The pipeline.
    pub pipeline: PipelineTable,
    /// `[engine]`.
    #[serde(default)]
    pub engine: EngineTable,
    /// `[policy]`.
    #[serde(default)]
    pub policy: PolicyConfig,
    /// `[synergy]`.
    #[serde(default)]
    pub synergy: SynergyTable,
    /// `[decide]`: the learned decision's settings (energies, epsilon,
    /// draws, horizon, seed).
    #[serde(default)]
    pub decide: crate::decide::DecideConfig,
    /// `[variants]`: the bot's variants (see [`crate::variants::config`]).
    #[serde(default)]
    pub variants: Option<VariantsSpec>,
    /// `[reward]`: the weighted reward that makes the cycle's value from the
    /// pipeline's metrics ([`crate::reward`]).
    #[serde(default)]
    pub reward: Option<RewardConfig>,
    /// `[profit]`: the file holding the bot's cumulative profit (see
    /// [`profit`]); without it the engine has no ledger.
    #[serde(default)]
    pub profit: Option<ProfitTable>,
}

/// A spec file that could not be used: the file, the line when known, why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}{}: {message}", file.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct SpecError {
    /// The file.
    pub file: PathBuf,
    /// The line of the offending key, when known (1-based).
    pub line: Option<usize>,
    /// What was wrong and what was expected.
    pub message: String,
}

/// A spec that was read and checked, with where it came from.
#[derive(Clone, Debug)]
pub struct LoadedSpec {
    /// The file.
    pub file: PathBuf,
    /// Its content.
    pub spec: EngineSpec,
    /// Its engine configuration.
    pub config: EngineConfig,
    /// Where the policy's strategy came from.
    pub strategy_source: StrategySource,
    /// The file's text, to find the line of a key a later check refuses.
    text: String,
}

impl EngineSpec {
    /// The engine settings of this spec.
    pub fn options(&self) -> EngineOptions {
        EngineOptions {
            engine: self.engine.clone(),
            policy: self.policy.clone(),
            synergy: self.synergy.clone(),
            decide: self.decide.clone(),
        }
    }

    /// Parses and checks a spec's text; `file` is only used in errors. No
    /// environment is read: a spec without a strategy gets `q_learning`.
    pub fn parse(text: &str, file: &Path) -> std::result::Result<LoadedSpec, SpecError> {
        Self::parse_in(text, file, &|_| None)
    }

    /// [`parse`](Self::parse), with a spec that names no strategy taking it
    /// from `env` ([`strategy_from_config`]).
    pub fn parse_in(
        text: &str,
        file: &Path,
        env: &dyn Fn(&str) -> Option<OsString>,
    ) -> std::result::Result<LoadedSpec, SpecError> {
        let fail = |line, message: String| SpecError {
            file: file.to_path_buf(),
            line,
            message,
        };
        let mut spec: EngineSpec = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start));
            fail(line, e.message().trim().to_string())
        })?;
        // Written in the file itself (key_line would also answer for a bare
        // [policy.network] table, the deepest part written).
        let written = toml::from_str::<toml::Table>(text).is_ok_and(|t| {
            t.get("policy")
                .and_then(toml::Value::as_table)
                .is_some_and(|p| p.contains_key("strategy"))
        });
        let named = written.then_some(spec.policy.strategy);
        let chosen = strategy_from_config(named, env).map_err(|e| fail(None, e.to_string()))?;
        if !matches!(
            chosen.source,
            StrategySource::Spec | StrategySource::Default
        ) {
            tracing::info!(file = %file.display(), strategy = %chosen.strategy, source = %chosen.source, "policy strategy from the environment");
        }
        spec.policy.strategy = chosen.strategy;
        let checked = validate_name("bot", &spec.bot)
            .and_then(|()| spec.check_pipeline())
            .and_then(|()| spec.check_variants())
            .and_then(|()| spec.options().config())
            .and_then(|config| {
                if let Some(reward) = &spec.reward {
                    reward.validate()?;
                }
                if let Some(profit) = &spec.profit {
                    profit.validate()?;
                }
                Ok(EngineConfig {
                    timeout: spec.pipeline.timeout.0,
                    reward: spec.reward.clone(),
                    ..config
                })
            });
        match checked {
            Ok(config) => Ok(LoadedSpec {
                file: file.to_path_buf(),
                config,
                spec,
                strategy_source: chosen.source,
                text: text.to_string(),
            }),
            Err(e) => Err(locate(file, text, &e)),
        }
    }

    /// Checks `[variants]`, and that the pipeline can take them: a command
    /// (parameters in its environment, code variants) or training
    /// (parameters as hyperparameters, no code variants); a simulated bot
    /// cannot.
    fn check_variants(&self) -> Result<()> {
        let Some(v) = &self.variants else {
            return Ok(());
        };
        v.check()?;
        if self.pipeline.simulated.is_some() {
            return Err(Error::invalid(
                "variants",
                format!(
                    "a table on bot {:?}, whose pipeline is [pipeline.simulated]",
                    self.bot
                ),
                "no [variants] on a simulated bot (its world takes no parameters); variants need a command or [pipeline.training]",
            ));
        }
        if v.group.is_some() && self.pipeline.training.is_none() {
            return Err(Error::invalid(
                "variants.group",
                format!("a group on bot {:?}, whose pipeline is a command", self.bot),
                "no group: population-based training copies saved models, which only a [pipeline.training] bot keeps",
            ));
        }
        if self.pipeline.training.is_some() {
            if !v.commands.is_empty() {
                return Err(Error::invalid(
                    "variants.commands",
                    format!(
                        "code variants on bot {:?}, whose pipeline is [pipeline.training]",
                        self.bot
                    ),
                    "no commands: a training bot's variants are its hyperparameters ([variants.space])",
                ));
            }
            for name in v.space.keys() {
                crate::training::check_hyperparameter(name)?;
            }
        }
        Ok(())
    }

    fn check_pipeline(&self) -> Result<()> {
        let p = &self.pipeline;
        let kinds = [
            p.command.is_some(),
            p.simulated.is_some(),
            p.training.is_some(),
        ];
        match kinds {
            [true, false, false] if p.command.as_ref().is_some_and(|c| !c.is_empty()) => {}
            [false, true, false] => {}
            [false, false, true] => training::check(self)?,
            [false, false, false] | [true, false, false] => {
                return Err(Error::invalid(
                    "pipeline.command",
                    "nothing",
                    "a program and its arguments, e.g. command = [\"./improve.sh\"] (or a [pipeline.simulated] or [pipeline.training] table)",
                ));
            }
            _ => {
                let second = if p.training.is_some() {
                    "pipeline.training"
                } else {
                    "pipeline.simulated"
                };
                return Err(Error::invalid(
                    second,
                    "a table",
                    "one of pipeline.command, pipeline.simulated and pipeline.training, not both",
                ));
            }
        }
        if self.pipeline.timeout.0.is_zero() {
            return Err(Error::invalid(
                "pipeline.timeout",
                "0s",
                "a duration above 0",
            ));
        }
        Ok(())
    }

    /// Reads and checks one spec file; a spec without a strategy takes it
    /// from the process's environment ([`strategy_from_config`]).
    pub fn load(file: &Path) -> std::result::Result<LoadedSpec, SpecError> {
        let text = std::fs::read_to_string(file).map_err(|e| SpecError {
            file: file.to_path_buf(),
            line: None,
            message: format!("cannot read: {e}"),
        })?;
        Self::parse_in(&text, file, &process_env)
    }
}

/// Reads every `*.toml` in `dir`, sorted by file name. Two specs for one bot
/// are an error naming both files. The first error stops the reading.
pub fn load_dir(dir: &Path) -> std::result::Result<Vec<LoadedSpec>, SpecError> {
    let (specs, errors) = load_each(dir)?;
    match errors.into_iter().next() {
        Some(first) => Err(first),
        None => Ok(specs),
    }
}

/// Reads every `*.toml` in `dir`, sorted by file name: the specs that are
/// good, and an error for each file that is not (a second spec for a bot
/// another file describes is an error naming both files). A folder that
/// cannot be read or holds no spec is an error of its own. `kaizen run`
/// reloads its specs this way, so one mistake leaves the others working.
pub fn load_each(dir: &Path) -> std::result::Result<(Vec<LoadedSpec>, Vec<SpecError>), SpecError> {
    let fail = |message: String| SpecError {
        file: dir.to_path_buf(),
        line: None,
        message,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| fail(format!("cannot read the engines folder: {e}")))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(fail("no engine specs (*.toml) in this folder".into()));
    }
    let mut specs: Vec<LoadedSpec> = Vec::with_capacity(files.len());
    let mut errors = Vec::new();
    for file in files {
        let loaded = match EngineSpec::load(&file) {
            Ok(l) => l,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        match specs.iter().find(|s| s.spec.bot == loaded.spec.bot) {
            Some(other) => errors.push(SpecError {
                file,
                line: None,
                message: format!(
                    "bot {:?} is already described by {}",
                    loaded.spec.bot,
                    other.file.display()
                ),
            }),
            None => specs.push(loaded),
        }
    }
    Ok((specs, errors))
}

impl LoadedSpec {
    /// The engine builder this spec describes, with a command pipeline; the
    /// command must exist. A `[pipeline.simulated]` spec is built by
    /// [`crate::sim::spec_pipeline`] and [`builder_with`](Self::builder_with).
    pub fn builder(&self) -> std::result::Result<EngineBuilder, SpecError> {
        self.builder_in(self.command_pipeline()?, None, None)
    }

    /// The engine builder running `pipeline` (this spec's command pipeline,
    /// e.g. given a launcher), inside its `[variants]` if it has any: their
    /// state kept in `state_root/<bot>/variants.json` (in memory without a
    /// root), their tests judged by `fleet` (the fleet's rule shared by
    /// every bot; without one, a rule of this bot alone at its α).
    pub fn builder_in(
        &self,
        pipeline: CommandPipeline,
        state_root: Option<&Path>,
        fleet: Option<Arc<SharedFleet>>,
    ) -> std::result::Result<EngineBuilder, SpecError> {
        if self.spec.variants.is_none() {
            return Ok(self.builder_with(Arc::new(pipeline)));
        }
        let variants = self.variant_pipeline(state_root, fleet, |bot, spec, file, fleet| {
            VariantPipeline::open(bot, spec, pipeline, file, fleet)
        })?;
        Ok(self.builder_with(Arc::new(variants)))
    }

    /// This spec's `[variants]` (which must be there) opened by `open`,
    /// given the bot, the table, the state file
    /// (`state_root/<bot>/variants.json`, none without a root) and the
    /// fleet's rule (`fleet`, or a rule of this bot alone at its α).
    pub(crate) fn variant_pipeline(
        &self,
        state_root: Option<&Path>,
        fleet: Option<Arc<SharedFleet>>,
        open: impl FnOnce(
            &str,
            VariantsSpec,
            Option<PathBuf>,
            Arc<SharedFleet>,
        ) -> Result<VariantPipeline>,
    ) -> std::result::Result<VariantPipeline, SpecError> {
        let variants = self.spec.variants.clone().ok_or_else(|| {
            self.locate(&Error::invalid("variants", "nothing", "a [variants] table"))
        })?;
        let fleet = match fleet {
            Some(f) => f,
            None => Fleet::new(variants.test.alpha, None)
                .and_then(|f| SharedFleet::open(f, None))
                .map_err(|e| self.locate(&e))?,
        };
        let file = state_root.map(|root| root.join(&self.spec.bot).join("variants.json"));
        open(&self.spec.bot, variants, file, fleet).map_err(|e| {
            self.locate(&Error::invalid(
                "variants",
                e.to_string(),
                "a usable [variants] table and state",
            ))
        })
    }

    /// The spec's command pipeline, run in the spec file's folder. A
    /// program that does not exist (or cannot be run) is an error naming
    /// this file and the line of `command`.
    pub fn command_pipeline(&self) -> std::result::Result<CommandPipeline, SpecError> {
        let Some(command) = self.spec.pipeline.command.clone() else {
            return Err(self.locate(&Error::invalid(
                "pipeline",
                "a [pipeline.simulated] or [pipeline.training] table",
                "a command (a simulated pipeline is built by kaizen::sim::spec_pipeline, \
                 a training pipeline by LoadedSpec::training_builder)",
            )));
        };
        let pipeline = CommandPipeline::new(command)
            .map_err(|e| self.locate(&e))?
            .current_dir(self.folder());
        pipeline.check().map_err(|e| self.locate(&e))?;
        Ok(pipeline)
    }

    /// The engine builder this spec describes, running `pipeline`: its
    /// settings, its energy source and its origin (this file).
    pub fn builder_with(&self, pipeline: Arc<dyn Pipeline>) -> EngineBuilder {
        self.configure(EngineBuilder::with_pipeline(&self.spec.bot, pipeline))
    }

    /// The spec file's folder, where its command runs and its relative
    /// paths start.
    fn folder(&self) -> &Path {
        self.file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
    }

    /// `builder` with this spec's settings, energy source, profit source
    /// and origin.
    fn configure(&self, builder: EngineBuilder) -> EngineBuilder {
        let mut builder = builder
            .config_all(self.config.clone())
            .origin(Origin::Spec(self.file.clone()));
        if let Some(profit) = &self.spec.profit {
            builder = builder.profit_source(Arc::new(profit.source(self.folder())));
        }
        self.spec.engine.energy.apply(builder)
    }

    /// `e`, found while using this spec, as an error naming the file and,
    /// when `e` names a key written in it, that key's line.
    pub fn locate(&self, e: &Error) -> SpecError {
        locate(&self.file, &self.text, e)
    }
}

/// `e` as an error naming `file` and, when `e` names a key of `text`, its line.
fn locate(file: &Path, text: &str, e: &Error) -> SpecError {
    let line = match e {
        Error::Invalid { what, .. } => key_line(text, what),
        _ => None,
    };
    SpecError {
        file: file.to_path_buf(),
        line,
        message: e.to_string(),
    }
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The line where the dotted key `path` (`policy.alpha`) is written; when
/// only its first parts are (a default that clashes with a written key, say
/// `pipeline.training.max_buffer`), the line of the deepest one written.
fn key_line(text: &str, path: &str) -> Option<usize> {
    let doc = toml::de::DeTable::parse(text).ok()?;
    let mut table = doc.get_ref();
    let mut found = None;
    for part in path.split('.') {
        let Some((key, value)) = table.get_key_value(part) else {
            return found;
        };
        found = Some(line_of(text, key.span().start));
        match value.get_ref() {
            toml::de::DeValue::Table(t) => table = t,
            _ => return found,
        }
    }
    found
}

mod options;
pub mod profit;
mod strategy;

pub use profit::{FileProfit, ProfitTable};

pub use strategy::{
    ChosenStrategy, POLICY_CONFIG_VAR, POLICY_STRATEGY_VAR, StrategySource, process_env,
    strategy_from_config,
};

pub mod training;

pub use options::{
    EnergyKind, EngineOptions, EngineTable, ForecastKind, LearnerKind, PersistenceKind,
    SpecDuration, SynergyTable,
};

#[cfg(test)]
mod tests;
