//! The DQN synergy learner (SPEC §5): a small double-DQN on plain `f32` kernels.
//!
//! **Model.** The state is the vector of synergy deltas `s` (one input per key,
//! `d` = 4 or 7) and there is one action per key. Each
//! [`update`](SynergyLearner::update)`(roi_delta, s)` stores, for every key
//! `i`, the transition `(s, i, roi_delta·s[i], s)` in a FIFO replay of 1,000
//! transitions, samples a batch of up to 32 of them without replacement, and
//! takes one double-DQN step: target `y = r + γ·Q_target(s', argmax_a
//! Q_online(s', a))` with `γ = 0.9`, mean Huber loss (δ = 1), global
//! gradient-norm clip 10, AdamW (lr 1e-3, β 0.9/0.999, ε 1e-8, weight decay
//! 0.01, bias-corrected: candle-nn's `ParamsAdamW` defaults). The target net
//! is copied from the online net every 10 updates. The network is `d → 32 →
//! ReLU → 32 → ReLU → d`, initialised from the learner's seeded
//! `ChaCha8Rng` (uniform `±1/√fan_in`, like candle-nn). The reported weights
//! are `clamp(Q_online(s), 0, 10)` for the deltas of the latest update, and
//! 1.0 before the first one.
//!
//! **Speed.** The network, its backward pass and the optimiser are plain `f32`
//! loops over flat parameters that the compiler vectorises (`mlp.rs`,
//! `adamw.rs`), with working buffers kept per thread, not per learner. An
//! update (4 keys, batch 32) takes about 13 µs on a 2.6 GHz Xeon core with
//! the default build, against about 40 µs with candle tensors and about
//! 100 µs with candle's autograd (`benches/learners.rs`). Candle's autograd
//! stays the reference the tests check the gradients against. No sum is
//! reordered by the compiler and nothing depends on the CPU the binary runs
//! on, so a seed gives the same bits on every machine. The network
//! (`mlp.rs`), the optimiser (`adamw.rs`) and the TD loss (`td.rs`) take their
//! sizes as parameters, for other DQNs in the crate (a policy DQN: 14 inputs,
//! one output per action).
//!
//! **Choices where SPEC is silent.**
//! - Every successful update counts towards the target sync, also when its
//!   step was skipped.
//! - A non-finite loss or gradient skips the optimiser step; the update is
//!   reported ([`Skip`]) and logged with `warn!`, and the transitions stay in
//!   the replay. A delta or reward (`roi_delta·Δ`) that does not fit in `f32`
//!   is refused with `Error::Invalid` before anything changes.
//! - [`set_weights`](SynergyLearner::set_weights) replaces the reported
//!   weights (and what `save` writes to `synergy.json`) until the next update
//!   recomputes them from the network; the network itself is not changed.
//! - Files and what happens when they disagree: see [`DQNSynergyLearner::load`].
//!   A save writes a small journal of the updates since the last checkpoint
//!   most of the time, and a full checkpoint now and then (format 2, each
//!   file with a CRC-32); the format-1 files of kaizen round 1 are migrated.
//!
//! ```
//! use kaizen::synergy::{DQNSynergyLearner, DqnConfig, SynergyDeltas, SynergyKeys, SynergyLearner};
//!
//! let mut learner = DQNSynergyLearner::new(DqnConfig { seed: 7, ..DqnConfig::default() })?;
//! assert_eq!(learner.weights().as_slice(), &[1.0; 4]);
//! let deltas = SynergyDeltas::from_values(SynergyKeys::Core, &[0.5, -0.1, 0.0, 0.2])?;
//! let report = learner.update(1.5, &deltas)?;
//! assert_eq!(report.batch, 4); // the four transitions stored so far
//! assert!(report.loss.is_some());
//! assert!(learner.weights().iter().all(|(_, w)| (0.0..=10.0).contains(&w)));
//! # Ok::<(), kaizen::Error>(())
//! ```

pub(crate) mod adamw;
mod files;
mod format;
mod inspect;
mod legacy;
pub(crate) mod mlp;
pub(crate) mod replay;
pub(crate) mod td;

pub use files::{DQN_CHECKPOINT_FILE, DQN_JOURNAL_FILE};
pub use inspect::{DamagedFile, DqnInspection, DqnOutcome, inspect_dqn};
pub use legacy::{DQN_NETS_FILE, DQN_STATE_FILE};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::cell::RefCell;
use std::path::Path;

