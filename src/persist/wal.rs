//! The state writer's write-ahead log: durable saves with one `fdatasync`
//! per batch instead of two `syncfs`.
//!
//! A state root in use by a registry has a log at `state/.kaizen/wal`,
//! under the folder's lock (one process appends to it). For a durable
//! batch, the [`StateWriter`](super::StateWriter) appends the new content of
//! every file under the root to the log, flushes the log once
//! (`fdatasync`), then writes and renames the files themselves without
//! flushing them, and only then acknowledges the batch: a reader in the
//! process sees the new files as soon as a save is acknowledged, and the
//! save survives a power cut through the log. Once the log has grown past
//! [`CHECKPOINT_BYTES`] (and at every explicit flush, e.g. at shutdown) the
//! writer checkpoints it: the files written since the last checkpoint are
//! flushed (one `syncfs`, off the per-batch path), then the log is cut back
//! to its header.
//!
//! Before anything reads a state folder, the process that takes its lock
//! replays the log ([`recover`], called by `StateLock::acquire`): the newest
//! logged content of each file is written again (atomically, as every state
//! file), the files are flushed and the log is emptied. Only whole batches
//! whose entries' CRC-32 match are replayed; a torn tail (a crash in the
//! middle of an append, which was never acknowledged) is ignored. A reader that does
//! not take the lock (`kaizen status`) sees the files as the last run left
//! them; [`pending`] says whether a log is waiting to be replayed.
//!
//! A file under a logged root must be written through the state writer only
//! (never also directly), or a replay after a crash could put back older
//! logged content over a newer direct write.
//!
//! Format (little-endian): a 16-byte header, `kaizen-wal` padded with
//! zeros to 12 bytes and the format version ([`WAL_VERSION`], `u32`); then
//! entries of `u64` batch number, `u32` path length, `u64` content length,
//! the path (UTF-8, relative to the state root), the content, and a CRC-32
//! of everything before it in the entry. Each batch ends with a commit
//! entry (an empty path, no content): a batch is replayed whole or, when
//! its commit entry is missing or any of its entries is damaged, not at
//! all. A log of a newer version is
//! refused and left untouched; a header that is not a log's is moved aside
//! as corrupt, with a warning.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};

use super::root::kaizen_dir;
use super::writer::make_durable;
use super::{Durability, PersistError, folder_of, io_err, no_follow, refuse_link, write_atomic};

/// The log's file name in `state/.kaizen/`.
pub const WAL_FILE: &str = "wal";

/// The format version this build writes and the newest it replays.
pub const WAL_VERSION: u32 = 1;

/// The log is checkpointed once it is longer than this.
pub const CHECKPOINT_BYTES: u64 = 64 << 20;

const MAGIC: &[u8; 12] = b"kaizen-wal\0\0";
const HEADER_LEN: u64 = 16;
/// Batch number, path length, content length.
const ENTRY_HEAD: usize = 8 + 4 + 8;

/// `root/.kaizen/wal`.
pub fn wal_path(root: &Path) -> PathBuf {
    kaizen_dir(root).join(WAL_FILE)
}

fn header() -> [u8; HEADER_LEN as usize] {
    let mut h = [0; HEADER_LEN as usize];
    h[..12].copy_from_slice(MAGIC);
    h[12..].copy_from_slice(&WAL_VERSION.to_le_bytes());
    h
}

/// What a log holds that was not checkpointed yet.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Logged {
    /// The newest logged content of each file, by its path relative to the
    /// state root.
    pub files: BTreeMap<PathBuf, Vec<u8>>,
    /// File entries of whole batches read (a file saved twice counts twice).
    pub entries: u64,
    /// Bytes at the end that are not part of a whole, CRC-valid batch (a
    /// torn append), ignored.
    pub torn_bytes: u64,
}

/// Why a log's bytes cannot be replayed.
enum Unreadable {
    /// Not a log's header: the file is moved aside.
    NotALog,
    /// Written by a newer kaizen: left untouched.
    Newer(u32),
}

fn parse(bytes: &[u8]) -> Result<Logged, Unreadable> {
    if bytes.len() < HEADER_LEN as usize || &bytes[..12] != MAGIC {
        return Err(Unreadable::NotALog);
    }
    let version = u32::from_le_bytes(bytes[12..16].try_into().unwrap_or_default());
    if version > WAL_VERSION {
        return Err(Unreadable::Newer(version));
    }
    if version == 0 {
        return Err(Unreadable::NotALog);
    }
    let mut logged = Logged::default();
    // The entries of the batch being read: replayed only once its commit
    // entry is read, so a batch is replayed whole or not at all.
    let mut batch = Vec::new();
    let (mut at, mut committed) = (HEADER_LEN as usize, HEADER_LEN as usize);
    while let Some((file, next)) = entry(bytes, at) {
        match file {
            Some(file) => batch.push(file),
            None => {
                logged.entries += batch.len() as u64;
                logged.files.extend(batch.drain(..));
                committed = next;
            }
        }
        at = next;
    }
    logged.torn_bytes = (bytes.len() - committed) as u64;
    Ok(logged)
}

