//! [`CsvSource`]: rows of a CSV file, or of a folder of them.
//!
//! The first line of each file is its header. One column is the target
//! (`target`, or the one named in [`CsvOptions::target`]); a `time` column
//! (numbers or RFC 3339 / ISO 8601 dates, see [`parse_time`](super::parse_time))
//! and a `quality` column (in [0, 1]) are used when present; every other column
//! is a numeric feature. The first header read fixes the feature names; a later
//! file may order its columns differently but must have the same ones.
//!
//! Cells are separated by commas; a cell may be quoted with `"` (a `""` inside
//! stands for one quote) and is trimmed of spaces. A quoted cell cannot span
//! lines: each line is one row.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use super::lines::{LineFormat, LineSource};
use super::tail::{Line, first_line};
use super::{BadReason, Sample, Schema, TargetValue, parse_quality, parse_time_cell, shorten};

/// The column names a [`CsvSource`] looks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvOptions {
    /// The target column (default `target`).
    pub target: String,
    /// The time column, used when present (default `time`).
    pub time: String,
    /// The quality column, used when present (default `quality`).
    pub quality: String,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            target: "target".into(),
            time: "time".into(),
            quality: "quality".into(),
        }
    }
}

/// Where each value sits in one file's rows.
#[derive(Clone, Debug)]
struct Layout {
    width: usize,
    target: usize,
    time: Option<usize>,
    quality: Option<usize>,
    /// Cell index of each schema feature, in schema order.
    features: Vec<usize>,
}

/// A CSV file or folder of CSV files, read as the host appends rows.
pub type CsvSource = LineSource<CsvFormat>;

/// How CSV lines become samples: the column names to look for and each
/// file's layout (from its header).
#[derive(Debug)]
pub struct CsvFormat {
    options: CsvOptions,
    /// Per file: its layout, or why its header is unusable.
    layouts: HashMap<String, Result<Layout, String>>,
}

impl CsvSource {
    /// A source reading `path` (a `.csv` file, or a folder whose `*.csv` files
    /// are read in name order).
    pub fn new(path: impl AsRef<Path>, options: CsvOptions) -> Self {
        LineSource::with_format(
            path,
            CsvFormat {
                options,
                layouts: HashMap::new(),
            },
        )
    }
}

impl CsvFormat {
    /// The layout of a header line, fixing the schema if it is the first.
    fn layout(&self, schema: &mut Option<Schema>, header: &[u8]) -> Result<Layout, String> {
        let text = std::str::from_utf8(header).map_err(|_| "not UTF-8".to_string())?;
        let names = split_cells(text)?;
        let mut seen = HashMap::new();
        for (i, n) in names.iter().enumerate() {
            if n.is_empty() {
                return Err(format!("column {} has no name", i + 1));
            }
            if seen.insert(n.as_ref(), i).is_some() {
                return Err(format!("column {n:?} appears twice"));
            }
        }
        let o = &self.options;
        let target = *seen
            .get(o.target.as_str())
            .ok_or_else(|| format!("no target column {:?}", o.target))?;
        let time = seen.get(o.time.as_str()).copied();
        let quality = seen.get(o.quality.as_str()).copied();
        let special = [Some(target), time, quality];
        let features: Vec<&str> = names
            .iter()
            .enumerate()
            .filter(|(i, _)| !special.contains(&Some(*i)))
            .map(|(_, n)| n.as_ref())
            .collect();
        let schema = schema.get_or_insert_with(|| Schema {
            features: features.iter().map(|s| s.to_string()).collect(),
        });
        let mut index = Vec::with_capacity(schema.features.len());
        for name in &schema.features {
            match seen.get(name.as_str()) {
                Some(&i) if !special.contains(&Some(i)) => index.push(i),
                _ => return Err(format!("no feature column {name:?}")),
            }
        }
        if let Some(extra) = features
            .iter()
            .find(|f| !schema.features.iter().any(|s| s == *f))
        {
            return Err(format!(
                "column {extra:?} is not one of the data's features"
            ));
        }
        Ok(Layout {
            width: names.len(),
            target,
            time,
            quality,
            features: index,
        })
    }
}