use self::adamw::{AdamW, AdamWParams, clip_scale, global_norm};
use self::files::OnDisk;
use self::mlp::{Mlp, MlpDims, Scratch, Trace};
use self::replay::Replay;
use self::td::{TdInputs, td_loss};
use super::key::SynergyKeys;
use super::weights::SynergyWeights;
use super::{LearnReport, Skip, SynergyDeltas, SynergyLearner, check_key_set, check_update};
use crate::error::{ensure_finite, ensure_positive};
use crate::persist::PendingFile;
use crate::{Error, Result};

/// The largest replay capacity accepted (transitions).
const MAX_REPLAY: usize = 1_000_000;

/// Width of the two hidden layers.
const HIDDEN: usize = 32;

/// Settings of [`DQNSynergyLearner`]. `Default` gives SPEC's values.
#[derive(Clone, Debug, PartialEq)]
pub struct DqnConfig {
    /// Which keys are weighed (the network's width `d`). Default: core.
    pub keys: SynergyKeys,
    /// AdamW learning rate, > 0. Default 1e-3.
    pub lr: f64,
    /// AdamW first-moment decay, in [0, 1). Default 0.9.
    pub beta1: f64,
    /// AdamW second-moment decay, in [0, 1). Default 0.999.
    pub beta2: f64,
    /// AdamW ε, > 0. Default 1e-8.
    pub eps: f64,
    /// AdamW decoupled weight decay, ≥ 0. Default 0.01.
    pub weight_decay: f64,
    /// Discount of the next state's value, in [0, 1). Default 0.9.
    pub gamma: f64,
    /// Transitions per training batch, ≥ 1. Default 32.
    pub batch_size: usize,
    /// Transitions kept in the replay, 1 ..= 1,000,000. Default 1,000.
    pub replay_capacity: usize,
    /// The target net is copied every this many updates, ≥ 1. Default 10.
    pub target_sync: u64,
    /// Largest global gradient norm, > 0. Default 10.
    pub grad_clip: f64,
    /// Seed of a fresh learner's RNG (initial weights, batch sampling).
    /// Default 0. A loaded learner continues its saved RNG instead.
    pub seed: u64,
}

impl Default for DqnConfig {
    fn default() -> Self {
        Self {
            keys: SynergyKeys::Core,
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
            gamma: 0.9,
            batch_size: 32,
            replay_capacity: 1_000,
            target_sync: 10,
            grad_clip: 10.0,
            seed: 0,
        }
    }
}

/// `value` if finite and in `[0, 1)`, else an error naming `what`.
fn ensure_unit_open(what: &'static str, value: f64) -> Result<()> {
    if (0.0..1.0).contains(&ensure_finite(what, value)?) {
        Ok(())
    } else {
        Err(Error::invalid(what, value, "a number in [0, 1)"))
    }
}

/// `value` if at least 1 (and at most `max`), else an error naming `what`.
fn ensure_count(what: &'static str, value: u64, max: u64) -> Result<()> {
    if (1..=max).contains(&value) {
        Ok(())
    } else {
        Err(Error::invalid(
            what,
            value,
            format!("a whole number in 1..={max}"),
        ))
    }
}

impl DqnConfig {
    /// Refuses settings out of range, naming the field (`synergy.dqn.lr`, …).
    pub fn validate(&self) -> Result<()> {
        ensure_positive("synergy.dqn.lr", self.lr)?;
        ensure_unit_open("synergy.dqn.beta1", self.beta1)?;
        ensure_unit_open("synergy.dqn.beta2", self.beta2)?;
        ensure_positive("synergy.dqn.eps", self.eps)?;
        let decay = ensure_finite("synergy.dqn.weight_decay", self.weight_decay)?;
        if decay < 0.0 {
            return Err(Error::invalid(
                "synergy.dqn.weight_decay",
                decay,
                "a number ≥ 0",
            ));
        }
        ensure_unit_open("synergy.dqn.gamma", self.gamma)?;
        ensure_count("synergy.dqn.batch_size", self.batch_size as u64, u64::MAX)?;
        ensure_count(
            "synergy.dqn.replay_capacity",
            self.replay_capacity as u64,
            MAX_REPLAY as u64,
        )?;
        ensure_count("synergy.dqn.target_sync", self.target_sync, u64::MAX)?;
        ensure_positive("synergy.dqn.grad_clip", self.grad_clip)?;
        Ok(())
    }

