//! A registry's contents as read from its folder, and every question about
//! them: the champion, the versions, the history, a comparison.
//!
//! [`Catalog::read`] takes a read-only look (no lock, nothing written or moved
//! aside), for tools such as `kaizen models list` while another process has
//! the registry open; a [`ModelRegistry`](super::ModelRegistry) holds a
//! catalog and answers the same questions through
//! [`catalog`](super::ModelRegistry::catalog).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::alias::{self, ALIAS_FILE, Alias};
use super::check::{CheckOutcome, CheckResult, PostDeployCheck};
use super::compare::{Comparison, compare};
use super::error::ModelsError;
use super::history::{self, AliasMove, Log};
use super::meta::{VersionId, VersionMeta, VersionStatus};
use super::weights;
use super::{HISTORY_FILE, META_FILE, MODELS_DIR, VERSIONS_DIR, WEIGHTS_FILE};
use crate::persist::{self, Decode, Inspected, PersistError};

/// How the files are read: by the registry's one writer (damaged files moved
/// aside, per [`crate::persist`]) or by a look that changes nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Access {
    Write,
    Look,
}

/// What a load found that the files should say but do not yet (a crash
/// between two writes); the writer applies it, a look keeps it in memory.
#[derive(Debug, Default)]
pub(super) struct Repairs {
    /// The alias file is behind its history: rewrite it from the history.
    pub alias: bool,
    /// The history is behind the alias: append the alias's last move.
    pub history: Option<AliasMove>,
    /// Versions whose stored status is stale.
    pub metas: Vec<VersionId>,
}

/// A registry's versions, champion alias and alias history.
#[derive(Clone, Debug)]
pub struct Catalog {
    dir: PathBuf,
    pub(super) versions: BTreeMap<VersionId, VersionMeta>,
    pub(super) damaged: BTreeMap<VersionId, String>,
    pub(super) alias: Alias,
    history: Vec<AliasMove>,
    /// Every version the history moved the alias to.
    moved_to: BTreeSet<VersionId>,
    /// Versions moved to with no champion before them, and when (first time).
    unopposed: BTreeMap<VersionId, f64>,
    /// The highest version number seen anywhere (folders, history).
    pub(super) highest: u64,
}

impl Catalog {
    /// A read-only look at the registry of the bot whose state folder is
    /// `bot_dir` (the registry is `bot_dir/models`). Takes no lock and
    /// changes nothing on disk; what a crash left half-done is shown as it
    /// will be once the registry is next opened for writing. A missing
    /// registry is an empty catalog.
    pub fn read(bot_dir: &Path) -> Result<Self, ModelsError> {
        let (catalog, _, _) = Self::load(&bot_dir.join(MODELS_DIR), Access::Look)?;
        Ok(catalog)
    }

    /// Reads the folder `dir` and reconciles what was read in memory.
    pub(super) fn load(dir: &Path, access: Access) -> Result<(Self, Log, Repairs), ModelsError> {
        let alias = read_json(&dir.join(ALIAS_FILE), alias::decode, access)?.unwrap_or_default();
        let mut log = history::read(&dir.join(HISTORY_FILE))?;
        let mut catalog = Catalog {
            dir: dir.to_path_buf(),
            versions: BTreeMap::new(),
            damaged: BTreeMap::new(),
            alias,
            history: Vec::with_capacity(log.moves.len()),
            moved_to: BTreeSet::new(),
            unopposed: BTreeMap::new(),
            highest: 0,
        };
        for m in std::mem::take(&mut log.moves) {
            catalog.push_move(m);
        }
        catalog.load_versions(access)?;
        let mut repairs = catalog.reconcile_alias();
        repairs.metas = catalog.derive();
        Ok((catalog, log, repairs))
    }

    /// Adds a move to the history in memory.
    pub(super) fn push_move(&mut self, m: AliasMove) {
        for v in m.from.iter().chain(&m.to) {
            self.highest = self.highest.max(v.0);
        }
        if let Some(to) = m.to {
            self.moved_to.insert(to);
            if m.from.is_none() {
                self.unopposed.entry(to).or_insert(m.at);
            }
        }
        self.history.push(m);
    }

