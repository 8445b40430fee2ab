//! The energy score: how much capacity there is to spend now, in [0, 1]
//! (SPEC §7).
//!
//! An engine asks its [`EnergySource`] for a score before every cycle and
//! skips the cycle when it is below the engine's threshold. Hosts implement
//! the trait with their own capacity signal; [`CapitalEnergy`] is the default.
//!
//! [`CapitalEnergy`] turns six inputs into six features in [0, 1] with the
//! logistic `L(v) = 1 / (1 + exp(−5·(v − 0.5)))` (see [`features`]), takes
//! their weighted sum `raw = clamp01(Σ w·f)` (weights start at
//! [`INITIAL_WEIGHTS`]) and smooths it: `score = 0.7·prev + 0.3·raw`, where
//! `prev` starts at 0.5 and then is the last score. Given a `reward`, it also
//! learns: `err = reward − raw`, `w_k += 0.05·err·f_k`, then the weights are
//! divided by `Σ|w|` so they keep summing to 1 in absolute value; the last
//! [`HISTORY_LEN`] (features, reward) pairs are kept.
//!
//! Choices where SPEC is silent:
//! - `load` is a CPU/memory share, so it must lie in [0, 1] like the three
//!   rates; `capital`, `profit_trend` and `reward` need only be finite. Any
//!   bad input is refused ([`NonFinite`](crate::Error::NonFinite) or
//!   [`Invalid`](crate::Error::Invalid) naming the field) before anything
//!   changes.
//! - If an update would leave every weight at 0 (`Σ|w| = 0`), the weights
//!   before the update are kept.
//! - In `energy.json` ([`ENERGY_FILE`]) a weight outside [−1, 1], a `prev` or
//!   a feature outside [0, 1] cannot come from this code: such a file is
//!   treated as corrupt (moved aside, its backup tried). A history longer
//!   than [`HISTORY_LEN`] keeps its newest pairs.
//!
//! ```
//! use kaizen::energy::{CapitalEnergy, EnergyInputs, EnergySource};
//!
//! let mut energy = CapitalEnergy::new();
//! let inputs = EnergyInputs {
//!     capital: 500.0,
//!     profit_trend: 0.0,
//!     load: 0.5,
//!     success_rate: 0.5,
//!     deploy_eff: 0.5,
//!     failure_rate: 0.5,
//!     reward: None,
//! };
//! // Every feature is L(0.5) = 0.5, so raw = 0.5 and the score stays 0.5.
//! assert_eq!(energy.energy_score(&inputs)?, 0.5);
//! # Ok::<(), kaizen::Error>(())
//! ```

use std::collections::VecDeque;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Result, ensure_finite, ensure_unit};
use crate::persist::{self, Decode, Durability, PendingFile};
use crate::roi::{keep_newest, push_bounded};

/// The file [`CapitalEnergy`] is saved to inside a bot's state folder.
pub const ENERGY_FILE: &str = "energy.json";
/// How many features there are; their order is that of [`features`].
pub const FEATURES: usize = 6;
/// Starting weights of capital, trend, load, success, efficiency, failure.
pub const INITIAL_WEIGHTS: [f64; FEATURES] = [0.3, 0.2, 0.1, 0.2, 0.1, 0.1];
/// The score before the first call.
pub const INITIAL_SCORE: f64 = 0.5;
/// Weight of the previous score in `score = 0.7·prev + 0.3·raw`.
pub const PREV_WEIGHT: f64 = 0.7;
/// Weight of the new raw score in `score = 0.7·prev + 0.3·raw`.
pub const RAW_WEIGHT: f64 = 0.3;
/// Learning rate of the weight update.
pub const LEARNING_RATE: f64 = 0.05;
/// How many (features, reward) pairs are kept.
pub const HISTORY_LEN: usize = 100;
/// Capital at which the capital feature's input reaches 1.
pub const CAPITAL_SCALE: f64 = 1000.0;

/// What an energy source learns from after a cycle: the cycle's policy
/// reward `r` squashed into (0, 1) by the logistic `1 / (1 + e^(−r))`, so a
/// cycle that paid says "the score should have been high", one that lost
/// "low". The engine hands it over as [`EnergyInputs::reward`] with the next
/// score it asks for.
///
/// ```
/// use kaizen::energy::feedback;
/// assert_eq!(feedback(0.0), 0.5);
/// assert!(feedback(4.0) > 0.98 && feedback(-4.0) < 0.02);
/// ```
pub fn feedback(policy_reward: f64) -> f64 {
    1.0 / (1.0 + (-policy_reward).exp())
}

