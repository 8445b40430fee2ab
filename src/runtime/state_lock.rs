//! One process per state folder: an advisory lock on `state/.kaizen/lock`.
//!
//! Two processes writing one state folder would each keep their own view of
//! every engine and overwrite the other's files. [`StateLock::acquire`]
//! takes an exclusive `flock(2)` on the lock file without waiting; a second
//! process (or a second registry in the same process) is refused at once
//! with [`Error::StateLocked`], which names the holder's pid, read from the
//! file. The lock goes with the open file: it is released when the
//! [`StateLock`] is dropped, and by the kernel when the process dies, however
//! it dies, so a crash never leaves a stale lock behind. The file is opened
//! close-on-exec, so pipelines started while it is held do not inherit it
//! (an orphaned pipeline cannot keep the folder locked), and never through a
//! symbolic link.
//!
//! Readers do not lock: `kaizen status` reads a folder in use.
//!
//! Whoever takes the lock replays the folder's write-ahead log first
//! ([`crate::persist::wal::recover`]): saves a crashed process acknowledged
//! are in the state files before anything reads them.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::persist::PersistError;
use crate::persist::root::{LOCK_FILE, kaizen_dir};
use crate::{Error, Result};

/// The held lock of a state folder; released when dropped.
#[derive(Debug)]
pub struct StateLock {
    root: PathBuf,
    file: File,
    /// The folder's write-ahead log, attached to a state writer: detached
    /// before the lock is released.
    log: Option<crate::persist::AttachedLog>,
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| {
        Error::Persist(PersistError::Io {
            op,
            path: path.to_path_buf(),
            source,
        })
    }
}

impl StateLock {
    /// Locks the state folder `root` (creating it and `root/.kaizen` when
    /// missing), or [`Error::StateLocked`] at once when another process —
    /// or another lock in this one — holds it.
    pub fn acquire(root: &Path) -> Result<StateLock> {
        let dir = kaizen_dir(root);
        std::fs::create_dir_all(&dir).map_err(io("create folder", &dir))?;
        let path = dir.join(LOCK_FILE);
        let mut file = open_lock_file(&path).map_err(io("open", &path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(Error::StateLocked {
                    path: root.to_path_buf(),
                    pid: holder(&mut file),
                });
            }
            Err(TryLockError::Error(e)) => return Err(io("lock", &path)(e)),
        }
        let pid = format!("{}\n", std::process::id());
        file.set_len(0)
            .and_then(|()| file.write_all(pid.as_bytes()))
            .map_err(io("write", &path))?;
        crate::persist::wal::recover(root)?;
        Ok(StateLock {
            root: root.to_path_buf(),
            file,
            log: None,
        })
    }

    /// Makes `writer` log the durable saves of files under this folder in
    /// its write-ahead log ([`crate::persist::wal`]) for as long as the lock
    /// is held.
    pub fn attach_log(&mut self, writer: &crate::persist::StateWriter) -> Result<()> {
        self.log = Some(writer.attach_log(&self.root)?);
        Ok(())
    }

    /// Whether a process (this one included) holds the lock of `root` now:
    /// a look that takes nothing (a shared lock tried and let go at once)
    /// and creates nothing. A missing or unreadable lock file is "not held".
    pub fn held(root: &Path) -> bool {
        let path = kaizen_dir(root).join(LOCK_FILE);
        let Ok(file) = crate::persist::no_follow(OpenOptions::new().read(true)).open(&path) else {
            return false;
        };
        matches!(file.try_lock_shared(), Err(TryLockError::WouldBlock))
    }

    /// The state folder this lock holds.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl Drop for StateLock {
    fn drop(&mut self) {
        // The log is closed while the folder is still ours.
        self.log = None;
        // The pid goes first, so a reader never names a process that has let go.
        let _ = self.file.set_len(0);
    }
}

/// The lock file, opened for reading and writing, created if missing; a
/// symbolic link is refused (`ELOOP`).
fn open_lock_file(path: &Path) -> std::io::Result<File> {
    crate::persist::no_follow(
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false),
    )
    .open(path)
}

/// The pid the holder wrote into the lock file, when it is there.
fn holder(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_with_the_holders_pid_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("state");
        let first = StateLock::acquire(&root).unwrap();
        assert_eq!(first.root(), root);
        let text = std::fs::read_to_string(root.join(".kaizen/lock")).unwrap();
        assert_eq!(text.trim(), std::process::id().to_string());
        match StateLock::acquire(&root) {
            Err(Error::StateLocked { path, pid }) => {
                assert_eq!(path, root);
                assert_eq!(pid, Some(std::process::id()));
            }
            other => panic!("expected StateLocked, got {other:?}"),
        }
        assert!(StateLock::held(&root));
        drop(first);
        assert!(!StateLock::held(&root));
        assert!(!StateLock::held(&dir.path().join("nowhere")));
        assert_eq!(
            std::fs::read_to_string(root.join(".kaizen/lock")).unwrap(),
            "",
            "a released lock names nobody"
        );
        StateLock::acquire(&root).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_lock_file_that_is_a_symbolic_link_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = dir.path().join("elsewhere");
        std::fs::write(&elsewhere, "keep me").unwrap();
        std::fs::create_dir_all(dir.path().join(".kaizen")).unwrap();
        std::os::unix::fs::symlink(&elsewhere, dir.path().join(".kaizen/lock")).unwrap();
        let err = StateLock::acquire(dir.path()).unwrap_err();
        assert!(
            matches!(err, Error::Persist(PersistError::Io { op: "open", .. })),
            "{err:?}"
        );
        assert_eq!(std::fs::read_to_string(&elsewhere).unwrap(), "keep me");
    }
}
