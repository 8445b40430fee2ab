//! The cycle history and the audit trail: what every engine decided, and
//! every action an operator took, kept on disk and queried by time.
//!
//! **Layout** (in the state folder; new root-level files go under `.kaizen/`):
//! ```text
//! state/.kaizen/history/<bot>/history.log            the segment being written
//! state/.kaizen/history/<bot>/history.log.00000007   sealed segments
//! state/.kaizen/history/.fleet/…                     what belongs to no bot: autoscale steps
//! state/.kaizen/history.lock                         held by the one process writing the history
//! state/.kaizen/audit.log, audit.log.00000003, …     the audit trail (see [`AuditTrail`])
//! ```
//!
//! **Writing**: [`History::open`] takes the history's lock (a second writer
//! gets [`HistoryError::Locked`]) and starts a writer thread;
//! [`History::append`] queues a [`Decision`] for a bot and returns at once;
//! the thread writes batches (see [`writer`]). Each log is append-only JSON
//! lines, one record a line exactly as the decision stream serializes it,
//! in segments that are closed (given an index footer) at 16 MiB, after a
//! day of record time, or at a tenth of the retention count; retention (30
//! days or 100,000 records per bot by default, whichever keeps fewer)
//! removes whole old segments in the background. Written records reach the
//! disk within `sync_every` (1 s), or at once for a flush. Format and crash
//! rules: see [`segment`]. Nothing is written through a symbolic link or
//! into a file with other hard links (a segment found with other links is
//! closed as it is and a new one started).
//!
//! **What goes where**: a cycle record in its bot's log, an engine event in
//! the log of the engine's bot, an autoscale step in [`FLEET`]'s log.
//!
//! **Reading**: [`HistoryReader`] (also inside every `History`) answers
//! [`range`](HistoryReader::range) and [`last`](HistoryReader::last) from any
//! process, reading only the blocks whose times meet the query (see
//! [`reader`]). Queries see what the writer has written: call
//! [`History::flush`] first to include what is still queued.
//!
//! **Times** are `f64` Unix seconds in records, as everywhere in kaizen;
//! every human or API output shows them with [`rfc3339`].
//!
//! Unix only: the safe file handling rests on `openat` with `O_NOFOLLOW`.

mod audit;
mod config;
mod error;
mod fs;
mod log;
pub mod reader;
pub mod segment;
mod time;
pub mod writer;

pub use audit::{AuditEntry, AuditTrail, CLI};
pub use config::{HistoryConfig, LogConfig, Query, Retention};
pub use error::HistoryError;
pub use time::{parse_rfc3339, rfc3339, rfc3339_seconds};
pub use writer::{FlushAck, Flushed, HistoryStats};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::decision::Decision;
use crate::host::Clock;
use crate::record::CycleRecord;
use fs::Dir;
use log::HISTORY_LOG;
use reader::LogReader;
use writer::{Queue, Writer};

/// The log name of what belongs to no bot (autoscale steps). Bot names never
/// start with `.`, so it cannot be taken by a bot.
pub const FLEET: &str = ".fleet";

/// The folder, in the state folder, of files kaizen keeps for itself.
pub(crate) const KAIZEN_DIR: &str = ".kaizen";
/// The history's folder, in [`KAIZEN_DIR`].
const HISTORY_DIR: &str = "history";
/// The writer's lock file, in [`KAIZEN_DIR`].
const LOCK_FILE: &str = "history.lock";

/// Something kept in a log: it has a time, and it decodes from its line.
pub(crate) trait Record: Sized {
    /// Its time, Unix seconds.
    fn time(&self) -> f64;
    /// Decodes one line.
    fn decode(line: &[u8]) -> serde_json::Result<Self>;
}

impl Record for Decision {
    fn time(&self) -> f64 {
        Decision::time(self)
    }

    /// serde writes the tag first: a line that starts with it is decoded as
    /// the variant's record directly (which ignores the `"type"` key), about
    /// twice as fast as through serde's buffering of tagged enums.
    fn decode(line: &[u8]) -> serde_json::Result<Self> {
        if line.starts_with(br#"{"type":"cycle","#) {
            serde_json::from_slice(line).map(Decision::Cycle)
        } else if line.starts_with(br#"{"type":"autoscale","#) {
            serde_json::from_slice(line).map(Decision::Autoscale)
        } else if line.starts_with(br#"{"type":"engine","#) {
            serde_json::from_slice(line).map(Decision::Engine)
        } else {
            serde_json::from_slice(line)
        }
    }
}

impl Record for AuditEntry {
    fn time(&self) -> f64 {
        self.time
    }

