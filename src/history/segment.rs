//! The segment file format, its block index, and reading segments back.
//!
//! A log is a folder of segments. Each segment is JSON lines:
//!
//! ```text
//! {"version":1,"log":"history","seq":7}                  header
//! {"type":"cycle","engine":"alpha","time":1.7e9,…}       one record a line, as serde writes it
//! …
//! {"index":{"records":1440,"end":712345,"min":…,"max":…,"blocks":[[41,131,…,…],…]}}
//! ```
//!
//! The last line, the *footer*, is written when the segment is sealed (a
//! segment still being appended to has none). It indexes the records in
//! blocks of about [`BLOCK_BYTES`]: each block's first byte, its record count
//! and the earliest and latest time in it. Records are not assumed to be in
//! time order (a long pipeline run reports a time from before the records
//! that were appended while it ran), so a query reads every block whose
//! `[min, max]` meets its range and nothing else.
//!
//! Reading is forgiving: a last line without its newline (a write torn by a
//! crash) is left out, a line that does not parse is skipped with a warning
//! naming the file and the byte where it starts, NUL bytes before a line
//! (left by a crash on some file systems) are skipped, and a footer that
//! does not match the segment is ignored and the index rebuilt by reading
//! the records.

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::HistoryError;

/// The version of the segment format this build writes, and the newest it reads.
pub const LOG_VERSION: u64 = 1;

/// The largest segment kaizen writes (and `segment_bytes` may ask for);
/// larger files are not read.
pub const MAX_SEGMENT_BYTES: u64 = 1 << 30;

/// A block of the index closes once it holds this many bytes of records.
pub(crate) const BLOCK_BYTES: u64 = 32 * 1024;

/// The first line of every segment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Header {
    /// The format version.
    pub version: u64,
    /// Which kind of log: `history` or `audit`.
    pub log: String,
    /// The segment's number in its log (1, 2, …, never reused).
    pub seq: u64,
}

impl Header {
    /// The header line, newline included.
    pub fn line(kind: &str, seq: u64) -> Vec<u8> {
        let mut line = serde_json::to_vec(&Header {
            version: LOG_VERSION,
            log: kind.to_string(),
            seq,
        })
        .unwrap_or_default();
        line.push(b'\n');
        line
    }
}

/// One block of records: where it starts, how many records it holds, and
/// the earliest and latest time among them. It ends where the next block
/// starts, or at the index's `end`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "(u64, u32, f64, f64)", into = "(u64, u32, f64, f64)")]
pub(crate) struct Block {
    pub offset: u64,
    pub records: u32,
    pub min: f64,
    pub max: f64,
}

impl From<(u64, u32, f64, f64)> for Block {
    fn from((offset, records, min, max): (u64, u32, f64, f64)) -> Self {
        Block {
            offset,
            records,
            min,
            max,
        }
    }
}

impl From<Block> for (u64, u32, f64, f64) {
    fn from(b: Block) -> Self {
        (b.offset, b.records, b.min, b.max)
    }
}

/// The index of one segment's records.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Index {
    /// Whole records indexed.
    pub records: u64,
    /// The byte after the last indexed line (where the next record goes).
    pub end: u64,
    /// The earliest record time (+∞ while empty).
    pub min: f64,
    /// The latest record time (−∞ while empty).
    pub max: f64,
    /// The blocks, in file order.
    pub blocks: Vec<Block>,
}

#[derive(Serialize, Deserialize)]
struct Footer<I> {
    index: I,
}

impl Index {
    /// An empty index whose records start at byte `start`.
    pub fn new(start: u64) -> Index {
        Index {
            records: 0,
            end: start,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            blocks: Vec::new(),
        }
    }

    /// Adds the record of `len` bytes (newline included) at `end`, of time `time`.
    pub fn push(&mut self, len: u64, time: f64) {
        match self.blocks.last_mut() {
            Some(b) if self.end - b.offset < BLOCK_BYTES => {
                b.records += 1;
                b.min = b.min.min(time);
                b.max = b.max.max(time);
            }
            _ => self.blocks.push(Block {
                offset: self.end,
                records: 1,
                min: time,
                max: time,
            }),
        }
        self.records += 1;
        self.min = self.min.min(time);
        self.max = self.max.max(time);
        self.end += len;
    }