/// One file's path and content.
type Entry = (PathBuf, Vec<u8>);

/// The whole, valid entry at `at` (a file, or `None` for a batch's commit
/// entry) and where the next begins.
fn entry(bytes: &[u8], at: usize) -> Option<(Option<Entry>, usize)> {
    let head = bytes.get(at..at.checked_add(ENTRY_HEAD)?)?;
    let path_len = u32::from_le_bytes(head[8..12].try_into().ok()?) as usize;
    let content_len = usize::try_from(u64::from_le_bytes(head[12..20].try_into().ok()?)).ok()?;
    let body = at + ENTRY_HEAD;
    let crc_at = body.checked_add(path_len)?.checked_add(content_len)?;
    let crc = bytes.get(crc_at..crc_at.checked_add(4)?)?;
    if crc32fast::hash(&bytes[at..crc_at]) != u32::from_le_bytes(crc.try_into().ok()?) {
        return None;
    }
    if path_len == 0 {
        return Some((None, crc_at + 4));
    }
    let path = PathBuf::from(std::str::from_utf8(&bytes[body..body + path_len]).ok()?);
    if !path.components().all(|c| matches!(c, Component::Normal(_))) {
        return None;
    }
    let content = bytes[body + path_len..crc_at].to_vec();
    Some((Some((path, content)), crc_at + 4))
}

/// Reads `root`'s log without changing anything: `None` when there is no
/// log or it holds nothing to replay.
pub fn pending(root: &Path) -> Result<Option<Logged>, PersistError> {
    let path = wal_path(root);
    refuse_link(&path)?;
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("read", &path)(e)),
    };
    match parse(&bytes) {
        Ok(l) if l.entries == 0 => Ok(None),
        Ok(l) => Ok(Some(l)),
        Err(Unreadable::Newer(found)) => Err(PersistError::NewerVersion {
            path,
            found: found.into(),
        }),
        Err(Unreadable::NotALog) => Ok(None),
    }
}

/// Replays `root`'s log, if any, into the state files, flushes them and
/// empties the log; returns what was replayed. Call with the folder's lock
/// held, before anything reads its state.
pub fn recover(root: &Path) -> Result<Logged, PersistError> {
    let path = wal_path(root);
    refuse_link(&path)?;
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Logged::default()),
        Err(e) => return Err(io_err("read", &path)(e)),
    };
    if bytes.is_empty() {
        // Created, and the process ended before its header was written.
        return Ok(Logged::default());
    }
    let logged = match parse(&bytes) {
        Ok(l) => l,
        Err(Unreadable::Newer(found)) => {
            return Err(PersistError::NewerVersion {
                path,
                found: found.into(),
            });
        }
        Err(Unreadable::NotALog) => {
            let aside = super::move_aside(&path)?;
            tracing::warn!(file = %path.display(), moved_to = %aside.display(),
                "not a write-ahead log; moved aside");
            return Ok(Logged::default());
        }
    };
    if logged.torn_bytes > 0 {
        tracing::warn!(file = %path.display(), bytes = logged.torn_bytes,
            "write-ahead log ends in a torn entry (a save that was never acknowledged); ignored");
    }
    let mut folders = BTreeSet::new();
    for (rel, content) in &logged.files {
        let file = root.join(rel);
        write_atomic(&file, content, Durability::Atomic)?;
        folders.insert(folder_of(&file).to_path_buf());
    }
    if !logged.files.is_empty() {
        make_durable(&folders)?;
        tracing::info!(
            files = logged.files.len(),
            entries = logged.entries,
            "write-ahead log replayed into the state files"
        );
    }
    if logged.entries > 0 || logged.torn_bytes > 0 {
        let mut file = open_log(&path)?;
        empty(&mut file, &path)?;
    }
    Ok(logged)
}

/// The log file opened for appending, never through a link and never as a
/// name of an inode shared with another (a `cp -al` snapshot keeps its
/// copy): such a name is replaced by a fresh file. A new file gets its
/// header, and its folder is flushed.
fn open_log(path: &Path) -> Result<File, PersistError> {
    super::unshare(path, Durability::Fsync)?;
    let file = no_follow(OpenOptions::new().read(true).append(true).create(true))
        .open(path)
        .map_err(io_err("open", path))?;
    let len = file.metadata().map_err(io_err("stat", path))?.len();
    if len == 0 {
        let mut file = file;
        empty(&mut file, path)?;
        super::sync_dir(folder_of(path))?;
        return Ok(file);
    }
    Ok(file)
}