    fn decode(line: &[u8]) -> serde_json::Result<Self> {
        serde_json::from_slice(line)
    }
}

/// Whether `name` may name a log: a bot name, or [`FLEET`].
pub(crate) fn is_log_name(name: &str) -> bool {
    name == FLEET || crate::engine::validate_name("bot", name).is_ok()
}

/// Checks a bot name.
pub(crate) fn validate_bot(bot: &str) -> Result<(), HistoryError> {
    if crate::engine::validate_name("bot", bot).is_ok() {
        return Ok(());
    }
    Err(HistoryError::Invalid {
        what: "bot",
        value: format!("{bot:?}"),
        expected: "a bot name: 1 to 64 letters, digits, '_', '.' or '-', not starting with '.'",
    })
}

fn check_log_name(name: &str) -> Result<(), HistoryError> {
    if name == FLEET {
        Ok(())
    } else {
        validate_bot(name)
    }
}

/// Reads the history of a state folder, from any process (it takes no
/// lock and changes nothing). Share it: it keeps the indexes it has read.
pub struct HistoryReader {
    root: PathBuf,
    logs: LogReader,
}

impl std::fmt::Debug for HistoryReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistoryReader")
            .field("root", &self.root)
            .finish()
    }
}

impl HistoryReader {
    /// A reader of the history in the state folder `root` (which need not exist yet).
    pub fn new(root: &Path) -> Self {
        HistoryReader {
            root: root.to_path_buf(),
            logs: LogReader::default(),
        }
    }

    fn history_dir(&self) -> Result<Option<Dir>, HistoryError> {
        let Some(root) = Dir::open(&self.root)? else {
            return Ok(None);
        };
        let Some(kaizen) = root.child(KAIZEN_DIR)? else {
            return Ok(None);
        };
        kaizen.child(HISTORY_DIR)
    }

    fn log_dir(&self, bot: &str) -> Result<Option<Dir>, HistoryError> {
        check_log_name(bot)?;
        match self.history_dir()? {
            Some(dir) => dir.child(bot),
            None => Ok(None),
        }
    }

    /// The bots that have a history (and [`FLEET`] if it has one), sorted.
    pub fn bots(&self) -> Result<Vec<String>, HistoryError> {
        let Some(dir) = self.history_dir()? else {
            return Ok(Vec::new());
        };
        let mut names: Vec<String> = dir
            .list()?
            .into_iter()
            .map(|(name, _)| name)
            .filter(|name| is_log_name(name))
            .collect();
        names.sort();
        Ok(names)
    }

    /// The records of `bot` (or [`FLEET`]) in `query`'s time range, in time
    /// order (records with the same time in the order they were appended).
    ///
    /// Only the segments and blocks whose times meet the range are read.
    pub fn range(&self, bot: &str, query: &Query) -> Result<Vec<Decision>, HistoryError> {
        match self.log_dir(bot)? {
            Some(dir) => self.logs.range(&dir, HISTORY_LOG, query),
            None => query.validate().map(|()| Vec::new()),
        }
    }

    /// The last `n` records appended for `bot` (or [`FLEET`]), oldest first.
    pub fn last(&self, bot: &str, n: usize) -> Result<Vec<Decision>, HistoryError> {
        match self.log_dir(bot)? {
            Some(dir) => self.logs.last(&dir, HISTORY_LOG, n, Some),
            None => Ok(Vec::new()),
        }
    }

    /// The last `n` cycle records of `bot` (what `status --last N` shows),
    /// oldest first; other records in between do not count.
    pub fn last_cycles(&self, bot: &str, n: usize) -> Result<Vec<CycleRecord>, HistoryError> {
        let cycle = |d: Decision| match d {
            Decision::Cycle(r) => Some(r),
            _ => None,
        };
        match self.log_dir(bot)? {
            Some(dir) => self.logs.last(&dir, HISTORY_LOG, n, cycle),
            None => Ok(Vec::new()),
        }
    }

    /// Bytes of records this reader's queries have read so far (what a
    /// query costs: only the blocks that meet its range are read).
    pub fn bytes_read(&self) -> u64 {
        self.logs.bytes_read()
    }
}

/// The history of a state folder, open for writing (one process at a time)
/// and reading. Share it with an `Arc`; dropping it writes what is queued,
/// stops the writer thread and releases the lock.
pub struct History {
    queue: Arc<Queue>,
    thread: Option<JoinHandle<()>>,
    stats: Arc<HistoryStats>,
    capacity: usize,
    reader: HistoryReader,
    audit: AuditTrail,
    /// Held open for the history's life: the writer's lock.
    _lock: std::fs::File,
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("History")
            .field("root", &self.reader.root)
            .field("stats", &self.stats)
            .finish()
    }
}

