//! kaizen's own improvement pipeline: a candle-nn model trained on the bot's
//! data, retrained as data arrives, deployed only when it is significantly
//! better (issue 12: items 1, 2, 5, 6 and the pool of item 8).
//!
//! A host with data and no ML code gets the whole loop from a
//! [`TrainingConfig`] (`data` and `task` are enough) and a
//! [`TrainingPipeline`], which an engine runs like any other
//! [`Pipeline`](crate::pipeline::Pipeline). A host with its own pipeline can
//! still use the parts: the sources, the model, the gate, the monitor, the
//! schedulers.
//!
//! ```
//! use kaizen::host::ManualClock;
//! use kaizen::pipeline::Pipeline;
//! use kaizen::training::{TrainingConfig, TrainingPipeline, TrainingPool};
//! use std::sync::Arc;
//! # let dir = tempfile::tempdir().unwrap();
//! # let mut csv = String::from("x,target\n");
//! # for i in 0..120 { csv.push_str(&format!("{},{}\n", i % 10, 2 * (i % 10) + 1)); }
//! # std::fs::write(dir.path().join("sales.csv"), csv).unwrap();
//! # let data = dir.path().join("sales.csv");
//! let config: TrainingConfig =
//!     toml::from_str(&format!("data = {data:?}\ntask = \"regression\"")).unwrap();
//! let pool = Arc::new(TrainingPool::per_core()); // shared by every bot
//! let bot_dir = dir.path().join("state/sales-bot");
//! let p = TrainingPipeline::open("sales-bot", &bot_dir, config, pool, Arc::new(ManualClock::new(0.0)))?;
//! let rt = tokio::runtime::Builder::new_current_thread().build()?;
//! let result = rt.block_on(p.run("sales-bot", 4))?; // 4 × 50 optimizer steps
//! assert_eq!(result.metrics["deployed"], 1.0); // v1 beat the training mean
//! assert!(result.roi.unwrap().roi > 0.0); // the value of the improvement
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Tour
//! - [`source`] — [`DataSource`], [`CsvSource`], [`JsonLinesSource`]: rows
//!   read incrementally, torn lines waiting, bad rows counted with a reason.
//! - [`model`] — [`Model`]: the MLP (regression or classification) with its
//!   standardisation, seeded initialisation, safetensors file, [`Optim`].
//! - [`Dataset`] — encoded rows; [`NaivePredictor`] — the mean or the class
//!   frequencies, the baseline of a first version.
//! - [`RunPlan`] — one training run, with [`TrainingMonitor`] (explosion,
//!   plateau, non-finite; [`AlertBook`] de-duplicates per bot and kind),
//!   [`LrSchedule`] (PyTorch's `ReduceLROnPlateau` + warm-up),
//!   [`EarlyStopping`], [`Curriculum`] and the [`LearningCurve`] analysis.
//! - [`judge`] — the deploy gate: > 5% better **and** p < 0.05 **and** lower.
//! - [`ContinuousLearner`] — the continuous-learning loop of one bot on its
//!   [model registry](crate::models); [`CycleReport`] is what a cycle did.
//! - [`TrainingPipeline`] — the loop as a pipeline; [`TrainingPool`] — the
//!   bounded, priority-ordered pool of training jobs shared by all bots;
//!   [`jobs`] — its jobs on disk for other processes to see.
//! - [`TrainingStatus`] — what status views show: champion, check, job, alerts;
//!   [`ModelAction`] — an operator's activation or rollback.
//! - [`TrainingConfig`] — every setting, read from `[pipeline.training]`;
//!   [`TrainingConfig::with_hyperparameters`] sets a variant's
//!   ([`HYPERPARAMETERS`]), and [`TrainingVariants`] runs a bot's variants
//!   through its pipeline.

mod config;
mod curriculum;
mod curve;
mod dataset;
mod early_stop;
mod error;
mod gate;
mod hyperparameters;
pub mod jobs;
mod learner;
pub mod model;
mod monitor;
mod naive;
mod pipeline;
mod pool;
mod schedule;
pub mod source;
mod status;
#[cfg(test)]
mod testing;
mod trainer;

pub use config::{DataFormat, TrainingConfig};
pub use curriculum::{Curriculum, CurriculumConfig};
pub use curve::{CurveAnalysis, CurvePoint, Fit, LearningCurve};
pub use dataset::Dataset;
pub use early_stop::{EarlyStopping, EarlyStoppingConfig, Observation};
pub use error::TrainingError;
pub use gate::{GateConfig, GateDecision, judge};
pub use hyperparameters::{HYPERPARAMETERS, check_hyperparameter};
pub use learner::{
    BadRowTally, CheckSummary, ContinuousLearner, CopySummary, Counters, CycleReport, LearnerState,
    ModelAction, STATE_FILE, Split, TrainingSummary, open_source, split as split_for_training,
};
pub use model::{
    Activation, Checkpoint, LossKind, Model, ModelConfig, ModelSpec, Optim, OptimizerConfig,
    OptimizerKind, Standardizer, StepStats, Task,
};
pub use monitor::{
    Alert, AlertBook, AlertKind, AlertRecord, MonitorConfig, TrainingMonitor, Verdict,
};
pub use naive::NaivePredictor;
pub use pipeline::{TrainingPipeline, TrainingVariants};
pub use pool::{Acquire, JobState, JobStatus, TrainingPermit, TrainingPool};
pub use schedule::{LrSchedule, ReduceLrOnPlateau, ScheduleConfig};
pub use source::{
    BadReason, BadRow, Batch, CsvFormat, CsvOptions, CsvSource, DataSource, FilePosition,
    JsonLinesFormat, JsonLinesSource, Line, LineFormat, LineSource, Sample, Schema, SourceError,
    SourcePosition, TargetValue, parse_time,
};
pub use status::{ChampionStatus, CheckStatus, OpenAlert, TrainingStatus};
pub use trainer::{RunPlan, RunReport, StopReason};
