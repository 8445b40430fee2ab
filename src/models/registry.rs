//! The registry's one writer: saving versions, moving the champion alias,
//! running the post-deploy check, retention.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::alias::ALIAS_FILE;
use super::catalog::{Access, Catalog, io_error, version_of_folder};
use super::check::{CheckOutcome, CheckResult, PostDeployCheck};
use super::error::{ModelsError, finite};
use super::history::{self, AliasMove, MoveAction};
use super::lock::{self, DirLock};
use super::meta::{NewVersion, VersionId, VersionMeta};
use super::weights;
use super::{HISTORY_FILE, META_FILE, MODELS_DIR, VERSIONS_DIR, WEIGHTS_FILE};
use crate::persist::{self, Durability};

/// Where a version is written before it is published (`versions/.saving-v<N>`).
const SAVING: &str = ".saving-";
/// Where a version goes on its way out (`versions/.removing-v<N>`).
const REMOVING: &str = ".removing-";

/// How a [`ModelRegistry`] behaves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RegistryConfig {
    /// Retention: the newest versions always kept, besides every version
    /// that ever served (default 10, at least 1). Applied after each save.
    pub keep_last: usize,
    /// Live samples a post-deploy check compares (default 200, at least 2).
    pub post_deploy_window: usize,
    /// The post-deploy check's significance level (default 0.05, in (0, 1)).
    pub alpha: f64,
    /// How hard writes try to reach the disk (default [`Durability::Fsync`]).
    pub durability: Durability,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            keep_last: 10,
            post_deploy_window: 200,
            alpha: 0.05,
            durability: Durability::Fsync,
        }
    }
}

impl RegistryConfig {
    /// Refuses settings out of range, naming the setting.
    pub fn validate(&self) -> Result<(), ModelsError> {
        if self.keep_last == 0 {
            return Err(ModelsError::invalid("keep_last", 0, "at least 1"));
        }
        if self.post_deploy_window < 2 {
            return Err(ModelsError::invalid(
                "post_deploy_window",
                self.post_deploy_window,
                "at least 2 samples",
            ));
        }
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(ModelsError::invalid(
                "alpha",
                self.alpha,
                "a number in (0, 1)",
            ));
        }
        Ok(())
    }
}

/// What [`ModelRegistry::observe_post_deploy`] did.
#[derive(Clone, Debug, PartialEq)]
pub enum CheckProgress {
    /// No check is under way; the samples were not used.
    Idle,
    /// The check of `version` goes on: `samples` of `window` are in.
    Pending {
        /// The champion being checked.
        version: VersionId,
        /// Samples compared so far.
        samples: usize,
        /// Samples the check needs.
        window: usize,
    },
    /// The check ended (boxed: it carries the whole outcome).
    Finished(Box<CheckFinished>),
}

/// A post-deploy check that ended. When it failed, the champion was moved
/// back (`rollback`, also in the alias history) — unless no whole version
/// was left to move to (`None`, with a warning).
#[derive(Clone, Debug, PartialEq)]
pub struct CheckFinished {
    /// The version checked.
    pub version: VersionId,
    /// How it ended.
    pub outcome: CheckOutcome,
    /// The automatic rollback, when it failed.
    pub rollback: Option<AliasMove>,
}

/// The model registry of one bot, open for writing. See the [module
/// docs](super) for the files, crash safety and the one-writer rule.
#[derive(Debug)]
pub struct ModelRegistry {
    catalog: Catalog,
    config: RegistryConfig,
    _lock: DirLock,
}

impl ModelRegistry {
    /// Whether another handle (in this process or another) has the
    /// registry of the bot in `bot_dir` open for writing now, so that
    /// [`open`](Self::open) would fail with [`ModelsError::Locked`]. Creates
    /// nothing.
    pub fn is_held(bot_dir: &Path) -> Result<bool, ModelsError> {
        lock::held(&bot_dir.join(MODELS_DIR))
    }

