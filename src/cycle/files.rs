//! Which state files changed, and encoding them for the writer.

use std::path::PathBuf;

use super::book::EngineFileRef;
use super::{DECIDE_FILE, Dirty, ENGINE_FILE, EngineCore, FORECAST_FILE, POLICY_FILE};
use crate::error::Result;
use crate::metalog::{META_FILE, MODULES_FILE};
use crate::persist::PendingFile;

impl EngineCore {
    /// Whether any state changed since the last [`take_files`](Self::take_files).
    pub fn is_dirty(&self) -> bool {
        self.dirty.0 != 0
    }

    /// Encodes every changed state file, and forgets the changes. Empty when
    /// the engine keeps no state folder.
    pub fn take_files(&mut self) -> Vec<PendingFile> {
        let dirty = std::mem::take(&mut self.dirty);
        let Some(dir) = self.dir.clone() else {
            return Vec::new();
        };
        let mut files = Vec::new();
        // Only a changed file is encoded, each on its own: one that cannot be
        // encoded stays dirty (and is logged); the others are written.
        type Encode<'a> = &'a dyn Fn() -> Option<Result<Vec<PendingFile>>>;
        let mut take = |bit: u8, encode: Encode<'_>| {
            if !dirty.has(bit) {
                return;
            }
            match encode() {
                None => self.dirty.mark(bit), // the learner is away: save it later
                Some(Ok(f)) => files.extend(f),
                Some(Err(e)) => {
                    tracing::error!(engine = %self.name, error = %e, "state file not encoded; kept for the next save");
                    self.dirty.mark(bit);
                }
            }
        };
        take(Dirty::ENGINE, &|| {
            let value = EngineFileRef {
                roi: self.roi.snapshot(),
                book: &self.book,
            };
            Some(json_file(dir.join(ENGINE_FILE), &value))
        });
        take(Dirty::POLICY, &|| {
            Some(
                self.policy
                    .state_file(&dir.join(POLICY_FILE))
                    .map(|f| vec![f]),
            )
        });
        take(Dirty::LEARNER, &|| {
            self.learner.as_ref().map(|l| l.state_files(&dir))
        });
        take(Dirty::META, &|| {
            Some(json_file(dir.join(META_FILE), &self.meta))
        });
        take(Dirty::MODULES, &|| {
            Some(json_file(dir.join(MODULES_FILE), &self.modules))
        });
        take(Dirty::ENERGY, &|| {
            Some(
                self.energy
                    .as_ref()
                    .map_or(Ok(Vec::new()), |e| e.state_files(&dir)),
            )
        });
        take(Dirty::FORECAST, &|| {
            Some(self.forecaster.as_ref().map_or(Ok(Vec::new()), |f| {
                json_file(dir.join(FORECAST_FILE), f.state())
            }))
        });
        take(Dirty::DECIDE, &|| {
            Some(
                self.decider
                    .as_ref()
                    .map_or(Ok(Vec::new()), |d| json_file(dir.join(DECIDE_FILE), d)),
            )
        });
        files
    }

    /// Marks every state file changed: after a save that failed, so the next
    /// save writes everything again.
    pub(crate) fn mark_all_dirty(&mut self) {
        self.dirty.mark(Dirty::ALL);
    }
}

/// `value` as one state file at `path`.
fn json_file<T: serde::Serialize>(path: PathBuf, value: &T) -> Result<Vec<PendingFile>> {
    Ok(vec![PendingFile::json(path, value)?])
}
