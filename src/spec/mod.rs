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
//! interval = "1h"                     # a cycle is forced after this long
//! energy_threshold = 0.5              # ticks with a lower energy score are skipped
//! energy = "capital"                  # "capital" (CapitalEnergy) or "none" (score 1)
//! default_energy = 1                  # requested energy of tick-driven cycles without a score
//! energy_cost = 0.0                   # cost of one unit of energy in the policy's reward
//! pre_roi_bias = 0.0                  # a forecast above this forces a cycle
//! roi_ema_alpha = 0.1                 # weight of the newest ROI delta in the EMA
//! roi_scale = 1.0                     # deltas are divided by this
//! persistence = "per_cycle"           # or "write_behind" (see write_behind_window)
//! write_behind_window = "1s"
//! fsync = true                        # false: survive a process crash, not a power cut
//!
//! [policy]                            # SelfImprovementPolicy settings
//! strategy = "q_learning"             # q_learning | sarsa | q_lambda | actor_critic
//! alpha = 0.5
//! gamma = 0.9
//! epsilon = 0.1
//!
//! [synergy]
//! learner = "weights"                 # or "dqn"
//! keys = "core"                       # or "extended" (seven metrics)
//! lr = 0.1                            # 0.1 for weights, 1e-3 for dqn when not given
//! ```
//!
//! Instead of `command`, a `[pipeline.simulated]` table (the parameters of a
//! simulated bot, all optional) runs a bot of the simulated world, with
//! `seed = N` in `[pipeline]` for its noise. This module keeps that table as
//! it is; [`crate::sim::spec_pipeline`] reads and checks it (the simulation
//! builds on specs, not the other way round). Unknown keys are errors. Every
//! error names the file and, where it can be found, the line of the
//! offending key ([`LoadedSpec::locate`]).

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cycle::EngineConfig;
use crate::engine::{EngineBuilder, Origin, validate_name};
use crate::pipeline::{CommandPipeline, DEFAULT_TIMEOUT, Pipeline};
use crate::policy::PolicyConfig;
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
        }
    }

    /// Parses and checks a spec's text; `file` is only used in errors.
    pub fn parse(text: &str, file: &Path) -> std::result::Result<LoadedSpec, SpecError> {
        let fail = |line, message: String| SpecError {
            file: file.to_path_buf(),
            line,
            message,
        };
        let spec: EngineSpec = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start));
            fail(line, e.message().trim().to_string())
        })?;
        let checked = validate_name("bot", &spec.bot)
            .and_then(|()| spec.check_pipeline())
            .and_then(|()| spec.options().config());
        match checked {
            Ok(config) => Ok(LoadedSpec {
                file: file.to_path_buf(),
                config: EngineConfig {
                    timeout: spec.pipeline.timeout.0,
                    ..config
                },
                spec,
                text: text.to_string(),
            }),
            Err(e) => Err(locate(file, text, &e)),
        }
    }

    fn check_pipeline(&self) -> Result<()> {
        match (&self.pipeline.command, &self.pipeline.simulated) {
            (Some(c), None) if !c.is_empty() => {}
            (None, Some(_)) => {}
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    "pipeline.simulated",
                    "a table",
                    "either pipeline.command or pipeline.simulated, not both",
                ));
            }
            _ => {
                return Err(Error::invalid(
                    "pipeline.command",
                    "nothing",
                    "a program and its arguments, e.g. command = [\"./improve.sh\"] (or a [pipeline.simulated] table)",
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

    /// Reads and checks one spec file.
    pub fn load(file: &Path) -> std::result::Result<LoadedSpec, SpecError> {
        let text = std::fs::read_to_string(file).map_err(|e| SpecError {
            file: file.to_path_buf(),
            line: None,
            message: format!("cannot read: {e}"),
        })?;
        Self::parse(&text, file)
    }
}

/// Reads every `*.toml` in `dir`, sorted by file name. Two specs for one bot
/// are an error naming both files.
pub fn load_dir(dir: &Path) -> std::result::Result<Vec<LoadedSpec>, SpecError> {
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
    for file in files {
        let loaded = EngineSpec::load(&file)?;
        if let Some(other) = specs.iter().find(|s| s.spec.bot == loaded.spec.bot) {
            return Err(SpecError {
                file,
                line: None,
                message: format!(
                    "bot {:?} is already described by {}",
                    loaded.spec.bot,
                    other.file.display()
                ),
            });
        }
        specs.push(loaded);
    }
    Ok(specs)
}

impl LoadedSpec {
    /// The engine builder this spec describes, with a command pipeline; the
    /// command must exist. A `[pipeline.simulated]` spec is built by
    /// [`crate::sim::spec_pipeline`] and [`builder_with`](Self::builder_with).
    pub fn builder(&self) -> Result<EngineBuilder> {
        let Some(command) = self.spec.pipeline.command.clone() else {
            return Err(Error::invalid(
                format!("pipeline in {}", self.file.display()),
                "a [pipeline.simulated] table",
                "a command (a simulated pipeline is built by kaizen::sim::spec_pipeline)",
            ));
        };
        let folder = self
            .file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let pipeline = CommandPipeline::new(command)?.current_dir(folder);
        pipeline.check().map_err(|e| {
            Error::invalid(
                format!("pipeline.command in {}", self.file.display()),
                format!("{:?}", pipeline.program()),
                format!("an executable program ({e})"),
            )
        })?;
        Ok(self.builder_with(Arc::new(pipeline)))
    }

    /// The engine builder this spec describes, running `pipeline`: its
    /// settings, its energy source and its origin (this file).
    pub fn builder_with(&self, pipeline: Arc<dyn Pipeline>) -> EngineBuilder {
        let builder = EngineBuilder::with_pipeline(&self.spec.bot, pipeline)
            .config_all(self.config.clone())
            .origin(Origin::Spec(self.file.clone()));
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

/// The line where the dotted key `path` (`policy.alpha`) is written, if it is.
fn key_line(text: &str, path: &str) -> Option<usize> {
    let doc = toml::de::DeTable::parse(text).ok()?;
    let mut table = doc.get_ref();
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let (key, value) = table.get_key_value(part)?;
        if parts.peek().is_none() {
            return Some(line_of(text, key.span().start));
        }
        match value.get_ref() {
            toml::de::DeValue::Table(t) => table = t,
            _ => return None,
        }
    }
    None
}

mod options;

pub use options::{
    EnergyKind, EngineOptions, EngineTable, LearnerKind, PersistenceKind, SpecDuration,
    SynergyTable,
};

#[cfg(test)]
mod tests;