    /// Moves `end` past `len` bytes that hold no record (a damaged line).
    pub fn skip(&mut self, len: u64) {
        self.end += len;
    }

    /// The byte range of each block, with the block.
    pub fn ranges(&self) -> impl DoubleEndedIterator<Item = (u64, u64, &Block)> {
        (0..self.blocks.len()).map(move |i| {
            let end = self.blocks.get(i + 1).map_or(self.end, |next| next.offset);
            (self.blocks[i].offset, end, &self.blocks[i])
        })
    }

    /// The footer line (newline included); `None` for an empty index, which
    /// is never sealed.
    pub fn footer(&self) -> Option<Vec<u8>> {
        if self.records == 0 {
            return None;
        }
        let mut line = serde_json::to_vec(&Footer { index: self }).ok()?;
        line.push(b'\n');
        Some(line)
    }

    /// An upper bound of the footer's length once one more record is added
    /// (each block takes at most four numbers of 24 characters).
    pub fn footer_bound(&self) -> u64 {
        200 + 104 * (self.blocks.len() as u64 + 1)
    }

    /// Whether this index can describe a segment whose footer starts at
    /// `footer_at` and whose records start at `start`.
    fn fits(&self, start: u64, footer_at: u64) -> bool {
        let counted: u64 = self.blocks.iter().map(|b| u64::from(b.records)).sum();
        self.end == footer_at
            && counted == self.records
            && self.records > 0
            && self.blocks.first().is_some_and(|b| b.offset == start)
            && self.blocks.windows(2).all(|w| w[0].offset < w[1].offset)
            && self.blocks.last().is_some_and(|b| b.offset < self.end)
            && self.blocks.iter().all(|b| b.min <= b.max && b.records > 0)
    }
}

/// The time of a record line, read without decoding the rest of it.
#[derive(Deserialize)]
struct Stamp {
    time: f64,
}

/// The `time` of a record line, if it has a finite one.
pub(crate) fn stamp(line: &[u8]) -> Option<f64> {
    serde_json::from_slice::<Stamp>(line)
        .ok()
        .map(|s| s.time)
        .filter(|t| t.is_finite())
}

/// How a scan of a segment's lines ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ScanEnd {
    /// At the end of the bytes given, after a whole line.
    Clean,
    /// At a last line without its newline that starts at this byte.
    Torn(u64),
    /// At the footer line, which starts at this byte.
    Footer(u64),
}

/// Scans `bytes`, which start at byte `index.end` of the segment `path`, and
/// adds each whole record line to `index`. Damaged lines are skipped with a
/// warning; the scan stops at a footer or a torn last line.
pub(crate) fn scan(bytes: &[u8], index: &mut Index, path: &Path) -> ScanEnd {
    let mut rest = bytes;
    while !rest.is_empty() {
        let at = index.end;
        let Some(nl) = memchr::memchr(b'\n', rest) else {
            return ScanEnd::Torn(at);
        };
        let (line, len) = (&rest[..nl], nl as u64 + 1);
        rest = &rest[nl + 1..];
        let text = trim_nuls(line);
        if text.is_empty() {
            index.skip(len);
            continue;
        }
        match serde_json::from_slice::<Stamp>(text) {
            Ok(Stamp { time }) if time.is_finite() => index.push(len, time),
            Ok(_) => {
                warn_damaged(path, at, "its time is not a finite number");
                index.skip(len);
            }
            Err(_) if serde_json::from_slice::<Footer<IgnoredAny>>(text).is_ok() => {
                return ScanEnd::Footer(at);
            }
            Err(e) => {
                warn_damaged(path, at, &e.to_string());
                index.skip(len);
            }
        }
    }
    ScanEnd::Clean
}

/// A line with the NUL bytes a crash may leave before it removed.
pub(crate) fn trim_nuls(line: &[u8]) -> &[u8] {
    let start = line.iter().position(|&b| b != 0).unwrap_or(line.len());
    &line[start..]
}

