//! A background thread that writes state files in batches (group commit).
//!
//! Engines encode their state to bytes and hand the files to a
//! [`StateWriter`]. What waits is kept per path: newer content for a path
//! replaces the older at once, so a writer that falls behind holds one
//! version of each file, never a growing queue. The writer thread takes
//! everything waiting at once, writes each file
//! atomically (as [`write_atomic`] does, `.bak` kept) and, if any job asked
//! for [`Durability::Fsync`], makes the batch durable with two `syncfs(2)`
//! per file system (on Linux; elsewhere an fsync per file and folder). A
//! thousand engines saving at once thus cost two disk flushes, not twelve
//! thousand.
//!
//! With any `Fsync` job in a batch, every file is first staged (written to
//! its scratch file), the staged data is flushed, then the files are
//! installed (renamed into place) and flushed again: a rename never reaches
//! the disk before the data it names, and files written by earlier batches
//! without a flush are flushed too. A job's acknowledgement is sent only after
//! its files (or newer content for the same paths) are installed and, for
//! `Fsync` jobs, flushed.
//!
//! **With a write-ahead log** ([`super::wal`]): once a registry holds a
//! state root, [`StateWriter::attach_log`] gives the writer the root's log.
//! The files of a durable batch under that root are then appended to the
//! log and made durable by one `fdatasync` of it; they are staged and
//! installed without any flush, and the log is checkpointed (one `syncfs`
//! of the folders written since, then emptied) when it has grown past
//! [`super::wal::CHECKPOINT_BYTES`] and at every [`StateWriter::flush`].
//! Files outside a logged root (an engine run without a registry's state
//! root, a test's folder) keep the two `syncfs` above.
//!
//! Why a log and not a flush of kaizen's own files: measured on this
//! project's 2-core ext4/virtio host under load (others compiling, load
//! average 14–22), `kaizen bench --engines 1000 --ticks 5 --persistence
//! per-cycle`, A/B alternating, three runs each, durable cycles/s:
//!
//! | flush per durable batch | runs | median |
//! |---|---|---|
//! | two `syncfs` (this writer without a log) | 2,792 · 1,646 · 1,216 | 1,646 |
//! | `fdatasync` per staged file, `fsync` per touched folder and its parent, 64 at once | 693 · 800 · 693 | 693 |
//! | the same, folders one after another (an earlier pair of runs: `syncfs` 2,217 · 1,782 · 1,290) | 184 · 288 · 370 | 288 |
//!
//! Each flush of a file or folder is a device flush (and a journal commit
//! for a folder); one `syncfs` is one of each for the whole batch, but it
//! also waits for every other process's dirty data on the file system. The
//! log's one `fdatasync` per batch waits for kaizen's own bytes only (the
//! README's *Durable saves* has the figures of the two, side by side).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use super::wal::Wal;
use super::{Durability, PersistError, folder_of, install_staged, stage, write_atomic};

/// One file to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingFile {
    /// Where it goes.
    pub path: PathBuf,
    /// Its full new content.
    pub bytes: Vec<u8>,
}

impl PendingFile {
    /// `value` encoded as this module's versioned JSON, to be written at `path`.
    pub fn json<T: serde::Serialize + ?Sized>(
        path: PathBuf,
        value: &T,
    ) -> Result<Self, PersistError> {
        let bytes = super::encode_json(&path, value)?;
        Ok(PendingFile { path, bytes })
    }
}

/// Writes each file atomically, now, on this thread; returns the bytes written.
pub fn write_all(files: &[PendingFile], durability: Durability) -> Result<u64, PersistError> {
    let mut total = 0;
    for f in files {
        write_atomic(&f.path, &f.bytes, durability)?;
        total += f.bytes.len() as u64;
    }
    Ok(total)
}

/// The writer's answer to a job: `Ok(())`, or the first failure (shared:
/// one failed flush answers every job of its batch).
pub type Answer = Result<(), Arc<PersistError>>;

/// Where the writer's [`Answer`] to a job arrives. A closed channel means the
/// writer thread ended without answering.
pub type Ack = tokio::sync::oneshot::Receiver<Answer>;

type AckSender = tokio::sync::oneshot::Sender<Answer>;

