//! [`TrainingConfig`]: everything a training pipeline is told, ready to be
//! embedded as `[pipeline.training]` in an engine spec.
//!
//! ```toml
//! [pipeline.training]
//! data = "data/sales.csv"        # a CSV or JSON Lines file, or a folder of them (required)
//! task = "regression"            # or "classification" (required)
//! target = "target"              # the target column (CSV)
//! steps_per_energy = 50          # optimizer steps bought by one unit of energy
//! learning_threshold = 100       # new samples that make a training cycle due
//! quality_threshold = 0.7        # rows with a lower `quality` are dropped
//! value_per_unit = 1.0           # ROI of one unit of held-out loss removed
//!
//! [pipeline.training.model]
//! hidden = [64, 64]
//! activation = "relu"
//! optimizer = { kind = "adamw", lr = 1e-3 }
//!
//! [pipeline.training.gate]
//! min_improvement = 0.05
//! alpha = 0.05
//! ```
//! Every key but `data` and `task` has the default shown in its field's
//! docs; unknown keys are errors.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

use super::{
    CurriculumConfig, EarlyStoppingConfig, GateConfig, ModelConfig, MonitorConfig, RunPlan,
    ScheduleConfig, Task,
};
use crate::error::{Error, Result, ensure_finite, ensure_unit};

/// How the data is laid out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataFormat {
    /// By the file's extension (`.jsonl`/`.ndjson` → JSON Lines, else CSV);
    /// a folder is JSON Lines when it holds such files and no `.csv`.
    #[default]
    Auto,
    /// CSV with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

/// The settings of a [`TrainingPipeline`](super::TrainingPipeline).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingConfig {
    /// The data: a file, or a folder of files read in name order.
    pub data: PathBuf,
    /// Regression or classification.
    pub task: Task,
    /// The data's format (default `auto`).
    #[serde(default)]
    pub format: DataFormat,
    /// The target column of a CSV (default `target`).
    #[serde(default = "default_target")]
    pub target: String,
    /// The time column of a CSV, used when present (default `time`).
    #[serde(default = "default_time")]
    pub time: String,
    /// The quality column of a CSV, used when present (default `quality`).
    #[serde(default = "default_quality")]
    pub quality: String,
    /// Seed of every random choice: initial weights, shuffles, splits (default 0).
    #[serde(default)]
    pub seed: u64,
    /// Optimizer steps per unit of energy (default 50).
    #[serde(default = "default_steps_per_energy")]
    pub steps_per_energy: u64,
    /// At most this many steps per cycle (default 100,000).
    #[serde(default = "default_max_steps")]
    pub max_steps: u64,
    /// New samples that make a training cycle due (default 100).
    #[serde(default = "default_learning_threshold")]
    pub learning_threshold: usize,
    /// Samples whose quality is below this are dropped (default 0.7).
    #[serde(default = "default_quality_threshold")]
    pub quality_threshold: f64,
    /// Fewest samples left after the quality filter to train on (default 10).
    #[serde(default = "default_min_samples")]
    pub min_samples: usize,
    /// The buffer keeps at most this many samples, the newest (default 10,000).
    #[serde(default = "default_max_buffer")]
    pub max_buffer: usize,
    /// Share of the samples, the most recent, held out to judge champion and
    /// challenger (default 0.2; at least 2 samples).
    #[serde(default = "default_fraction")]
    pub holdout_fraction: f64,
    /// Share of the remaining samples, drawn at random, that steer the
    /// scheduler and early stopping (default 0.2; none under 5 samples).
    #[serde(default = "default_fraction")]
    pub validation_fraction: f64,
    /// The challenger starts from the champion's weights (default true).
    #[serde(default = "default_true")]
    pub warm_start: bool,
    /// The ROI of one unit of held-out loss removed by a deployed version (default 1.0).
    #[serde(default = "default_value")]
    pub value_per_unit: f64,
    /// Clip the gradient's global norm to this; 0 turns clipping off (default 1.0).
    #[serde(default = "default_clip")]
    pub clip_grad_norm: f64,
    /// Optimizer steps between evaluations (default 10).
    #[serde(default = "default_eval_every")]
    pub eval_every: u64,
    /// Live samples the post-deploy check compares (default 200).
    #[serde(default = "default_window")]
    pub post_deploy_window: usize,
    /// Newest versions kept besides every version that served (default 10).
    #[serde(default = "default_keep")]
    pub keep_versions: usize,
    /// The network and its optimizer.
    #[serde(default)]
    pub model: ModelConfig,
    /// The deploy gate.
    #[serde(default)]
    pub gate: GateConfig,
    /// The training monitor.
    #[serde(default)]
    pub monitor: MonitorConfig,
    /// The learning-rate schedule.
    #[serde(default)]
    pub schedule: ScheduleConfig,
    /// Early stopping.
    #[serde(default)]
    pub early_stopping: EarlyStoppingConfig,
    /// The curriculum (off by default).
    #[serde(default)]
    pub curriculum: CurriculumConfig,
}