pub(crate) fn warn_damaged(path: &Path, at: u64, why: &str) {
    tracing::warn!(file = %path.display(), byte = at, why, "damaged log line skipped");
}

/// Reads `len` bytes at `offset` of `file` (fewer if the file is shorter).
pub(crate) fn read_at(
    file: &File,
    offset: u64,
    len: u64,
    path: &Path,
) -> Result<Vec<u8>, HistoryError> {
    let mut buf = vec![0; len as usize];
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(HistoryError::io("read", path)(e)),
        }
    }
    buf.truncate(filled);
    Ok(buf)
}

/// What the first line of a segment says.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum HeaderCheck {
    /// A good header; records start at `start`.
    Good { seq: u64, start: u64 },
    /// The file is empty (created, then a crash before its header).
    Empty,
    /// The header is damaged or of another kind of log: why.
    Corrupt(String),
}

/// Reads and checks the header of the segment `file` of kind `kind`.
pub(crate) fn read_header(
    file: &File,
    kind: &str,
    path: &Path,
) -> Result<HeaderCheck, HistoryError> {
    let head = read_at(file, 0, 512, path)?;
    if head.is_empty() {
        return Ok(HeaderCheck::Empty);
    }
    let Some(nl) = memchr::memchr(b'\n', &head) else {
        return Ok(HeaderCheck::Corrupt("no header line".into()));
    };
    #[derive(Deserialize)]
    struct Probe {
        version: Option<u64>,
    }
    let line = &head[..nl];
    match serde_json::from_slice::<Probe>(line) {
        Ok(Probe { version: Some(v) }) if v > LOG_VERSION => {
            return Err(HistoryError::NewerVersion {
                path: path.to_path_buf(),
                found: v,
            });
        }
        Ok(Probe { version: Some(_) }) => {}
        Ok(Probe { version: None }) => {
            return Ok(HeaderCheck::Corrupt("no \"version\" field".into()));
        }
        Err(e) => return Ok(HeaderCheck::Corrupt(format!("header: {e}"))),
    }
    match serde_json::from_slice::<Header>(line) {
        Ok(h) if h.log == kind && h.version >= 1 => Ok(HeaderCheck::Good {
            seq: h.seq,
            start: nl as u64 + 1,
        }),
        Ok(h) => Ok(HeaderCheck::Corrupt(format!(
            "a segment of a {:?} log (version {}), not {kind:?}",
            h.log, h.version
        ))),
        Err(e) => Ok(HeaderCheck::Corrupt(format!("header: {e}"))),
    }
}

/// The index of a sealed segment `file` of length `len` whose records start
/// at `start`: from its footer when the footer is whole and matches,
/// otherwise rebuilt by reading the records (with a warning).
pub(crate) fn sealed_index(
    file: &File,
    start: u64,
    len: u64,
    path: &Path,
) -> Result<Index, HistoryError> {
    if let Some(index) = read_footer(file, start, len, path)? {
        return Ok(index);
    }
    tracing::warn!(file = %path.display(), "segment has no usable index; rebuilt by reading it");
    let mut index = Index::new(start);
    scan(
        &read_at(file, start, len - start.min(len), path)?,
        &mut index,
        path,
    );
    Ok(index)
}

/// The footer of a segment, if its last line is one that fits the segment.
fn read_footer(
    file: &File,
    start: u64,
    len: u64,
    path: &Path,
) -> Result<Option<Index>, HistoryError> {
    let mut window = 64 * 1024u64;
    loop {
        let from = len.saturating_sub(window).max(start);
        let tail = read_at(file, from, len - from.min(len), path)?;
        if tail.last() != Some(&b'\n') {
            return Ok(None);
        }
        let body = &tail[..tail.len() - 1];
        match memchr::memrchr(b'\n', body) {
            Some(nl) => {
                let footer_at = from + nl as u64 + 1;
                return Ok(serde_json::from_slice::<Footer<Index>>(&body[nl + 1..])
                    .ok()
                    .map(|f| f.index)
                    .filter(|index| index.fits(start, footer_at)));
            }
            // Only one line after the header: no records, so no footer.
            None if from == start => return Ok(None),
            None => window *= 4,
        }
    }
}
