//! An operator's hand on a live learner: activate a version, roll back, and
//! the learner's [`TrainingStatus`].
//!
//! While a learner lives it holds its registry's writer lock, so a change by
//! hand must go through it (an engine's `ChangeModel` message, the control
//! API); the next cycle serves the new champion.

use serde::{Deserialize, Serialize};

use super::ContinuousLearner;
use crate::models::{AliasMove, ModelRegistry, ModelsError, VersionId};
use crate::training::TrainingStatus;

/// A change of the champion asked for by hand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum ModelAction {
    /// Make this version the champion (a post-deploy check against the one
    /// it replaces starts).
    Activate {
        /// The version.
        version: VersionId,
    },
    /// Back to the newest other version that served and passed its check.
    Rollback,
}

impl ModelAction {
    /// Carries the action out on `registry`, recording `reason`, at `now`.
    ///
    /// ```
    /// use kaizen::models::{ModelRegistry, NewVersion, RegistryConfig, VersionId};
    /// use kaizen::training::ModelAction;
    /// # let w = |x: f32| safetensors::serialize(
    /// #     [("w", candle_core::Tensor::new(&[x], &candle_core::Device::Cpu).unwrap())], None).unwrap();
    /// let dir = tempfile::tempdir()?;
    /// let mut models = ModelRegistry::open(dir.path(), RegistryConfig::default(), 1.0)?;
    /// let v1 = models.save(NewVersion::new(w(1.0)), 1.0)?;
    /// let v2 = models.save(NewVersion::new(w(2.0)), 2.0)?;
    /// ModelAction::Activate { version: v1 }.apply(&mut models, "first", 3.0)?;
    /// let moved = ModelAction::Activate { version: v2 }.apply(&mut models, "try v2", 4.0)?;
    /// assert_eq!((moved.from, moved.to), (Some(v1), Some(v2)));
    /// let back = ModelAction::Rollback.apply(&mut models, "v2 misbehaves", 5.0)?;
    /// assert_eq!(back.to, Some(VersionId(1)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(
        self,
        registry: &mut ModelRegistry,
        reason: &str,
        now: f64,
    ) -> Result<AliasMove, ModelsError> {
        match self {
            ModelAction::Activate { version } => registry.activate(version, reason, now),
            ModelAction::Rollback => registry.rollback_to_previous(reason, now),
        }
    }
}

impl ContinuousLearner {
    /// Carries out `action` on this learner's registry; the next cycle
    /// serves (and post-deploy-checks) the new champion.
    pub fn change_model(
        &mut self,
        action: ModelAction,
        reason: &str,
        now: f64,
    ) -> Result<AliasMove, ModelsError> {
        action.apply(&mut self.registry, reason, now)
    }

    /// The learner's status: its champion, check, buffer, open alerts and
    /// totals (no pool job: the pipeline adds it).
    pub fn status(&self) -> TrainingStatus {
        TrainingStatus::of(&self.bot, self.registry.catalog(), Some(&self.state))
    }
}