fn default_target() -> String {
    "target".into()
}
fn default_time() -> String {
    "time".into()
}
fn default_quality() -> String {
    "quality".into()
}
fn default_steps_per_energy() -> u64 {
    50
}
fn default_max_steps() -> u64 {
    100_000
}
fn default_learning_threshold() -> usize {
    100
}
fn default_quality_threshold() -> f64 {
    0.7
}
fn default_min_samples() -> usize {
    10
}
fn default_max_buffer() -> usize {
    10_000
}
fn default_fraction() -> f64 {
    0.2
}
fn default_true() -> bool {
    true
}
fn default_value() -> f64 {
    1.0
}
fn default_clip() -> f64 {
    1.0
}
fn default_eval_every() -> u64 {
    10
}
fn default_window() -> usize {
    200
}
fn default_keep() -> usize {
    10
}

impl Default for TrainingConfig {
    /// Every default, with no data path (which [`validate`](Self::validate) refuses) and regression.
    fn default() -> Self {
        TrainingConfig {
            data: PathBuf::new(),
            task: Task::Regression,
            format: DataFormat::Auto,
            target: default_target(),
            time: default_time(),
            quality: default_quality(),
            seed: 0,
            steps_per_energy: default_steps_per_energy(),
            max_steps: default_max_steps(),
            learning_threshold: default_learning_threshold(),
            quality_threshold: default_quality_threshold(),
            min_samples: default_min_samples(),
            max_buffer: default_max_buffer(),
            holdout_fraction: default_fraction(),
            validation_fraction: default_fraction(),
            warm_start: true,
            value_per_unit: default_value(),
            clip_grad_norm: default_clip(),
            eval_every: default_eval_every(),
            post_deploy_window: default_window(),
            keep_versions: default_keep(),
            model: ModelConfig::default(),
            gate: GateConfig::default(),
            monitor: MonitorConfig::default(),
            schedule: ScheduleConfig::default(),
            early_stopping: EarlyStoppingConfig::default(),
            curriculum: CurriculumConfig::default(),
        }
    }
}

impl TrainingConfig {
    /// The defaults for `task` on `data`.
    ///
    /// ```
    /// use kaizen::training::{Task, TrainingConfig};
    /// let c: TrainingConfig = toml::from_str("data = \"d.csv\"\ntask = \"regression\"").unwrap();
    /// assert_eq!(c, TrainingConfig::new("d.csv", Task::Regression));
    /// assert_eq!(c.learning_threshold, 100);
    /// assert!(c.validate().is_ok());
    /// assert!(toml::from_str::<TrainingConfig>("data = \"d.csv\"").is_err()); // task is required
    /// ```
    pub fn new(data: impl Into<PathBuf>, task: Task) -> Self {
        TrainingConfig {
            data: data.into(),
            task,
            ..TrainingConfig::default()
        }
    }

    /// Checks every setting and names the first that is wrong.
    pub fn validate(&self) -> Result<()> {
        if self.data.as_os_str().is_empty() {
            return Err(Error::invalid(
                "training.data",
                "\"\"",
                "a file or folder path",
            ));
        }
        for (what, name) in [
            ("training.target", &self.target),
            ("training.time", &self.time),
            ("training.quality", &self.quality),
        ] {
            if name.trim().is_empty() {
                return Err(Error::invalid(what, "\"\"", "a column name"));
            }
        }
        let positive = [
            ("training.steps_per_energy", self.steps_per_energy),
            ("training.max_steps", self.max_steps),
            ("training.eval_every", self.eval_every),
        ];
        for (what, v) in positive {
            if v == 0 {
                return Err(Error::invalid(what, 0, "a whole number ≥ 1"));
            }
        }
        if self.learning_threshold == 0 {
            return Err(Error::invalid(
                "training.learning_threshold",
                0,
                "at least 1",
            ));
        }
        if self.min_samples < 3 {
            return Err(Error::invalid(
                "training.min_samples",
                self.min_samples,
                "at least 3 (2 held out and 1 to train on)",
            ));
        }
        if self.max_buffer < self.learning_threshold.max(self.min_samples) {
            return Err(Error::invalid(
                "training.max_buffer",
                self.max_buffer,
                "at least learning_threshold and min_samples",
            ));
        }
        ensure_unit("training.quality_threshold", self.quality_threshold)?;
        for (what, f) in [
            ("training.holdout_fraction", self.holdout_fraction),
            ("training.validation_fraction", self.validation_fraction),
        ] {
            let f = ensure_finite(what, f)?;
            if !(0.0..1.0).contains(&f) {
                return Err(Error::invalid(what, f, "a number in [0, 1)"));
            }
        }
        let v = ensure_finite("training.value_per_unit", self.value_per_unit)?;
        if v < 0.0 {
            return Err(Error::invalid("training.value_per_unit", v, "a number ≥ 0"));
        }
        let c = ensure_finite("training.clip_grad_norm", self.clip_grad_norm)?;
        if c < 0.0 {
            return Err(Error::invalid(
                "training.clip_grad_norm",
                c,
                "a number ≥ 0 (0: off)",
            ));
        }
        if self.post_deploy_window < 2 {
            return Err(Error::invalid(
                "training.post_deploy_window",
                self.post_deploy_window,
                "at least 2",
            ));
        }
        if self.keep_versions == 0 {
            return Err(Error::invalid("training.keep_versions", 0, "at least 1"));
        }
        self.model.validate(self.task)?;
        self.gate.validate()?;
        self.monitor.validate()?;
        self.schedule.validate()?;
        self.early_stopping.validate()?;
        self.curriculum.validate()
    }

