//! `[pipeline.training]`: kaizen's own training pipeline in an engine spec.
//!
//! ```toml
//! bot = "sales"
//!
//! [pipeline.training]          # a TrainingConfig: `data` and `task` are enough
//! data = "data/sales.csv"      # a CSV or JSON Lines file, or a folder of them
//! task = "regression"          # or "classification"
//! ```
//! Every key of [`TrainingConfig`] may be given (its module docs show them
//! all, with `[pipeline.training.model]`, `.gate`, `.monitor`, `.schedule`,
//! `.early_stopping` and `.curriculum` tables); unknown keys are errors. A
//! relative `data` path is taken from the spec file's folder, as a command
//! runs there. The table is checked when the spec is read, and every error
//! names the file and the line of the key (`pipeline.training.gate.alpha`);
//! for a default that clashes with a written key, the line of the table.
//! A missing data file is not an error here: the host may create it later,
//! and until it does each cycle fails saying so.
//!
//! The bot's models and learner state live in its state folder
//! (`<state>/<bot>/models/`, `<state>/<bot>/training.json`). Opening the
//! pipeline takes the registry's writer lock, so open it only once the
//! state folder is yours (`kaizen run` opens it after taking the folder's
//! lock); training jobs of every bot share one [`TrainingPool`].
//!
//! ```
//! use kaizen::host::ManualClock;
//! use kaizen::spec::EngineSpec;
//! use kaizen::training::TrainingPool;
//! use std::{path::Path, sync::Arc};
//!
//! let text = "bot = \"sales\"\n[pipeline.training]\ndata = \"sales.csv\"\ntask = \"regression\"\n";
//! let spec = EngineSpec::parse(text, Path::new("engines/sales.toml"))?;
//! let config = spec.training_config().expect("a training spec");
//! assert_eq!(config.data, Path::new("engines/sales.csv"));
//! let state = tempfile::tempdir()?;
//! let pool = Arc::new(TrainingPool::new(1));
//! let builder = spec
//!     .training_builder(state.path(), pool, Arc::new(ManualClock::new(0.0)))?
//!     .expect("a training spec");
//! assert_eq!(builder.training().unwrap().bot(), "sales");
//!
//! let bad = "bot = \"s\"\n[pipeline.training]\ndata = \"d.csv\"\ntask = \"regression\"\n\
//!            [pipeline.training.gate]\nalpha = 2\n";
//! let err = EngineSpec::parse(bad, Path::new("engines/s.toml")).unwrap_err();
//! assert_eq!(err.line, Some(6));
//! assert!(err.message.starts_with("invalid pipeline.training.gate.alpha = 2"), "{err}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::Path;
use std::sync::Arc;

use super::{EngineSpec, LoadedSpec, SpecError};
use crate::Error;
use crate::engine::EngineBuilder;
use crate::host::Clock;
use crate::pipeline::{SharedFleet, VariantPipeline};
use crate::training::{TrainingConfig, TrainingPipeline, TrainingPool, TrainingVariants};

/// The table's key, as errors name it.
const TABLE: &str = "pipeline.training";

/// Checks the `[pipeline.training]` table of `spec`; errors name its keys.
pub(super) fn check(spec: &EngineSpec) -> crate::Result<()> {
    match &spec.pipeline.training {
        Some(config) => config.validate().map_err(spec_names),
        None => Ok(()),
    }
}

/// Renames a [`TrainingConfig::validate`] error's subject to its key in a
/// spec: `training.seed` → `pipeline.training.seed`, `gate.alpha` →
/// `pipeline.training.gate.alpha`.
fn spec_names(e: Error) -> Error {
    e.renamed(|what| match what.strip_prefix("training.") {
        Some(key) => format!("{TABLE}.{key}"),
        None => format!("{TABLE}.{what}"),
    })
}

impl LoadedSpec {
    /// The `[pipeline.training]` settings, with a relative `data` path taken
    /// from the spec file's folder; `None` for another kind of pipeline.
    pub fn training_config(&self) -> Option<TrainingConfig> {
        let mut config = self.spec.pipeline.training.clone()?;
        if config.data.is_relative() {
            let folder = self.file.parent().unwrap_or(Path::new(""));
            config.data = folder.join(&config.data);
        }
        Some(config)
    }

    /// The engine this spec describes, running its training pipeline on the
    /// bot's folder in `state_root` with `pool` shared by every bot, and its
    /// settings; `None` for another kind of pipeline. Opening the pipeline
    /// takes the bot's model registry lock and reads `training.json`: an
    /// error names this file.
    pub fn training_builder(
        &self,
        state_root: &Path,
        pool: Arc<TrainingPool>,
        clock: Arc<dyn Clock>,
    ) -> Result<Option<EngineBuilder>, SpecError> {
        self.training_builder_in(state_root, pool, clock, None)
    }

