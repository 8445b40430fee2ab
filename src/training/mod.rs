//! kaizen's own improvement pipeline: a candle-nn model trained on the bot's data.
//!
//! (Module tour written as the module grows.)

mod dataset;
pub mod model;
pub mod source;

pub use dataset::Dataset;
pub use model::{
    Activation, Checkpoint, LossKind, Model, ModelConfig, ModelSpec, Optim, OptimizerConfig,
    OptimizerKind, Standardizer, StepStats, Task,
};
pub use source::{
    BadReason, BadRow, Batch, CsvOptions, CsvSource, DataSource, FilePosition, JsonLinesSource,
    Sample, Schema, SourceError, SourcePosition, TargetValue, parse_time,
};