    fn load_versions(&mut self, access: Access) -> Result<(), ModelsError> {
        let root = self.dir.join(VERSIONS_DIR);
        let entries = match fs::read_dir(&root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(source) => return Err(io_error("list", &root, source)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| io_error("list", &root, e))?;
            let Some(id) = entry.file_name().to_str().and_then(version_of_folder) else {
                continue;
            };
            self.highest = self.highest.max(id.0);
            let path = entry.path().join(META_FILE);
            match read_json(&path, |b| decode_meta(b, id), access)? {
                Some(meta) => {
                    self.versions.insert(id, meta);
                }
                None => {
                    tracing::warn!(file = %path.display(), "model version {id} has no usable metadata");
                    self.damaged
                        .insert(id, format!("{} is missing or damaged", path.display()));
                }
            }
        }
        Ok(())
    }

    /// Brings the alias and its history into line after a crash or damage.
    fn reconcile_alias(&mut self) -> Repairs {
        let mut repairs = Repairs::default();
        let logged = self.history.last().map_or(0, |m| m.seq);
        if self.alias.seq > logged {
            if let Some(last) = self.alias.last_move.clone() {
                tracing::warn!(
                    dir = %self.dir.display(),
                    seq = last.seq,
                    "the champion alias moved but its history line was lost (a crash); it is restored"
                );
                self.push_move(last.clone());
                repairs.history = Some(last);
            }
        } else if self.alias.seq < logged {
            let last = self.history.last().cloned();
            tracing::warn!(
                dir = %self.dir.display(),
                alias_seq = self.alias.seq,
                history_seq = logged,
                "the champion alias is older than its history (its file was damaged); the history's last move is used"
            );
            self.alias = Alias {
                champion: last.as_ref().and_then(|m| m.to),
                seq: logged,
                last_move: last,
                check: None,
            };
            repairs.alias = true;
        }
        repairs
    }

    /// Sets what follows from the alias, the history and the post-deploy
    /// checks in every version's metadata: its status, and the
    /// [`CheckResult::Unopposed`] outcome of a version deployed with no
    /// champion before it. Returns the versions that changed.
    pub(super) fn derive(&mut self) -> Vec<VersionId> {
        let champion = self.alias.champion;
        let mut changed = Vec::new();
        for meta in self.versions.values_mut() {
            let before = (meta.info.status, meta.post_deploy.is_some());
            if meta.post_deploy.is_none() {
                meta.post_deploy = self
                    .unopposed
                    .get(&meta.id)
                    .map(|&at| CheckOutcome::unopposed(at));
            }
            meta.info.status = if Some(meta.id) == champion {
                VersionStatus::Champion
            } else if meta
                .post_deploy
                .as_ref()
                .is_some_and(|c| c.result == CheckResult::Failed)
            {
                VersionStatus::RolledBack
            } else if self.moved_to.contains(&meta.id) {
                VersionStatus::Retired
            } else {
                match meta.info.status {
                    s @ (VersionStatus::Candidate | VersionStatus::Rejected) => s,
                    _ => VersionStatus::Retired,
                }
            };
            if (meta.info.status, meta.post_deploy.is_some()) != before {
                changed.push(meta.id);
            }
        }
        changed
    }

    /// The registry's folder (`<bot state>/models`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The version serving now, if any.
    pub fn champion(&self) -> Option<VersionId> {
        self.alias.champion
    }

    /// A version's metadata.
    pub fn version(&self, id: VersionId) -> Result<&VersionMeta, ModelsError> {
        if let Some(why) = self.damaged.get(&id) {
            return Err(ModelsError::Damaged {
                version: id,
                path: self.version_dir(id),
                why: why.clone(),
            });
        }
        self.versions
            .get(&id)
            .ok_or_else(|| ModelsError::UnknownVersion {
                dir: self.dir.clone(),
                version: id,
            })
    }

    /// Every saved version, oldest first.
    pub fn versions(&self) -> impl Iterator<Item = &VersionMeta> {
        self.versions.values()
    }