    /// Opens (creating it if needed) the registry of the bot whose state
    /// folder is `bot_dir`, at `bot_dir/models`, and takes its lock; fails
    /// with [`ModelsError::Locked`] when another handle holds it.
    ///
    /// Whatever a crash left half-done is finished here, at time `now`: a
    /// version whose save was cut short is removed, a lost history line is
    /// restored from the alias, stale statuses are rewritten, a post-deploy
    /// check whose window had filled is judged, and a champion whose files
    /// are not whole (damage to the disk, never a crash) is replaced by the
    /// newest whole version that passed its check (a `repair` in the history).
    pub fn open(bot_dir: &Path, config: RegistryConfig, now: f64) -> Result<Self, ModelsError> {
        config.validate()?;
        finite("now", now)?;
        let dir = bot_dir.join(MODELS_DIR);
        let lock = lock::lock(&dir)?;
        clean_leftovers(&dir.join(VERSIONS_DIR))?;
        let (catalog, log, repairs) = Catalog::load(&dir, Access::Write)?;
        history::truncate_torn(&dir.join(HISTORY_FILE), &log)?;
        let mut registry = ModelRegistry {
            catalog,
            config,
            _lock: lock,
        };
        if repairs.alias {
            registry.save_alias()?;
        }
        if let Some(lost) = &repairs.history {
            history::append(&registry.history_path(), lost, config.durability)?;
        }
        for id in repairs.metas {
            registry.save_meta(id)?;
        }
        registry.repair_champion(now)?;
        if registry
            .catalog
            .alias
            .check
            .as_ref()
            .is_some_and(|c| c.is_complete())
        {
            registry.finish_check(now)?;
        }
        Ok(registry)
    }

    /// Everything the registry holds, to read.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Its settings.
    pub fn config(&self) -> &RegistryConfig {
        &self.config
    }

    /// Saves a new version at time `now` and returns its number. The
    /// weights must be a whole safetensors file; the version is written to a
    /// scratch folder and published with one rename, so it appears whole or
    /// not at all. Retention (`keep_last`) runs afterwards; a version it
    /// cannot remove is left with a warning.
    pub fn save(&mut self, new: NewVersion, now: f64) -> Result<VersionId, ModelsError> {
        finite("now", now)?;
        new.info.validate()?;
        let weights_info = weights::info_of(&new.weights)?;
        let id = VersionId(self.catalog.highest + 1);
        if let Some(parent) = new.info.parent.filter(|p| p >= &id) {
            return Err(ModelsError::invalid(
                "parent",
                parent,
                format!("an existing version (below {id})"),
            ));
        }
        let meta = VersionMeta {
            id,
            created: now,
            info: new.info,
            weights: weights_info,
            post_deploy: None,
        };
        let durability = self.config.durability;
        let versions = self.catalog.dir().join(VERSIONS_DIR);
        let staging = versions.join(format!("{SAVING}{id}"));
        remove_dir(&staging)?;
        persist::write_atomic(&staging.join(WEIGHTS_FILE), &new.weights, durability)?;
        persist::save_json(&staging.join(META_FILE), &meta, durability)?;
        let published = self.catalog.version_dir(id);
        fs::rename(&staging, &published).map_err(|e| io_error("publish", &published, e))?;
        if durability == Durability::Fsync {
            persist::sync_dir(&versions)?;
        }
        self.catalog.highest = id.0;
        self.catalog.versions.insert(id, meta);
        if let Err(e) = self.retain(self.config.keep_last) {
            tracing::warn!(dir = %versions.display(), error = %e, "retention after a save failed");
        }
        Ok(id)
    }

    /// Makes `id` the champion because it passed the deploy gate (`reason`
    /// says how); recorded as a `deploy`. See [`activate`](Self::activate).
    pub fn deploy(
        &mut self,
        id: VersionId,
        reason: &str,
        now: f64,
    ) -> Result<AliasMove, ModelsError> {
        self.promote(id, MoveAction::Deploy, reason, now)
    }

    /// Makes `id` the champion by hand; recorded as an `activate`.
    ///
    /// The version's weights are verified first. With a champion before it,
    /// a post-deploy check of `id` against that champion starts (a check
    /// under way is abandoned); with none, `id` is recorded as unopposed.
    pub fn activate(
        &mut self,
        id: VersionId,
        reason: &str,
        now: f64,
    ) -> Result<AliasMove, ModelsError> {
        self.promote(id, MoveAction::Activate, reason, now)
    }

    fn promote(
        &mut self,
        id: VersionId,
        action: MoveAction,
        reason: &str,
        now: f64,
    ) -> Result<AliasMove, ModelsError> {
        finite("now", now)?;
        let from = self.catalog.champion();
        if from == Some(id) {
            return Err(ModelsError::AlreadyChampion(id));
        }
        self.catalog.weights(id)?;
        let check = from
            .map(|prev| PostDeployCheck::new(id, prev, self.config.post_deploy_window, now))
            .transpose()?;
        self.move_alias(Some(id), action, reason, None, check, now)
    }

    /// Moves the champion back to the newest other version that has served
    /// and whose latest post-deploy check passed (see
    /// [`Catalog::rollback_candidates`]; a candidate whose files are damaged
    /// is passed over with a warning). A check under way is abandoned.
    pub fn rollback_to_previous(
        &mut self,
        reason: &str,
        now: f64,
    ) -> Result<AliasMove, ModelsError> {
        finite("now", now)?;
        let target = self
            .whole_rollback_target()?
            .ok_or(ModelsError::NoRollbackTarget {
                champion: self.catalog.champion(),
            })?;
        self.move_alias(Some(target), MoveAction::Rollback, reason, None, None, now)
    }

