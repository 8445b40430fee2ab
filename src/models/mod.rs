//! The per-bot model registry: every trained version kept, a `champion`
//! alias that says which one serves, an append-only history of every move of
//! that alias, rollback, retention, and the post-deploy check that rolls a
//! worse champion back on its own.
//!
//! A training pipeline saves each version it trains ([`ModelRegistry::save`]:
//! safetensors weights plus metadata), deploys the ones its gate accepts
//! ([`ModelRegistry::deploy`]), then feeds the live losses of the new and the
//! previous champion into the post-deploy check
//! ([`ModelRegistry::observe_post_deploy`]). Operators list, show and compare
//! versions ([`Catalog`]), activate one by hand or roll back.
//!
//! ```
//! use kaizen::models::{ModelRegistry, NewVersion, RegistryConfig};
//! # fn weights(x: f32) -> Vec<u8> {
//! #     let t = candle_core::Tensor::new(&[x], &candle_core::Device::Cpu).unwrap();
//! #     safetensors::serialize([("w", t)], None).unwrap()
//! # }
//! let bot = tempfile::tempdir()?;
//! let mut models = ModelRegistry::open(bot.path(), RegistryConfig::default(), 1_000.0)?;
//! let v1 = models.save(NewVersion::new(weights(0.5)).metric("val_loss", 0.40), 1_000.0)?;
//! models.deploy(v1, "beats the training mean", 1_001.0)?;
//! let v2 = models.save(
//!     NewVersion::new(weights(0.7)).metric("val_loss", 0.30).parent(v1),
//!     2_000.0,
//! )?;
//! models.deploy(v2, "6% better, p = 0.01", 2_001.0)?;
//! let change = models.catalog().compare(v1, v2)?;
//! assert!((change.metrics[0].improvement.unwrap() - 0.25).abs() < 1e-12);
//! // Changed our mind: back to the newest version that passed its check.
//! let moved = models.rollback_to_previous("operator: v2 misbehaves", 3_000.0)?;
//! assert_eq!(moved.to, Some(v1));
//! assert_eq!(models.catalog().champion_weights()?.unwrap().1, weights(0.5));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Files (`state/<bot>/models/`)
//! ```text
//! .lock                          the writer's lock
//! champion.json                  the alias: {"version":1,"champion":7,"seq":12,"last_move":{…},"check":{…}}
//! history.jsonl                  one line per alias move, appended, never rewritten
//! versions/v7/weights.safetensors  the caller's bytes, as given
//! versions/v7/meta.json          VersionMeta: metrics, data window, hyperparameters,
//!                                parent, created, status, significance, post-deploy outcome,
//!                                the weights' size and CRC-32
//! ```
//! JSON files go through [`crate::persist`] (atomic, `"version": 1`, `.bak`,
//! a damaged file moved aside and its backup used).
//!
//! ## Crash safety
//! A `kill -9` (or power cut, with [`Durability::Fsync`]) at any moment
//! leaves the alias pointing at a version whose files are whole:
//! - a version is written into `versions/.saving-v<N>/`, flushed, and
//!   published by renaming the folder to `v<N>`: it appears whole or not at
//!   all (a leftover scratch folder is removed at the next open);
//! - the alias moves only to a published version whose weights match their
//!   recorded size and checksum, in one atomic replacement of
//!   `champion.json`;
//! - the history line is appended *after* the alias is replaced and the
//!   alias repeats it (`last_move`), so a crash in between, or a line torn
//!   by a crash, is repaired at the next open from the alias;
//! - statuses in `meta.json` follow from the alias and history and are
//!   rewritten at the next open if a crash left them stale;
//! - a removed version is first renamed out of the way, then deleted.
//!
//! ## One writer at a time
//! A [`ModelRegistry`] holds an advisory lock on `.lock` while it lives, so
//! only one handle, in one process, changes a registry at a time; a second
//! [`ModelRegistry::open`] fails at once with [`ModelsError::Locked`]. The
//! lock dies with its process, so a crash never leaves it stale. While
//! `kaizen run` holds a bot's registry, `kaizen models activate|rollback`
//! must go through the running service; [`Catalog::read`] takes a lock-free
//! read-only look for `list`, `show` and `compare` at any time (what it sees
//! is always consistent: every file it reads is replaced atomically, and a
//! half-appended history line is skipped). The registry is a plain value:
//! share it between threads behind a mutex.
//!
//! ## Retention
//! After each save, versions that are not among the newest
//! [`RegistryConfig::keep_last`] and have never served are removed; every
//! version that ever served stays, so every entry of the history can be
//! rolled back to.
//!
//! ## The post-deploy check
//! See [`check`]: after a deploy or activation with a champion before it,
//! the next [`RegistryConfig::post_deploy_window`] live samples (default
//! 200) decide whether the new champion is significantly worse than the one
//! it replaced; if so the registry rolls back to that one (`auto_rollback`)
//! and records why. [`rollback_to_previous`](ModelRegistry::rollback_to_previous)
//! goes to the newest other version that has served and passed its check
//! (a version deployed with no champion before it counts as passed).
//!
//! [`Durability::Fsync`]: crate::persist::Durability::Fsync

mod alias;
mod catalog;
pub mod check;
mod compare;
mod error;
mod history;
mod lock;
mod meta;
mod registry;
mod weights;

pub use crate::stats::Significance;
pub use catalog::Catalog;
pub use check::{CheckOutcome, CheckResult, PostDeployCheck};
pub use compare::{Comparison, Goal, MetricChange, compare};
pub use error::ModelsError;
pub use history::{AliasMove, MoveAction};
pub use meta::{
    DataWindow, NewVersion, VersionId, VersionInfo, VersionMeta, VersionStatus, WeightsInfo,
};
pub use registry::{CheckFinished, CheckProgress, ModelRegistry, RegistryConfig};

/// The registry's folder inside a bot's state folder.
pub const MODELS_DIR: &str = "models";
/// The folder of the versions inside the registry's folder.
pub const VERSIONS_DIR: &str = "versions";
/// A version's weights file inside its folder.
pub const WEIGHTS_FILE: &str = "weights.safetensors";
/// A version's metadata file inside its folder.
pub const META_FILE: &str = "meta.json";
/// The alias history file inside the registry's folder.
pub const HISTORY_FILE: &str = "history.jsonl";

#[cfg(test)]
mod tests;