impl History {
    /// Opens the history of the state folder `root` for writing, creating
    /// `root/.kaizen/history/` if needed, and starts its writer thread.
    /// `clock` dates retention (and the audit trail's).
    ///
    /// Fails with [`HistoryError::Locked`] while another process writes it.
    ///
    /// ```
    /// use kaizen::decision::Decision;
    /// use kaizen::history::{History, HistoryConfig, Query, rfc3339};
    /// use kaizen::host::SystemClock;
    /// use kaizen::record::{CycleRecord, Reason};
    /// use std::sync::Arc;
    ///
    /// let state = tempfile::tempdir()?;
    /// let history = History::open(state.path(), HistoryConfig::default(), Arc::new(SystemClock))?;
    /// let bot: Arc<str> = Arc::from("alpha");
    /// let record = CycleRecord::skip(&bot, &bot, 1_800_000_000.0, 0, Reason::Policy);
    /// history.append("alpha", &Decision::Cycle(record))?; // queued: returns at once
    /// history.flush().blocking_recv()??; // written, and on disk
    /// let since = Query::between(Some(1_799_999_000.0), None);
    /// for d in history.range("alpha", &since)? {
    ///     if let Decision::Cycle(r) = d {
    ///         assert_eq!(rfc3339(r.time), "2027-01-15T08:00:00.000Z");
    ///     }
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(
        root: &Path,
        config: HistoryConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, HistoryError> {
        config.validate()?;
        let audit = AuditTrail::open(root, config.audit, clock.clone())?;
        let kaizen = Dir::make(root)?.make_child(KAIZEN_DIR)?;
        let lock = kaizen
            .lock(LOCK_FILE, false)?
            .ok_or_else(|| HistoryError::Locked {
                dir: kaizen.join(HISTORY_DIR),
                lock: kaizen.join(LOCK_FILE),
            })?;
        let dir = kaizen.make_child(HISTORY_DIR)?;
        let queue = Arc::new(Queue::default());
        let stats = Arc::new(HistoryStats::default());
        let writer = Writer::new(dir, config, clock, stats.clone());
        let thread_queue = queue.clone();
        let thread = std::thread::Builder::new()
            .name("kaizen-history".into())
            .spawn(move || writer.run(&thread_queue))
            .map_err(HistoryError::io(
                "start the writer thread for",
                kaizen.join(HISTORY_DIR),
            ))?;
        Ok(History {
            queue,
            thread: Some(thread),
            stats,
            capacity: config.queue_capacity,
            reader: HistoryReader::new(root),
            audit,
            _lock: lock,
        })
    }

    /// Queues `decision` for `bot`'s log (or [`FLEET`]'s) and returns at
    /// once; the writer thread writes it with the next batch.
    ///
    /// Fails, without waiting, on a name that is not a bot's, when the queue
    /// is full (the record is dropped and counted), or after the writer
    /// stopped.
    pub fn append(&self, bot: &str, decision: &Decision) -> Result<(), HistoryError> {
        check_log_name(bot)?;
        // A cycle record usually carries the bot's name already: share it.
        let name = match decision {
            Decision::Cycle(r) if *r.bot == *bot => r.bot.clone(),
            _ => Arc::from(bot),
        };
        self.queue
            .push(name, decision.clone(), self.capacity, &self.stats)
    }

    /// Answers once every record queued before this call is written (and,
    /// with `Fsync`, on disk), with the first write error if there was one.
    pub fn flush(&self) -> FlushAck {
        self.queue.flush()
    }

    /// What the writer has done so far.
    pub fn stats(&self) -> &HistoryStats {
        &self.stats
    }

    /// The reader of this history.
    pub fn reader(&self) -> &HistoryReader {
        &self.reader
    }

    /// The audit trail of the same state folder.
    pub fn audit(&self) -> &AuditTrail {
        &self.audit
    }

    /// See [`HistoryReader::range`].
    pub fn range(&self, bot: &str, query: &Query) -> Result<Vec<Decision>, HistoryError> {
        self.reader.range(bot, query)
    }

    /// See [`HistoryReader::last`].
    pub fn last(&self, bot: &str, n: usize) -> Result<Vec<Decision>, HistoryError> {
        self.reader.last(bot, n)
    }

    /// See [`HistoryReader::last_cycles`].
    pub fn last_cycles(&self, bot: &str, n: usize) -> Result<Vec<CycleRecord>, HistoryError> {
        self.reader.last_cycles(bot, n)
    }
}

impl Drop for History {
    fn drop(&mut self) {
        self.queue.close();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the history writer thread panicked");
        }
    }
}

#[cfg(test)]
mod tests;
