//! The direct synergy weight rule (SPEC §5): [`SynergyWeightLearner`].
//!
//! [`SynergyWeightLearner::update`]`(roi_delta, Δ)`: when `roi_delta == 0`
//! nothing changes; otherwise every weight moves by `lr·roi_delta·Δ_key` and is
//! clamped to `[0, 10]`. The product is taken as `lr·(roi_delta·Δ_key)`, which
//! equals SPEC's formula and cannot produce NaN even for huge inputs (an
//! overflow gives ±∞, which the clamp turns into 10 or 0). Its only state is
//! its [`SynergyWeights`], kept in `synergy.json` (see [`super::weights`]).
//!
//! ```
//! use kaizen::synergy::{
//!     SynergyDeltas, SynergyKey, SynergyKeys, SynergyLearner, SynergyWeightLearner,
//!     WeightLearnerConfig,
//! };
//!
//! let mut learner = SynergyWeightLearner::new(WeightLearnerConfig::default())?; // lr 0.1
//! let mut deltas = SynergyDeltas::zeros(SynergyKeys::Core);
//! deltas.set(SynergyKey::Roi, 1.0)?;
//! learner.update(1.0, &deltas)?;
//! assert!((learner.weights().get(SynergyKey::Roi).unwrap() - 1.1).abs() < 1e-12);
//! assert_eq!(learner.weights().get(SynergyKey::Efficiency), Some(1.0));
//! # Ok::<(), kaizen::Error>(())
//! ```

use std::path::Path;

use super::key::SynergyKeys;
use super::weights::{SynergyWeights, load_weights, weights_file};
use super::{LearnReport, Skip, SynergyDeltas, SynergyLearner, check_key_set, check_update};
use crate::Result;
use crate::error::ensure_positive;
use crate::persist::PendingFile;

/// Settings of [`SynergyWeightLearner`].
#[derive(Clone, Debug, PartialEq)]
pub struct WeightLearnerConfig {
    /// Learning rate, finite and > 0. Default 0.1.
    pub lr: f64,
    /// Which keys are weighed. Default: the four core keys.
    pub keys: SynergyKeys,
}

impl Default for WeightLearnerConfig {
    fn default() -> Self {
        Self {
            lr: 0.1,
            keys: SynergyKeys::Core,
        }
    }
}

impl WeightLearnerConfig {
    /// Refuses a learning rate that is not finite and positive (`synergy.lr`).
    pub fn validate(&self) -> Result<()> {
        ensure_positive("synergy.lr", self.lr).map(|_| ())
    }
}

/// Learns synergy weights with the direct rule of SPEC §5.
#[derive(Clone, Debug, PartialEq)]
pub struct SynergyWeightLearner {
    lr: f64,
    weights: SynergyWeights,
}

impl SynergyWeightLearner {
    /// A learner with every weight at 1.0.
    pub fn new(config: WeightLearnerConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            lr: config.lr,
            weights: SynergyWeights::new(config.keys),
        })
    }

    /// A learner with the weights saved in `dir` (see the module docs for
    /// missing and damaged files). A file from a newer kaizen is an error.
    pub fn load(dir: &Path, config: WeightLearnerConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            lr: config.lr,
            weights: load_weights(dir, config.keys)?,
        })
    }

    /// The learning rate.
    pub fn lr(&self) -> f64 {
        self.lr
    }
}

