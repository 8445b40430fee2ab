//! Folders and files the logs use, opened so that nothing is ever written
//! through a symbolic link or into a file with other hard links.
//!
//! A [`Dir`] is an open folder. Below the state folder (which the user
//! names, and which may itself be a link), every folder and file is opened
//! relative to its parent's handle with `O_NOFOLLOW`, so a link planted at
//! any step is refused, not followed, and a folder swapped for a link after
//! it was checked cannot redirect a write. Files written are checked to be
//! regular files with one link (see [`check_sole_link`]).

use rustix::fs::{AtFlags, FileType, FlockOperation, Mode, OFlags};
use rustix::io::Errno;
use std::cell::OnceCell;
use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use super::HistoryError;
use super::segment::MAX_SEGMENT_BYTES;

/// How a file is opened by [`Dir::open_file`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// Read only.
    Read,
    /// Read, and write at the end only.
    Append,
}

/// An open folder.
#[derive(Debug)]
pub(crate) struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

fn unsafe_path(path: PathBuf, errno: Errno) -> Option<HistoryError> {
    let why = match errno {
        Errno::LOOP | Errno::MLINK => "it is a symbolic link",
        Errno::NOTDIR => "it is not a folder",
        _ => return None,
    };
    Some(HistoryError::Unsafe { path, why })
}

impl Dir {
    /// Opens the folder at `path` (following links: the caller chose it);
    /// `None` when it is missing.
    pub fn open(path: &Path) -> Result<Option<Dir>, HistoryError> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        match rustix::fs::open(path, flags, Mode::empty()) {
            Ok(fd) => Ok(Some(Dir {
                fd,
                path: path.to_path_buf(),
            })),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(HistoryError::io("open folder", path)(e.into())),
        }
    }

    /// Opens the folder at `path`, creating it and its parents if missing.
    pub fn make(path: &Path) -> Result<Dir, HistoryError> {
        std::fs::create_dir_all(path).map_err(HistoryError::io("create folder", path))?;
        Dir::open(path)?.ok_or_else(|| vanished(path.to_path_buf()))
    }

    /// The folder `name` inside this one, never through a link; `None`
    /// when it is missing.
    pub fn child(&self, name: &str) -> Result<Option<Dir>, HistoryError> {
        let path = self.join(name);
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        match rustix::fs::openat(&self.fd, name, flags, Mode::empty()) {
            Ok(fd) => Ok(Some(Dir { fd, path })),
            Err(Errno::NOENT) => Ok(None),
            // With O_DIRECTORY, Linux reports a link as "not a folder": say which.
            Err(Errno::NOTDIR)
                if rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW)
                    .is_ok_and(|s| FileType::from_raw_mode(s.st_mode) == FileType::Symlink) =>
            {
                Err(unsafe_path(path, Errno::LOOP).unwrap_or_else(|| vanished(self.join(name))))
            }
            Err(e) => Err(unsafe_path(path.clone(), e)
                .unwrap_or_else(|| HistoryError::io("open folder", path)(e.into()))),
        }
    }

    /// The folder `name` inside this one, never through a link, created
    /// (mode 0700 before the umask) if missing.
    pub fn make_child(&self, name: &str) -> Result<Dir, HistoryError> {
        match rustix::fs::mkdirat(&self.fd, name, Mode::from_raw_mode(0o700)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(HistoryError::io("create folder", self.join(name))(e.into())),
        }
        self.child(name)?.ok_or_else(|| vanished(self.join(name)))
    }

    /// The path of this folder, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path of `name` inside this folder, for messages.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// The names in this folder with their inode numbers (`.` and `..` left
    /// out; names that are not UTF-8 are not the logs' and are left out too).
    pub fn list(&self) -> Result<Vec<(String, u64)>, HistoryError> {
        let listing = |e: Errno| HistoryError::io("list folder", self.path.clone())(e.into());
        let mut names = Vec::new();
        for entry in rustix::fs::Dir::read_from(&self.fd).map_err(listing)? {
            let entry = entry.map_err(listing)?;
            if let Ok(name) = entry.file_name().to_str()
                && name != "."
                && name != ".."
            {
                names.push((name.to_string(), entry.ino()));
            }
        }
        Ok(names)
    }

    /// Opens the file `name`, never through a link; `None` when missing.
    pub fn open_file(&self, name: &str, access: Access) -> Result<Option<File>, HistoryError> {
        let flags = match access {
            Access::Read => OFlags::RDONLY,
            Access::Append => OFlags::RDWR | OFlags::APPEND,
        };
        self.openat(name, flags | OFlags::NOFOLLOW | OFlags::CLOEXEC, 0, "open")
    }

    /// Creates the file `name` for appending; fails if anything (a file, a
    /// link) is already there.
    pub fn create_file(&self, name: &str, mode: u32) -> Result<File, HistoryError> {
        let flags = OFlags::RDWR
            | OFlags::APPEND
            | OFlags::CREATE
            | OFlags::EXCL
            | OFlags::NOFOLLOW
            | OFlags::CLOEXEC;
        self.openat(name, flags, mode, "create")?
            .ok_or_else(|| vanished(self.join(name)))
    }

    fn openat(
        &self,
        name: &str,
        flags: OFlags,
        mode: u32,
        op: &'static str,
    ) -> Result<Option<File>, HistoryError> {
        let path = || self.join(name);
        match rustix::fs::openat(&self.fd, name, flags, Mode::from_raw_mode(mode)) {
            Ok(fd) => Ok(Some(File::from(fd))),
            Err(Errno::NOENT) if !flags.contains(OFlags::CREATE) => Ok(None),
            Err(Errno::EXIST) => Err(HistoryError::Unsafe {
                path: path(),
                why: "something is already there",
            }),
            Err(e) => {
                Err(unsafe_path(path(), e)
                    .unwrap_or_else(|| HistoryError::io(op, path())(e.into())))
            }
        }
    }

    /// Renames `from` to `to` in this folder; never replaces an existing `to`.
    pub fn rename(&self, from: &str, to: &str) -> Result<(), HistoryError> {
        let fail = |e: Errno| HistoryError::io("rename", self.join(from))(e.into());
        match rustix::fs::statat(&self.fd, to, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(_) => {
                return Err(HistoryError::Unsafe {
                    path: self.join(to),
                    why: "a segment by that name already exists",
                });
            }
            Err(Errno::NOENT) => {}
            Err(e) => return Err(fail(e)),
        }
        rustix::fs::renameat(&self.fd, from, &self.fd, to).map_err(fail)
    }

    /// Removes the file `name` (a link is removed, not followed); false if
    /// it was already gone.
    pub fn remove(&self, name: &str) -> Result<bool, HistoryError> {
        match rustix::fs::unlinkat(&self.fd, name, AtFlags::empty()) {
            Ok(()) => Ok(true),
            Err(Errno::NOENT) => Ok(false),
            Err(e) => Err(HistoryError::io("remove", self.join(name))(e.into())),
        }
    }

    /// Takes the exclusive lock on the file `name` (created if missing),
    /// waiting for it when `wait`; `None` when another process holds it and
    /// not `wait`. The lock lasts as long as the returned file is open.
    pub fn lock(&self, name: &str, wait: bool) -> Result<Option<File>, HistoryError> {
        let flags = OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let file = self
            .openat(name, flags, 0o600, "open")?
            .ok_or_else(|| vanished(self.join(name)))?;
        let op = if wait {
            FlockOperation::LockExclusive
        } else {
            FlockOperation::NonBlockingLockExclusive
        };
        match rustix::fs::flock(&file, op) {
            Ok(()) => Ok(Some(file)),
            Err(Errno::WOULDBLOCK) => Ok(None),
            Err(e) => Err(HistoryError::io("lock", self.join(name))(e.into())),
        }
    }

    /// Flushes this folder's entries (names created, renamed, removed) to disk.
    pub fn sync(&self) -> Result<(), HistoryError> {
        rustix::fs::fsync(&self.fd)
            .map_err(|e| HistoryError::io("fsync folder", self.path.clone())(e.into()))
    }
}