    /// [`training_builder`](Self::training_builder), with a `[variants]`
    /// table's tests judged by `fleet` (see
    /// [`builder_in`](Self::builder_in)): each cycle trains with its
    /// variant's hyperparameters ([`TrainingVariants`]).
    pub fn training_builder_in(
        &self,
        state_root: &Path,
        pool: Arc<TrainingPool>,
        clock: Arc<dyn Clock>,
        fleet: Option<Arc<SharedFleet>>,
    ) -> Result<Option<EngineBuilder>, SpecError> {
        let Some(config) = self.training_config() else {
            return Ok(None);
        };
        let bot = &self.spec.bot;
        let pipeline = TrainingPipeline::open(bot, &state_root.join(bot), config, pool, clock)
            .map_err(|e| SpecError {
                file: self.file.clone(),
                line: None,
                message: format!("cannot open the training pipeline of bot {bot}: {e}"),
            })?;
        if self.spec.variants.is_none() {
            return Ok(Some(
                self.configure(EngineBuilder::with_training(bot, pipeline)),
            ));
        }
        let runner = Arc::new(TrainingVariants::new(pipeline.clone()));
        let variants =
            self.variant_pipeline(Some(state_root), fleet, |bot, spec, file, fleet| {
                VariantPipeline::with_runner(bot, spec, runner, file, fleet)
            })?;
        Ok(Some(self.configure(EngineBuilder::with_training_run_by(
            bot,
            pipeline,
            Arc::new(variants),
        ))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<LoadedSpec, SpecError> {
        EngineSpec::parse(text, Path::new("engines/alpha.toml"))
    }

    const MINIMAL: &str =
        "bot = \"alpha\"\n[pipeline.training]\ndata = \"d.csv\"\ntask = \"classification\"\n";

    #[test]
    fn a_minimal_table_gets_every_default() {
        let s = parse(MINIMAL).unwrap();
        let c = s.training_config().unwrap();
        assert_eq!(
            c,
            TrainingConfig::new("engines/d.csv", crate::training::Task::Classification)
        );
        let absolute = parse(&MINIMAL.replace("d.csv", "/data/d.csv")).unwrap();
        assert_eq!(
            absolute.training_config().unwrap().data,
            Path::new("/data/d.csv")
        );
        let command = parse("bot = \"c\"\n[pipeline]\ncommand = [\"sh\"]\n").unwrap();
        assert!(command.training_config().is_none());
        let err = s.builder().unwrap_err().to_string();
        assert!(err.contains("training_builder"), "{err}");
    }

    #[test]
    fn errors_name_the_key_and_its_line() {
        let cases: [(&str, usize, &str); 5] = [
            // A type error, found by the TOML reader.
            (
                "task = \"regression\"\nsteps_per_energy = \"many\"\n",
                5,
                "invalid type",
            ),
            // An unknown key.
            (
                "task = \"regression\"\nlerning_threshold = 5\n",
                5,
                "lerning_threshold",
            ),
            // A value out of range, found by validation.
            (
                "task = \"regression\"\nquality_threshold = 1.5\n",
                5,
                "invalid pipeline.training.quality_threshold = 1.5",
            ),
            // In a sub-table.
            (
                "task = \"regression\"\n[pipeline.training.model]\nbatch_size = 0\n",
                6,
                "invalid pipeline.training.model.batch_size = 0",
            ),
            // A default that clashes with a written key: the table's line.
            (
                "task = \"regression\"\nlearning_threshold = 20000\n",
                2,
                "invalid pipeline.training.max_buffer = 10000",
            ),
        ];
        for (tail, line, message) in cases {
            let text = format!("bot = \"alpha\"\n[pipeline.training]\ndata = \"d.csv\"\n{tail}");
            let err = parse(&text).unwrap_err();
            assert_eq!(err.file, Path::new("engines/alpha.toml"));
            assert_eq!(err.line, Some(line), "{err}");
            assert!(err.message.contains(message), "{err}");
        }
        let missing = parse("bot = \"a\"\n[pipeline.training]\ndata = \"d.csv\"\n").unwrap_err();
        assert!(missing.message.contains("task"), "{missing}");
    }

    #[test]
    fn one_kind_of_pipeline_only() {
        for (text, key) in [
            (
                "bot = \"a\"\n[pipeline]\ncommand = [\"x\"]\n[pipeline.training]\ndata = \"d\"\ntask = \"regression\"\n",
                "pipeline.training",
            ),
            (
                "bot = \"a\"\n[pipeline.simulated]\n[pipeline.training]\ndata = \"d\"\ntask = \"regression\"\n",
                "pipeline.training",
            ),
            (
                "bot = \"a\"\n[pipeline]\ncommand = [\"x\"]\n[pipeline.simulated]\n",
                "pipeline.simulated",
            ),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.message.starts_with(&format!("invalid {key}")), "{err}");
            assert!(err.message.contains("not both"), "{err}");
        }
    }

    #[test]
    fn the_builder_opens_the_pipeline_in_the_bots_state_folder() {
        let state = tempfile::tempdir().unwrap();
        let s = parse(MINIMAL).unwrap();
        let pool = Arc::new(TrainingPool::new(1));
        let clock: Arc<dyn Clock> = Arc::new(crate::host::ManualClock::new(0.0));
        let b = s
            .training_builder(state.path(), pool.clone(), clock.clone())
            .unwrap()
            .unwrap();
        assert_eq!(b.name(), "alpha");
        assert_eq!(b.config(), &s.config);
        assert!(state.path().join("alpha/models").is_dir());
        // A second opening is refused while the first holds the registry.
        let err = s.training_builder(state.path(), pool, clock).unwrap_err();
        assert_eq!(err.file, Path::new("engines/alpha.toml"));
        assert!(
            err.message
                .starts_with("cannot open the training pipeline of bot alpha: the model registry"),
            "{err}"
        );
    }
}