/// What waits for the writer thread: the newest content of each path (a
/// newer save of a path replaces the older one at once, so a writer that
/// falls behind holds one version per file, not a growing queue), and who
/// waits for which paths.
#[derive(Default)]
struct Pending {
    newest: HashMap<PathBuf, Vec<u8>>,
    acks: Vec<(AckSender, Vec<PathBuf>)>,
    sync: bool,
    /// An explicit [`StateWriter::flush`]: checkpoint every log too.
    checkpoint: bool,
    /// Logs to take on or give up, in the order asked.
    logs: Vec<LogChange>,
    closed: bool,
}

impl Pending {
    fn idle(&self) -> bool {
        self.newest.is_empty() && self.acks.is_empty() && self.logs.is_empty()
    }
}

enum LogChange {
    Attach(Wal),
    /// Checkpoint and close the root's log, then answer.
    Detach(PathBuf, std::sync::mpsc::Sender<()>),
}

/// A root's write-ahead log attached to a writer ([`StateWriter::attach_log`]);
/// dropping it detaches the log: the drop waits until the writer has
/// checkpointed and closed it, so the root's lock, released after, is never
/// free while this process may still write the log.
#[derive(Debug)]
pub struct AttachedLog {
    writer: StateWriter,
    root: PathBuf,
}

impl Drop for AttachedLog {
    fn drop(&mut self) {
        let (done, closed) = std::sync::mpsc::channel();
        let mut pending = self.writer.queue.lock();
        if pending.closed {
            return;
        }
        pending
            .logs
            .push(LogChange::Detach(self.root.clone(), done));
        drop(pending);
        self.writer.queue.ready.notify_one();
        // An error: the writer thread ended, and the log with it.
        let _ = closed.recv();
    }
}

#[derive(Default)]
struct Queue {
    pending: Mutex<Pending>,
    ready: Condvar,
}

impl Queue {
    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Closes the queue when the last handle goes; the thread then writes what
/// is pending and ends.
struct Closer(Arc<Queue>);

impl Drop for Closer {
    fn drop(&mut self) {
        self.0.lock().closed = true;
        self.0.ready.notify_one();
    }
}

/// What the writer has done so far.
#[derive(Debug, Default)]
pub struct WriterStats {
    submitted: AtomicU64,
    bytes: AtomicU64,
    logged: AtomicU64,
    files: AtomicU64,
    batches: AtomicU64,
    syncs: AtomicU64,
}

impl WriterStats {
    /// State files handed to the writer. A newer save of a file still
    /// waiting replaces the older one, so more files may be handed over than
    /// are written.
    pub fn submitted(&self) -> u64 {
        self.submitted.load(Ordering::Relaxed)
    }
    /// Bytes written to state files.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
    /// Bytes appended to write-ahead logs (the files' content again, with
    /// each entry's path, lengths and checksum).
    pub fn logged_bytes(&self) -> u64 {
        self.logged.load(Ordering::Relaxed)
    }
    /// State files written.
    pub fn files(&self) -> u64 {
        self.files.load(Ordering::Relaxed)
    }
    /// Batches (queue drains) processed.
    pub fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }
    /// Disk flushes done.
    pub fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }
}

/// A handle to a writer thread. Clones share the thread; it ends when the
/// last handle is dropped, after finishing its queue.
#[derive(Clone)]
pub struct StateWriter {
    queue: Arc<Queue>,
    _closer: Arc<Closer>,
    stats: Arc<WriterStats>,
}

impl std::fmt::Debug for StateWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateWriter")
            .field("stats", &self.stats)
            .finish()
    }
}

impl StateWriter {
    /// Starts a writer thread.
    pub fn spawn() -> Self {
        let queue = Arc::new(Queue::default());
        let stats = Arc::new(WriterStats::default());
        let (thread_queue, thread_stats) = (queue.clone(), stats.clone());
        let started = std::thread::Builder::new()
            .name("kaizen-state-writer".into())
            .spawn(move || run(&thread_queue, &thread_stats));
        if let Err(e) = started {
            tracing::error!(error = %e, "cannot start the state writer thread");
            queue.lock().closed = true;
        }
        StateWriter {
            _closer: Arc::new(Closer(queue.clone())),
            queue,
            stats,
        }
    }

    /// The process-wide writer, started on first use.
    pub fn shared() -> Self {
        static SHARED: OnceLock<StateWriter> = OnceLock::new();
        SHARED.get_or_init(StateWriter::spawn).clone()
    }

