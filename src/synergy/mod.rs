//! Synergy: cross-module metrics and the learners that weigh them (SPEC §5).
//!
//! A pipeline reports synergy metrics (`synergy_roi`, `synergy_efficiency`, …)
//! next to its other metrics. The engine records them in a [`MetricHistory`],
//! which turns them into [`SynergyDeltas`] (the change of each metric,
//! [`metric_delta`] with a window of 3). A [`SynergyLearner`] keeps one
//! [`SynergyWeights`] entry per key and learns from each cycle's ROI delta which
//! metrics go with a rising ROI. The engine uses the weighted deltas twice:
//! [`adjustment`] `= Σ_k w_k·Δ_k` scales the cycle's energy (SPEC §4, E3), and
//! [`core_products`] are four entries of the policy state (SPEC §3).
//!
//! Two learners:
//! - [`SynergyWeightLearner`] (`kind() == "weights"`): a direct rule,
//!   `w ← clamp(w + lr·roi_delta·Δ, 0, 10)`. Cheap and allocation-free.
//! - [`DQNSynergyLearner`] (`kind() == "dqn"`): a small double-DQN (plain `f32` kernels);
//!   its weights are the online network's Q-values for the current deltas.
//!   [`is_heavy`](SynergyLearner::is_heavy) says the engine should update it
//!   off its message-handling thread.
//!
//! Files in an engine's state folder: `synergy.json` (the weights, both
//! learners), and for the DQN `synergy-dqn.ckpt` and `synergy-dqn.journal`.
//!
//! Choices where SPEC is silent:
//! - [`SynergyLearner::update`] never touches the disk; SPEC's "then save" is
//!   the engine's save step at the end of a cycle ([`SynergyLearner::save`]).
//! - Deltas must be over the learner's own key set, else `Error::Invalid`.
//!
//! ```
//! use kaizen::synergy::{
//!     MetricHistory, SynergyKey, SynergyLearner, SynergyWeightLearner, WeightLearnerConfig,
//!     adjustment,
//! };
//!
//! let mut history = MetricHistory::new();
//! history.record("synergy_roi", 0.0)?;
//! history.record("synergy_roi", 2.0)?;
//! let mut learner = SynergyWeightLearner::new(WeightLearnerConfig::default())?;
//! let deltas = history.deltas(learner.weights().keys()); // roi: +1.0
//! learner.update(1.0, &deltas)?;
//! assert!((learner.weights().get(SynergyKey::Roi).unwrap() - 1.1).abs() < 1e-12);
//! assert!((adjustment(learner.weights(), &deltas) - 1.1).abs() < 1e-12);
//! # Ok::<(), kaizen::Error>(())
//! ```

pub mod dqn;
pub mod history;
pub mod key;
pub mod vector;
pub mod weight_learner;
pub mod weights;

pub use dqn::{
    DQN_CHECKPOINT_FILE, DQN_JOURNAL_FILE, DQN_NETS_FILE, DQN_STATE_FILE, DQNSynergyLearner,
    DamagedFile, DqnConfig, DqnInspection, DqnOutcome, inspect_dqn,
};
pub use history::{DELTA_WINDOW, MetricHistory, metric_delta};
pub use key::{SynergyKey, SynergyKeys};
pub use vector::{SynergyDeltas, adjustment, core_products};
pub use weight_learner::{SynergyWeightLearner, WeightLearnerConfig};
pub use weights::{
    SynergyWeights, WEIGHT_MAX, WEIGHT_MIN, WEIGHT_START, WEIGHTS_FILE, inspect_weights,
    load_weights, weights_file,
};

use serde::Serialize;
use std::path::Path;

use crate::error::ensure_finite;
use crate::persist::{self, Durability, PendingFile};
use crate::{Error, Result};

/// What one [`SynergyLearner::update`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct LearnReport {
    /// The training loss of the step taken (the DQN's Huber loss); `None`
    /// when no step was taken or the learner has no loss.
    pub loss: Option<f64>,
    /// The global gradient norm before clipping (DQN), when a step was taken.
    pub grad_norm: Option<f64>,
    /// Transitions in the training batch (0 for the weight learner).
    pub batch: usize,
    /// Whether the DQN's target network was copied from the online one.
    pub target_synced: bool,
    /// Why nothing was learned from this update, if so.
    pub skipped: Option<Skip>,
}

/// Why an update learned nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Skip {
    /// The ROI delta was 0: the weight rule has nothing to learn from.
    ZeroRoiDelta,
    /// The DQN's loss was NaN or infinite; the optimiser step was skipped.
    NonFiniteLoss,
    /// The DQN's gradients were not finite; the optimiser step was skipped.
    NonFiniteGradient,
}

