//! Where a bot's training data comes from: the [`DataSource`] trait and the
//! two shipped sources, [`CsvSource`] and [`JsonLinesSource`].
//!
//! Both read a file, or every matching file of a folder in name order, **as
//! the host appends to it**: each call to [`DataSource::read_new`] returns
//! the rows completed since the last call. A last line without its newline
//! is torn (the host is still writing it) and waits for the next call. The
//! place reached in each file is a [`SourcePosition`], which the training
//! pipeline saves with its state so a restart reads each row once. A file
//! that became shorter than the place reached was replaced: it is read again
//! from its start, and the batch says so.
//!
//! A bad row — a non-numeric or non-finite cell, the wrong number of cells,
//! a line that does not parse — is counted in the batch with the file, the
//! line and the reason, and skipped; it never fails the read. Only a path
//! that cannot be read at all is an error.

mod csv;
mod jsonl;
mod lines;
mod tail;
mod time;

pub use csv::{CsvFormat, CsvOptions, CsvSource};
pub use jsonl::{JsonLinesFormat, JsonLinesSource};
pub use lines::{LineFormat, LineSource};
pub use tail::{FilePosition, Line};
pub use time::parse_time;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// The target of one row as the source read it. The pipeline turns it into a
/// number (regression) or a class (classification).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TargetValue {
    /// A finite number.
    Number(f64),
    /// Text that is not a number (a class label such as `"setosa"`).
    Text(String),
}

impl TargetValue {
    /// The cell `text` as a target: a finite number when it parses as one,
    /// otherwise the trimmed text. `None` for an empty cell or NaN/∞.
    ///
    /// ```
    /// use kaizen::training::TargetValue;
    /// assert_eq!(TargetValue::parse(" 2.5 "), Some(TargetValue::Number(2.5)));
    /// assert_eq!(TargetValue::parse("setosa"), Some(TargetValue::Text("setosa".into())));
    /// assert_eq!(TargetValue::parse("nan"), None);
    /// ```
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Some(TargetValue::Number(v)),
            Ok(_) => None,
            Err(_) => Some(TargetValue::Text(text.to_string())),
        }
    }

    /// The label this value stands for as a class: numbers in their shortest
    /// form (`1.0` and `1` are the same class), text as it is.
    pub fn label(&self) -> String {
        match self {
            TargetValue::Number(v) => format!("{v}"),
            TargetValue::Text(t) => t.clone(),
        }
    }
}

/// One good row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// The features, in the source's [`Schema`] order.
    pub features: Vec<f64>,
    /// The target.
    pub target: TargetValue,
    /// The row's time (seconds; see [`parse_time`]), when the data has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<f64>,
    /// The row's quality in [0, 1], when the data has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<f64>,
}

/// Why a row was skipped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BadReason {
    /// A cell that should be a number is not.
    NonNumeric {
        /// The column (or `features[i]`).
        column: String,
        /// The cell, shortened.
        value: String,
    },
    /// A number that is NaN or infinite.
    NonFinite {
        /// The column.
        column: String,
    },
    /// The row has the wrong number of cells or features.
    WrongWidth {
        /// How many were expected.
        expected: usize,
        /// How many there were.
        found: usize,
    },
    /// The target is missing or empty.
    MissingTarget,
    /// A classification label that was not among the model's labels.
    UnseenLabel {
        /// The label.
        label: String,
    },
    /// A `time` cell that is neither a number nor a date-time.
    BadTime {
        /// The cell, shortened.
        value: String,
    },
    /// A `quality` cell outside [0, 1] or not a number.
    BadQuality {
        /// The cell, shortened.
        value: String,
    },
    /// The row's file has a header that does not match the data's columns.
    Header {
        /// What is wrong with it.
        problem: String,
    },
    /// The line does not parse at all.
    Malformed {
        /// The parser's message.
        message: String,
    },
}

impl BadReason {
    /// A short stable name for counting: `non_numeric`, `wrong_width`, ….
    pub fn kind(&self) -> &'static str {
        match self {
            BadReason::NonNumeric { .. } => "non_numeric",
            BadReason::NonFinite { .. } => "non_finite",
            BadReason::WrongWidth { .. } => "wrong_width",
            BadReason::MissingTarget => "missing_target",
            BadReason::UnseenLabel { .. } => "unseen_label",
            BadReason::BadTime { .. } => "bad_time",
            BadReason::BadQuality { .. } => "bad_quality",
            BadReason::Header { .. } => "header",
            BadReason::Malformed { .. } => "malformed",
        }
    }
}