    /// Replays the write-ahead log of the state root `root` (see
    /// [`super::wal`]) and makes this writer log the durable saves of every
    /// file under `root` in it, until the returned guard is dropped. Call
    /// with the root's lock held, before anything reads its state.
    pub fn attach_log(&self, root: &Path) -> Result<AttachedLog, PersistError> {
        let wal = Wal::open(root)?;
        let mut pending = self.queue.lock();
        if pending.closed {
            return Err(PersistError::WriterStopped);
        }
        pending.logs.push(LogChange::Attach(wal));
        drop(pending);
        self.queue.ready.notify_one();
        Ok(AttachedLog {
            writer: self.clone(),
            root: root.to_path_buf(),
        })
    }

    fn enqueue(&self, files: Vec<PendingFile>, durability: Durability, ack: Option<AckSender>) {
        let mut pending = self.queue.lock();
        if pending.closed {
            drop(pending);
            match ack {
                Some(ack) => {
                    let _ = ack.send(Err(Arc::new(PersistError::WriterStopped)));
                }
                None => {
                    tracing::error!("the state writer thread is not running; state was not saved")
                }
            }
            return;
        }
        let paths: Vec<PathBuf> = files.iter().map(|f| f.path.clone()).collect();
        self.stats
            .submitted
            .fetch_add(files.len() as u64, Ordering::Relaxed);
        for f in files {
            pending.newest.insert(f.path, f.bytes);
        }
        if let Some(ack) = ack {
            pending.acks.push((ack, paths));
        }
        pending.sync |= durability == Durability::Fsync;
        drop(pending);
        self.queue.ready.notify_one();
    }

    /// Queues `files`; the returned [`Ack`] answers once they (or newer
    /// content for the same paths) are written, and flushed for `Fsync`.
    pub fn submit(&self, files: Vec<PendingFile>, durability: Durability) -> Ack {
        let (ack, rx) = tokio::sync::oneshot::channel();
        self.enqueue(files, durability, Some(ack));
        rx
    }

    /// Queues `files` without waiting for them.
    pub fn submit_detached(&self, files: Vec<PendingFile>, durability: Durability) {
        self.enqueue(files, durability, None);
    }

    /// Answers once everything queued before this call is on disk, with
    /// every attached log checkpointed (emptied).
    pub fn flush(&self) -> Ack {
        self.queue.lock().checkpoint = true;
        self.submit(Vec::new(), Durability::Fsync)
    }

    /// What this writer has done so far.
    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }
}

fn run(queue: &Queue, stats: &WriterStats) {
    // Folders written since the last flush to disk, by batches that did not
    // ask for one: the next batch that asks flushes them too.
    let mut unsynced = BTreeSet::new();
    let mut logs = Vec::new();
    loop {
        let mut pending = queue.lock();
        while pending.idle() && !pending.closed {
            pending = queue.ready.wait(pending).unwrap_or_else(|p| p.into_inner());
        }
        let closed = pending.closed;
        let batch = std::mem::take(&mut *pending);
        pending.closed = closed;
        drop(pending);
        if batch.idle() {
            return; // closed, and nothing left to write
        }
        write_batch(batch, stats, &mut unsynced, &mut logs);
    }
}

