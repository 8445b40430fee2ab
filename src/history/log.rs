//! One append-only log on disk, as its writer sees it: a folder of
//! segments, the newest of which is appended to.
//!
//! The segment being written is `<base>` (`history.log`, `audit.log`);
//! when it is full it gets its footer and is renamed `<base>.<seq>`
//! (`history.log.00000007`), and the next record starts a new `<base>`.
//! A crash at any step leaves a folder the next [`Log::load`] finishes: a
//! `<base>` that already has its footer is renamed, a torn last line is cut
//! off, an empty `<base>` (created, then the crash) is removed.
//!
//! Only one writer at a time: the history holds a lock file for its whole
//! life, the audit trail for each append.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use super::HistoryError;
use super::config::{LogConfig, Retention};
use super::fs::{Access, Dir, LazyDir, info};
use super::segment::{
    Header, HeaderCheck, Index, ScanEnd, read_at, read_header, scan, sealed_index,
};

/// What kind of log a folder holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LogKind {
    /// The `log` field of every segment header.
    pub name: &'static str,
    /// The file name of the segment being written.
    pub base: &'static str,
    /// The permission bits new segments get (before the umask).
    pub mode: u32,
}

/// A bot's cycle history.
pub(crate) const HISTORY_LOG: LogKind = LogKind {
    name: "history",
    base: "history.log",
    mode: 0o644,
};

/// The audit trail.
pub(crate) const AUDIT_LOG: LogKind = LogKind {
    name: "audit",
    base: "audit.log",
    mode: 0o600,
};

impl LogKind {
    /// The name of sealed segment `seq`.
    pub fn sealed_name(&self, seq: u64) -> String {
        format!("{}.{seq:08}", self.base)
    }

    /// The number of the sealed segment called `name`, if it is one.
    pub fn sealed_seq(&self, name: &str) -> Option<u64> {
        let digits = name.strip_prefix(self.base)?.strip_prefix('.')?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    }
}

/// The segments of a log in a folder listing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Listing {
    /// Sealed segments `(seq, inode)`, oldest first.
    pub sealed: Vec<(u64, u64)>,
    /// Whether `<base>` is there.
    pub active: bool,
}

/// Lists the segments of the `kind` log in `dir`.
pub(crate) fn list(dir: &Dir, kind: LogKind) -> Result<Listing, HistoryError> {
    let mut listing = Listing::default();
    for (name, ino) in dir.list()? {
        if name == kind.base {
            listing.active = true;
        } else if let Some(seq) = kind.sealed_seq(&name) {
            listing.sealed.push((seq, ino));
        }
    }
    listing.sealed.sort_unstable();
    Ok(listing)
}

/// A sealed segment, as retention sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Sealed {
    seq: u64,
    records: u64,
    max: f64,
}

/// The segment being appended to.
#[derive(Debug)]
struct Active {
    seq: u64,
    index: Index,
}

/// The sealed segments of a log, oldest first: what retention works on.
#[derive(Debug, Default)]
pub(crate) struct Segments {
    sealed: VecDeque<Sealed>,
    /// The highest segment number seen.
    last_seq: u64,
}

impl Segments {
    /// Reads the sealed segments' indexes (footers) in `dir`; a segment that
    /// cannot be read is moved aside with a warning.
    pub fn survey(dir: &Dir, kind: LogKind) -> Result<(Segments, Listing), HistoryError> {
        let listing = list(dir, kind)?;
        let mut segments = Segments::default();
        for &(seq, _) in &listing.sealed {
            segments.last_seq = segments.last_seq.max(seq);
            let name = kind.sealed_name(seq);
            let Some(file) = dir.open_file(&name, Access::Read)? else {
                continue; // removed since the listing
            };
            let path = dir.join(&name);
            let len = info(&file, || path.clone())?.len;
            match read_header(&file, kind.name, &path)? {
                HeaderCheck::Good { start, .. } => {
                    let index = sealed_index(&file, start, len, &path)?;
                    segments.sealed.push_back(Sealed {
                        seq,
                        records: index.records,
                        max: index.max,
                    });
                }
                HeaderCheck::Empty => {
                    dir.remove(&name)?;
                }
                HeaderCheck::Corrupt(why) => move_aside(dir, &name, &why)?,
            }
        }
        Ok((segments, listing))
    }

