//! Reading logs: time ranges and the last records, without loading a log.
//!
//! A query needs each segment's index. A sealed segment's index is its
//! footer, read once and cached (by segment number and inode). The segment
//! being written has no footer: its records are scanned once, and each later
//! query scans only what was appended since. A query then reads only the
//! blocks whose times meet its range (`pread`), decodes their lines, keeps
//! the records in range and sorts them by time.
//!
//! Readers take no lock and change nothing, so they work from any process
//! while a writer appends: they see every whole line written before the
//! query, never a line still being written. The segment being written is
//! opened before the folder is listed, so a segment sealed in between is
//! read once, under its sealed name.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::fs::{Access, Dir, info};
use super::log::{Listing, LogKind, list};
use super::segment::{
    HeaderCheck, Index, read_at, read_header, scan, sealed_index, stamp, trim_nuls, warn_damaged,
};
use super::{HistoryError, Query, Record};

/// Logs whose indexes a reader keeps (the least recently queried go first).
const CACHED_LOGS: usize = 512;

/// A sealed segment's index.
struct SealedIndex {
    ino: u64,
    index: Arc<Index>,
}

/// What has been scanned of the segment being written.
struct ActiveIndex {
    seq: u64,
    ino: u64,
    index: Arc<Index>,
}

#[derive(Default)]
struct CachedLog {
    used: u64,
    sealed: BTreeMap<u64, SealedIndex>,
    active: Option<ActiveIndex>,
}

#[derive(Default)]
struct Cache {
    logs: HashMap<PathBuf, CachedLog>,
    tick: u64,
}

/// One segment a query may read.
struct Part {
    /// The sealed segment's name; `None` for the segment being written.
    name: Option<String>,
    /// The segment being written, opened before the listing.
    file: Option<File>,
    index: Arc<Index>,
}

/// Reads logs, keeping their indexes between queries.
#[derive(Default)]
pub(crate) struct LogReader {
    cache: Mutex<Cache>,
    /// Bytes of records read by queries so far.
    read: AtomicU64,
}

impl LogReader {
    /// Bytes of records read by queries so far (blocks, not indexes).
    pub fn bytes_read(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }

    /// Records of the `kind` log in `dir` in `query`'s range, by time (ties
    /// in the order they were appended), at most `query.limit`.
    pub fn range<T: Record>(
        &self,
        dir: &Dir,
        kind: LogKind,
        query: &Query,
    ) -> Result<Vec<T>, HistoryError> {
        query.validate()?;
        let mut found = Vec::new();
        for part in self.parts(dir, kind)? {
            if !query.overlaps(part.index.min, part.index.max) {
                continue;
            }
            let index = part.index.clone();
            let Some((file, path)) = part.open(dir, kind)? else {
                continue;
            };
            for (start, end, block) in index.ranges() {
                if query.overlaps(block.min, block.max) {
                    // A block at an edge of the range: read each line's time first.
                    let only = (!query.covers(block.min, block.max)).then_some(query);
                    self.decode(&file, start, end, &path, only, &mut |r: T| {
                        if query.contains(r.time()) {
                            found.push(r);
                        }
                    })?;
                }
            }
        }
        found.sort_by(|a, b| a.time().total_cmp(&b.time()));
        if let Some(limit) = query.limit {
            found.truncate(limit);
        }
        Ok(found)
    }