fn write_batch(
    batch: Pending,
    stats: &WriterStats,
    unsynced: &mut BTreeSet<PathBuf>,
    logs: &mut Vec<Wal>,
) {
    stats.batches.fetch_add(1, Ordering::Relaxed);
    let Pending {
        newest,
        acks,
        sync,
        checkpoint,
        logs: changes,
        ..
    } = batch;
    for change in changes {
        match change {
            LogChange::Attach(wal) => {
                logs.retain(|l| l.root() != wal.root());
                logs.push(wal);
            }
            LogChange::Detach(root, done) => {
                if let Some(i) = logs.iter().position(|l| l.root() == root) {
                    let mut wal = logs.swap_remove(i);
                    let _ = checkpoint_log(&mut wal, stats);
                }
                let _ = done.send(());
            }
        }
    }
    let mut failed: BTreeMap<PathBuf, Arc<PersistError>> = BTreeMap::new();
    let fail = |failed: &mut BTreeMap<_, _>, path: &Path, e: Arc<PersistError>| {
        tracing::error!(error = %e, "state file not written");
        failed.insert(path.to_path_buf(), e);
    };
    // In path order, so each folder's files are written one after another:
    // measured on ext4, per-cycle saves ~10% faster than in hash order (large
    // write-behind batches ~5% slower; per-cycle is the default). Sorted
    // here, on the writer thread, not by the engines as they hand files over.
    let mut newest: Vec<(PathBuf, Vec<u8>)> = newest.into_iter().collect();
    newest.sort_unstable_by(|a, b| a.0.as_os_str().cmp(b.0.as_os_str()));
    // The log each file goes through, if any: appended and flushed first.
    let owner: Vec<Option<usize>> = newest
        .iter()
        .map(|(path, _)| logs.iter().position(|l| l.takes(path, sync)))
        .collect();
    for (i, wal) in logs.iter_mut().enumerate() {
        let files: Vec<(&Path, &[u8])> = newest
            .iter()
            .zip(&owner)
            .filter(|(_, o)| **o == Some(i))
            .map(|((path, bytes), _)| (path.as_path(), bytes.as_slice()))
            .collect();
        if files.is_empty() {
            continue;
        }
        let logged = wal.append(&files).and_then(|appended| {
            stats.logged.fetch_add(appended, Ordering::Relaxed);
            if !sync {
                return Ok(());
            }
            stats.syncs.fetch_add(1, Ordering::Relaxed);
            wal.sync()
        });
        if let Err(e) = logged {
            let e = Arc::new(e);
            for (path, _) in files {
                fail(&mut failed, path, e.clone());
            }
        }
    }
    // Stage every file, flush the staged content of those no log holds, and
    // only then install: a rename must never reach the disk before the data
    // it names (a logged file's data is in the log).
    let mut staged = Vec::with_capacity(newest.len());
    for ((path, bytes), owner) in newest.iter().zip(&owner) {
        if failed.contains_key(path) {
            continue;
        }
        match stage(path, bytes, false) {
            Ok(()) => staged.push((path.as_path(), bytes.len(), *owner)),
            Err(e) => fail(&mut failed, path, Arc::new(e)),
        }
    }
    let mut sync_error = None;
    let mut flush = |folders: &BTreeSet<PathBuf>| {
        if sync && !folders.is_empty() && sync_error.is_none() {
            stats.syncs.fetch_add(1, Ordering::Relaxed);
            sync_error = make_durable(folders).err().map(Arc::new);
        }
    };
    flush(
        &staged
            .iter()
            .filter(|s| s.2.is_none())
            .map(|s| folder_of(s.0).to_path_buf())
            .collect(),
    );
    for (path, len, owner) in staged {
        match install_staged(path) {
            Ok(()) => {
                stats.bytes.fetch_add(len as u64, Ordering::Relaxed);
                stats.files.fetch_add(1, Ordering::Relaxed);
                match owner {
                    Some(i) => logs[i].installed(path),
                    None => {
                        unsynced.insert(folder_of(path).to_path_buf());
                    }
                }
            }
            Err(e) => fail(&mut failed, path, Arc::new(e)),
        }
    }
    if sync {
        flush(unsynced);
        if sync_error.is_none() {
            unsynced.clear();
        }
    }
    for wal in logs.iter_mut().filter(|l| checkpoint || l.due()) {
        if let Err(e) = checkpoint_log(wal, stats)
            && checkpoint
        {
            sync_error.get_or_insert(e);
        }
    }
    if let Some(e) = &sync_error {
        tracing::error!(error = %e, "state files written but not flushed to disk");
    }
    for (ack, paths) in acks {
        let result = match paths.iter().find_map(|p| failed.get(p)) {
            Some(e) => Err(e.clone()),
            None => match &sync_error {
                Some(e) => Err(e.clone()),
                None => Ok(()),
            },
        };
        let _ = ack.send(result);
    }
}

/// Checkpoints `wal` ([`Wal::checkpoint`]); a failure is logged (the log
/// keeps its entries, so nothing is lost) and returned.
fn checkpoint_log(wal: &mut Wal, stats: &WriterStats) -> Result<(), Arc<PersistError>> {
    match wal.checkpoint() {
        Ok(done) => {
            if done {
                stats.syncs.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        }
        Err(e) => {
            tracing::error!(error = %e, log = %wal.path().display(), "write-ahead log not checkpointed; it keeps its entries");
            Err(Arc::new(e))
        }
    }
}

/// Flushes what was written in `folders` to disk: one `syncfs` per file
/// system on Linux.
#[cfg(target_os = "linux")]
pub(crate) fn make_durable(folders: &BTreeSet<PathBuf>) -> Result<(), PersistError> {
    use std::os::unix::fs::MetadataExt;
    let mut devices = BTreeSet::new();
    for dir in folders {
        let io = |op: &'static str| {
            move |source: std::io::Error| PersistError::Io {
                op,
                path: dir.clone(),
                source,
            }
        };
        let meta = match std::fs::metadata(dir) {
            Ok(m) => m,
            // A folder removed since (an engine's state deleted): nothing to flush.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io("stat folder")(e)),
        };
        if devices.insert(meta.dev()) {
            let handle = std::fs::File::open(dir).map_err(io("open folder"))?;
            rustix::fs::syncfs(&handle).map_err(|e| io("syncfs")(e.into()))?;
        }
    }
    Ok(())
}