    /// Removes the oldest segments whose records are all older than
    /// `retention.max_age` before `now`, or that the newest
    /// `retention.max_records` (counting `newer` records after these
    /// segments) do not need. Returns how many were removed.
    pub fn retain(
        &mut self,
        dir: &Dir,
        kind: LogKind,
        retention: &Retention,
        now: f64,
        newer: u64,
    ) -> Result<u64, HistoryError> {
        let cutoff = now - retention.max_age.as_secs_f64();
        let mut total = newer + self.sealed.iter().map(|s| s.records).sum::<u64>();
        let mut removed = 0;
        while let Some(oldest) = self.sealed.front().copied() {
            // A clock gone wrong (NaN) ages nothing.
            let aged = cutoff.is_finite() && oldest.max < cutoff;
            if !aged && total - oldest.records < retention.max_records {
                break;
            }
            dir.remove(&kind.sealed_name(oldest.seq))?;
            self.sealed.pop_front();
            total -= oldest.records;
            removed += 1;
        }
        Ok(removed)
    }
}

/// Renames a damaged segment to `<name>.corrupt-<unix-seconds>`, out of the
/// log, with a warning naming both.
fn move_aside(dir: &Dir, name: &str, why: &str) -> Result<(), HistoryError> {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut aside = format!("{name}.corrupt-{secs}");
    let mut n = 1;
    while dir.open_file(&aside, Access::Read)?.is_some() {
        aside = format!("{name}.corrupt-{secs}-{n}");
        n += 1;
    }
    dir.rename(name, &aside)?;
    tracing::warn!(
        file = %dir.join(name).display(),
        moved_to = %dir.join(&aside).display(),
        why,
        "damaged log segment moved aside"
    );
    Ok(())
}

/// One log, loaded for appending.
#[derive(Debug)]
pub(crate) struct Log {
    kind: LogKind,
    segments: Segments,
    active: Option<Active>,
    file: Option<File>,
}

/// What an append did besides writing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Appended {
    /// Segments sealed.
    pub sealed: u64,
    /// Whether names in the folder changed (a segment created or renamed).
    pub renamed: bool,
}

impl Log {
    /// Loads the `kind` log in `dir`, finishing what a crash left undone
    /// (see the module docs).
    pub fn load(dir: &Dir, kind: LogKind) -> Result<Log, HistoryError> {
        let (segments, listing) = Segments::survey(dir, kind)?;
        let mut log = Log {
            kind,
            segments,
            active: None,
            file: None,
        };
        if listing.active {
            log.load_active(dir)?;
        }
        Ok(log)
    }

    fn load_active(&mut self, dir: &Dir) -> Result<(), HistoryError> {
        let base = self.kind.base;
        let path = dir.join(base);
        let Some(file) = dir.open_file(base, Access::Append)? else {
            return Ok(());
        };
        let file_info = info(&file, || path.clone())?;
        let (seq, start) = match read_header(&file, self.kind.name, &path)? {
            HeaderCheck::Good { seq, start } => (seq, start),
            HeaderCheck::Empty => {
                dir.remove(base)?;
                return Ok(());
            }
            HeaderCheck::Corrupt(why) => return move_aside(dir, base, &why),
        };
        let mut index = Index::new(start);
        let bytes = read_at(&file, start, file_info.len.saturating_sub(start), &path)?;
        let ended = scan(&bytes, &mut index, &path);
        self.segments.last_seq = self.segments.last_seq.max(seq);
        self.active = Some(Active { seq, index });
        if let ScanEnd::Footer(_) = ended {
            // Sealed, then a crash before the rename: finish it.
            return self.rename_sealed(dir).map(drop);
        }
        if file_info.links > 1 {
            return self.seal_linked(dir);
        }
        if let ScanEnd::Torn(at) = ended {
            file.set_len(at)
                .map_err(HistoryError::io("cut the torn last line of", &path))?;
            tracing::warn!(
                file = %path.display(),
                bytes = file_info.len - at,
                "a torn last line (a write cut short by a crash) was removed"
            );
        }
        self.file = Some(file);
        Ok(())
    }

    /// Records in the segment being written.
    pub fn active_records(&self) -> u64 {
        self.active.as_ref().map_or(0, |a| a.index.records)
    }

    /// Closes the open segment file (it is opened again when needed).
    pub fn close(&mut self) {
        self.file = None;
    }

    /// The open segment file, if any (to flush it to disk).
    pub fn file(&self) -> Option<&File> {
        self.file.as_ref()
    }

    /// Appends records: `lines[i]` is the time and byte length of record
    /// `i`, and `bytes` holds them all, one after another, each ending in a
    /// newline. Segments are sealed and started as `config` says. On an
    /// error the log's state is unknown: drop it and load it again.
    pub fn append(
        &mut self,
        dir: &LazyDir,
        config: &LogConfig,
        bytes: &[u8],
        lines: &[(f64, u64)],
    ) -> Result<Appended, HistoryError> {
        let mut done = Appended::default();
        let (mut next, mut offset) = (0, 0usize);
        while next < lines.len() {
            if self.active.is_none() {
                self.start_segment(dir.get()?)?;
                done.renamed = true;
            }
            if self.writable(dir)? == Writable::Resealed {
                done.sealed += 1;
                done.renamed = true;
                continue;
            }
            let (Some(active), Some(file)) = (self.active.as_mut(), self.file.as_mut()) else {
                return Err(gone(dir.join(self.kind.base)));
            };
            let start = offset;
            while let Some(&(time, len)) = lines.get(next) {
                if active.index.records > 0 && full(&active.index, time, len, config) {
                    break;
                }
                active.index.push(len, time);
                offset += len as usize;
                next += 1;
            }
            let path = || dir.join(self.kind.base);
            file.write_all(&bytes[start..offset])
                .map_err(|e| HistoryError::io("append to", path())(e))?;
            if next < lines.len() {
                self.seal(dir.get()?)?;
                done.sealed += 1;
                done.renamed = true;
            }
        }
        Ok(done)
    }

