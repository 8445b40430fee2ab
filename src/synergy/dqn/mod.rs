//! The DQN synergy learner (SPEC §5): a small double-DQN on candle.
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
//! **Speed.** The forward passes run through `candle_nn::Linear`; the loss,
//! its gradient w.r.t. Q, the backward pass (candle ops, no autograd) and the
//! optimiser are written out by hand: about 40 µs per update (4 keys, batch
//! 32) where candle's autograd and `AdamW` take about 100 µs. Everything is
//! `f32` on the CPU.
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

mod adamw;
mod files;
mod net;
mod replay;

pub use files::{DQN_NETS_FILE, DQN_STATE_FILE};

use candle_core::{Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::Path;

use self::adamw::{AdamW, AdamWParams, clip_scale, global_norm};
use self::net::{Mlp, param_count, td_loss};
use self::replay::Replay;
use super::key::SynergyKeys;
use super::weights::SynergyWeights;
use super::{LearnReport, Skip, SynergyDeltas, SynergyLearner, check_key_set, check_update};
use crate::error::{ensure_finite, ensure_positive};
use crate::persist::PendingFile;
use crate::{Error, Result};

/// The largest replay capacity accepted (transitions).
const MAX_REPLAY: usize = 1_000_000;

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
}

/// Buffers reused by every update.
#[derive(Clone, Debug, Default)]
struct Scratch {
    states: Vec<f32>,
    actions: Vec<u8>,
    rewards: Vec<f32>,
    dq: Vec<f32>,
    grad: Vec<f32>,
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
    scratch: Scratch,
}

impl DQNSynergyLearner {
    /// A fresh learner: networks initialised from `config.seed`, empty replay,
    /// weights 1.0.
    pub fn new(config: DqnConfig) -> Result<Self> {
        config.validate()?;
        let d = config.d();
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let online = Mlp::init(d, &mut rng)?;
        Ok(Self {
            target: online.clone(),
            online,
            adam: AdamW::new(config.adamw(), param_count(d)),
            replay: Replay::new(d, config.replay_capacity),
            rng,
            updates: 0,
            weights: SynergyWeights::new(config.keys),
            scratch: Scratch {
                grad: vec![0.0; param_count(d)],
                ..Scratch::default()
            },
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

    /// Approximate heap bytes held: parameters (as vectors and as candle
    /// tensors) of both networks, optimiser moments, replay and scratch buffers.
    pub fn heap_bytes(&self) -> usize {
        let params = 4 * param_count(self.config.d());
        let s = &self.scratch;
        // online and target: flat vector + tensors each; moments m and v.
        4 * params
            + 2 * params
            + self.replay.heap_bytes()
            + 4 * (s.states.capacity() + s.rewards.capacity() + s.dq.capacity() + s.grad.capacity())
            + s.actions.capacity()
    }

    fn d(&self) -> usize {
        self.config.d()
    }

    /// Samples a batch and takes one optimiser step on it.
    fn train(&mut self) -> Result<LearnReport> {
        let d = self.d();
        let n = self.replay.len();
        let batch = n.min(self.config.batch_size);
        let s = &mut self.scratch;
        s.states.clear();
        s.actions.clear();
        s.rewards.clear();
        for i in rand::seq::index::sample(&mut self.rng, n, batch) {
            let (state, action, reward) = self.replay.get(i);
            s.states.extend_from_slice(state);
            s.actions.push(action);
            s.rewards.push(reward);
        }
        let x = Tensor::from_slice(&s.states, (batch, d), &Device::Cpu)?;
        let trace = self.online.forward_trace(&x)?;
        let q = trace.q.flatten_all()?.to_vec1::<f32>()?;
        let q_target = self.target.forward(&x)?.flatten_all()?.to_vec1::<f32>()?;
        s.dq.resize(batch * d, 0.0);
        let gamma = self.config.gamma as f32;
        let loss = td_loss(&q, &q_target, &s.actions, &s.rewards, gamma, &mut s.dq);
        let mut report = LearnReport {
            batch,
            ..LearnReport::default()
        };
        if !loss.is_finite() {
            tracing::warn!(loss, "synergy DQN: non-finite loss; optimiser step skipped");
            report.skipped = Some(Skip::NonFiniteLoss);
            return Ok(report);
        }
        let dq = Tensor::from_slice(&s.dq, (batch, d), &Device::Cpu)?;
        self.online.backward(&x, &trace, &dq, &mut s.grad)?;
        let norm = global_norm(&s.grad);
        if !norm.is_finite() {
            tracing::warn!(
                loss,
                "synergy DQN: non-finite gradient; optimiser step skipped"
            );
            report.skipped = Some(Skip::NonFiniteGradient);
            return Ok(report);
        }
        let scale = clip_scale(norm, self.config.grad_clip);
        self.adam.step(self.online.params_mut(), &s.grad, scale);
        self.online.rebuild()?;
        report.loss = Some(loss);
        report.grad_norm = Some(norm);
        Ok(report)
    }

    /// Weights ← `clamp(Q_online(state), 0, 10)`; kept as they are if a
    /// Q-value is NaN.
    fn refresh_weights(&mut self, state: &[f32]) -> Result<()> {
        let x = Tensor::from_slice(state, (1, state.len()), &Device::Cpu)?;
        let q = self.online.forward(&x)?.flatten_all()?.to_vec1::<f32>()?;
        if q.iter().any(|v| v.is_nan()) {
            tracing::warn!("synergy DQN: NaN Q-value; weights left as they were");
            return Ok(());
        }
        for (i, &v) in q.iter().enumerate() {
            self.weights.set_clamped(i, f64::from(v));
        }
        Ok(())
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
        for (i, &reward) in rewards[..d].iter().enumerate() {
            // d ≤ 7, so the action fits in a byte.
            self.replay.push(&state[..d], i as u8, reward);
        }
        self.updates += 1;
        let mut report = self.train()?;
        if self.updates.is_multiple_of(self.config.target_sync) {
            self.target = self.online.clone();
            report.target_synced = true;
        }
        self.refresh_weights(&state[..d])?;
        Ok(report)
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
mod tests;