    /// The plan of a run of `steps` steps.
    pub fn run_plan(&self, steps: u64) -> RunPlan {
        RunPlan {
            steps,
            batch_size: self.model.batch_size,
            clip_grad_norm: (self.clip_grad_norm > 0.0).then_some(self.clip_grad_norm),
            eval_every: self.eval_every,
            optimizer: self.model.optimizer.clone(),
            monitor: self.monitor.clone(),
            schedule: self.schedule.clone(),
            early_stopping: self.early_stopping.clone(),
            curriculum: self.curriculum.clone(),
        }
    }

    /// The format to read `data` with.
    pub fn resolved_format(&self) -> DataFormat {
        let is_jsonl = |p: &std::path::Path| {
            p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                e.eq_ignore_ascii_case("jsonl") || e.eq_ignore_ascii_case("ndjson")
            })
        };
        match self.format {
            DataFormat::Auto if self.data.is_dir() => {
                let files: Vec<PathBuf> = std::fs::read_dir(&self.data)
                    .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
                    .unwrap_or_default();
                let csv = files.iter().any(|p| {
                    p.extension()
                        .and_then(|e| e.to_str())
                        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
                });
                if !csv && files.iter().any(|p| is_jsonl(p)) {
                    DataFormat::Jsonl
                } else {
                    DataFormat::Csv
                }
            }
            DataFormat::Auto if is_jsonl(&self.data) => DataFormat::Jsonl,
            DataFormat::Auto => DataFormat::Csv,
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_spec_table_parses_and_unknown_keys_are_refused() {
        let text = r#"
            data = "d.jsonl"
            task = "classification"
            steps_per_energy = 20
            warm_start = false
            [model]
            hidden = [32]
            optimizer = { kind = "sgd", lr = 0.01 }
            [gate]
            min_improvement = 0.1
            [schedule]
            warmup_steps = 5
            [curriculum]
            enabled = true
        "#;
        let c: TrainingConfig = toml::from_str(text).unwrap();
        assert_eq!(c.task, Task::Classification);
        assert_eq!(c.model.hidden, [32]);
        assert_eq!(c.gate.min_improvement, 0.1);
        assert!(c.curriculum.enabled && !c.warm_start);
        assert_eq!(c.resolved_format(), DataFormat::Jsonl);
        c.validate().unwrap();
        let err = toml::from_str::<TrainingConfig>(
            "data = \"d\"\ntask = \"regression\"\nlerning_threshold = 5",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("lerning_threshold"), "{err}");
    }

    #[test]
    fn validation_names_the_setting() {
        let base = TrainingConfig::new("d.csv", Task::Regression);
        let cases: [(TrainingConfig, &str); 5] = [
            (TrainingConfig::default(), "training.data"),
            (
                TrainingConfig {
                    steps_per_energy: 0,
                    ..base.clone()
                },
                "training.steps_per_energy",
            ),
            (
                TrainingConfig {
                    quality_threshold: 1.5,
                    ..base.clone()
                },
                "training.quality_threshold",
            ),
            (
                TrainingConfig {
                    holdout_fraction: 1.0,
                    ..base.clone()
                },
                "training.holdout_fraction",
            ),
            (
                TrainingConfig {
                    model: ModelConfig {
                        batch_size: 0,
                        ..Default::default()
                    },
                    ..base
                },
                "model.batch_size",
            ),
        ];
        for (c, what) in cases {
            let e = c.validate().unwrap_err().to_string();
            assert!(e.starts_with(&format!("invalid {what} =")), "{e}");
        }
    }
}
