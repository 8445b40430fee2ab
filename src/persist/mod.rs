//! One safe way to read and write every state file.
//!
//! **Writing** ([`save_json`], [`write_atomic`]): the new content goes to
//! the scratch file `<name>.tmp` in the same folder and is flushed to disk;
//! then it becomes `<name>` in one atomic rename (on Linux an exchange), the
//! previous content becomes `<name>.bak`, and the folder is flushed. A crash
//! at any moment leaves the old or the new content at `<name>` (or, between
//! the renames on other systems, only the backup, which a reader then uses):
//! never a mix. The scratch file stays for the next write and is never read. JSON files carry `"version": 1` as their
//! first field, and a value holding NaN or an infinity is refused before
//! anything touches the disk ([`PersistError::NonFinite`]).
//!
//! Many files at once: [`StateWriter`] writes batches on a thread of its own
//! and makes each batch durable with one flush.
//!
//! **Reading** ([`load_json`], [`load_with`]):
//! - a missing file is `None` (the caller uses its defaults), unless a
//!   `<name>.bak` is there, which is then used;
//! - a file written by a newer version is refused with
//!   [`PersistError::NewerVersion`] and left exactly as it is;
//! - a corrupt file (truncated, not JSON, wrong shape, no version) is moved
//!   aside as `<name>.corrupt-<unix-seconds>` with a `warn!` that names both
//!   paths, and the `.bak` copy is tried the same way; when neither is good the
//!   result is `None`.

mod finite;
pub mod writer;

pub use finite::{NonFiniteAt, check as check_finite};
pub use writer::{Ack, Answer, PendingFile, StateWriter, write_all};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The version this build writes into every state file, and the newest it reads.
pub const FORMAT_VERSION: u64 = 1;

/// How hard a write tries to reach the disk before it returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// fsync the file and its folder: the write survives a power cut.
    #[default]
    Fsync,
    /// Rename only: survives a crash of the process, not of the machine.
    /// For tests and throw-away runs.
    Atomic,
}

/// A state file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PersistError {
    /// The operating system refused an operation on a path.
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        /// What was being done: `read`, `write`, `rename`, ….
        op: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// The file was written by a newer kaizen; it is left untouched.
    #[error(
        "{} was written by a newer kaizen (format version {found}; this build reads up to {FORMAT_VERSION}); it was left untouched",
        path.display()
    )]
    NewerVersion {
        /// The file.
        path: PathBuf,
        /// The version it declares.
        found: u64,
    },
    /// The value to write holds NaN or an infinity; nothing was written.
    #[error("refusing to write {}: {at}", path.display())]
    NonFinite {
        /// The file that was not written.
        path: PathBuf,
        /// Where the non-finite number is.
        at: NonFiniteAt,
    },
    /// The value could not be encoded.
    #[error("cannot encode {}: {reason}", path.display())]
    Encode {
        /// The file that was not written.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The state writer's thread is not running (it could not be started, or
    /// has ended), so nothing handed to it is written.
    #[error("the state writer thread is not running")]
    WriterStopped,
}

/// Two errors are equal when they are the same failure on the same path
/// (for an OS error: the same operation and the same kind of error), so a
/// writer's answers can be compared in tests and by hosts.
impl PartialEq for PersistError {
    fn eq(&self, other: &Self) -> bool {
        use PersistError as P;
        match (self, other) {
            (
                P::Io { op, path, source },
                P::Io {
                    op: op2,
                    path: path2,
                    source: source2,
                },
            ) => op == op2 && path == path2 && source.kind() == source2.kind(),
            (
                P::NewerVersion { path, found },
                P::NewerVersion {
                    path: p2,
                    found: f2,
                },
            ) => path == p2 && found == f2,
            (P::NonFinite { path, at }, P::NonFinite { path: p2, at: a2 }) => {
                path == p2 && at == a2
            }
            (
                P::Encode { path, reason },
                P::Encode {
                    path: p2,
                    reason: r2,
                },
            ) => path == p2 && reason == r2,
            (P::WriterStopped, P::WriterStopped) => true,
            _ => false,
        }
    }
}

