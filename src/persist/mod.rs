//! One safe way to read and write every state file.
//!
//! **Writing** ([`save_json`], [`write_atomic`]): the new content goes to
//! the scratch file `<name>.tmp` in the same folder and is flushed to disk;
//! then it becomes `<name>` in one atomic rename (on Linux an exchange), the
//! previous content becomes `<name>.bak`, and the folder is flushed. A crash
//! at any moment leaves the old or the new content at `<name>` (or, between
//! the renames on other systems, only the backup, which a reader then uses):
//! never a mix. The scratch file stays for the next write and is never read.
//! Nothing is written through a link: a state file that is a symbolic link
//! is refused ([`PersistError::SymbolicLink`]), and a scratch file that is a
//! link or shares its inode with another name (a `cp -al` snapshot) is
//! replaced by a fresh file instead of being rewritten, so such a snapshot
//! stays byte-identical. JSON files carry `"version": 1` as their
//! first field, and a value holding NaN or an infinity is refused before
//! anything touches the disk ([`PersistError::NonFinite`]).
//!
//! Many files at once: [`StateWriter`] writes batches on a thread of its own
//! and makes each batch durable with one flush: under a registry's state
//! root, one `fdatasync` of the root's write-ahead log ([`wal`]), which is
//! replayed before anything reads the folder again.
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
pub mod root;
pub mod wal;
pub mod writer;

pub use finite::{NonFiniteAt, check as check_finite};
pub use writer::{Ack, Answer, AttachedLog, PendingFile, StateWriter, write_all};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The version this build writes into a state file whose format has not
/// changed since kaizen's first round, and the newest such a file may carry.
/// A file whose format moved on is written with its own version
/// ([`encode_json_version`]) and read with [`json_version`], which says what
/// the bytes declare so its reader can migrate older ones (`policy.json` is
/// at version 2).
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
        "{} was written by a newer kaizen (format version {found}, newer than this build reads); it was left untouched",
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
    /// A state file is a symbolic link. kaizen never reads or writes state
    /// through a link; the link and what it points to are left as they are.
    #[error(
        "{} is a symbolic link; kaizen never reads or writes a state file through a link (put the file itself there, or give kaizen the folder the link points into)",
        path.display()
    )]
    SymbolicLink {
        /// The state file.
        path: PathBuf,
    },
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
            (P::SymbolicLink { path }, P::SymbolicLink { path: p2 }) => path == p2,
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
    refuse_link(path)?;
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

/// [`PersistError::SymbolicLink`] when `path` itself (not a folder above it)
/// is a symbolic link.
fn refuse_link(path: &Path) -> Result<(), PersistError> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(PersistError::SymbolicLink {
            path: path.to_path_buf(),
        }),
        _ => Ok(()),
    }
}

/// Adds `O_NOFOLLOW`: the open fails (`ELOOP`) when the file's own name is
/// a symbolic link, so nothing is read or written through one.
pub fn no_follow(options: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
    }
    options
}

/// Whether `file` has other names (hard links) besides the one it was opened by.
fn shared(file: &File) -> io::Result<bool> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Ok(file.metadata()?.nlink() > 1)
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        Ok(false)
    }
}

/// The scratch file `<name>.tmp`, opened for rewriting from its start. It is
/// kept between writes so a write reuses its inode and blocks instead of
/// creating and deleting a file each time (on ext4 with many engines, inode
/// allocation next to recently deleted inodes was the writer's main cost).
///
/// The scratch is a former state file or backup, so it may be a name of an
/// inode shared with a copy made by `cp -al` or `rsync --link-dest` (a hard
/// link), or a symbolic link someone put there. Neither is ever written in
/// place: it is opened without following a link, and when it is a link or
/// has other names, that name is removed (the link's target and the other
/// names keep their content) and a fresh file is written instead.
fn open_scratch(tmp: &Path) -> io::Result<File> {
    let reused = no_follow(OpenOptions::new().write(true).create(true).truncate(false)).open(tmp);
    match reused {
        Ok(file) if !shared(&file)? => return Ok(file),
        Ok(_) => {}
        Err(e) if is_link_error(&e) => {}
        Err(e) => return Err(e),
    }
    fs::remove_file(tmp)?;
    no_follow(OpenOptions::new().write(true).create_new(true)).open(tmp)
}