/// Cuts the log back to its header (writing it when missing), flushed.
fn empty(file: &mut File, path: &Path) -> Result<(), PersistError> {
    file.set_len(0).map_err(io_err("empty", path))?;
    file.write_all(&header()).map_err(io_err("write", path))?;
    file.sync_data().map_err(io_err("fsync", path))
}

/// An open log, appended to by the state writer.
#[derive(Debug)]
pub struct Wal {
    root: PathBuf,
    path: PathBuf,
    file: File,
    len: u64,
    batch: u64,
    /// Files logged since the last checkpoint: a later save of one is
    /// logged too, even when not durable, so a replay never puts back
    /// content older than the file's newest.
    logged: HashSet<PathBuf>,
    /// Folders of files installed since the last checkpoint: what a
    /// checkpoint flushes.
    folders: BTreeSet<PathBuf>,
}

impl Wal {
    /// Replays `root`'s log ([`recover`]) and opens it for appending. Call
    /// with the folder's lock held.
    pub fn open(root: &Path) -> Result<Wal, PersistError> {
        recover(root)?;
        let path = wal_path(root);
        std::fs::create_dir_all(folder_of(&path)).map_err(io_err("create folder", &path))?;
        let file = open_log(&path)?;
        let len = file.metadata().map_err(io_err("stat", &path))?.len();
        Ok(Wal {
            root: root.to_path_buf(),
            path,
            file,
            len,
            batch: 0,
            logged: HashSet::new(),
            folders: BTreeSet::new(),
        })
    }

    /// The state root this log covers.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether a save of `path` goes through this log: it lies under the
    /// root and the save is durable, or the file was logged since the last
    /// checkpoint.
    pub fn takes(&self, path: &Path, durable: bool) -> bool {
        path.starts_with(&self.root) && (durable || self.logged.contains(path))
    }

    /// Appends one batch's files (their full new content); nothing reaches
    /// the disk until [`sync`](Self::sync). On failure the log is cut back
    /// to where it was, so a later append is never hidden behind a torn
    /// entry. Returns the bytes appended.
    pub fn append(&mut self, files: &[(&Path, &[u8])]) -> Result<u64, PersistError> {
        self.batch += 1;
        let mut buf = Vec::new();
        for (path, content) in files {
            let rel = path
                .strip_prefix(&self.root)
                .ok()
                .and_then(Path::to_str)
                .filter(|rel| !rel.is_empty())
                .ok_or_else(|| PersistError::Encode {
                    path: path.to_path_buf(),
                    reason: "not a UTF-8 path inside the state root".into(),
                })?;
            self.put(&mut buf, rel, content);
        }
        self.put(&mut buf, "", &[]);
        if let Err(e) = self.file.write_all(&buf) {
            let _ = self.file.set_len(self.len);
            return Err(io_err("append to", &self.path)(e));
        }
        self.len += buf.len() as u64;
        self.logged
            .extend(files.iter().map(|(path, _)| path.to_path_buf()));
        Ok(buf.len() as u64)
    }

    /// Adds one entry to `buf`: a file, or with an empty path the batch's
    /// commit entry.
    fn put(&self, buf: &mut Vec<u8>, rel: &str, content: &[u8]) {
        let start = buf.len();
        buf.extend_from_slice(&self.batch.to_le_bytes());
        buf.extend_from_slice(&(rel.len() as u32).to_le_bytes());
        buf.extend_from_slice(&(content.len() as u64).to_le_bytes());
        buf.extend_from_slice(rel.as_bytes());
        buf.extend_from_slice(content);
        let crc = crc32fast::hash(&buf[start..]);
        buf.extend_from_slice(&crc.to_le_bytes());
    }

    /// Makes everything appended so far durable: one `fdatasync`.
    pub fn sync(&mut self) -> Result<(), PersistError> {
        self.file.sync_data().map_err(io_err("fsync", &self.path))
    }

    /// Notes that `path` was written (renamed into place) from the log: a
    /// checkpoint flushes its folder.
    pub fn installed(&mut self, path: &Path) {
        self.folders.insert(folder_of(path).to_path_buf());
    }

    /// Whether the log has grown past [`CHECKPOINT_BYTES`].
    pub fn due(&self) -> bool {
        self.len > CHECKPOINT_BYTES
    }

    /// Flushes the files written since the last checkpoint (one `syncfs`),
    /// then empties the log. Returns whether there was anything to do.
    pub fn checkpoint(&mut self) -> Result<bool, PersistError> {
        if self.len <= HEADER_LEN && self.folders.is_empty() {
            return Ok(false);
        }
        make_durable(&self.folders)?;
        empty(&mut self.file, &self.path)?;
        self.len = HEADER_LEN;
        self.logged.clear();
        self.folders.clear();
        Ok(true)
    }
}

#[cfg(test)]
mod tests;