/// Why a file's bytes were not accepted by a decoder given to [`load_with`].
#[derive(Debug, Clone, PartialEq)]
pub enum Decode {
    /// The bytes are damaged or of the wrong shape; the file is moved aside.
    Corrupt(String),
    /// The bytes declare a newer format version; the file is left untouched.
    Newer(u64),
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> PersistError + 'a {
    move |source| PersistError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// `<name><suffix>` beside `path`.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// The backup copy kept beside `path`: `<name>.bak`.
pub fn backup_path(path: &Path) -> PathBuf {
    sibling(path, ".bak")
}

/// Writes `bytes` to `path` atomically, keeping the previous content as `<name>.bak`.
pub fn write_atomic(path: &Path, bytes: &[u8], durability: Durability) -> Result<(), PersistError> {
    let fsync = durability == Durability::Fsync;
    stage(path, bytes, fsync)?;
    install_staged(path)?;
    if fsync {
        sync_dir(folder_of(path))?;
    }
    Ok(())
}

/// The folder a state file lives in (`.` for a bare name).
pub(crate) fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The first half of [`write_atomic`]: writes `bytes` to `path`'s scratch
/// file, and flushes it when `fsync`. Nothing a reader sees has changed yet.
///
/// The scratch file may hold an older state (it is a former backup), so a
/// staged file must reach the disk before it is installed: otherwise, after
/// a power cut, `path` could name that older content, whole and valid. A
/// caller installing many files flushes them all at once between the halves.
pub fn stage(path: &Path, bytes: &[u8], fsync: bool) -> Result<(), PersistError> {
    let dir = folder_of(path);
    let tmp = sibling(path, ".tmp");
    let mut file = match open_scratch(&tmp) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(dir).map_err(io_err("create folder", dir))?;
            open_scratch(&tmp)
        }
        opened => opened,
    }
    .map_err(io_err("open", &tmp))?;
    file.write_all(bytes).map_err(io_err("write", &tmp))?;
    file.set_len(bytes.len() as u64)
        .map_err(io_err("write", &tmp))?;
    if fsync {
        file.sync_all().map_err(io_err("fsync", &tmp))?;
    }
    Ok(())
}

/// The second half of [`write_atomic`]: the staged content becomes `path`,
/// the current content its backup.
pub fn install_staged(path: &Path) -> Result<(), PersistError> {
    install(&sibling(path, ".tmp"), path, &backup_path(path))
}

/// The scratch file `<name>.tmp`, opened for rewriting from its start. It is
/// kept between writes so a write reuses its inode and blocks instead of
/// creating and deleting a file each time (on ext4 with many engines, inode
/// allocation next to recently deleted inodes was the writer's main cost).
fn open_scratch(tmp: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(tmp)
}

/// Puts the content written to `tmp` at `path`, the old content at `bak`, and
/// the old backup's file at `tmp` (as the next write's scratch).
///
/// On Linux two `RENAME_EXCHANGE` swaps do it: `path` gets the new content in
/// one atomic step; until the second swap the backup is one write older, which
/// a reader can use just the same. Elsewhere (or on a file system without
/// exchange) `path` is renamed to `bak` and `tmp` to `path`; between the two
/// `path` is missing and a reader takes the backup, that same content.
/// Without a current file (first write, or it was moved aside as corrupt) the
/// backup is the last good copy and stays.
fn install(tmp: &Path, path: &Path, bak: &Path) -> Result<(), PersistError> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        use rustix::io::Errno;
        let swap = |a: &Path, b: &Path| renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE);
        match swap(tmp, path) {
            Ok(()) => {
                return match swap(tmp, bak) {
                    Ok(()) => Ok(()),
                    Err(Errno::NOENT) => {
                        fs::rename(tmp, bak).map_err(io_err("keep as backup", bak))
                    }
                    Err(e) => Err(io_err("keep as backup", bak)(e.into())),
                };
            }
            Err(Errno::NOENT) => {
                return fs::rename(tmp, path).map_err(io_err("rename into place", path));
            }
            Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => {} // no exchange here
            Err(e) => return Err(io_err("rename into place", path)(e.into())),
        }
    }
    match fs::rename(path, bak) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err("keep as backup", path)(e)),
    }
    fs::rename(tmp, path).map_err(io_err("rename into place", path))
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), PersistError> {
    let handle = OpenOptions::new()
        .read(true)
        .open(dir)
        .map_err(io_err("open folder", dir))?;
    handle.sync_all().map_err(io_err("fsync folder", dir))
}

#[derive(Serialize)]
struct Versioned<'a, T: ?Sized> {
    version: u64,
    #[serde(flatten)]
    state: &'a T,
}

