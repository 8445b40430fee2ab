//! The history's settings, and what a query asks for.

use std::time::Duration;

use super::HistoryError;
use super::segment::MAX_SEGMENT_BYTES;
use crate::persist::Durability;

const DAY: Duration = Duration::from_secs(86_400);

/// How much of a log is kept: records older than `max_age`, and all but the
/// newest `max_records`, are removed — whichever keeps fewer.
///
/// Removal is by whole segments (oldest first), so up to one segment more is
/// kept: a log keeps at most `max_records` plus a tenth (a segment closes
/// after a tenth of `max_records`), and records up to one segment span older
/// than `max_age`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// The oldest a record may get.
    pub max_age: Duration,
    /// The most records kept.
    pub max_records: u64,
}

impl Retention {
    /// Records a segment holds at most: a tenth of `max_records`.
    pub(crate) fn segment_records(&self) -> u64 {
        self.max_records.div_ceil(10).max(1)
    }

    fn validate(&self) -> Result<(), HistoryError> {
        if self.max_records == 0 {
            return Err(HistoryError::Invalid {
                what: "retention.max_records",
                value: "0".into(),
                expected: "at least one record kept",
            });
        }
        positive("retention.max_age", self.max_age)
    }
}

/// How one log is written: its retention, when a segment is closed and a new
/// one started, and how hard each write tries to reach the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogConfig {
    /// What is kept.
    pub retention: Retention,
    /// A segment is closed before it would grow past this many bytes.
    pub segment_bytes: u64,
    /// A segment is closed once its records span this long (by their times).
    pub segment_span: Duration,
    /// `Fsync`: writes are flushed to disk (for the history, within its
    /// `sync_every`; for the audit trail, before each append returns) and
    /// survive a power cut. `Atomic`: written to the OS only; they survive a
    /// crash of the process.
    pub durability: Durability,
}

impl LogConfig {
    /// A bot's cycle history: 30 days or 100,000 records, daily segments of
    /// at most 16 MiB, flushed to disk.
    pub fn history() -> Self {
        LogConfig {
            retention: Retention {
                max_age: 30 * DAY,
                max_records: 100_000,
            },
            segment_bytes: 16 << 20,
            segment_span: DAY,
            durability: Durability::Fsync,
        }
    }

    /// The audit trail: 365 days or 100,000 entries, weekly segments of at
    /// most 4 MiB, every entry flushed.
    pub fn audit() -> Self {
        LogConfig {
            retention: Retention {
                max_age: 365 * DAY,
                max_records: 100_000,
            },
            segment_bytes: 4 << 20,
            segment_span: 7 * DAY,
            durability: Durability::Fsync,
        }
    }

    /// Checks every field, naming the first that is out of range.
    pub fn validate(&self) -> Result<(), HistoryError> {
        self.retention.validate()?;
        if !(4096..=MAX_SEGMENT_BYTES).contains(&self.segment_bytes) {
            return Err(HistoryError::Invalid {
                what: "segment_bytes",
                value: self.segment_bytes.to_string(),
                expected: "from 4096 to 1 GiB",
            });
        }
        positive("segment_span", self.segment_span)
    }
}

/// Settings of a [`History`](super::History).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryConfig {
    /// How each bot's log is written and kept.
    pub log: LogConfig,
    /// How the audit trail is written and kept.
    pub audit: LogConfig,
    /// Records that may wait for the writer; past this, appends are dropped
    /// (and counted) rather than slow the caller down.
    pub queue_capacity: usize,
    /// Segments the writer keeps open (one file descriptor each); past this
    /// the least recently written is closed. By default a quarter of the
    /// process's open-file limit, at most 4,096.
    pub max_open_logs: usize,
    /// How often retention runs (by the history's clock). It also runs when
    /// the history opens.
    pub retention_every: Duration,
    /// With `Fsync`, the longest written records wait before they are
    /// flushed to disk (one flush for everything written meanwhile); zero
    /// flushes every batch.
    pub sync_every: Duration,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        HistoryConfig {
            log: LogConfig::history(),
            audit: LogConfig::audit(),
            queue_capacity: 100_000,
            max_open_logs: default_open_logs(),
            retention_every: Duration::from_secs(600),
            sync_every: Duration::from_secs(1),
        }
    }
}

impl HistoryConfig {
    /// Checks every field, naming the first that is out of range.
    pub fn validate(&self) -> Result<(), HistoryError> {
        self.log.validate()?;
        self.audit.validate()?;
        for (what, value) in [
            ("queue_capacity", self.queue_capacity),
            ("max_open_logs", self.max_open_logs),
        ] {
            if value == 0 {
                return Err(HistoryError::Invalid {
                    what,
                    value: "0".into(),
                    expected: "at least 1",
                });
            }
        }
        positive("retention_every", self.retention_every)
    }
}

/// Checks a duration setting is not zero.
fn positive(what: &'static str, value: Duration) -> Result<(), HistoryError> {
    if value.is_zero() {
        return Err(HistoryError::Invalid {
            what,
            value: "0s".into(),
            expected: "a positive duration",
        });
    }
    Ok(())
}

/// A quarter of the soft limit on open files (at least 16, at most 4,096).
fn default_open_logs() -> usize {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
    limit.map_or(4096, |n| (n / 4).clamp(16, 4096) as usize)
}

/// Which records a query wants: times in `[since, until)` (either end
/// open when `None`), at most `limit` of them (the earliest).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Query {
    /// The earliest time wanted (inclusive), Unix seconds.
    pub since: Option<f64>,
    /// The first time no longer wanted (exclusive), Unix seconds.
    pub until: Option<f64>,
    /// The most records returned: the earliest ones.
    pub limit: Option<usize>,
}

impl Query {
    /// Everything from `since` (inclusive) to `until` (exclusive).
    pub fn between(since: Option<f64>, until: Option<f64>) -> Self {
        Query {
            since,
            until,
            limit: None,
        }
    }

    /// The same query returning at most `limit` records.
    pub fn with_limit(self, limit: usize) -> Self {
        Query {
            limit: Some(limit),
            ..self
        }
    }

    /// Checks the bounds are finite and in order.
    pub fn validate(&self) -> Result<(), HistoryError> {
        for (what, t) in [("since", self.since), ("until", self.until)] {
            if let Some(t) = t.filter(|t| !t.is_finite()) {
                return Err(HistoryError::Invalid {
                    what,
                    value: t.to_string(),
                    expected: "a finite Unix time",
                });
            }
        }
        if let (Some(since), Some(until)) = (self.since, self.until)
            && since > until
        {
            return Err(HistoryError::Invalid {
                what: "until",
                value: until.to_string(),
                expected: "a time not before `since`",
            });
        }
        Ok(())
    }

    /// Whether a record at `t` is wanted.
    pub(crate) fn contains(&self, t: f64) -> bool {
        self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t < u)
    }

    /// Whether every record with a time in `[min, max]` is wanted.
    pub(crate) fn covers(&self, min: f64, max: f64) -> bool {
        self.contains(min) && self.contains(max)
    }

    /// Whether records with times in `[min, max]` may be wanted.
    pub(crate) fn overlaps(&self, min: f64, max: f64) -> bool {
        self.since.is_none_or(|s| max >= s) && self.until.is_none_or(|u| min < u)
    }
}