/// A log's folder, opened on first use: most appends write to a segment
/// that is already open and never need the folder.
pub(crate) struct LazyDir<'a> {
    parent: &'a Dir,
    name: &'a str,
    dir: OnceCell<Dir>,
}

impl<'a> LazyDir<'a> {
    /// The folder `name` in `parent`, not opened yet.
    pub fn new(parent: &'a Dir, name: &'a str) -> Self {
        LazyDir {
            parent,
            name,
            dir: OnceCell::new(),
        }
    }

    /// The folder `name` in `parent`, already open as `dir`.
    pub fn opened(parent: &'a Dir, name: &'a str, dir: Dir) -> Self {
        LazyDir {
            parent,
            name,
            dir: OnceCell::from(dir),
        }
    }

    /// The open folder (never through a link).
    pub fn get(&self) -> Result<&Dir, HistoryError> {
        if let Some(dir) = self.dir.get() {
            return Ok(dir);
        }
        let dir = self
            .parent
            .child(self.name)?
            .ok_or_else(|| HistoryError::Unsafe {
                path: self.parent.join(self.name),
                why: "the folder was removed by another program",
            })?;
        Ok(self.dir.get_or_init(|| dir))
    }

    /// The path of `file` in this folder, for messages.
    pub fn join(&self, file: &str) -> PathBuf {
        self.parent.join(self.name).join(file)
    }
}

/// The error for a folder removed right after it was created.
fn vanished(path: PathBuf) -> HistoryError {
    HistoryError::io("open folder", path)(Errno::NOENT.into())
}

/// What `fstat` says about a log file: its length and inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileInfo {
    /// Its length in bytes.
    pub len: u64,
    /// Its inode number.
    pub ino: u64,
    /// How many names (hard links) it has.
    pub links: u64,
}

/// Looks at an open log file: it must be a regular file, no larger than a
/// segment can be.
pub(crate) fn info(file: &File, path: impl Fn() -> PathBuf) -> Result<FileInfo, HistoryError> {
    let stat = rustix::fs::fstat(file).map_err(|e| HistoryError::io("stat", path())(e.into()))?;
    if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
        return Err(HistoryError::Unsafe {
            path: path(),
            why: "it is not a regular file",
        });
    }
    let len = stat.st_size as u64;
    if len > MAX_SEGMENT_BYTES {
        return Err(HistoryError::TooLarge { path: path(), len });
    }
    Ok(FileInfo {
        len,
        ino: stat.st_ino,
        links: stat.st_nlink as u64,
    })
}
