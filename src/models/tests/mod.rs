//! Tests of the model registry, by concept.

mod alias;
mod check;
mod recovery;
mod versions;

use super::*;
use crate::persist::Durability;
use candle_core::{Device, Tensor};
use std::path::Path;

/// A small safetensors file whose bytes depend on `x`.
pub(super) fn weights(x: f32) -> Vec<u8> {
    let w = Tensor::new(&[[x, 2.0 * x], [3.0 * x, 4.0 * x]], &Device::Cpu).unwrap();
    let b = Tensor::new(&[x - 1.0], &Device::Cpu).unwrap();
    safetensors::serialize([("l1.weight", w), ("l1.bias", b)], None).unwrap()
}

/// Test settings: no fsync, a post-deploy window of 4.
pub(super) fn config() -> RegistryConfig {
    RegistryConfig {
        post_deploy_window: 4,
        durability: Durability::Atomic,
        ..RegistryConfig::default()
    }
}

pub(super) fn open(bot: &Path) -> ModelRegistry {
    ModelRegistry::open(bot, config(), 0.0).unwrap()
}

/// A candidate with weights `weights(x)` and a validation loss.
pub(super) fn candidate(x: f32, val_loss: f64) -> NewVersion {
    NewVersion::new(weights(x)).metric("val_loss", val_loss)
}

/// Saves `candidate(x, loss)` at time `now` and deploys it.
pub(super) fn save_and_deploy(
    models: &mut ModelRegistry,
    x: f32,
    loss: f64,
    now: f64,
) -> VersionId {
    let id = models.save(candidate(x, loss), now).unwrap();
    models.deploy(id, "test", now + 1.0).unwrap();
    id
}

/// Every version's status, oldest first.
pub(super) fn statuses(models: &ModelRegistry) -> Vec<(VersionId, VersionStatus)> {
    let versions = models.catalog().versions();
    versions.map(|m| (m.id, m.status())).collect()
}

/// The lines of the registry's history file.
pub(super) fn history_lines(bot: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(bot.join(MODELS_DIR).join(HISTORY_FILE)).unwrap();
    text.lines().map(str::to_string).collect()
}
