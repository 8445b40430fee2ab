//! [`JsonLinesSource`]: one JSON object per line.
//!
//! ```text
//! {"features": [0.5, 1.2, -3], "target": 4.1, "time": "2024-05-01T10:00:00Z", "quality": 0.9}
//! ```
//! `features` (numbers) and `target` (a number or a string) are required;
//! `time` (a number or an RFC 3339 / ISO 8601 string) and `quality` (a number
//! in [0, 1]) are optional. The first good row fixes the number of features;
//! they are named `features[0]`, `features[1]`, ….

use serde_json::Value;
use std::path::Path;

use super::lines::{LineFormat, LineSource};
use super::tail::Line;
use super::{BadReason, Sample, Schema, TargetValue, parse_quality, parse_time_cell, shorten};

/// A JSON Lines file, or a folder of `*.jsonl` / `*.ndjson` files, read as the host appends rows.
pub type JsonLinesSource = LineSource<JsonLinesFormat>;

/// How JSON lines become samples (the format above).
#[derive(Debug, Default)]
pub struct JsonLinesFormat;

impl JsonLinesSource {
    /// A source reading `path` (a file, or a folder whose `*.jsonl` and
    /// `*.ndjson` files are read in name order).
    pub fn new(path: impl AsRef<Path>) -> Self {
        LineSource::with_format(path, JsonLinesFormat)
    }
}

impl LineFormat for JsonLinesFormat {
    const EXTENSIONS: &'static [&'static str] = &["jsonl", "ndjson"];

    fn parse(
        &mut self,
        schema: &mut Option<Schema>,
        line: &Line<'_>,
    ) -> Result<Option<Sample>, BadReason> {
        parse_row(schema, line.bytes).map(Some)
    }

    fn forget(&mut self) {}
}

/// One line as a sample, fixing the schema with the first good one.
fn parse_row(schema: &mut Option<Schema>, line: &[u8]) -> Result<Sample, BadReason> {
    let value: Value = serde_json::from_slice(line).map_err(|e| BadReason::Malformed {
        message: e.to_string(),
    })?;
    let Value::Object(row) = value else {
        return Err(BadReason::Malformed {
            message: "not a JSON object".into(),
        });
    };
    let Some(Value::Array(cells)) = row.get("features") else {
        return Err(BadReason::Malformed {
            message: "no \"features\" array".into(),
        });
    };
    if let Some(s) = schema
        && s.features.len() != cells.len()
    {
        return Err(BadReason::WrongWidth {
            expected: s.features.len(),
            found: cells.len(),
        });
    }
    let mut features = Vec::with_capacity(cells.len());
    for (i, cell) in cells.iter().enumerate() {
        match cell.as_f64() {
            Some(v) => features.push(v),
            None => {
                return Err(BadReason::NonNumeric {
                    column: format!("features[{i}]"),
                    value: shorten(&cell.to_string()),
                });
            }
        }
    }
    let target = match row.get("target") {
        None | Some(Value::Null) => return Err(BadReason::MissingTarget),
        Some(Value::Number(n)) => TargetValue::Number(n.as_f64().unwrap_or(f64::NAN)),
        Some(Value::String(s)) => TargetValue::parse(s).ok_or(BadReason::MissingTarget)?,
        Some(other) => {
            return Err(BadReason::NonNumeric {
                column: "target".into(),
                value: shorten(&other.to_string()),
            });
        }
    };
    let time = match row.get("time") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(parse_time_cell(s)?),
        Some(other) => Some(parse_time_cell(&other.to_string())?),
    };
    let quality = match row.get("quality") {
        None | Some(Value::Null) => None,
        Some(q) => Some(parse_quality(&q.to_string())?),
    };
    schema.get_or_insert_with(|| Schema {
        features: (0..features.len())
            .map(|i| format!("features[{i}]"))
            .collect(),
    });
    Ok(Sample {
        features,
        target,
        time,
        quality,
    })
}
