//! One writer per registry: an advisory lock on `<models>/.lock`.
//!
//! [`std::fs::File::try_lock`] (`flock` on Unix, `LockFileEx` on Windows)
//! is held for as long as the [`ModelRegistry`](super::ModelRegistry) lives
//! and released by the system when the process ends, however it ends: a
//! `kill -9` never leaves a stale lock behind.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::path::Path;

use super::error::ModelsError;
use crate::persist::PersistError;

/// The lock file's name in the registry's folder.
pub(super) const LOCK_FILE: &str = ".lock";

/// Holds the registry's lock until dropped.
#[derive(Debug)]
pub(super) struct DirLock {
    _file: File,
}

/// Takes the lock of the registry in `dir` (created if needed), or fails at
/// once with [`ModelsError::Locked`] when another handle holds it.
pub(super) fn lock(dir: &Path) -> Result<DirLock, ModelsError> {
    let path = dir.join(LOCK_FILE);
    let io = |op: &'static str, p: &Path| {
        let path = p.to_path_buf();
        move |source| ModelsError::Persist(PersistError::Io { op, path, source })
    };
    fs::create_dir_all(dir).map_err(io("create folder", dir))?;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io("open", &path))?;
    match file.try_lock() {
        Ok(()) => Ok(DirLock { _file: file }),
        Err(TryLockError::WouldBlock) => Err(ModelsError::Locked {
            dir: dir.to_path_buf(),
            lock: path,
        }),
        Err(TryLockError::Error(e)) => Err(io("lock", &path)(e)),
    }
}

/// Whether another handle holds the lock of the registry in `dir` now. A
/// probe: it takes the lock and drops it at once, and creates nothing (a
/// registry never opened is not held).
pub(super) fn held(dir: &Path) -> Result<bool, ModelsError> {
    let path = dir.join(LOCK_FILE);
    let file = match OpenOptions::new().read(true).open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(source) => {
            return Err(ModelsError::Persist(PersistError::Io {
                op: "open",
                path,
                source,
            }));
        }
    };
    match file.try_lock() {
        Ok(()) => Ok(false),
        Err(TryLockError::WouldBlock) => Ok(true),
        Err(TryLockError::Error(source)) => Err(ModelsError::Persist(PersistError::Io {
            op: "lock",
            path,
            source,
        })),
    }
}
