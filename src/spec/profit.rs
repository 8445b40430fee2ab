//! `[profit]`: where a spec's bot gets its cumulative profit, so that its
//! engine has a ledger (SPEC §2) — deltas, a long-term trend, and with it
//! autoscaling that can create engines for a setup of specs alone.
//!
//! ```toml
//! [profit]
//! file = "ledger/{bot}.txt"   # relative to the spec file's folder
//! ```
//!
//! The host writes the bot's cumulative profit into the file, as the last
//! line: it may rewrite the file or append a line per change (a ledger).
//! [`FileProfit`] reads it twice per cycle (before and after the pipeline):
//! the last **complete** line (ended by a newline) is the value, so a line
//! being appended is never read half-written; a file without any newline is
//! read whole (a file rewritten with a single number). `{bot}` in the path is
//! replaced by the bot's name, so engines that autoscaling makes as copies
//! of this bot (each its own bot) read their own files.
//!
//! Everything wrong is an error naming the file, and the engine reports it
//! as a failed cycle with that reason (issue 9's rules): a missing or
//! unreadable file, an empty one, a last line that is not a number, and a
//! number that is not finite or beyond ±1e100 (`1e999` included, which
//! overflows; the engine's own bound check refuses what lies beyond ±1e100).
//!
//! ```
//! use kaizen::host::ProfitSource;
//! use kaizen::spec::FileProfit;
//!
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("alpha.txt"), "10\n12.5\n13")?; // "13" is being written
//! let ledger = FileProfit::new(dir.path().join("{bot}.txt"));
//! assert_eq!(ledger.profit("alpha")?, 12.5);
//! assert!(ledger.profit("beta").is_err()); // no beta.txt
//! # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
//! ```

use serde::Deserialize;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::error::ensure_bounded;
use crate::host::{HostError, ProfitSource};
use crate::{Error, Result};

/// The `[profit]` table of a spec.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfitTable {
    /// The file whose last line is the bot's cumulative profit, relative to
    /// the spec file's folder; `{bot}` stands for the bot's name.
    pub file: String,
}

impl ProfitTable {
    /// Refuses an empty path (`profit.file`).
    pub fn validate(&self) -> Result<()> {
        if self.file.trim().is_empty() {
            return Err(Error::invalid(
                "profit.file",
                "\"\"",
                "the path of a file holding the bot's profit, e.g. file = \"profit.txt\"",
            ));
        }
        Ok(())
    }

    /// The profit source this table describes, for a spec in `folder`.
    pub fn source(&self, folder: &Path) -> FileProfit {
        FileProfit::new(folder.join(&self.file))
    }
}

/// How much of the file's end is read: the last line must fit in it.
const TAIL: u64 = 4096;

/// A [`ProfitSource`] reading the last line of a file the host writes (see
/// the [module docs](self)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileProfit {
    path: PathBuf,
}

impl FileProfit {
    /// A source reading `path`, where `{bot}` stands for the bot's name.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileProfit { path: path.into() }
    }

    /// The file of `bot`.
    pub fn path_of(&self, bot: &str) -> PathBuf {
        PathBuf::from(self.path.to_string_lossy().replace("{bot}", bot))
    }
}

impl ProfitSource for FileProfit {
    fn profit(&self, bot: &str) -> std::result::Result<f64, HostError> {
        let path = self.path_of(bot);
        let shown = path.display();
        let (tail, cut) =
            read_tail(&path).map_err(|e| format!("cannot read the profit file {shown}: {e}"))?;
        let text = String::from_utf8_lossy(&tail);
        // The complete lines; all of the text when there is no newline.
        let complete = text.rfind('\n').map_or(&text[..], |end| &text[..end]);
        let lines: Vec<&str> = complete.split('\n').collect();
        let last = lines
            .iter()
            .enumerate()
            .rev()
            .find(|(_, l)| !l.trim().is_empty());
        let line = match last {
            // The first line of a tail that does not start the file may be cut.
            Some((0, _)) | None if cut => {
                return Err(format!(
                    "the last line of the profit file {shown} is over {TAIL} bytes"
                )
                .into());
            }
            Some((_, line)) => line.trim(),
            None => return Err(format!("the profit file {shown} holds no value").into()),
        };
        let value: f64 = line.parse().map_err(|_| {
            format!("the last line of the profit file {shown} is {line:?}, not a number")
        })?;
        Ok(ensure_bounded(format!("the profit in {shown}"), value)?)
    }
}

/// The last [`TAIL`] bytes of `path` (all of it when shorter), and whether
/// the file holds more before them.
fn read_tail(path: &Path) -> std::io::Result<(Vec<u8>, bool)> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let start = len.saturating_sub(TAIL);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::with_capacity(len.min(TAIL) as usize);
    file.take(TAIL).read_to_end(&mut bytes)?;
    Ok((bytes, start > 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(content: &str) -> std::result::Result<f64, String> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("p.txt"), content).unwrap();
        FileProfit::new(dir.path().join("p.txt"))
            .profit("alpha")
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_last_complete_line_is_the_profit() {
        assert_eq!(read("1\n2\n3\n"), Ok(3.0));
        assert_eq!(read("1\n2\n3"), Ok(2.0)); // "3" is being appended
        assert_eq!(read("42"), Ok(42.0)); // rewritten whole, no newline
        assert_eq!(read("  -7.5  \n\n"), Ok(-7.5));
    }

    #[test]
    fn bad_values_are_errors_naming_the_file() {
        for (content, says) in [
            ("", "holds no value"),
            ("\n\n", "holds no value"),
            ("12\nabc\n", "\"abc\", not a number"),
            ("1e999\n", "the profit in"),
            ("NaN\n", "the profit in"),
            ("1e101\n", "the profit in"),
        ] {
            let e = read(content).unwrap_err();
            assert!(e.contains(says) && e.contains("p.txt"), "{content:?}: {e}");
        }
        let dir = tempfile::tempdir().unwrap();
        let e = FileProfit::new(dir.path().join("{bot}.txt"))
            .profit("beta")
            .unwrap_err()
            .to_string();
        assert!(e.contains("beta.txt"), "{e}");
    }

    #[test]
    fn a_line_longer_than_the_tail_is_refused() {
        let long = format!("1\n{}\n", "9".repeat(5000));
        assert!(read(&long).unwrap_err().contains("over 4096 bytes"));
        // A long file of short lines is fine: only its end is read.
        let many: String = (0..2000).map(|i| format!("{i}\n")).collect();
        assert_eq!(read(&many), Ok(1999.0));
    }

    #[test]
    fn an_empty_path_is_refused() {
        let table = ProfitTable { file: " ".into() };
        assert!(matches!(table.validate(), Err(Error::Invalid { .. })));
    }
}