/// Encodes `value` as the JSON this module writes: `{"version":1, …fields}`.
pub fn encode_json<T: Serialize + ?Sized>(path: &Path, value: &T) -> Result<Vec<u8>, PersistError> {
    check_finite(value).map_err(|at| PersistError::NonFinite {
        path: path.to_path_buf(),
        at,
    })?;
    let mut bytes = serde_json::to_vec(&Versioned {
        version: FORMAT_VERSION,
        state: value,
    })
    .map_err(|e| PersistError::Encode {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    // The buffer grew by doubling; a file may wait in the writer's queue, so
    // it holds only its bytes.
    bytes.shrink_to_fit();
    Ok(bytes)
}

/// Writes `value` to `path` as versioned JSON, atomically. Returns the bytes written.
pub fn save_json<T: Serialize + ?Sized>(
    path: &Path,
    value: &T,
    durability: Durability,
) -> Result<u64, PersistError> {
    write_all(&[PendingFile::json(path.to_path_buf(), value)?], durability)
}

/// Checks the `"version"` field of JSON `bytes`, then decodes them as `T`.
pub fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Decode> {
    #[derive(Deserialize)]
    struct Probe {
        version: Option<u64>,
    }
    let probe: Probe = serde_json::from_slice(bytes).map_err(|e| Decode::Corrupt(e.to_string()))?;
    match probe.version {
        None => return Err(Decode::Corrupt("no \"version\" field".into())),
        Some(v) if v > FORMAT_VERSION => return Err(Decode::Newer(v)),
        Some(v) if v < 1 => return Err(Decode::Corrupt(format!("unknown version {v}"))),
        Some(_) => {}
    }
    serde_json::from_slice(bytes).map_err(|e| Decode::Corrupt(e.to_string()))
}

/// Reads versioned JSON from `path` with the recovery rules in the module docs.
pub fn load_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, PersistError> {
    load_with(path, decode_json)
}

/// Reads `path` with `decode`, applying the recovery rules in the module docs.
pub fn load_with<T>(
    path: &Path,
    decode: impl Fn(&[u8]) -> Result<T, Decode>,
) -> Result<Option<T>, PersistError> {
    if let Some(value) = read_one(path, &decode)? {
        return Ok(Some(value));
    }
    let bak = backup_path(path);
    let value = read_one(&bak, &decode)?;
    if value.is_some() {
        tracing::warn!(
            file = %path.display(),
            backup = %bak.display(),
            "state file missing or unusable; using its backup copy"
        );
    }
    Ok(value)
}

/// One file: `Some` when good, `None` when missing or moved aside as corrupt.
fn read_one<T>(
    path: &Path,
    decode: &impl Fn(&[u8]) -> Result<T, Decode>,
) -> Result<Option<T>, PersistError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("read", path)(e)),
    };
    match decode(&bytes) {
        Ok(v) => Ok(Some(v)),
        Err(Decode::Newer(found)) => Err(PersistError::NewerVersion {
            path: path.to_path_buf(),
            found,
        }),
        Err(Decode::Corrupt(reason)) => {
            let aside = move_aside(path)?;
            tracing::warn!(
                file = %path.display(),
                moved_to = %aside.display(),
                %reason,
                "corrupt state file moved aside"
            );
            Ok(None)
        }
    }
}

/// What a read-only look at a state file found.
#[derive(Debug, Clone, PartialEq)]
pub enum Inspected<T> {
    /// Neither the file nor its backup exists.
    Missing,
    /// The content (from the backup when `from_backup`).
    Good {
        /// The decoded content.
        value: T,
        /// Whether the file itself was unusable and this is its `.bak`.
        from_backup: bool,
    },
    /// The file is unusable and there is no good backup: why.
    Corrupt(String),
    /// The file was written by a newer kaizen.
    Newer(u64),
}

/// Reads versioned JSON at `path` (or its backup) without changing anything:
/// nothing is moved aside, so tools that only look (`kaizen status`) leave the
/// folder as it was.
pub fn inspect_json<T: DeserializeOwned>(path: &Path) -> Inspected<T> {
    inspect_with(path, decode_json)
}

/// [`inspect_json`] with a decoder of your own.
pub fn inspect_with<T>(path: &Path, decode: impl Fn(&[u8]) -> Result<T, Decode>) -> Inspected<T> {
    let look = |p: &Path| match fs::read(p) {
        Ok(bytes) => Some(decode(&bytes).map_err(|d| match d {
            Decode::Corrupt(why) => Inspected::Corrupt(why),
            Decode::Newer(v) => Inspected::Newer(v),
        })),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => Some(Err(Inspected::Corrupt(format!("cannot read: {e}")))),
    };
    match look(path) {
        Some(Ok(value)) => Inspected::Good {
            value,
            from_backup: false,
        },
        Some(Err(Inspected::Newer(v))) => Inspected::Newer(v),
        main => match look(&backup_path(path)) {
            Some(Ok(value)) => Inspected::Good {
                value,
                from_backup: true,
            },
            backup => match main.or(backup) {
                Some(Err(problem)) => problem,
                _ => Inspected::Missing,
            },
        },
    }
}

/// Renames a corrupt file to `<name>.corrupt-<unix-seconds>` (with `-N` added
/// if that name is taken) and returns the new path.
pub fn move_aside(path: &Path) -> Result<PathBuf, PersistError> {
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let base = sibling(path, &format!(".corrupt-{ts}"));
    let mut target = base.clone();
    let mut n = 1;
    while target.exists() {
        target = sibling(&base, &format!("-{n}"));
        n += 1;
    }
    fs::rename(path, &target).map_err(io_err("move aside", path))?;
    Ok(target)
}

#[cfg(test)]
mod tests;
