//! A background thread that writes state files in batches (group commit).
//!
//! Engines encode their state to bytes and hand the files to a
//! [`StateWriter`]; the writer thread takes every job waiting in its queue at
//! once, keeps only the newest content of each path, writes each file
//! atomically (temp + rename, `.bak` kept, as [`write_atomic`]) and then, if
//! any job asked for [`Durability::Fsync`], makes the whole batch durable with
//! one `syncfs(2)` per file system (on Linux; elsewhere one fsync per file and
//! folder). A thousand engines saving at once thus cost one disk flush, not
//! six thousand.
//!
//! A job's acknowledgement is sent only after its files (or newer content for
//! the same paths) are written and, for `Fsync` jobs, flushed. Because the
//! rename happens before the flush, a power cut can leave a renamed file
//! whose content never reached the disk; the loader then finds it corrupt and
//! falls back to `.bak`, which is the previous good state.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, OnceLock};

use super::{Durability, PersistError, write_atomic};

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

/// The answer to a job: `Ok(())`, or the first failure, in words.
pub type Ack = tokio::sync::oneshot::Receiver<Result<(), String>>;

struct Job {
    files: Vec<PendingFile>,
    durability: Durability,
    ack: Option<tokio::sync::oneshot::Sender<Result<(), String>>>,
}

/// What the writer has done so far.
#[derive(Debug, Default)]
pub struct WriterStats {
    bytes: AtomicU64,
    files: AtomicU64,
    batches: AtomicU64,
    syncs: AtomicU64,
}

impl WriterStats {
    /// Bytes written to state files.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
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
    tx: Sender<Job>,
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
        let (tx, rx) = channel();
        let stats = Arc::new(WriterStats::default());
        let thread_stats = stats.clone();
        std::thread::Builder::new()
            .name("kaizen-state-writer".into())
            .spawn(move || run(rx, &thread_stats))
            .map(|_| ())
            .unwrap_or_else(
                |e| tracing::error!(error = %e, "cannot start the state writer thread"),
            );
        StateWriter { tx, stats }
    }

    /// The process-wide writer, started on first use.
    pub fn shared() -> Self {
        static SHARED: OnceLock<StateWriter> = OnceLock::new();
        SHARED.get_or_init(StateWriter::spawn).clone()
    }

    /// Queues `files`; the returned [`Ack`] answers once they are written
    /// (and flushed, for `Fsync`).
    pub fn submit(&self, files: Vec<PendingFile>, durability: Durability) -> Ack {
        let (ack, rx) = tokio::sync::oneshot::channel();
        let job = Job {
            files,
            durability,
            ack: Some(ack),
        };
        if let Err(failed) = self.tx.send(job)
            && let Some(ack) = failed.0.ack
        {
            let _ = ack.send(Err("the state writer thread is not running".into()));
        }
        rx
    }

    /// Queues `files` without waiting for them.
    pub fn submit_detached(&self, files: Vec<PendingFile>, durability: Durability) {
        let job = Job {
            files,
            durability,
            ack: None,
        };
        if self.tx.send(job).is_err() {
            tracing::error!("the state writer thread is not running; state was not saved");
        }
    }

    /// Answers once everything queued before this call is on disk.
    pub fn flush(&self) -> Ack {
        self.submit(Vec::new(), Durability::Fsync)
    }

    /// What this writer has done so far.
    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }
}

fn run(rx: Receiver<Job>, stats: &WriterStats) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        jobs.extend(rx.try_iter());
        write_batch(jobs, stats);
    }
}

fn write_batch(jobs: Vec<Job>, stats: &WriterStats) {
    stats.batches.fetch_add(1, Ordering::Relaxed);
    let sync = jobs.iter().any(|j| j.durability == Durability::Fsync);
    // Newest content per path; remember which jobs wait on each path.
    let mut newest: BTreeMap<PathBuf, Vec<u8>> = BTreeMap::new();
    let mut acks = Vec::new();
    for job in jobs {
        let paths: Vec<PathBuf> = job.files.iter().map(|f| f.path.clone()).collect();
        for f in job.files {
            newest.insert(f.path, f.bytes);
        }
        if let Some(ack) = job.ack {
            acks.push((ack, paths));
        }
    }
    let mut failed: BTreeMap<PathBuf, String> = BTreeMap::new();
    let mut written = Vec::with_capacity(newest.len());
    for (path, bytes) in &newest {
        match write_atomic(path, bytes, Durability::Atomic) {
            Ok(()) => {
                stats.bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                stats.files.fetch_add(1, Ordering::Relaxed);
                written.push(path.as_path());
            }
            Err(e) => {
                tracing::error!(error = %e, "state file not written");
                failed.insert(path.clone(), e.to_string());
            }
        }
    }
    let sync_error = if sync && !written.is_empty() {
        stats.syncs.fetch_add(1, Ordering::Relaxed);
        make_durable(&written).err().map(|e| e.to_string())
    } else {
        None
    };
    if let Some(e) = &sync_error {
        tracing::error!(error = %e, "state files written but not flushed to disk");
    }
    for (ack, paths) in acks {
        let result = match paths.iter().find_map(|p| failed.get(p)) {
            Some(e) => Err(e.clone()),
            None => match &sync_error {
                Some(e) if !paths.is_empty() => Err(e.clone()),
                _ => Ok(()),
            },
        };
        let _ = ack.send(result);
    }
}

/// Flushes the written files to disk: one `syncfs` per file system on Linux.
#[cfg(target_os = "linux")]
fn make_durable(written: &[&Path]) -> Result<(), PersistError> {
    use std::os::unix::fs::MetadataExt;
    let mut devices = BTreeSet::new();
    for path in written {
        let dir = folder(path);
        let io = |op: &'static str| {
            move |source: std::io::Error| PersistError::Io {
                op,
                path: dir.to_path_buf(),
                source,
            }
        };
        let meta = std::fs::metadata(dir).map_err(io("stat folder"))?;
        if devices.insert(meta.dev()) {
            let handle = std::fs::File::open(dir).map_err(io("open folder"))?;
            rustix::fs::syncfs(&handle).map_err(|e| io("syncfs")(e.into()))?;
        }
    }
    Ok(())
}

/// Flushes the written files to disk: each file and each folder once.
#[cfg(not(target_os = "linux"))]
fn make_durable(written: &[&Path]) -> Result<(), PersistError> {
    let mut dirs = BTreeSet::new();
    for path in written {
        let sync = |p: &Path, op: &'static str| {
            std::fs::File::open(p)
                .and_then(|f| f.sync_all())
                .map_err(|source| PersistError::Io {
                    op,
                    path: p.to_path_buf(),
                    source,
                })
        };
        sync(path, "fsync")?;
        if dirs.insert(folder(path).to_path_buf()) {
            sync(folder(path), "fsync folder")?;
        }
    }
    Ok(())
}

fn folder(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
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
        assert_eq!(w.stats().syncs(), 1);
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
        let err = bad.await.unwrap().unwrap_err();
        assert!(err.contains("blocker"), "{err}");
        assert_eq!(good.await.unwrap(), Ok(()));
    }
}