    /// Feeds the post-deploy check: `champion[i]` and `previous[i]` are the
    /// live loss of the champion and of the champion it replaced on the same
    /// sample. The samples gathered are saved with the alias, so a restart
    /// goes on where it stopped. When the window fills, the check is judged
    /// (see [`super::check`]): a pass is kept in the version's metadata; a
    /// failure too, and the champion moves back to the version it was
    /// checked against (an `auto_rollback` in the history, with the check's
    /// numbers).
    pub fn observe_post_deploy(
        &mut self,
        champion: &[f64],
        previous: &[f64],
        now: f64,
    ) -> Result<CheckProgress, ModelsError> {
        finite("now", now)?;
        let Some(mut check) = self.catalog.alias.check.clone() else {
            return Ok(CheckProgress::Idle);
        };
        check.observe(champion, previous)?;
        let (version, samples, window) = (check.version, check.samples(), check.window);
        let complete = check.is_complete();
        self.catalog.alias.check = Some(check);
        if complete {
            return self.finish_check(now);
        }
        self.save_alias()?;
        Ok(CheckProgress::Pending {
            version,
            samples,
            window,
        })
    }

    /// Removes every version that is not among the newest `keep_last` and
    /// has never served (a post-deploy check only compares versions that
    /// serve or served); returns them.
    pub fn retain(&mut self, keep_last: usize) -> Result<Vec<VersionId>, ModelsError> {
        if keep_last == 0 {
            return Err(ModelsError::invalid("keep_last", 0, "at least 1"));
        }
        let keep: BTreeSet<VersionId> = self
            .catalog
            .versions
            .keys()
            .rev()
            .take(keep_last)
            .copied()
            .collect();
        let doomed: Vec<VersionId> = self
            .catalog
            .versions
            .keys()
            .copied()
            .filter(|&id| !keep.contains(&id) && !self.catalog.served(id))
            .collect();
        let versions = self.catalog.dir().join(VERSIONS_DIR);
        for &id in &doomed {
            let going = versions.join(format!("{REMOVING}{id}"));
            let dir = self.catalog.version_dir(id);
            fs::rename(&dir, &going).map_err(|e| io_error("remove", &dir, e))?;
            self.catalog.versions.remove(&id);
            remove_dir(&going)?;
        }
        if !doomed.is_empty() && self.config.durability == Durability::Fsync {
            persist::sync_dir(&versions)?;
        }
        Ok(doomed)
    }

    /// Judges the complete check in the alias and acts on it.
    fn finish_check(&mut self, now: f64) -> Result<CheckProgress, ModelsError> {
        let Some(check) = self.catalog.alias.check.clone() else {
            return Ok(CheckProgress::Idle);
        };
        let Some(outcome) = check.verdict(self.config.alpha, now)? else {
            return Ok(CheckProgress::Idle);
        };
        let version = check.version;
        // The outcome goes into the version's metadata first: a crash before
        // the alias changes leaves the full check in the alias, and the next
        // open judges it again, the same way.
        if let Some(meta) = self.catalog.versions.get_mut(&version) {
            meta.post_deploy = Some(outcome.clone());
            self.save_meta(version)?;
        }
        if outcome.result != CheckResult::Failed {
            self.catalog.alias.check = None;
            self.save_alias()?;
            return Ok(CheckProgress::Finished(Box::new(CheckFinished {
                version,
                outcome,
                rollback: None,
            })));
        }
        let target = if self.catalog.weights(check.against).is_ok() {
            Some(check.against)
        } else {
            self.whole_rollback_target()?
        };
        let rollback = match target {
            Some(to) => {
                let reason = failed_check_reason(&outcome, version);
                let moved = self.move_alias(
                    Some(to),
                    MoveAction::AutoRollback,
                    &reason,
                    Some(outcome.clone()),
                    None,
                    now,
                )?;
                Some(moved)
            }
            None => {
                tracing::warn!(
                    dir = %self.catalog.dir().display(),
                    "{version} failed its post-deploy check, but no whole version is left to roll back to; it stays champion"
                );
                self.catalog.alias.check = None;
                self.save_alias()?;
                None
            }
        };
        Ok(CheckProgress::Finished(Box::new(CheckFinished {
            version,
            outcome,
            rollback,
        })))
    }

