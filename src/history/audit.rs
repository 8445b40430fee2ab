//! The audit trail: every state-changing action taken from the CLI or the
//! API — when, who, what, on which bot — in `state/.kaizen/audit.log`.
//!
//! The trail is a log like a bot's history (segments, a footer index,
//! retention, torn lines skipped, nothing written through a link), with
//! two differences: any process may append to it (the CLI while `kaizen run`
//! serves the API), each append taking the lock file
//! `state/.kaizen/audit.lock` for its duration; and an append is written,
//! and with `Fsync` flushed to disk, before it returns, so an action is on
//! record before it is reported done. Actions are rare, so each append reads
//! the log's state afresh (its segment indexes and the segment being written).

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::config::LogConfig;
use super::fs::{Dir, LazyDir};
use super::log::{AUDIT_LOG, Log};
use super::reader::LogReader;
use super::{HistoryError, KAIZEN_DIR, Query, validate_bot};
use crate::host::Clock;
use crate::persist::Durability;

/// Who an action taken on the command line is attributed to.
pub const CLI: &str = "cli";

/// The lock file appends take, in `state/.kaizen/`.
const AUDIT_LOCK: &str = "audit.lock";

/// The longest `who`, in characters.
const MAX_WHO: usize = 64;
/// The longest `detail` or `error`, in bytes.
const MAX_TEXT: usize = 4096;

/// One state-changing action.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When (Unix seconds).
    pub time: f64,
    /// Who: the name of the API token used, or [`CLI`].
    pub who: String,
    /// What, as a dotted name: `engine.pause`, `autoscale.run`, `synergy.reset`, ….
    pub action: String,
    /// The bot it was done to, if any.
    pub bot: Option<String>,
    /// Its parameters, in words (may be empty).
    pub detail: String,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

impl AuditEntry {
    /// An action by `who` at `time`, on no bot, without detail, that succeeded.
    pub fn new(time: f64, who: impl Into<String>, action: impl Into<String>) -> Self {
        AuditEntry {
            time,
            who: who.into(),
            action: action.into(),
            bot: None,
            detail: String::new(),
            error: None,
        }
    }

    /// The same entry, done to `bot`.
    pub fn on_bot(self, bot: impl Into<String>) -> Self {
        AuditEntry {
            bot: Some(bot.into()),
            ..self
        }
    }

    /// The same entry with its parameters in words.
    pub fn with_detail(self, detail: impl Into<String>) -> Self {
        AuditEntry {
            detail: detail.into(),
            ..self
        }
    }

    /// The same entry, recorded as failed for `error`.
    pub fn failed(self, error: impl Into<String>) -> Self {
        AuditEntry {
            error: Some(error.into()),
            ..self
        }
    }

    /// Checks every field, naming the first that is wrong: a finite time; a
    /// `who` of 1 to 64 printable characters; an `action` of 1 to 64 of
    /// `a-z 0-9 _ . -`; a valid bot name; `detail` and `error` up to 4 KiB.
    pub fn validate(&self) -> Result<(), HistoryError> {
        let invalid = |what, value: &str, expected| HistoryError::Invalid {
            what,
            value: format!("{value:?}"),
            expected,
        };
        if !self.time.is_finite() {
            return Err(invalid(
                "audit time",
                &self.time.to_string(),
                "a finite Unix time",
            ));
        }
        let chars = self.who.chars().count();
        if chars == 0 || chars > MAX_WHO || self.who.chars().any(char::is_control) {
            return Err(invalid(
                "audit who",
                &self.who,
                "a token name or \"cli\": 1 to 64 characters, none of them control characters",
            ));
        }
        if self.action.is_empty()
            || self.action.len() > 64
            || !self
                .action
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b))
        {
            return Err(invalid(
                "audit action",
                &self.action,
                "1 to 64 of a-z, 0-9, '_', '.' and '-', such as engine.pause",
            ));
        }
        if let Some(bot) = &self.bot {
            validate_bot(bot)?;
        }
        for (what, text) in [
            ("audit detail", Some(&self.detail)),
            ("audit error", self.error.as_ref()),
        ] {
            if let Some(text) = text.filter(|t| t.len() > MAX_TEXT) {
                return Err(invalid(
                    what,
                    &text[..text.floor_char_boundary(40)],
                    "at most 4096 bytes",
                ));
            }
        }
        Ok(())
    }
}