/// What an [`EnergySource`] is given. See the [module docs](self) for the ranges.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EnergyInputs {
    /// Current profit (any finite number).
    pub capital: f64,
    /// The long-term ROI trend (any finite number).
    pub profit_trend: f64,
    /// Machine load: max of the CPU and memory shares, in [0, 1].
    pub load: f64,
    /// Share of successful cycles, in [0, 1].
    pub success_rate: f64,
    /// Deployment efficiency, in [0, 1].
    pub deploy_eff: f64,
    /// Share of failed cycles, in [0, 1].
    pub failure_rate: f64,
    /// What the score should have been, when known (any finite number).
    pub reward: Option<f64>,
}

impl EnergyInputs {
    /// `Ok` when every input is finite and the four shares lie in [0, 1];
    /// else the first that is not, by name.
    pub fn validate(&self) -> Result<()> {
        ensure_finite("capital", self.capital)?;
        ensure_finite("profit_trend", self.profit_trend)?;
        ensure_unit("load", self.load)?;
        ensure_unit("success_rate", self.success_rate)?;
        ensure_unit("deploy_eff", self.deploy_eff)?;
        ensure_unit("failure_rate", self.failure_rate)?;
        if let Some(reward) = self.reward {
            ensure_finite("reward", reward)?;
        }
        Ok(())
    }
}

/// Something that says how much capacity there is to spend now.
///
/// Hosts implement it with their own capacity signal (a budget, a quota, a
/// GPU queue); [`CapitalEnergy`] is the default.
///
/// ```
/// use kaizen::energy::{EnergyInputs, EnergySource};
///
/// /// Full energy when the machine is idle, none when it is busy.
/// struct IdleMachine;
///
/// impl EnergySource for IdleMachine {
///     fn energy_score(&mut self, inputs: &EnergyInputs) -> kaizen::Result<f64> {
///         inputs.validate()?;
///         Ok(1.0 - inputs.load)
///     }
/// }
/// ```
pub trait EnergySource: Send {
    /// The energy score for `inputs`, in [0, 1]. Bad inputs are an error.
    fn energy_score(&mut self, inputs: &EnergyInputs) -> Result<f64>;

    /// The source's state files for the bot's state folder `dir`, encoded,
    /// not written (the engine hands them to its state writer). The default
    /// is none: it is for stateless sources; a source that learns must
    /// override it.
    fn state_files(&self, _dir: &Path) -> Result<Vec<PendingFile>> {
        Ok(Vec::new())
    }

    /// Writes the source's state into `dir` now; returns the bytes written.
    fn save(&self, dir: &Path, durability: Durability) -> Result<u64> {
        Ok(persist::write_all(&self.state_files(dir)?, durability)?)
    }
}

/// `L(v) = 1 / (1 + exp(−5·(v − 0.5)))`.
fn logistic(v: f64) -> f64 {
    1.0 / (1.0 + (-5.0 * (v - 0.5)).exp())
}

fn clamp01(x: f64) -> f64 {
    x.clamp(0.0, 1.0)
}

/// The six features of `inputs`, each in [0, 1], in the order capital, trend,
/// load, success, efficiency, failure:
/// `L(clamp01(capital/1000))`, `L(clamp01((trend + 1)/2))`,
/// `1 − L(clamp01(load))`, `L(success)`, `L(eff)`, `1 − L(failure)`.
///
/// Pure and unchecked: call [`EnergyInputs::validate`] first (a NaN input
/// gives a NaN feature). The three rates are clamped to [0, 1] like the rest.
pub fn features(inputs: &EnergyInputs) -> [f64; FEATURES] {
    [
        logistic(clamp01(inputs.capital / CAPITAL_SCALE)),
        logistic(clamp01((inputs.profit_trend + 1.0) / 2.0)),
        1.0 - logistic(clamp01(inputs.load)),
        logistic(clamp01(inputs.success_rate)),
        logistic(clamp01(inputs.deploy_eff)),
        1.0 - logistic(clamp01(inputs.failure_rate)),
    ]
}

/// One learning example: the features a score was computed from and the
/// reward given for it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnergySample {
    /// The features, as [`features`] returned them.
    pub features: [f64; FEATURES],
    /// The reward.
    pub reward: f64,
}

/// The default [`EnergySource`]: a learned, smoothed weighting of capital,
/// trend, load and cycle health. See the [module docs](self).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CapitalEnergy {
    weights: [f64; FEATURES],
    prev: f64,
    history: VecDeque<EnergySample>,
}