/// Gives `path` an inode of its own before it is changed in place (an
/// append-only log): when it shares its inode with other names (hard links,
/// as a `cp -al` snapshot leaves), its content is copied to a fresh file
/// that replaces it by a rename, so the other names keep their content.
/// A symbolic link is refused; a missing file is left missing.
pub fn unshare(path: &Path, durability: Durability) -> Result<(), PersistError> {
    refuse_link(path)?;
    let file = match no_follow(OpenOptions::new().read(true)).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err("open", path)(e)),
    };
    if !shared(&file).map_err(io_err("stat", path))? {
        return Ok(());
    }
    let bytes = fs::read(path).map_err(io_err("read", path))?;
    let fsync = durability == Durability::Fsync;
    stage(path, &bytes, fsync)?;
    let tmp = sibling(path, ".tmp");
    fs::rename(&tmp, path).map_err(io_err("rename into place", path))?;
    if fsync {
        sync_dir(folder_of(path))?;
    }
    Ok(())
}

/// The error an `O_NOFOLLOW` open gives for a symbolic link.
fn is_link_error(e: &io::Error) -> bool {
    #[cfg(unix)]
    {
        e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error())
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
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
    encode_json_version(path, value, FORMAT_VERSION)
}

/// Encodes `value` as versioned JSON declaring `version`: for a file whose
/// format has moved past [`FORMAT_VERSION`].
pub fn encode_json_version<T: Serialize + ?Sized>(
    path: &Path,
    value: &T,
    version: u64,
) -> Result<Vec<u8>, PersistError> {
    check_finite(value).map_err(|at| PersistError::NonFinite {
        path: path.to_path_buf(),
        at,
    })?;
    let mut bytes = serde_json::to_vec(&Versioned {
        version,
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
    json_version(bytes, FORMAT_VERSION)?;
    serde_json::from_slice(bytes).map_err(|e| Decode::Corrupt(e.to_string()))
}

/// The `"version"` JSON `bytes` declare, from 1 to `newest`: above it is
/// [`Decode::Newer`], a missing or zero version (or bytes that are not a
/// JSON object) [`Decode::Corrupt`].
pub fn json_version(bytes: &[u8], newest: u64) -> Result<u64, Decode> {
    #[derive(Deserialize)]
    struct Probe {
        version: Option<u64>,
    }
    let probe: Probe = serde_json::from_slice(bytes).map_err(|e| Decode::Corrupt(e.to_string()))?;
    match probe.version {
        None => Err(Decode::Corrupt("no \"version\" field".into())),
        Some(v) if v > newest => Err(Decode::Newer(v)),
        Some(0) => Err(Decode::Corrupt("unknown version 0".into())),
        Some(v) => Ok(v),
    }
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
    refuse_link(path)?;
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
    let look = |p: &Path| {
        peek_with(p, &decode).map(|found| {
            found.map_err(|d| match d {
                Decode::Corrupt(why) => Inspected::Corrupt(why),
                Decode::Newer(v) => Inspected::Newer(v),
            })
        })
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

/// One file (not its backup) read without changing anything: `None` when it
/// does not exist; a symlink or a read error is [`Decode::Corrupt`] with the
/// reason.
pub fn peek_with<T>(
    path: &Path,
    decode: impl Fn(&[u8]) -> Result<T, Decode>,
) -> Option<Result<T, Decode>> {
    if let Err(link) = refuse_link(path) {
        return Some(Err(Decode::Corrupt(link.to_string())));
    }
    match fs::read(path) {
        Ok(bytes) => Some(decode(&bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => Some(Err(Decode::Corrupt(format!("cannot read: {e}")))),
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