/// Flushes what was written in `folders` to disk: every file in them and the
/// folders themselves.
#[cfg(not(target_os = "linux"))]
pub(crate) fn make_durable(folders: &BTreeSet<PathBuf>) -> Result<(), PersistError> {
    let sync = |p: &Path, op: &'static str| {
        std::fs::File::open(p)
            .and_then(|f| f.sync_all())
            .map_err(|source| PersistError::Io {
                op,
                path: p.to_path_buf(),
                source,
            })
    };
    for dir in folders {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            // A folder removed since (an engine's state deleted): nothing to flush.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(PersistError::Io {
                    op: "list folder",
                    path: dir.clone(),
                    source,
                });
            }
        };
        for entry in entries.flatten() {
            if entry.path().is_file() {
                sync(&entry.path(), "fsync")?;
            }
        }
        sync(dir, "fsync folder")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &Path, text: &str) -> PendingFile {
        PendingFile {
            path: path.to_path_buf(),
            bytes: text.as_bytes().to_vec(),
        }
    }

    #[tokio::test]
    async fn writes_files_and_acknowledges() {
        let dir = tempfile::tempdir().unwrap();
        let w = StateWriter::spawn();
        let a = dir.path().join("a").join("x.json");
        let ack = w.submit(vec![file(&a, "one")], Durability::Fsync);
        assert_eq!(ack.await.unwrap(), Ok(()));
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "one");
        assert_eq!(w.stats().bytes(), 3);
        // Once for the staged data, once for the renames.
        assert_eq!(w.stats().syncs(), 2);
    }

    #[tokio::test]
    async fn newest_content_wins_within_a_batch() {
        let dir = tempfile::tempdir().unwrap();
        let w = StateWriter::spawn();
        let a = dir.path().join("x.json");
        for i in 0..50 {
            w.submit_detached(vec![file(&a, &format!("v{i}"))], Durability::Atomic);
        }
        assert_eq!(w.flush().await.unwrap(), Ok(()));
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "v49");
        assert!(w.stats().files() <= 50);
    }

    #[tokio::test]
    async fn a_flush_makes_earlier_unflushed_writes_durable() {
        let dir = tempfile::tempdir().unwrap();
        let w = StateWriter::spawn();
        let a = dir.path().join("x.json");
        let ack = w.submit(vec![file(&a, "v")], Durability::Atomic);
        assert_eq!(ack.await.unwrap(), Ok(()));
        assert_eq!(w.stats().syncs(), 0);
        assert_eq!(w.flush().await.unwrap(), Ok(()));
        assert_eq!(w.stats().syncs(), 1);
        // Nothing new since: a second flush has nothing to do.
        assert_eq!(w.flush().await.unwrap(), Ok(()));
        assert_eq!(w.stats().syncs(), 1);
    }

    #[tokio::test]
    async fn a_folder_removed_since_does_not_fail_the_next_flush() {
        let gone = tempfile::tempdir().unwrap();
        let kept = tempfile::tempdir().unwrap();
        let w = StateWriter::spawn();
        let ack = w.submit(
            vec![file(&gone.path().join("x.json"), "v")],
            Durability::Atomic,
        );
        assert_eq!(ack.await.unwrap(), Ok(()));
        drop(gone);
        let ack = w.submit(
            vec![file(&kept.path().join("y.json"), "v")],
            Durability::Fsync,
        );
        assert_eq!(ack.await.unwrap(), Ok(()));
    }

    #[tokio::test]
    async fn failure_is_reported_to_the_job_that_wrote_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("blocker");
        std::fs::write(&blocker, "a file, not a folder").unwrap();
        let w = StateWriter::spawn();
        let bad = w.submit(vec![file(&blocker.join("x.json"), "v")], Durability::Atomic);
        let good = w.submit(
            vec![file(&dir.path().join("y.json"), "v")],
            Durability::Atomic,
        );
        let err = bad.await.unwrap().unwrap_err().to_string();
        assert!(err.contains("blocker"), "{err}");
        assert_eq!(good.await.unwrap(), Ok(()));
    }
}
