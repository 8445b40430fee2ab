//! [`RawSaves`]: durable saves of the same shape as the state writer's, with
//! nothing of kaizen in the way.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::persist::PersistError;
use crate::persist::wal::CHECKPOINT_BYTES;
use crate::persist::writer::make_durable;

/// The flushes of one round: the state writer's one `fdatasync` of its
/// write-ahead log per durable batch.
const FLUSHES: usize = 1;

/// Files already open in `folders` folders under a root, saved in rounds
/// as the state writer makes a durable batch of the same files under a
/// registry's state root: every file's new content appended to one log
/// file in one write, the log flushed (`fdatasync`), then every file
/// rewritten from its start without a flush; past the state writer's
/// checkpoint size the folders are flushed (`syncfs` on Linux) and the log
/// cut back, as the writer's checkpoint does. No encoding, no entry
/// headers or CRC, no scratch file, no rename, no open: what the same
/// appends, writes and flushes cost the file system itself.
///
/// ```
/// use kaizen::limits::RawSaves;
///
/// let dir = tempfile::tempdir()?;
/// let mut saves = RawSaves::create(dir.path(), 2, 3, 100)?;
/// assert_eq!(saves.flushes_per_round(), 1);
/// saves.round()?;
/// assert_eq!(std::fs::read(dir.path().join("0/2"))?.len(), 100);
/// assert_eq!(std::fs::read(dir.path().join("log"))?.len(), 2 * 600);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RawSaves {
    files: Vec<(PathBuf, File)>,
    log: (PathBuf, File),
    log_len: u64,
    /// The folders a checkpoint flushes (on Linux, their one file system).
    folders: BTreeSet<PathBuf>,
    bytes: Vec<u8>,
    /// One round's appended content: every file's bytes.
    appended: Vec<u8>,
    round: u8,
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> PersistError + 'a {
    move |source| PersistError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

impl RawSaves {
    /// Creates `folders` folders under `root`, each with `files` files of
    /// `bytes` bytes, and the log file `root/log`; makes one round.
    pub fn create(
        root: &Path,
        folders: usize,
        files: usize,
        bytes: usize,
    ) -> Result<Self, PersistError> {
        std::fs::create_dir_all(root).map_err(io("create folder", root))?;
        let log_path = root.join("log");
        let log = File::create(&log_path).map_err(io("create", &log_path))?;
        let mut saves = RawSaves {
            files: Vec::with_capacity(folders * files),
            log: (log_path, log),
            log_len: 0,
            folders: BTreeSet::from([root.to_path_buf()]),
            bytes: vec![0; bytes],
            appended: Vec::with_capacity(folders * files * bytes),
            round: 0,
        };
        for f in 0..folders {
            let dir = root.join(f.to_string());
            std::fs::create_dir_all(&dir).map_err(io("create folder", &dir))?;
            for i in 0..files {
                let path = dir.join(i.to_string());
                let file = File::create(&path).map_err(io("create", &path))?;
                saves.files.push((path, file));
            }
            saves.folders.insert(dir);
        }
        saves.round()?;
        Ok(saves)
    }

    /// The disk flushes one round makes (checkpoints aside).
    pub fn flushes_per_round(&self) -> usize {
        FLUSHES
    }

    /// Appends every file's new content to the log, flushes it, then
    /// rewrites every file.
    pub fn round(&mut self) -> Result<(), PersistError> {
        self.round = self.round.wrapping_add(1);
        self.bytes.fill(self.round);
        self.appended.clear();
        for _ in &self.files {
            self.appended.extend_from_slice(&self.bytes);
        }
        let (log_path, log) = &mut self.log;
        log.write_all(&self.appended)
            .and_then(|()| log.sync_data())
            .map_err(io("append to", log_path))?;
        self.log_len += self.appended.len() as u64;
        for (path, file) in &mut self.files {
            file.seek(SeekFrom::Start(0))
                .and_then(|_| file.write_all(&self.bytes))
                .map_err(io("write", path))?;
        }
        if self.log_len > CHECKPOINT_BYTES {
            make_durable(&self.folders)?;
            log.set_len(0)
                .and_then(|()| log.seek(SeekFrom::Start(0)))
                .and_then(|_| log.sync_data())
                .map_err(io("empty", log_path))?;
            self.log_len = 0;
        }
        Ok(())
    }
}
