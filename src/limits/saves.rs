//! [`RawSaves`]: durable saves of the same shape as the state writer's, with
//! nothing of kaizen in the way.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::persist::PersistError;
use crate::persist::writer::make_durable;

/// The flushes of one round: as many as the state writer makes per durable
/// batch (one before its renames, one after).
const FLUSHES: usize = 2;

/// Files already open in `folders` folders under a root, rewritten and
/// flushed in rounds as the state writer makes a durable batch of the same
/// files: every file rewritten from its start, then the writer's flush of
/// the file system (`syncfs` on Linux) as many times as it does per batch.
/// No encoding, no scratch file, no rename, no open: what the same writes
/// and flushes cost the file system itself.
///
/// ```
/// use kaizen::limits::RawSaves;
///
/// let dir = tempfile::tempdir()?;
/// let mut saves = RawSaves::create(dir.path(), 2, 3, 100)?;
/// assert_eq!(saves.flushes_per_round(), 2);
/// saves.round()?;
/// assert_eq!(std::fs::read(dir.path().join("0/2"))?.len(), 100);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RawSaves {
    files: Vec<(PathBuf, File)>,
    /// The folders flushed (on Linux, their one file system).
    folders: BTreeSet<PathBuf>,
    bytes: Vec<u8>,
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
    /// `bytes` bytes, flushed once.
    pub fn create(
        root: &Path,
        folders: usize,
        files: usize,
        bytes: usize,
    ) -> Result<Self, PersistError> {
        let mut saves = RawSaves {
            files: Vec::with_capacity(folders * files),
            folders: BTreeSet::from([root.to_path_buf()]),
            bytes: vec![0; bytes],
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

    /// The disk flushes one round makes.
    pub fn flushes_per_round(&self) -> usize {
        FLUSHES
    }

    /// Rewrites every file, then flushes them.
    pub fn round(&mut self) -> Result<(), PersistError> {
        self.round = self.round.wrapping_add(1);
        self.bytes.fill(self.round);
        for (path, file) in &mut self.files {
            file.seek(SeekFrom::Start(0))
                .and_then(|_| file.write_all(&self.bytes))
                .map_err(io("write", path))?;
        }
        for _ in 0..FLUSHES {
            make_durable(&self.folders)?;
        }
        Ok(())
    }
}
