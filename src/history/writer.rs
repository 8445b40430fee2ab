//! The history's writer thread: appends in batches, off the callers' threads.
//!
//! [`History::append`](super::History::append) only queues the record (a
//! clone, one lock, and a wake-up when the queue was empty). The thread takes
//! everything queued at once, groups it by bot, encodes each record as one
//! JSON line and writes each bot's lines with one `write` to its segment.
//! Past `queue_capacity` waiting records, appends are dropped and counted:
//! the tick path never waits for the disk.
//!
//! With [`Durability::Fsync`], what was written is flushed to disk at most
//! `sync_every` later (1 s by default; 0 flushes every batch), and at once
//! for a [`flush`](super::History::flush): one `syncfs` on Linux (elsewhere
//! every file and folder is flushed), however many bots the batches touched.
//! A power cut loses at most the last `sync_every` of records; a crash of
//! the process loses only what was still queued.
//!
//! Retention runs on this thread too: when the history opens, then every
//! `retention_every` by the history's clock (checked whenever the thread
//! wakes: for a batch, a flush, a disk flush, or every `retention_every` of
//! real time).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::config::HistoryConfig;
use super::fs::{Dir, LazyDir};
use super::log::{HISTORY_LOG, Log, Segments};
use super::{HistoryError, is_log_name};
use crate::decision::Decision;
use crate::host::Clock;
use crate::persist::Durability;

/// What a flush is answered with: `Ok(())`, or the first error since the
/// previous answer.
pub type Flushed = Result<(), Arc<HistoryError>>;

/// The answer to [`History::flush`](super::History::flush).
pub type FlushAck = tokio::sync::oneshot::Receiver<Flushed>;

type AckSender = tokio::sync::oneshot::Sender<Flushed>;

/// What waits for the writer thread.
#[derive(Default)]
struct Pending {
    items: Vec<(Arc<str>, Decision)>,
    acks: Vec<AckSender>,
    closed: bool,
    /// The writer thread waits for work (and must be woken for it).
    sleeping: bool,
}

/// The queue between the callers and the writer thread.
#[derive(Default)]
pub(crate) struct Queue {
    pending: Mutex<Pending>,
    ready: Condvar,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a record for `bot`, unless `capacity` records already wait.
    pub fn push(
        &self,
        bot: Arc<str>,
        decision: Decision,
        capacity: usize,
        stats: &HistoryStats,
    ) -> Result<(), HistoryError> {
        let mut pending = self.lock();
        if pending.closed {
            return Err(HistoryError::Closed);
        }
        let waiting = pending.items.len();
        if waiting >= capacity {
            drop(pending);
            let dropped = stats.dropped.fetch_add(1, Ordering::Relaxed);
            if dropped.is_multiple_of(10_000) {
                tracing::warn!(
                    waiting,
                    dropped = dropped + 1,
                    "history writer is behind; records dropped"
                );
            }
            return Err(HistoryError::QueueFull(waiting));
        }
        pending.items.push((bot, decision));
        let wake = pending.sleeping;
        pending.sleeping = false;
        drop(pending);
        stats.appended.fetch_add(1, Ordering::Relaxed);
        if wake {
            self.ready.notify_one();
        }
        Ok(())
    }

    /// A [`FlushAck`] answered once everything queued before it is written (and
    /// flushed to disk with `Fsync`).
    pub fn flush(&self) -> FlushAck {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let mut pending = self.lock();
        if pending.closed {
            let _ = tx.send(Err(Arc::new(HistoryError::Closed)));
        } else {
            pending.acks.push(tx);
            self.ready.notify_one();
        }
        rx
    }

    /// Tells the thread to write what waits and end.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_one();
    }
}

/// What the history's writer has done so far.
#[derive(Debug, Default)]
pub struct HistoryStats {
    appended: AtomicU64,
    dropped: AtomicU64,
    rejected: AtomicU64,
    written: AtomicU64,
    failed: AtomicU64,
    bytes: AtomicU64,
    batches: AtomicU64,
    syncs: AtomicU64,
    sealed: AtomicU64,
    removed: AtomicU64,
}