/// A learner of synergy weights. The engine owns one per bot.
pub trait SynergyLearner: Send + 'static {
    /// `"weights"` or `"dqn"`: which learner this is.
    fn kind(&self) -> &'static str;

    /// The current weights, one per key of the learner's key set.
    fn weights(&self) -> &SynergyWeights;

    /// Learns from one cycle: the ROI delta it produced and the synergy deltas
    /// observed. A non-finite `roi_delta` is [`Error::NonFinite`] and deltas over
    /// another key set are [`Error::Invalid`]; nothing changes then.
    fn update(&mut self, roi_delta: f64, deltas: &SynergyDeltas) -> Result<LearnReport>;

    /// Replaces the weights (the CLI's `synergy import|reset`). Weights over
    /// another key set are [`Error::Invalid`].
    fn set_weights(&mut self, weights: SynergyWeights) -> Result<()>;

    /// The learner's state files for the folder `dir`, encoded, not written:
    /// the engine hands them to its state writer.
    fn state_files(&self, dir: &Path) -> Result<Vec<PendingFile>>;

    /// Writes the learner's state files into `dir` now; returns the bytes written.
    fn save(&self, dir: &Path, durability: Durability) -> Result<u64> {
        Ok(persist::write_all(&self.state_files(dir)?, durability)?)
    }

    /// Whether an update is costly enough (tens of µs) that the engine should
    /// run it off its message-handling thread.
    fn is_heavy(&self) -> bool;
}

/// The checks every learner makes before an update changes anything.
fn check_update(keys: SynergyKeys, roi_delta: f64, deltas: &SynergyDeltas) -> Result<()> {
    ensure_finite("synergy roi delta", roi_delta)?;
    check_key_set("synergy deltas", keys, deltas.keys())
}

/// `Error::Invalid` naming `what` unless `given` is the learner's key set.
fn check_key_set(what: &'static str, learner: SynergyKeys, given: SynergyKeys) -> Result<()> {
    if given == learner {
        Ok(())
    } else {
        Err(Error::invalid(
            what,
            format!("{given} keys"),
            format!("the learner's {learner} keys"),
        ))
    }
}

/// Which learner an engine uses, with its settings.
#[derive(Clone, Debug, PartialEq)]
pub enum LearnerConfig {
    /// [`SynergyWeightLearner`].
    Weights(WeightLearnerConfig),
    /// [`DQNSynergyLearner`].
    Dqn(DqnConfig),
}

impl Default for LearnerConfig {
    /// The weight learner with its defaults.
    fn default() -> Self {
        LearnerConfig::Weights(WeightLearnerConfig::default())
    }
}

impl LearnerConfig {
    /// Loads the configured learner from its files in `dir` (defaults for
    /// what is missing), as a trait object the engine can hold.
    pub fn load(&self, dir: &Path) -> Result<Box<dyn SynergyLearner>> {
        Ok(match self {
            LearnerConfig::Weights(c) => Box::new(SynergyWeightLearner::load(dir, c.clone())?),
            LearnerConfig::Dqn(c) => Box::new(DQNSynergyLearner::load(dir, c.clone())?),
        })
    }

    /// [`load`](Self::load) from `dir` when given, else a fresh learner.
    pub fn open(&self, dir: Option<&Path>) -> Result<Box<dyn SynergyLearner>> {
        match dir {
            Some(dir) => self.load(dir),
            None => Ok(match self {
                LearnerConfig::Weights(c) => Box::new(SynergyWeightLearner::new(c.clone())?),
                LearnerConfig::Dqn(c) => Box::new(DQNSynergyLearner::new(c.clone())?),
            }),
        }
    }

    /// The key set the learner weighs.
    pub fn keys(&self) -> SynergyKeys {
        match self {
            LearnerConfig::Weights(c) => c.keys,
            LearnerConfig::Dqn(c) => c.keys,
        }
    }

    /// Checks the learner's settings.
    pub fn validate(&self) -> Result<()> {
        match self {
            LearnerConfig::Weights(c) => c.validate(),
            LearnerConfig::Dqn(c) => c.validate(),
        }
    }

    /// `"weights"` or `"dqn"`.
    pub fn kind(&self) -> &'static str {
        match self {
            LearnerConfig::Weights(_) => "weights",
            LearnerConfig::Dqn(_) => "dqn",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_loads_the_chosen_learner() {
        let dir = tempfile::tempdir().unwrap();
        let weights = LearnerConfig::default().load(dir.path()).unwrap();
        assert_eq!(weights.kind(), "weights");
        assert!(!weights.is_heavy());
        let dqn = LearnerConfig::Dqn(DqnConfig::default())
            .load(dir.path())
            .unwrap();
        assert_eq!(dqn.kind(), "dqn");
        assert!(dqn.is_heavy());
        assert_eq!(dqn.weights(), &SynergyWeights::new(SynergyKeys::Core));
        let bad = LearnerConfig::Weights(WeightLearnerConfig {
            lr: 0.0,
            ..WeightLearnerConfig::default()
        });
        assert!(bad.load(dir.path()).is_err());
    }

    #[test]
    fn update_input_checks() {
        let core = SynergyDeltas::zeros(SynergyKeys::Core);
        assert!(check_update(SynergyKeys::Core, 1.0, &core).is_ok());
        assert!(matches!(
            check_update(SynergyKeys::Core, f64::NAN, &core),
            Err(Error::NonFinite { .. })
        ));
        let err = check_update(SynergyKeys::Extended, 1.0, &core).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid synergy deltas = core keys: expected the learner's extended keys"
        );
    }

    #[test]
    fn reports_serialize_for_cycle_records() {
        let report = LearnReport {
            skipped: Some(Skip::NonFiniteLoss),
            ..LearnReport::default()
        };
        assert_eq!(
            serde_json::to_string(&report).unwrap(),
            r#"{"loss":null,"grad_norm":null,"batch":0,"target_synced":false,"skipped":"non_finite_loss"}"#
        );
    }
}