    /// Replaces a champion whose files are not whole (see [`open`](Self::open)).
    fn repair_champion(&mut self, now: f64) -> Result<(), ModelsError> {
        let Some(champion) = self.catalog.champion() else {
            return Ok(());
        };
        let why = match self.catalog.weights(champion) {
            Ok(_) => return Ok(()),
            Err(ModelsError::Damaged { why, .. }) => why,
            Err(ModelsError::UnknownVersion { .. }) => "its folder is missing".to_string(),
            Err(e) => return Err(e),
        };
        let target = self.whole_rollback_target()?;
        tracing::warn!(
            dir = %self.catalog.dir().display(),
            %why,
            to = ?target,
            "the champion {champion} is damaged; moving to the newest whole version that passed"
        );
        let reason = format!("the champion {champion} is damaged: {why}");
        self.move_alias(target, MoveAction::Repair, &reason, None, None, now)?;
        Ok(())
    }

    /// The first rollback candidate whose weights are whole.
    fn whole_rollback_target(&self) -> Result<Option<VersionId>, ModelsError> {
        for id in self.catalog.rollback_candidates() {
            match self.catalog.weights(id) {
                Ok(_) => return Ok(Some(id)),
                Err(e @ ModelsError::Damaged { .. }) => {
                    tracing::warn!(error = %e, "passing over a damaged version");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// Moves the alias to `to`: the alias file first (atomically, with
    /// `check`), then the history line, then the statuses that follow.
    ///
    /// An error after the alias file is written leaves the move made (the
    /// registry in memory agrees); the next open restores a history line
    /// that could not be appended and rewrites stale statuses.
    fn move_alias(
        &mut self,
        to: Option<VersionId>,
        action: MoveAction,
        reason: &str,
        failed: Option<CheckOutcome>,
        check: Option<PostDeployCheck>,
        now: f64,
    ) -> Result<AliasMove, ModelsError> {
        let alias = &self.catalog.alias;
        let metrics = to
            .and_then(|id| self.catalog.versions.get(&id))
            .map(|m| m.info.metrics.clone())
            .unwrap_or_default();
        let entry = AliasMove {
            seq: alias.seq + 1,
            at: now,
            action,
            from: alias.champion,
            to,
            reason: reason.to_string(),
            metrics,
            check: failed,
        };
        let mut next = alias.clone();
        next.champion = to;
        next.seq = entry.seq;
        next.last_move = Some(entry.clone());
        next.check = check;
        persist::save_json(&self.alias_path(), &next, self.config.durability)?;
        self.catalog.alias = next;
        self.catalog.push_move(entry.clone());
        history::append(&self.history_path(), &entry, self.config.durability)?;
        for id in self.catalog.derive() {
            self.save_meta(id)?;
        }
        Ok(entry)
    }

    fn save_alias(&self) -> Result<(), ModelsError> {
        persist::save_json(
            &self.alias_path(),
            &self.catalog.alias,
            self.config.durability,
        )?;
        Ok(())
    }

    fn save_meta(&self, id: VersionId) -> Result<(), ModelsError> {
        let meta = self.catalog.version(id)?;
        let path = self.catalog.version_dir(id).join(META_FILE);
        persist::save_json(&path, meta, self.config.durability)?;
        Ok(())
    }

    fn alias_path(&self) -> PathBuf {
        self.catalog.dir().join(ALIAS_FILE)
    }

    fn history_path(&self) -> PathBuf {
        self.catalog.dir().join(HISTORY_FILE)
    }
}

/// The history's words for an automatic rollback.
fn failed_check_reason(outcome: &CheckOutcome, version: VersionId) -> String {
    let p = outcome
        .significance
        .as_ref()
        .map_or("no variance".to_string(), |s| {
            format!("p = {:.4}", s.p_value)
        });
    format!(
        "post-deploy check failed: {version}'s mean live loss {:.6} against {:.6} over {} samples ({p})",
        outcome.champion_loss.unwrap_or(f64::NAN),
        outcome.previous_loss.unwrap_or(f64::NAN),
        outcome.samples,
    )
}

/// Removes what a crash left in `versions/`: a save cut short, a removal cut short.
fn clean_leftovers(versions: &Path) -> Result<(), ModelsError> {
    let entries = match fs::read_dir(versions) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_error("list", versions, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| io_error("list", versions, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let leftover = [SAVING, REMOVING]
            .iter()
            .find_map(|prefix| name.strip_prefix(prefix))
            .and_then(version_of_folder);
        if leftover.is_some() {
            if name.starts_with(SAVING) {
                tracing::warn!(
                    folder = %entry.path().display(),
                    "removing a model version whose save was cut short"
                );
            }
            remove_dir(&entry.path())?;
        }
    }
    Ok(())
}

/// Removes a folder and everything in it; a missing folder is fine.
fn remove_dir(dir: &Path) -> Result<(), ModelsError> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_error("remove", dir, e)),
        _ => Ok(()),
    }
}