impl SynergyLearner for SynergyWeightLearner {
    fn kind(&self) -> &'static str {
        "weights"
    }

    fn weights(&self) -> &SynergyWeights {
        &self.weights
    }

    fn update(&mut self, roi_delta: f64, deltas: &SynergyDeltas) -> Result<LearnReport> {
        check_update(self.weights.keys(), roi_delta, deltas)?;
        if roi_delta == 0.0 {
            return Ok(LearnReport {
                skipped: Some(Skip::ZeroRoiDelta),
                ..LearnReport::default()
            });
        }
        for (i, &delta) in deltas.as_slice().iter().enumerate() {
            let w = self.weights.as_slice()[i];
            self.weights
                .set_clamped(i, w + self.lr * (roi_delta * delta));
        }
        Ok(LearnReport::default())
    }

    fn set_weights(&mut self, weights: SynergyWeights) -> Result<()> {
        check_key_set("synergy weights", self.weights.keys(), weights.keys())?;
        self.weights = weights;
        Ok(())
    }

    fn state_files(&self, dir: &Path) -> Result<Vec<PendingFile>> {
        Ok(vec![weights_file(dir, &self.weights)?])
    }

    fn is_heavy(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;
    use crate::persist::{self, Durability, PersistError, backup_path};
    use crate::synergy::SynergyKey;
    use crate::synergy::weights::WEIGHTS_FILE;
    use std::fs;

    fn learner(keys: SynergyKeys) -> SynergyWeightLearner {
        SynergyWeightLearner::new(WeightLearnerConfig {
            keys,
            ..WeightLearnerConfig::default()
        })
        .unwrap()
    }

    fn deltas(values: &[f64]) -> SynergyDeltas {
        SynergyDeltas::from_values(SynergyKeys::Core, values).unwrap()
    }

    fn corrupt_files(dir: &Path) -> usize {
        fs::read_dir(dir)
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                name.to_string_lossy().contains(".corrupt-")
            })
            .count()
    }

    #[test]
    fn spec_example() {
        let mut l = learner(SynergyKeys::Core);
        let report = l.update(1.0, &deltas(&[1.0, 0.0, 0.0, 0.0])).unwrap();
        assert_eq!(report, LearnReport::default());
        assert!((l.weights().get(SynergyKey::Roi).unwrap() - 1.1).abs() < 1e-12);
        assert_eq!(&l.weights().as_slice()[1..], &[1.0, 1.0, 1.0]);
    }

    #[test]
    fn hand_computed_steps() {
        let mut l = SynergyWeightLearner::new(WeightLearnerConfig {
            lr: 0.5,
            keys: SynergyKeys::Core,
        })
        .unwrap();
        // w += 0.5·(−2)·Δ = −Δ
        l.update(-2.0, &deltas(&[0.25, -0.5, 1.0, 0.0])).unwrap();
        assert_eq!(l.weights().as_slice(), &[0.75, 1.5, 0.0, 1.0]);
        // Clamped at 10 and at 0.
        l.update(4.0, &deltas(&[10.0, -1.0, -3.0, 0.5])).unwrap();
        assert_eq!(l.weights().as_slice(), &[10.0, 0.0, 0.0, 2.0]);
    }

    #[test]
    fn zero_roi_delta_changes_nothing() {
        let mut l = learner(SynergyKeys::Core);
        for zero in [0.0, -0.0] {
            let report = l.update(zero, &deltas(&[5.0, 5.0, 5.0, 5.0])).unwrap();
            assert_eq!(report.skipped, Some(Skip::ZeroRoiDelta));
        }
        assert_eq!(l.weights(), &SynergyWeights::new(SynergyKeys::Core));
    }

    #[test]
    fn bad_input_is_refused_and_changes_nothing() {
        let mut l = learner(SynergyKeys::Core);
        l.update(1.0, &deltas(&[1.0, 2.0, 0.0, 0.0])).unwrap();
        let before = l.clone();
        for roi in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let err = l.update(roi, &deltas(&[1.0; 4])).unwrap_err();
            assert!(matches!(err, Error::NonFinite { .. }), "{err}");
        }
        let ext = SynergyDeltas::zeros(SynergyKeys::Extended);
        assert!(matches!(l.update(1.0, &ext), Err(Error::Invalid { .. })));
        assert_eq!(l, before);
    }

    #[test]
    fn huge_inputs_never_make_nan() {
        let mut l = SynergyWeightLearner::new(WeightLearnerConfig {
            lr: 1e300,
            keys: SynergyKeys::Core,
        })
        .unwrap();
        // lr·roi alone overflows; with Δ = 0 SPEC's left-to-right product would be ∞·0 = NaN.
        l.update(1e300, &deltas(&[1e300, 0.0, -1e300, 1e-300]))
            .unwrap();
        assert_eq!(l.weights().as_slice(), &[10.0, 1.0, 0.0, 10.0]);
    }

    #[test]
    fn extended_learner_updates_all_seven() {
        let mut l = learner(SynergyKeys::Extended);
        let d = SynergyDeltas::from_values(
            SynergyKeys::Extended,
            &[0.0, 0.0, 0.0, 0.0, 1.0, 2.0, -1.0],
        )
        .unwrap();
        l.update(1.0, &d).unwrap();
        let want = [1.0, 1.0, 1.0, 1.0, 1.1, 1.2, 0.9];
        for (got, want) in l.weights().as_slice().iter().zip(want) {
            assert!((got - want).abs() < 1e-12);
        }
    }

    #[test]
    fn learning_rate_is_validated() {
        for lr in [0.0, -0.1] {
            let err = SynergyWeightLearner::new(WeightLearnerConfig {
                lr,
                ..WeightLearnerConfig::default()
            })
            .unwrap_err();
            assert!(
                matches!(&err, Error::Invalid { what, .. } if what == "synergy.lr"),
                "{err}"
            );
        }
        for lr in [f64::NAN, f64::INFINITY] {
            let err = WeightLearnerConfig {
                lr,
                ..WeightLearnerConfig::default()
            }
            .validate()
            .unwrap_err();
            assert!(
                matches!(&err, Error::NonFinite { what, .. } if what == "synergy.lr"),
                "{err}"
            );
        }
        assert_eq!(learner(SynergyKeys::Core).lr(), 0.1);
    }

    #[test]
    fn set_weights_replaces_them_for_the_same_key_set_only() {
        let mut l = learner(SynergyKeys::Core);
        let w = SynergyWeights::from_values(SynergyKeys::Core, &[2.0, 3.0, 4.0, 5.0]).unwrap();
        l.set_weights(w).unwrap();
        assert_eq!(l.weights(), &w);
        let err = l
            .set_weights(SynergyWeights::new(SynergyKeys::Extended))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid synergy weights = extended keys: expected the learner's core keys"
        );
        assert_eq!(l.weights(), &w);
    }

    #[test]
    fn file_format_and_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = learner(SynergyKeys::Core);
        l.update(1.0, &deltas(&[1.0, 0.0, 0.0, -10.0])).unwrap();
        let bytes = l.save(dir.path(), Durability::Atomic).unwrap();
        let text = fs::read_to_string(dir.path().join(WEIGHTS_FILE)).unwrap();
        assert_eq!(
            text,
            r#"{"version":1,"roi":1.1,"efficiency":1.0,"resilience":1.0,"antifragility":0.0}"#
        );
        assert_eq!(bytes, text.len() as u64);
        let back = SynergyWeightLearner::load(dir.path(), WeightLearnerConfig::default()).unwrap();
        assert_eq!(back, l);
    }

    #[test]
    fn weights_round_trip_bit_for_bit() {
        // Needs serde_json's `float_roundtrip`: without it about one value in
        // five of these comes back one ulp off, and training does not resume
        // exactly.
        let dir = tempfile::tempdir().unwrap();
        let mut x = 0.123_456_789_012_345_67_f64;
        for _ in 0..200 {
            let values: Vec<f64> = (0..7)
                .map(|_| {
                    x = (x * 9_301.0 + 0.497_123_456_789).fract();
                    10.0 * x
                })
                .collect();
            let w = SynergyWeights::from_values(SynergyKeys::Extended, &values).unwrap();
            persist::write_all(&[weights_file(dir.path(), &w).unwrap()], Durability::Atomic)
                .unwrap();
            let back = load_weights(dir.path(), SynergyKeys::Extended).unwrap();
            let bits =
                |w: &SynergyWeights| w.as_slice().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&back), bits(&w));
        }
    }

    #[test]
    fn missing_file_gives_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let l = SynergyWeightLearner::load(dir.path(), WeightLearnerConfig::default()).unwrap();
        assert_eq!(l.weights(), &SynergyWeights::new(SynergyKeys::Core));
    }

    #[test]
    fn damaged_files_give_all_defaults_and_are_moved_aside() {
        for bad in [
            r#"{"version":1,"roi":2.0,"efficiency":1.0,"resilience":1.0}"#,
            r#"{"version":1,"roi":2.0,"efficiency":"high","resilience":1.0,"antifragility":1.0}"#,
            r#"{"version":1,"roi":2.0,"efficiency":null,"resilience":1.0,"antifragility":1.0}"#,
            r#"{"version":1,"roi":10.5,"efficiency":1.0,"resilience":1.0,"antifragility":1.0}"#,
            r#"{"version":1,"roi":-1,"efficiency":1.0,"resilience":1.0,"antifragility":1.0}"#,
            r#"{"version":1,"roi":2.0,"efficiency":1.0,"resilience":1.0,"antifr"#,
            r#"{"roi":2.0,"efficiency":1.0,"resilience":1.0,"antifragility":1.0}"#,
            r#"[1.0, 2.0]"#,
            "",
        ] {
            let dir = tempfile::tempdir().unwrap();
            fs::write(dir.path().join(WEIGHTS_FILE), bad).unwrap();
            let w = load_weights(dir.path(), SynergyKeys::Core).unwrap();
            assert_eq!(w, SynergyWeights::new(SynergyKeys::Core), "{bad}");
            assert!(!dir.path().join(WEIGHTS_FILE).exists(), "{bad}");
            assert_eq!(corrupt_files(dir.path()), 1, "{bad}");
        }
    }

    #[test]
    fn a_damaged_file_falls_back_to_its_backup() {
        let dir = tempfile::tempdir().unwrap();
        let first = SynergyWeights::from_values(SynergyKeys::Core, &[2.0, 3.0, 4.0, 5.0]).unwrap();
        persist::write_all(
            &[weights_file(dir.path(), &first).unwrap()],
            Durability::Atomic,
        )
        .unwrap();
        persist::write_all(
            &[weights_file(dir.path(), &SynergyWeights::default()).unwrap()],
            Durability::Atomic,
        )
        .unwrap();
        assert!(backup_path(&dir.path().join(WEIGHTS_FILE)).exists());
        fs::write(
            dir.path().join(WEIGHTS_FILE),
            r#"{"version":1,"roi":1.0,"efficiency":1.0,"resilience":1.0}"#,
        )
        .unwrap();
        assert_eq!(load_weights(dir.path(), SynergyKeys::Core).unwrap(), first);
        assert_eq!(corrupt_files(dir.path()), 1);
    }

    #[test]
    fn newer_file_is_refused_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let text =
            r#"{"version":2,"roi":1.0,"efficiency":1.0,"resilience":1.0,"antifragility":1.0}"#;
        fs::write(dir.path().join(WEIGHTS_FILE), text).unwrap();
        let err =
            SynergyWeightLearner::load(dir.path(), WeightLearnerConfig::default()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Persist(PersistError::NewerVersion { found: 2, .. })
            ),
            "{err}"
        );
        assert_eq!(
            fs::read_to_string(dir.path().join(WEIGHTS_FILE)).unwrap(),
            text
        );
    }

    #[test]
    fn key_sets_across_files() {
        let dir = tempfile::tempdir().unwrap();
        let ext = SynergyWeights::from_values(
            SynergyKeys::Extended,
            &[2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
        )
        .unwrap();
        persist::write_all(
            &[weights_file(dir.path(), &ext).unwrap()],
            Durability::Atomic,
        )
        .unwrap();
        // A core learner takes the core keys of an extended file.
        let core = load_weights(dir.path(), SynergyKeys::Core).unwrap();
        assert_eq!(core.as_slice(), &[2.0, 3.0, 4.0, 5.0]);
        // An extended learner cannot use a core file: all defaults.
        persist::write_all(
            &[weights_file(dir.path(), &core).unwrap()],
            Durability::Atomic,
        )
        .unwrap();
        fs::remove_file(backup_path(&dir.path().join(WEIGHTS_FILE))).unwrap();
        let back = load_weights(dir.path(), SynergyKeys::Extended).unwrap();
        assert_eq!(back, SynergyWeights::new(SynergyKeys::Extended));
    }

    #[test]
    fn truncated_files_never_panic() {
        let dir = tempfile::tempdir().unwrap();
        let w = SynergyWeights::from_values(SynergyKeys::Core, &[2.0, 3.0, 4.0, 5.0]).unwrap();
        persist::write_all(&[weights_file(dir.path(), &w).unwrap()], Durability::Atomic).unwrap();
        let good = fs::read(dir.path().join(WEIGHTS_FILE)).unwrap();
        for cut in 0..good.len() {
            fs::write(dir.path().join(WEIGHTS_FILE), &good[..cut]).unwrap();
            let loaded = load_weights(dir.path(), SynergyKeys::Core).unwrap();
            assert_eq!(loaded, SynergyWeights::default(), "cut at {cut}");
        }
    }
}