    fn adamw(&self) -> AdamWParams {
        AdamWParams {
            lr: self.lr,
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            weight_decay: self.weight_decay,
        }
    }

    /// The network width: one input and one output per key.
    fn d(&self) -> usize {
        self.keys.keys().len()
    }

    /// The Q-network's sizes: `d → 32 → 32 → d`.
    fn dims(&self) -> MlpDims {
        MlpDims {
            inputs: self.d(),
            hidden: HIDDEN,
            outputs: self.d(),
        }
    }
}

/// Buffers of an update, one set per thread (not per learner: an engine's
/// learner holds only what it must keep between updates).
#[derive(Default)]
struct Work {
    /// `0, 1, 2, …`: the sampler's scratch.
    perm: Vec<u32>,
    batch: Vec<u32>,
    states: Vec<f32>,
    actions: Vec<u8>,
    rewards: Vec<f32>,
    dq: Vec<f32>,
    grad: Vec<f32>,
    online: Trace,
    target: Trace,
    scratch: Scratch,
}

thread_local! {
    static WORK: RefCell<Work> = RefCell::new(Work::default());
}

/// Learns synergy weights as the Q-values of a double-DQN (module docs).
#[derive(Clone, Debug)]
pub struct DQNSynergyLearner {
    config: DqnConfig,
    online: Mlp,
    target: Mlp,
    adam: AdamW,
    replay: Replay,
    rng: ChaCha8Rng,
    /// Successful `update` calls so far.
    updates: u64,
    weights: SynergyWeights,
    /// What the files hold as of the last encoded save (see `files.rs`).
    disk: RefCell<Option<OnDisk>>,
}

impl DQNSynergyLearner {
    /// A fresh learner: networks initialised from `config.seed`, empty replay,
    /// weights 1.0.
    pub fn new(config: DqnConfig) -> Result<Self> {
        config.validate()?;
        let dims = config.dims();
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let online = Mlp::init(dims, &mut rng);
        Ok(Self {
            target: online.clone(),
            online,
            adam: AdamW::new(config.adamw(), dims.param_count()),
            replay: Replay::new(dims.inputs, config.replay_capacity),
            rng,
            updates: 0,
            weights: SynergyWeights::new(config.keys),
            disk: RefCell::new(None),
            config,
        })
    }

    /// The learner's settings.
    pub fn config(&self) -> &DqnConfig {
        &self.config
    }

    /// Successful updates so far (each stores `d` transitions).
    pub fn updates(&self) -> u64 {
        self.updates
    }

    /// Optimiser steps taken (updates whose step was not skipped).
    pub fn steps(&self) -> u64 {
        self.adam.steps
    }

    /// Transitions in the replay buffer.
    pub fn replay_len(&self) -> usize {
        self.replay.len()
    }

    /// Approximate heap bytes held: the parameters of both networks, the
    /// optimiser moments and the replay. (An update's working buffers belong
    /// to the thread that runs it, and are shared by every learner it runs.)
    pub fn heap_bytes(&self) -> usize {
        4 * 4 * self.config.dims().param_count() + self.replay.heap_bytes()
    }

    fn d(&self) -> usize {
        self.config.d()
    }

    /// A fresh RNG when the saved one is lost: seeded from the configured
    /// seed and the updates so far.
    fn reseed(&mut self) {
        self.rng = ChaCha8Rng::seed_from_u64(self.config.seed.wrapping_add(self.updates));
    }

    /// One update from its state and per-key rewards, in `f32`: stores the
    /// `d` transitions, trains, syncs the target net when due and refreshes
    /// the weights. Replaying a journal runs exactly this.
    fn step(&mut self, state: &[f32], rewards: &[f32]) -> LearnReport {
        for (i, &reward) in rewards.iter().enumerate() {
            // d ≤ 7, so the action fits in a byte.
            self.replay.push(state, i as u8, reward);
        }
        self.updates += 1;
        WORK.with_borrow_mut(|work| {
            let mut report = self.train(work);
            if self.updates.is_multiple_of(self.config.target_sync) {
                self.target
                    .params_mut()
                    .copy_from_slice(self.online.params());
                report.target_synced = true;
            }
            self.refresh_weights(state, work);
            report
        })
    }