    /// The last `n` records appended to the `kind` log in `dir` that `pick`
    /// keeps (and turns into a `U`), in the order they were appended.
    pub fn last<T: Record, U>(
        &self,
        dir: &Dir,
        kind: LogKind,
        n: usize,
        pick: impl Fn(T) -> Option<U>,
    ) -> Result<Vec<U>, HistoryError> {
        let mut blocks: Vec<Vec<U>> = Vec::new();
        let mut count = 0;
        'parts: for part in self.parts(dir, kind)?.into_iter().rev() {
            let index = part.index.clone();
            let Some((file, path)) = part.open(dir, kind)? else {
                continue;
            };
            for (start, end, _) in index.ranges().rev() {
                if count >= n {
                    break 'parts;
                }
                let mut block = Vec::new();
                self.decode(&file, start, end, &path, None, &mut |r: T| {
                    block.extend(pick(r))
                })?;
                count += block.len();
                blocks.push(block);
            }
        }
        let mut records: Vec<U> = blocks.into_iter().rev().flatten().collect();
        records.drain(..records.len().saturating_sub(n));
        Ok(records)
    }

    /// The segments of the log, oldest first, with their indexes brought up
    /// to date.
    fn parts(&self, dir: &Dir, kind: LogKind) -> Result<Vec<Part>, HistoryError> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.tick += 1;
        let tick = cache.tick;
        if !cache.logs.contains_key(dir.path()) && cache.logs.len() >= CACHED_LOGS {
            let oldest = cache
                .logs
                .iter()
                .min_by_key(|(_, l)| l.used)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                cache.logs.remove(&oldest);
            }
        }
        let log = cache.logs.entry(dir.path().to_path_buf()).or_default();
        log.used = tick;
        // The segment being written first, then the listing (see the module docs).
        let active = refresh_active(dir, kind, log)?;
        let mut listing = list(dir, kind)?;
        let known_low = log.sealed.keys().next().copied();
        fill_gaps(
            dir,
            kind,
            &mut listing,
            known_low,
            active.as_ref().map(|a| a.1),
        )?;
        log.sealed.retain(|seq, s| {
            listing
                .sealed
                .iter()
                .any(|&(q, ino)| q == *seq && ino == s.ino)
        });
        let mut parts = Vec::with_capacity(listing.sealed.len() + 1);
        for &(seq, ino) in &listing.sealed {
            let name = kind.sealed_name(seq);
            let index = match log.sealed.entry(seq) {
                Entry::Occupied(known) => known.get().index.clone(),
                Entry::Vacant(slot) => {
                    let Some(file) = dir.open_file(&name, Access::Read)? else {
                        continue; // removed by retention since the listing
                    };
                    let path = dir.join(&name);
                    let len = info(&file, || path.clone())?.len;
                    let HeaderCheck::Good { start, .. } = read_header(&file, kind.name, &path)?
                    else {
                        tracing::warn!(file = %path.display(), "log segment without a usable header skipped");
                        continue;
                    };
                    let index = Arc::new(sealed_index(&file, start, len, &path)?);
                    slot.insert(SealedIndex { ino, index }).index.clone()
                }
            };
            parts.push(Part {
                name: Some(name),
                file: None,
                index,
            });
        }
        if let Some((file, seq)) = active
            && let Some(a) = &log.active
            && !log.sealed.contains_key(&seq)
        {
            parts.push(Part {
                name: None,
                file: Some(file),
                index: a.index.clone(),
            });
        }
        Ok(parts)
    }
}

/// The most numbers [`fill_gaps`] looks up by name in one query.
const MAX_GAP_PROBES: u64 = 1024;

/// Adds the sealed segments a folder listing missed. Reading a folder while
/// the writer renames segments into it may miss some (ext4 does, under a
/// fast writer), but sealed segments are numbered one after another: a
/// number missing from the run between the lowest listed or known one and
/// the highest listed or the one being written (`upper`, which may have been
/// sealed since it was opened) is looked up by its name. A number whose file is really gone (retention, a damaged
/// segment moved aside) costs one failed open.
fn fill_gaps(
    dir: &Dir,
    kind: LogKind,
    listing: &mut Listing,
    known_low: Option<u64>,
    upper: Option<u64>,
) -> Result<(), HistoryError> {
    let listed_low = listing.sealed.first().map(|s| s.0);
    let Some(low) = [listed_low, known_low].into_iter().flatten().min() else {
        return Ok(());
    };
    // The one being written when it was opened may be sealed by now, and so
    // may later ones the listing caught while missing some before them.
    let listed_high = listing.sealed.last().map(|s| s.0 + 1);
    let high = [upper.map(|u| u + 1), listed_high]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(low);
    if high.saturating_sub(low) > listing.sealed.len() as u64 + MAX_GAP_PROBES {
        return Ok(());
    }
    let listed: std::collections::BTreeSet<u64> = listing.sealed.iter().map(|s| s.0).collect();
    let mut found = Vec::new();
    for seq in (low..high).filter(|q| !listed.contains(q)) {
        let name = kind.sealed_name(seq);
        if let Some(file) = dir.open_file(&name, Access::Read)? {
            found.push((seq, info(&file, || dir.join(&name))?.ino));
        }
    }
    if !found.is_empty() {
        listing.sealed.extend(found);
        listing.sealed.sort_unstable();
    }
    Ok(())
}

