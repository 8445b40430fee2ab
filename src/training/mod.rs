//! kaizen's own improvement pipeline: a candle-nn model trained on the bot's data.
//!
//! (Module tour written as the module grows.)

pub mod source;

pub use source::{
    BadReason, BadRow, Batch, CsvOptions, CsvSource, DataSource, FilePosition, JsonLinesSource,
    Sample, Schema, SourceError, SourcePosition, TargetValue, parse_time,
};