impl LineFormat for CsvFormat {
    const EXTENSIONS: &'static [&'static str] = &["csv"];

    fn parse(
        &mut self,
        schema: &mut Option<Schema>,
        line: &Line<'_>,
    ) -> Result<Option<Sample>, BadReason> {
        if line.number == 1 {
            // A file read from its start (perhaps again): its header decides.
            let layout = self.layout(schema, line.bytes);
            self.layouts.insert(line.file.to_string(), layout);
            return Ok(None);
        }
        if !self.layouts.contains_key(line.file) {
            // Resumed past the header: read it again.
            let layout = match first_line(Path::new(line.file)) {
                Ok(Some(h)) => self.layout(schema, &h),
                Ok(None) => Err("the header line is incomplete".to_string()),
                Err(e) => Err(e.to_string()),
            };
            self.layouts.insert(line.file.to_string(), layout);
        }
        let layout = match &self.layouts[line.file] {
            Ok(l) => l,
            Err(problem) => {
                return Err(BadReason::Header {
                    problem: problem.clone(),
                });
            }
        };
        let text = std::str::from_utf8(line.bytes).map_err(|_| BadReason::Malformed {
            message: "not UTF-8".into(),
        })?;
        let cells = split_cells(text).map_err(|message| BadReason::Malformed { message })?;
        if cells.len() != layout.width {
            return Err(BadReason::WrongWidth {
                expected: layout.width,
                found: cells.len(),
            });
        }
        let schema = schema.as_ref().expect("a layout fixes the schema");
        let mut features = Vec::with_capacity(layout.features.len());
        for (name, &i) in schema.features.iter().zip(&layout.features) {
            features.push(parse_number(name, &cells[i])?);
        }
        let target = match TargetValue::parse(&cells[layout.target]) {
            Some(t) => t,
            None if cells[layout.target].trim().is_empty() => return Err(BadReason::MissingTarget),
            None => {
                return Err(BadReason::NonFinite {
                    column: self.options.target.clone(),
                });
            }
        };
        let time = layout
            .time
            .map(|i| parse_time_cell(&cells[i]))
            .transpose()?;
        let quality = layout
            .quality
            .map(|i| parse_quality(&cells[i]))
            .transpose()?;
        Ok(Some(Sample {
            features,
            target,
            time,
            quality,
        }))
    }

    fn forget(&mut self) {
        self.layouts.clear();
    }
}

/// The number in the cell of feature `column`.
fn parse_number(column: &str, cell: &str) -> Result<f64, BadReason> {
    match cell.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(BadReason::NonFinite {
            column: column.to_string(),
        }),
        Err(_) => Err(BadReason::NonNumeric {
            column: column.to_string(),
            value: shorten(cell),
        }),
    }
}

/// The cells of one CSV line, trimmed, quotes removed.
fn split_cells(line: &str) -> Result<Vec<Cow<'_, str>>, String> {
    let mut cells = Vec::new();
    let mut rest = line;
    loop {
        let trimmed = rest.trim_start();
        if let Some(quoted) = trimmed.strip_prefix('"') {
            let mut cell = String::new();
            let mut chars = quoted.char_indices();
            let after = loop {
                match chars.next() {
                    None => return Err("a quoted cell is not closed".into()),
                    Some((i, '"')) => {
                        if quoted[i + 1..].starts_with('"') {
                            cell.push('"');
                            chars.next();
                        } else {
                            break &quoted[i + 1..];
                        }
                    }
                    Some((_, c)) => cell.push(c),
                }
            };
            cells.push(Cow::Owned(cell));
            let after = after.trim_start();
            match after.strip_prefix(',') {
                Some(next) => rest = next,
                None if after.is_empty() => return Ok(cells),
                None => return Err("text after a quoted cell".into()),
            }
        } else {
            match rest.find(',') {
                Some(i) => {
                    cells.push(Cow::Borrowed(rest[..i].trim()));
                    rest = &rest[i + 1..];
                }
                None => {
                    cells.push(Cow::Borrowed(rest.trim()));
                    return Ok(cells);
                }
            }
        }
    }
}