/// Opens the segment being written and scans what was appended since the
/// last query; returns it with its number.
fn refresh_active(
    dir: &Dir,
    kind: LogKind,
    log: &mut CachedLog,
) -> Result<Option<(File, u64)>, HistoryError> {
    let path = dir.join(kind.base);
    let Some(file) = dir.open_file(kind.base, Access::Read)? else {
        log.active = None;
        return Ok(None);
    };
    let now = info(&file, || path.clone())?;
    // The same segment as last time: same inode (which the file system may
    // reuse for a later segment, hence the number too), not shorter.
    let (seq, start) = match read_header(&file, kind.name, &path)? {
        HeaderCheck::Good { seq, start } => (seq, start),
        HeaderCheck::Empty => return Ok(None),
        HeaderCheck::Corrupt(why) => {
            tracing::warn!(file = %path.display(), why, "log segment without a usable header skipped");
            return Ok(None);
        }
    };
    let mut active = log
        .active
        .take()
        .filter(|a| a.ino == now.ino && a.seq == seq && a.index.end <= now.len)
        .unwrap_or_else(|| ActiveIndex {
            seq,
            ino: now.ino,
            index: Arc::new(Index::new(start)),
        });
    if now.len > active.index.end {
        let fresh = read_at(&file, active.index.end, now.len - active.index.end, &path)?;
        scan(&fresh, Arc::make_mut(&mut active.index), &path);
    }
    log.active = Some(active);
    Ok(Some((file, seq)))
}

impl Part {
    /// Its file, with its path; `None` if it was removed since the listing.
    fn open(self, dir: &Dir, kind: LogKind) -> Result<Option<(File, PathBuf)>, HistoryError> {
        match (self.file, self.name) {
            (Some(file), _) => Ok(Some((file, dir.join(kind.base)))),
            (None, Some(name)) => Ok(dir
                .open_file(&name, Access::Read)?
                .map(|f| (f, dir.join(&name)))),
            (None, None) => Ok(None),
        }
    }
}

impl LogReader {
    /// Decodes the record lines in bytes `start..end` of `file` (only those
    /// whose time `only` contains, when given); a line that does not decode
    /// is skipped with a warning.
    fn decode<T: Record>(
        &self,
        file: &File,
        start: u64,
        end: u64,
        path: &std::path::Path,
        only: Option<&Query>,
        keep: &mut impl FnMut(T),
    ) -> Result<(), HistoryError> {
        let bytes = read_at(file, start, end - start, path)?;
        self.read.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        let mut at = start;
        for line in bytes.split_inclusive(|&b| b == b'\n') {
            let len = line.len() as u64;
            if line.last() == Some(&b'\n') {
                let text = trim_nuls(&line[..line.len() - 1]);
                let wanted = only.is_none_or(|q| stamp(text).is_some_and(|t| q.contains(t)));
                if !text.is_empty() && wanted {
                    match T::decode(text) {
                        Ok(record) => keep(record),
                        Err(e) => warn_damaged(path, at, &e.to_string()),
                    }
                }
            }
            at += len;
        }
        Ok(())
    }
}