    /// Creates a new `<base>` segment and writes its header.
    fn start_segment(&mut self, dir: &Dir) -> Result<(), HistoryError> {
        let seq = self.segments.last_seq + 1;
        let mut file = dir.create_file(self.kind.base, self.kind.mode)?;
        let header = Header::line(self.kind.name, seq);
        file.write_all(&header)
            .map_err(HistoryError::io("write", dir.join(self.kind.base)))?;
        self.segments.last_seq = seq;
        self.active = Some(Active {
            seq,
            index: Index::new(header.len() as u64),
        });
        self.file = Some(file);
        Ok(())
    }

    /// Opens `<base>` if it is closed and checks it may be written: a
    /// regular file, with no other hard link (else it is sealed as it is:
    /// the caller starts a new segment), whose length is what this log wrote.
    fn writable(&mut self, dir: &LazyDir) -> Result<Writable, HistoryError> {
        let base = self.kind.base;
        if self.file.is_none() {
            self.file = dir.get()?.open_file(base, Access::Append)?;
        }
        let (Some(file), Some(active)) = (&self.file, &self.active) else {
            return Err(gone(dir.join(base)));
        };
        let now = info(file, || dir.join(base))?;
        if now.links > 1 {
            self.seal_linked(dir.get()?)?;
            return Ok(Writable::Resealed);
        }
        if now.len != active.index.end {
            return Err(HistoryError::Unsafe {
                path: dir.join(base),
                why: "it was changed by another program",
            });
        }
        Ok(Writable::Ready)
    }

    /// Writes the footer and renames the segment to its sealed name.
    fn seal(&mut self, dir: &Dir) -> Result<(), HistoryError> {
        if let (Some(active), Some(file)) = (&self.active, self.file.as_mut())
            && let Some(footer) = active.index.footer()
        {
            file.write_all(&footer).map_err(HistoryError::io(
                "write the index of",
                dir.join(self.kind.base),
            ))?;
        }
        self.rename_sealed(dir)
    }

    /// Seals a segment that has other hard links as it is: no footer is
    /// written into it (readers rebuild its index), and the next record
    /// starts a new segment.
    fn seal_linked(&mut self, dir: &Dir) -> Result<(), HistoryError> {
        tracing::warn!(
            file = %dir.join(self.kind.base).display(),
            "log segment has other hard links; closed without writing to it, a new one is started"
        );
        self.rename_sealed(dir)
    }

    fn rename_sealed(&mut self, dir: &Dir) -> Result<(), HistoryError> {
        self.file = None;
        if let Some(active) = self.active.take() {
            dir.rename(self.kind.base, &self.kind.sealed_name(active.seq))?;
            if active.index.records > 0 {
                self.segments.sealed.push_back(Sealed {
                    seq: active.seq,
                    records: active.index.records,
                    max: active.index.max,
                });
            }
        }
        Ok(())
    }

    /// Applies `retention` at `now` (see [`Segments::retain`]); the segment
    /// being written is never removed.
    pub fn retain(
        &mut self,
        dir: &Dir,
        retention: &Retention,
        now: f64,
    ) -> Result<u64, HistoryError> {
        let newer = self.active_records();
        self.segments.retain(dir, self.kind, retention, now, newer)
    }
}

/// What [`Log::writable`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Writable {
    /// The segment is open and as this log left it.
    Ready,
    /// It had other hard links and was sealed as it was.
    Resealed,
}

/// The error for a segment at `path` that disappeared under the log.
fn gone(path: std::path::PathBuf) -> HistoryError {
    HistoryError::Unsafe {
        path,
        why: "it was removed by another program",
    }
}

/// Whether a segment with `index` is full before a record at `time` of
/// `len` bytes: its records and its footer would pass `segment_bytes`, or
/// it holds its share of the retention count, or its span of time.
fn full(index: &Index, time: f64, len: u64, config: &LogConfig) -> bool {
    index.end + len + index.footer_bound() > config.segment_bytes
        || index.records >= config.retention.segment_records()
        || time - index.min >= config.segment_span.as_secs_f64()
}