/// The audit trail of a state folder.
pub struct AuditTrail {
    root: PathBuf,
    config: LogConfig,
    clock: Arc<dyn Clock>,
    reader: LogReader,
}

impl std::fmt::Debug for AuditTrail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditTrail")
            .field("root", &self.root)
            .field("config", &self.config)
            .finish()
    }
}

impl AuditTrail {
    /// The audit trail of the state folder `root` (nothing is created until
    /// the first append). `clock` dates retention.
    ///
    /// ```
    /// use kaizen::history::{AuditEntry, AuditTrail, CLI, LogConfig, Query};
    /// use kaizen::host::{Clock, SystemClock};
    /// use std::sync::Arc;
    ///
    /// let state = tempfile::tempdir()?;
    /// let trail = AuditTrail::open(state.path(), LogConfig::audit(), Arc::new(SystemClock))?;
    /// let now = SystemClock.now();
    /// trail.append(&AuditEntry::new(now, CLI, "synergy.reset").on_bot("alpha"))?;
    /// let on_alpha = trail.range(Some("alpha"), &Query::default())?;
    /// assert_eq!(on_alpha[0].who, "cli");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(
        root: &Path,
        config: LogConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, HistoryError> {
        config.validate()?;
        Ok(AuditTrail {
            root: root.to_path_buf(),
            config,
            clock,
            reader: LogReader::default(),
        })
    }

    /// Records `entry`: written (and with `Fsync`, on disk) when this returns.
    /// Old segments are removed by the trail's retention as it goes.
    pub fn append(&self, entry: &AuditEntry) -> Result<(), HistoryError> {
        entry.validate()?;
        let mut line = serde_json::to_vec(entry).map_err(|e| HistoryError::Invalid {
            what: "audit entry",
            value: e.to_string(),
            expected: "an entry that encodes as JSON",
        })?;
        line.push(b'\n');
        let root = Dir::make(&self.root)?;
        let dir = root.make_child(KAIZEN_DIR)?;
        let _lock = dir.lock(AUDIT_LOCK, true)?;
        let mut log = Log::load(&dir, AUDIT_LOG)?;
        let dir = LazyDir::opened(&root, KAIZEN_DIR, dir);
        let done = log.append(
            &dir,
            &self.config,
            &line,
            &[(entry.time, line.len() as u64)],
        )?;
        let dir = dir.get()?;
        if self.config.durability == Durability::Fsync {
            if let Some(file) = log.file() {
                file.sync_data()
                    .map_err(HistoryError::io("fsync", dir.join(AUDIT_LOG.base)))?;
            }
            if done.renamed {
                dir.sync()?;
            }
        }
        log.retain(dir, &self.config.retention, self.clock.now())?;
        Ok(())
    }

    /// The entries in `query`'s range, by time, only those on `bot` when given.
    pub fn range(&self, bot: Option<&str>, query: &Query) -> Result<Vec<AuditEntry>, HistoryError> {
        let Some(dir) = self.dir()? else {
            return Ok(Vec::new());
        };
        if let Some(bot) = bot {
            validate_bot(bot)?;
        }
        let wanted = Query {
            limit: None,
            ..*query
        };
        let mut entries: Vec<AuditEntry> = self.reader.range(&dir, AUDIT_LOG, &wanted)?;
        entries.retain(|e| bot.is_none() || e.bot.as_deref() == bot);
        if let Some(limit) = query.limit {
            entries.truncate(limit);
        }
        Ok(entries)
    }

    /// The last `n` entries recorded, in the order they were recorded.
    pub fn last(&self, n: usize) -> Result<Vec<AuditEntry>, HistoryError> {
        match self.dir()? {
            Some(dir) => self.reader.last(&dir, AUDIT_LOG, n, Some),
            None => Ok(Vec::new()),
        }
    }

    fn dir(&self) -> Result<Option<Dir>, HistoryError> {
        match Dir::open(&self.root)? {
            Some(root) => root.child(KAIZEN_DIR),
            None => Ok(None),
        }
    }
}