macro_rules! getters {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        impl HistoryStats {
            $($(#[$doc])* pub fn $name(&self) -> u64 { self.$name.load(Ordering::Relaxed) })*
        }
    };
}

getters! {
    /// Records accepted into the queue.
    appended,
    /// Records dropped because the queue was full.
    dropped,
    /// Records refused by the writer: a NaN or infinite number in them.
    rejected,
    /// Records written to their log.
    written,
    /// Records lost to a write error (each error is logged).
    failed,
    /// Bytes of records written.
    bytes,
    /// Batches the writer has taken from the queue.
    batches,
    /// Flushes to disk.
    syncs,
    /// Segments sealed (filled and closed).
    sealed,
    /// Segments removed by retention.
    removed,
}

/// A loaded log and its place in the open-segments order.
struct Entry {
    log: Log,
    /// Its key in `Writer::open` while its segment is open.
    stamp: Option<u64>,
}

/// The writer thread's state.
pub(crate) struct Writer {
    dir: Dir,
    config: HistoryConfig,
    clock: Arc<dyn Clock>,
    stats: Arc<HistoryStats>,
    logs: HashMap<Arc<str>, Entry>,
    /// Logs with their segment open, least recently used first.
    open: BTreeMap<u64, Arc<str>>,
    tick: u64,
    next_retention: f64,
    /// When the oldest write not yet flushed to disk was made (with `Fsync`).
    unsynced: Option<Instant>,
    buf: Vec<u8>,
    lines: Vec<(f64, u64)>,
}

impl Writer {
    pub fn new(
        dir: Dir,
        config: HistoryConfig,
        clock: Arc<dyn Clock>,
        stats: Arc<HistoryStats>,
    ) -> Self {
        Writer {
            next_retention: f64::NEG_INFINITY,
            dir,
            config,
            clock,
            stats,
            logs: HashMap::new(),
            open: BTreeMap::new(),
            tick: 0,
            unsynced: None,
            buf: Vec::new(),
            lines: Vec::new(),
        }
    }

    /// The thread's loop: until the queue is closed and empty.
    pub fn run(mut self, queue: &Queue) {
        loop {
            self.retain_if_due();
            if self.sync_due() {
                self.sync().ok();
            }
            let batch = {
                let mut pending = queue.lock();
                while pending.items.is_empty() && pending.acks.is_empty() && !pending.closed {
                    pending.sleeping = true;
                    let (guard, wait) = queue
                        .ready
                        .wait_timeout(pending, self.next_wake())
                        .unwrap_or_else(|p| p.into_inner());
                    pending = guard;
                    pending.sleeping = false;
                    if wait.timed_out() {
                        break;
                    }
                }
                let closed = pending.closed;
                let batch = std::mem::take(&mut *pending);
                pending.closed = closed;
                batch
            };
            if batch.items.is_empty() && batch.acks.is_empty() {
                if batch.closed {
                    self.sync().ok();
                    return;
                }
                continue;
            }
            let mut result = self.write_batch(batch.items);
            // Before the acknowledgements, so a flush also applies retention when due.
            self.retain_if_due();
            if !batch.acks.is_empty() {
                let synced = self.sync();
                result = result.and(synced);
            }
            for ack in batch.acks {
                let _ = ack.send(result.clone());
            }
        }
    }

    /// How long the thread may sleep: until the next disk flush is due, or
    /// `retention_every` (then the retention schedule is checked).
    fn next_wake(&self) -> Duration {
        let retention = self.config.retention_every;
        match self.unsynced {
            Some(since) => retention.min(self.config.sync_every.saturating_sub(since.elapsed())),
            None => retention,
        }
    }

    fn sync_due(&self) -> bool {
        self.unsynced
            .is_some_and(|since| since.elapsed() >= self.config.sync_every)
    }

    /// Flushes what was written since the last flush to disk (with `Fsync`):
    /// one `syncfs` of the history's file system on Linux.
    fn sync(&mut self) -> Flushed {
        if self.unsynced.is_none() {
            return Ok(());
        }
        self.stats.syncs.fetch_add(1, Ordering::Relaxed);
        let folders = BTreeSet::from([self.dir.path().to_path_buf()]);
        match crate::persist::writer::make_durable(&folders) {
            Ok(()) => {
                self.unsynced = None;
                Ok(())
            }
            Err(e) => {
                tracing::error!(error = %e, "history written but not flushed to disk");
                Err(Arc::new(HistoryError::Flush(e)))
            }
        }
    }

    /// Writes one batch; the first error, in words, for the acknowledgements.
    fn write_batch(&mut self, items: Vec<(Arc<str>, Decision)>) -> Flushed {
        self.stats.batches.fetch_add(1, Ordering::Relaxed);
        let mut by_bot: HashMap<Arc<str>, Vec<Decision>> = HashMap::new();
        for (bot, decision) in items {
            by_bot.entry(bot).or_default().push(decision);
        }
        let mut first_error = None;
        for (bot, decisions) in by_bot {
            let count = self.encode(&bot, &decisions);
            if count == 0 {
                continue;
            }
            match self.append(&bot) {
                Ok(()) => {
                    if self.config.log.durability == Durability::Fsync {
                        self.unsynced.get_or_insert_with(Instant::now);
                    }
                    self.stats.written.fetch_add(count, Ordering::Relaxed);
                    self.stats
                        .bytes
                        .fetch_add(self.buf.len() as u64, Ordering::Relaxed);
                }
                Err(e) => {
                    tracing::error!(bot = %bot, error = %e, records = count, "history not written");
                    self.stats.failed.fetch_add(count, Ordering::Relaxed);
                    self.forget(&bot);
                    first_error.get_or_insert_with(|| Arc::new(e));
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Encodes `decisions` as JSON lines into `self.buf`; returns how many.
    fn encode(&mut self, bot: &str, decisions: &[Decision]) -> u64 {
        self.buf.clear();
        self.lines.clear();
        for decision in decisions {
            let start = self.buf.len();
            let encoded = crate::persist::check_finite(decision)
                .map_err(|at| at.to_string())
                .and_then(|()| {
                    serde_json::to_writer(&mut self.buf, decision).map_err(|e| e.to_string())
                });
            match encoded {
                Ok(()) => {
                    self.buf.push(b'\n');
                    let len = (self.buf.len() - start) as u64;
                    self.lines.push((decision.time(), len));
                }
                Err(why) => {
                    self.buf.truncate(start);
                    self.stats.rejected.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(bot, why, "history record refused");
                }
            }
        }
        self.lines.len() as u64
    }

    /// Appends the encoded lines to `bot`'s log, loading it first if needed.
    fn append(&mut self, bot: &Arc<str>) -> Result<(), HistoryError> {
        let dir = if self.logs.contains_key(bot) {
            LazyDir::new(&self.dir, bot)
        } else {
            let dir = match self.dir.child(bot)? {
                Some(dir) => dir,
                None => self.dir.make_child(bot)?,
            };
            let log = Log::load(&dir, HISTORY_LOG)?;
            self.logs.insert(bot.clone(), Entry { log, stamp: None });
            LazyDir::opened(&self.dir, bot, dir)
        };
        let Some(entry) = self.logs.get_mut(bot) else {
            return Ok(());
        };
        let done = entry
            .log
            .append(&dir, &self.config.log, &self.buf, &self.lines)?;
        self.stats.sealed.fetch_add(done.sealed, Ordering::Relaxed);
        // Count it as used now, and close the least recently used segments.
        if let Some(stamp) = entry.stamp.take() {
            self.open.remove(&stamp);
        }
        if entry.log.file().is_some() {
            self.tick += 1;
            entry.stamp = Some(self.tick);
            self.open.insert(self.tick, bot.clone());
        }
        while self.open.len() > self.config.max_open_logs {
            if let Some((_, victim)) = self.open.pop_first()
                && let Some(e) = self.logs.get_mut(&victim)
            {
                e.log.close();
                e.stamp = None;
            }
        }
        Ok(())
    }

    /// Drops what is known of `bot`'s log: it is loaded again from disk on
    /// its next append.
    fn forget(&mut self, bot: &str) {
        if let Some(entry) = self.logs.remove(bot)
            && let Some(stamp) = entry.stamp
        {
            self.open.remove(&stamp);
        }
    }

    fn retain_if_due(&mut self) {
        let now = self.clock.now();
        // A clock gone wrong (NaN) neither ages records nor moves the schedule.
        if now.is_nan() || now < self.next_retention {
            return;
        }
        self.next_retention = now + self.config.retention_every.as_secs_f64();
        match self.retain(now) {
            Ok(0) => {}
            Ok(removed) => tracing::debug!(removed, "history retention removed old segments"),
            Err(e) => tracing::error!(error = %e, "history retention failed"),
        }
    }

    /// Applies retention at `now` to every log in the history folder.
    fn retain(&mut self, now: f64) -> Result<u64, HistoryError> {
        let retention = self.config.log.retention;
        let mut removed = 0;
        for (name, _) in self.dir.list()? {
            if !is_log_name(&name) {
                continue;
            }
            let Some(dir) = self.dir.child(&name)? else {
                continue;
            };
            let result = match self.logs.get_mut(name.as_str()) {
                Some(entry) => entry.log.retain(&dir, &retention, now),
                // Not written by this process yet: its sealed segments only
                // (the one being written is never removed).
                None => Segments::survey(&dir, HISTORY_LOG)
                    .and_then(|(mut s, _)| s.retain(&dir, HISTORY_LOG, &retention, now, 0)),
            };
            match result {
                Ok(n) => removed += n,
                Err(e) => tracing::error!(bot = %name, error = %e, "history retention failed"),
            }
        }
        self.stats.removed.fetch_add(removed, Ordering::Relaxed);
        Ok(removed)
    }
}
