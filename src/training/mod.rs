//! kaizen's own improvement pipeline: a candle-nn model trained on the bot's data.
//!
//! (Module tour written as the module grows.)

mod config;
mod curriculum;
mod curve;
mod dataset;
mod early_stop;
mod error;
mod gate;
mod learner;
pub mod model;
mod monitor;
mod naive;
mod pipeline;
mod pool;
mod schedule;
pub mod source;
mod trainer;

pub use config::{DataFormat, TrainingConfig};
pub use curriculum::{Curriculum, CurriculumConfig};
pub use curve::{CurveAnalysis, CurvePoint, Fit, LearningCurve};
pub use dataset::Dataset;
pub use early_stop::{EarlyStopping, EarlyStoppingConfig, Observation};
pub use error::TrainingError;
pub use gate::{GateConfig, GateDecision, judge};
pub use learner::{
    BadRowTally, CheckSummary, ContinuousLearner, Counters, CycleReport, LearnerState, STATE_FILE,
    Split, TrainingSummary, open_source, split as split_for_training,
};
pub use model::{
    Activation, Checkpoint, LossKind, Model, ModelConfig, ModelSpec, Optim, OptimizerConfig,
    OptimizerKind, Standardizer, StepStats, Task,
};
pub use monitor::{
    Alert, AlertBook, AlertKind, AlertRecord, MonitorConfig, TrainingMonitor, Verdict,
};
pub use naive::NaivePredictor;
pub use pipeline::TrainingPipeline;
pub use pool::{Acquire, JobState, JobStatus, TrainingPermit, TrainingPool};
pub use schedule::{LrSchedule, ReduceLrOnPlateau, ScheduleConfig};
pub use source::{
    BadReason, BadRow, Batch, CsvOptions, CsvSource, DataSource, FilePosition, JsonLinesSource,
    Sample, Schema, SourceError, SourcePosition, TargetValue, parse_time,
};
pub use trainer::{RunPlan, RunReport, StopReason};