impl Default for CapitalEnergy {
    fn default() -> Self {
        CapitalEnergy {
            weights: INITIAL_WEIGHTS,
            prev: INITIAL_SCORE,
            history: VecDeque::new(),
        }
    }
}

impl CapitalEnergy {
    /// A fresh source: [`INITIAL_WEIGHTS`], previous score [`INITIAL_SCORE`].
    pub fn new() -> Self {
        Self::default()
    }

    /// The current weights, in [`features`] order.
    pub fn weights(&self) -> [f64; FEATURES] {
        self.weights
    }

    /// The last score returned ([`INITIAL_SCORE`] before the first).
    pub fn previous(&self) -> f64 {
        self.prev
    }

    /// The last [`HISTORY_LEN`] (features, reward) pairs, oldest first.
    pub fn history(&self) -> &VecDeque<EnergySample> {
        &self.history
    }

    /// One step of the weight update for `features`, whose unsmoothed score
    /// was `raw`, towards `reward`.
    fn learn(&mut self, features: [f64; FEATURES], raw: f64, reward: f64) {
        let err = reward - raw;
        let mut weights = self.weights;
        for (w, f) in weights.iter_mut().zip(features) {
            *w += LEARNING_RATE * err * f;
        }
        let norm: f64 = weights.iter().map(|w| w.abs()).sum();
        if norm > 0.0 {
            self.weights = weights.map(|w| w / norm);
        }
        push_bounded(
            &mut self.history,
            EnergySample { features, reward },
            HISTORY_LEN,
        );
    }

    /// Writes the weights, the previous score and the history to `path` as
    /// versioned JSON, atomically; returns the bytes written. (The trait's
    /// [`EnergySource::save`] takes a folder and writes [`ENERGY_FILE`] in it.)
    pub fn save(&self, path: &Path, durability: Durability) -> Result<u64> {
        Ok(persist::save_json(path, self, durability)?)
    }

    /// Reads a source saved by [`save`](Self::save). A missing file, or a
    /// corrupt one without a good backup, gives a fresh source; a file from a
    /// newer version is an error and is left untouched.
    pub fn load(path: &Path) -> Result<Self> {
        Ok(persist::load_with(path, Self::decode)?.unwrap_or_default())
    }

    /// What the file at `path` holds, read only (nothing is moved aside):
    /// for `kaizen status`, which names a damaged file.
    pub fn inspect(path: &Path) -> persist::Inspected<Self> {
        persist::inspect_with(path, Self::decode)
    }

    fn decode(bytes: &[u8]) -> std::result::Result<Self, Decode> {
        let mut energy: Self = persist::decode_json(bytes)?;
        energy.check().map_err(Decode::Corrupt)?;
        keep_newest(&mut energy.history, HISTORY_LEN);
        Ok(energy)
    }

    /// Why a loaded state could not have been written by this code, if so.
    fn check(&self) -> Result<(), String> {
        if let Some(w) = self.weights.iter().find(|w| !(-1.0..=1.0).contains(*w)) {
            return Err(format!("weight {w} outside [-1, 1]"));
        }
        if !(0.0..=1.0).contains(&self.prev) {
            return Err(format!("prev {} outside [0, 1]", self.prev));
        }
        let mut features = self.history.iter().flat_map(|s| s.features);
        match features.find(|f| !(0.0..=1.0).contains(f)) {
            Some(f) => Err(format!("history feature {f} outside [0, 1]")),
            None => Ok(()),
        }
    }
}

impl EnergySource for CapitalEnergy {
    /// `clamp01(0.7·prev + 0.3·clamp01(Σ w·f))`, learning from the reward if
    /// one is given. Bad inputs are refused and change nothing.
    fn energy_score(&mut self, inputs: &EnergyInputs) -> Result<f64> {
        inputs.validate()?;
        let features = features(inputs);
        let sum: f64 = self.weights.iter().zip(features).map(|(w, f)| w * f).sum();
        let raw = clamp01(sum);
        let score = clamp01(PREV_WEIGHT * self.prev + RAW_WEIGHT * raw);
        self.prev = score;
        if let Some(reward) = inputs.reward {
            self.learn(features, raw, reward);
        }
        Ok(score)
    }

    /// `dir/`[`ENERGY_FILE`].
    fn state_files(&self, dir: &Path) -> Result<Vec<PendingFile>> {
        Ok(vec![PendingFile::json(dir.join(ENERGY_FILE), self)?])
    }
}

#[cfg(test)]
mod tests;