    /// Versions whose folder exists but whose metadata is missing or
    /// damaged, with what is wrong (only after damage to the disk or the
    /// folder, never after a crash).
    pub fn damaged(&self) -> impl Iterator<Item = (VersionId, &str)> {
        self.damaged.iter().map(|(&id, why)| (id, why.as_str()))
    }

    /// Every move of the champion alias, oldest first.
    pub fn history(&self) -> &[AliasMove] {
        &self.history
    }

    /// The champion's post-deploy check, while it runs.
    pub fn pending_check(&self) -> Option<&PostDeployCheck> {
        self.alias.check.as_ref()
    }

    /// Whether `id` has ever been the champion.
    pub fn served(&self, id: VersionId) -> bool {
        self.alias.champion == Some(id) || self.moved_to.contains(&id)
    }

    /// A version's weights (the safetensors bytes it was saved with),
    /// checked against the size and checksum in its metadata.
    pub fn weights(&self, id: VersionId) -> Result<Vec<u8>, ModelsError> {
        let meta = self.version(id)?;
        weights::read_verified(&self.weights_path(id), id, meta.weights)
    }

    /// The champion and its weights, if there is a champion.
    pub fn champion_weights(&self) -> Result<Option<(VersionId, Vec<u8>)>, ModelsError> {
        self.champion()
            .map(|id| Ok((id, self.weights(id)?)))
            .transpose()
    }

    /// How `after`'s metrics differ from `before`'s, metric by metric.
    pub fn compare(&self, before: VersionId, after: VersionId) -> Result<Comparison, ModelsError> {
        Ok(compare(self.version(before)?, self.version(after)?))
    }

    /// The versions [`rollback_to_previous`](super::ModelRegistry::rollback_to_previous)
    /// may choose, best first: every version other than the champion that
    /// has served and whose latest post-deploy check passed (or that was
    /// deployed with no champion before it), newest first.
    pub fn rollback_candidates(&self) -> impl Iterator<Item = VersionId> + '_ {
        self.versions
            .values()
            .rev()
            .filter(|m| Some(m.id) != self.alias.champion && self.served(m.id))
            .filter(|m| m.post_deploy.as_ref().is_some_and(|c| c.counts_as_passed()))
            .map(|m| m.id)
    }

    pub(super) fn version_dir(&self, id: VersionId) -> PathBuf {
        self.dir.join(VERSIONS_DIR).join(id.to_string())
    }

    pub(super) fn weights_path(&self, id: VersionId) -> PathBuf {
        self.version_dir(id).join(WEIGHTS_FILE)
    }
}

/// The version a folder under `versions/` holds: `v<N>`, written exactly so.
pub(super) fn version_of_folder(name: &str) -> Option<VersionId> {
    let id: VersionId = name.strip_prefix('v')?.parse().ok()?;
    (id.to_string() == name).then_some(id)
}

fn decode_meta(bytes: &[u8], id: VersionId) -> Result<VersionMeta, Decode> {
    let meta: VersionMeta = persist::decode_json(bytes)?;
    if meta.id != id {
        return Err(Decode::Corrupt(format!(
            "the metadata of {} is in the folder of {id}",
            meta.id
        )));
    }
    Ok(meta)
}

/// One JSON state file, read the way `access` says.
fn read_json<T>(
    path: &Path,
    decode: impl Fn(&[u8]) -> Result<T, Decode>,
    access: Access,
) -> Result<Option<T>, ModelsError> {
    match access {
        Access::Write => Ok(persist::load_with(path, decode)?),
        Access::Look => match persist::inspect_with(path, decode) {
            Inspected::Missing => Ok(None),
            Inspected::Good { value, .. } => Ok(Some(value)),
            Inspected::Corrupt(why) => {
                tracing::warn!(file = %path.display(), %why, "unusable state file (left as it is)");
                Ok(None)
            }
            Inspected::Newer(found) => Err(PersistError::NewerVersion {
                path: path.to_path_buf(),
                found,
            }
            .into()),
        },
    }
}

pub(super) fn io_error(op: &'static str, path: &Path, source: io::Error) -> ModelsError {
    ModelsError::Persist(PersistError::Io {
        op,
        path: path.to_path_buf(),
        source,
    })
}