impl fmt::Display for BadReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadReason::NonNumeric { column, value } => {
                write!(f, "{column} is not a number: {value:?}")
            }
            BadReason::NonFinite { column } => write!(f, "{column} is NaN or infinite"),
            BadReason::WrongWidth { expected, found } => {
                write!(f, "expected {expected} values, found {found}")
            }
            BadReason::MissingTarget => write!(f, "the target is missing"),
            BadReason::UnseenLabel { label } => {
                write!(f, "label {label:?} is not one of the model's labels")
            }
            BadReason::BadTime { value } => {
                write!(f, "time {value:?} is neither a number nor an RFC 3339 date")
            }
            BadReason::BadQuality { value } => {
                write!(f, "quality {value:?} is not a number in [0, 1]")
            }
            BadReason::Header { problem } => write!(f, "bad header: {problem}"),
            BadReason::Malformed { message } => write!(f, "malformed line: {message}"),
        }
    }
}

/// A skipped row: where it was and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BadRow {
    /// `file:line`.
    pub at: String,
    /// Why it was skipped.
    pub reason: BadReason,
}

impl fmt::Display for BadRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.reason)
    }
}

/// The rows one read produced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Batch {
    /// The good rows, in file order.
    pub samples: Vec<Sample>,
    /// The skipped rows, in file order.
    pub bad: Vec<BadRow>,
    /// Files that had become shorter than the place reached and were read again from their start.
    pub restarted: Vec<String>,
}

/// The names of the features, fixed by the first header (CSV) or the first
/// good row (JSON Lines, named `features[0]`, …).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    /// The feature names, in order.
    pub features: Vec<String>,
}

/// How far a source has read: per file, and the schema it fixed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SourcePosition {
    /// Per file (its path as text), the place reached.
    pub files: BTreeMap<String, FilePosition>,
    /// The schema, once fixed.
    pub schema: Option<Schema>,
}

/// A source could not be read at all (bad rows are not errors).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The file or folder does not exist (yet).
    #[error("training data {} does not exist", path.display())]
    Missing {
        /// The path.
        path: PathBuf,
    },
    /// The operating system refused to read it.
    #[error("cannot {op} training data {}: {source}", path.display())]
    Io {
        /// `open`, `read`, `list`, ….
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
}

/// A bot's training data, read incrementally.
///
/// ```
/// use kaizen::training::{CsvOptions, CsvSource, DataSource};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("data.csv");
/// std::fs::write(&path, "x,target\n1,2\n3,").unwrap(); // the last line is torn
/// let mut src = CsvSource::new(&path, CsvOptions::default());
/// let batch = src.read_new(1000).unwrap();
/// assert_eq!(batch.samples.len(), 1);
/// assert_eq!(batch.samples[0].features, vec![1.0]);
/// std::fs::write(&path, "x,target\n1,2\n3,4\n").unwrap(); // the host finished the line
/// assert_eq!(src.read_new(1000).unwrap().samples[0].features, vec![3.0]);
/// ```
pub trait DataSource: Send {
    /// The rows completed since the last call, at most `max_rows` of them
    /// (good and bad together); the rest wait for the next call.
    fn read_new(&mut self, max_rows: usize) -> Result<Batch, SourceError>;

    /// How far the source has read, to be saved.
    fn position(&self) -> SourcePosition;

    /// Goes back to a saved position.
    fn restore(&mut self, position: SourcePosition);

    /// The schema, once the first header or good row fixed it.
    fn schema(&self) -> Option<&Schema>;

    /// What the source reads, for messages (`data/sales.csv`).
    fn describe(&self) -> String;
}

/// The first 40 characters of `text`, for messages.
pub(crate) fn shorten(text: &str) -> String {
    let mut out: String = text.chars().take(40).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

/// The quality cell `text` in [0, 1], or the reason it is bad.
fn parse_quality(text: &str) -> Result<f64, BadReason> {
    match text.trim().parse::<f64>() {
        Ok(q) if (0.0..=1.0).contains(&q) => Ok(q),
        _ => Err(BadReason::BadQuality {
            value: shorten(text),
        }),
    }
}

/// The time cell `text` in seconds, or the reason it is bad.
fn parse_time_cell(text: &str) -> Result<f64, BadReason> {
    parse_time(text).ok_or_else(|| BadReason::BadTime {
        value: shorten(text),
    })
}

#[cfg(test)]
mod tests;