    /// Samples a batch and takes one optimiser step on it.
    fn train(&mut self, w: &mut Work) -> LearnReport {
        let n = self.replay.len();
        let batch = n.min(self.config.batch_size);
        w.states.clear();
        w.actions.clear();
        w.rewards.clear();
        replay::sample(&mut self.rng, n, batch, &mut w.perm, &mut w.batch);
        for &i in &w.batch {
            let (state, action, reward) = self.replay.get(i as usize);
            w.states.extend_from_slice(state);
            w.actions.push(action);
            w.rewards.push(reward);
        }
        self.online.forward(&w.states, batch, &mut w.online);
        self.target.forward(&w.states, batch, &mut w.target);
        w.dq.resize(batch, 0.0);
        let gamma = self.config.gamma as f32;
        // The next state is the state: Q_online(s') is the batch's own.
        let q = TdInputs {
            q: w.online.q(),
            next_choose: w.online.q(),
            next_value: w.target.q(),
        };
        let loss = td_loss(&q, &w.actions, &w.rewards, gamma, &mut w.dq);
        let mut report = LearnReport {
            batch,
            ..LearnReport::default()
        };
        if !loss.is_finite() {
            tracing::warn!(loss, "synergy DQN: non-finite loss; optimiser step skipped");
            report.skipped = Some(Skip::NonFiniteLoss);
            return report;
        }
        w.grad.resize(self.config.dims().param_count(), 0.0);
        self.online.backward(
            &w.states,
            &w.online,
            &w.actions,
            &w.dq,
            &mut w.grad,
            &mut w.scratch,
        );
        let norm = global_norm(&w.grad);
        if !norm.is_finite() {
            tracing::warn!(
                loss,
                "synergy DQN: non-finite gradient; optimiser step skipped"
            );
            report.skipped = Some(Skip::NonFiniteGradient);
            return report;
        }
        let scale = clip_scale(norm, self.config.grad_clip);
        self.adam.step(self.online.params_mut(), &w.grad, scale);
        report.loss = Some(loss);
        report.grad_norm = Some(norm);
        report
    }

    /// Weights ← `clamp(Q_online(state), 0, 10)`; kept as they are if a
    /// Q-value is NaN.
    fn refresh_weights(&mut self, state: &[f32], w: &mut Work) {
        self.online.forward(state, 1, &mut w.online);
        let q = w.online.q();
        if q.iter().any(|v| v.is_nan()) {
            tracing::warn!("synergy DQN: NaN Q-value; weights left as they were");
            return;
        }
        for (i, &v) in q.iter().enumerate() {
            self.weights.set_clamped(i, f64::from(v));
        }
    }
}

/// `value` as `f32`, or `Error::Invalid` naming `what()` when it does not fit.
fn to_f32(value: f64, what: impl FnOnce() -> String) -> Result<f32> {
    let narrow = value as f32;
    if narrow.is_finite() {
        Ok(narrow)
    } else {
        Err(Error::invalid(
            what(),
            value,
            "a number within ±3.4e38 (the DQN computes in f32)",
        ))
    }
}

impl SynergyLearner for DQNSynergyLearner {
    fn kind(&self) -> &'static str {
        "dqn"
    }

    fn weights(&self) -> &SynergyWeights {
        &self.weights
    }

    fn update(&mut self, roi_delta: f64, deltas: &SynergyDeltas) -> Result<LearnReport> {
        check_update(self.config.keys, roi_delta, deltas)?;
        let d = self.d();
        let mut state = [0f32; 7];
        let mut rewards = [0f32; 7];
        for (i, (key, delta)) in deltas.iter().enumerate() {
            state[i] = to_f32(delta, || format!("synergy delta {key}"))?;
            rewards[i] = to_f32(roi_delta * delta, || {
                format!("synergy DQN reward roi_delta·Δ_{key}")
            })?;
        }
        Ok(self.step(&state[..d], &rewards[..d]))
    }

    fn set_weights(&mut self, weights: SynergyWeights) -> Result<()> {
        check_key_set("synergy weights", self.config.keys, weights.keys())?;
        self.weights = weights;
        Ok(())
    }

    fn state_files(&self, dir: &Path) -> Result<Vec<PendingFile>> {
        files::state_files(self, dir)
    }

    fn is_heavy(&self) -> bool {
        true
    }
}

#[cfg(test)]
pub(crate) mod tests;
