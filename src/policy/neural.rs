//! The neural strategies (`dqn`, `double_dqn`, `deep_q`): a Q-network of the
//! policy state with one output per action, trained from a replay of the
//! policy's transitions.
//!
//! **Model.** The input is the [`PolicyState`] as 14 numbers: each quantised
//! slot divided by 10 (undoing the state's ×10, so the reals are back in
//! [−5, 5]), the module index divided by 1,000 (into [0, 1)) and the
//! diminishing flag as 0 or 1. The network is `14 → hidden → ReLU → hidden →
//! ReLU → 2` (output 0 is `Q(s, skip)`, output 1 `Q(s, run)`): the synergy
//! DQN's network, optimiser and TD loss (`synergy/dqn/`: `mlp.rs`,
//! `adamw.rs`, `td.rs`) with other sizes, initialised from the policy's
//! seeded RNG.
//!
//! **An update** `(s, a, r, s')` stores the transition in a FIFO replay of
//! `replay_capacity` (default 1,000), samples a batch of up to `batch_size`
//! (32) of them without replacement, and takes one AdamW step (lr 1e-3) on
//! the mean Huber loss of `Q(s, a) − y`, the gradient clipped to norm 10.
//! With `γ` the policy's (current) discount:
//!
//! | strategy | `y` |
//! |---|---|
//! | `dqn` | `r + γ·max_a Q_target(s', a)` |
//! | `double_dqn` | `r + γ·Q_target(s', argmax_a Q_online(s', a))` |
//! | `deep_q` | `r + γ·max_a Q_online(s', a)` (no target network) |
//!
//! `y = r` for a transition without a next state. The target network is a
//! copy of the online one, refreshed every `target_sync` (10) updates. A
//! non-finite loss or gradient skips the optimiser step (logged with
//! `warn!`); the transition stays in the replay and the update counts.
//!
//! **Exactly resumable.** Everything an update reads — both networks, the
//! AdamW moments and step count, the replay and the policy's RNG — is saved
//! in `policy.json`, the parameters as the bit patterns of their `f32`
//! values, so a reloaded policy takes the same steps and the same actions as
//! one that never stopped.

use rand::Rng;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::VecDeque;

use super::{Action, NetworkConfig, PolicyState, Strategy};
use crate::synergy::dqn::adamw::{AdamW, AdamWParams, clip_scale, global_norm};
use crate::synergy::dqn::mlp::{Mlp, MlpDims, Scratch, Trace};
use crate::synergy::dqn::replay::sample;
use crate::synergy::dqn::td::{TdInputs, td_loss};
use crate::{Error, Result};

/// Inputs of the network: one per state slot.
const INPUTS: usize = PolicyState::LEN;
/// Outputs: one per action.
const OUTPUTS: usize = Action::ALL.len();
/// The slot of the module index (divided by 1,000, not 10).
const MODULE_SLOT: usize = 5;
/// The slot of the diminishing flag (taken as it is).
const FLAG_SLOT: usize = 7;
/// Largest global gradient norm.
const GRAD_CLIP: f64 = 10.0;

/// AdamW settings other than the learning rate: candle-nn's defaults, as
/// the synergy DQN uses.
fn adamw(lr: f64) -> AdamWParams {
    AdamWParams {
        lr,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.01,
    }
}

/// The network's sizes for `hidden` units per layer.
fn dims(hidden: usize) -> MlpDims {
    MlpDims {
        inputs: INPUTS,
        hidden,
        outputs: OUTPUTS,
    }
}

/// The network's input for `state` (module docs).
pub(crate) fn features(state: &PolicyState) -> [f32; INPUTS] {
    let slots = state.as_array();
    std::array::from_fn(|i| {
        let v = f32::from(slots[i]);
        match i {
            MODULE_SLOT => v / 1000.0,
            FLAG_SLOT => v,
            _ => v / 10.0,
        }
    })
}

/// One transition of the replay.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Transition {
    state: PolicyState,
    action: Action,
    reward: f32,
    next: Option<PolicyState>,
}

/// The Q-network of a neural strategy, its target, optimiser and replay.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct NeuralQ {
    strategy: Strategy,
    config: NetworkConfig,
    online: Mlp,
    /// `None` for `deep_q`.
    target: Option<Mlp>,
    adam: AdamW,
    replay: VecDeque<Transition>,
    /// Updates so far (each stores one transition).
    updates: u64,
}

/// Buffers of an update, one set per thread.
#[derive(Default)]
struct Work {
    perm: Vec<u32>,
    batch: Vec<u32>,
    states: Vec<f32>,
    next: Vec<f32>,
    ends: Vec<bool>,
    actions: Vec<u8>,
    rewards: Vec<f32>,
    value: Vec<f32>,
    dq: Vec<f32>,
    grad: Vec<f32>,
    online: Trace,
    next_online: Trace,
    next_target: Trace,
    scratch: Scratch,
}

thread_local! {
    static WORK: RefCell<Work> = RefCell::new(Work::default());
}

impl NeuralQ {
    /// A fresh network for `strategy` (neural), initialised from `rng`.
    pub(crate) fn new(strategy: Strategy, config: NetworkConfig, rng: &mut impl Rng) -> Self {
        let d = dims(config.hidden);
        let online = Mlp::init(d, rng);
        NeuralQ {
            strategy,
            target: strategy.has_target().then(|| online.clone()),
            online,
            adam: AdamW::new(adamw(config.lr), d.param_count()),
            replay: VecDeque::with_capacity(config.replay_capacity.min(4096)),
            updates: 0,
            config,
        }
    }

    /// Transitions in the replay.
    pub(crate) fn replay_len(&self) -> usize {
        self.replay.len()
    }

    /// Optimiser steps taken (updates whose step was not skipped).
    pub(crate) fn steps(&self) -> u64 {
        self.adam.steps
    }

    /// The settings; those that do not change the network's shape may be
    /// replaced (a loaded policy takes its config's).
    pub(crate) fn set_config(&mut self, config: NetworkConfig) -> Result<()> {
        if config.hidden != self.config.hidden {
            return Err(Error::invalid(
                "policy.network.hidden",
                config.hidden,
                format!(
                    "{} (the width the saved network was trained with; move policy.json away to start anew)",
                    self.config.hidden
                ),
            ));
        }
        self.adam.params = adamw(config.lr);
        while self.replay.len() > config.replay_capacity {
            self.replay.pop_front();
        }
        self.config = config;
        Ok(())
    }

    /// `[Q(state, skip), Q(state, run)]` of the online network.
    pub(crate) fn values(&self, state: &PolicyState) -> [f64; 2] {
        let x = features(state);
        WORK.with_borrow_mut(|w| {
            self.online.forward(&x, 1, &mut w.online);
            let q = w.online.q();
            [f64::from(q[0]), f64::from(q[1])]
        })
    }

    /// Stores `(state, action, reward, next)` and takes one training step
    /// with discount `gamma`, sampling the batch with `rng`. A reward that
    /// does not fit in `f32` is refused before anything changes.
    pub(crate) fn update(
        &mut self,
        state: &PolicyState,
        action: Action,
        reward: f64,
        next: Option<&PolicyState>,
        gamma: f64,
        rng: &mut impl Rng,
    ) -> Result<()> {
        let narrow = reward as f32;
        if !narrow.is_finite() {
            return Err(Error::invalid(
                "policy reward",
                reward,
                "a number within ±3.4e38 (a neural strategy computes in f32)",
            ));
        }
        if self.replay.len() == self.config.replay_capacity {
            self.replay.pop_front();
        }
        self.replay.push_back(Transition {
            state: *state,
            action,
            reward: narrow,
            next: next.copied(),
        });
        self.updates += 1;
        WORK.with_borrow_mut(|w| self.train(w, gamma as f32, rng));
        if let Some(target) = &mut self.target
            && self.updates.is_multiple_of(self.config.target_sync)
        {
            target.params_mut().copy_from_slice(self.online.params());
        }
        Ok(())
    }

    /// One optimiser step on a batch sampled from the replay.
    fn train(&mut self, w: &mut Work, gamma: f32, rng: &mut impl Rng) {
        let n = self.replay.len();
        let batch = n.min(self.config.batch_size);
        sample(rng, n, batch, &mut w.perm, &mut w.batch);
        w.states.clear();
        w.next.clear();
        w.ends.clear();
        w.actions.clear();
        w.rewards.clear();
        for &i in &w.batch {
            let t = &self.replay[i as usize];
            w.states.extend_from_slice(&features(&t.state));
            match &t.next {
                Some(next) => w.next.extend_from_slice(&features(next)),
                None => w.next.extend_from_slice(&[0.0; INPUTS]),
            }
            w.ends.push(t.next.is_none());
            w.actions.push(t.action as u8);
            w.rewards.push(t.reward);
        }
        self.online.forward(&w.states, batch, &mut w.online);
        // The next states' Q-values: which choose the next action, which value it.
        let (choose, value) = match (self.strategy, &self.target) {
            (Strategy::DoubleDqn, Some(target)) => {
                self.online.forward(&w.next, batch, &mut w.next_online);
                target.forward(&w.next, batch, &mut w.next_target);
                (w.next_online.q(), w.next_target.q())
            }
            (_, Some(target)) => {
                target.forward(&w.next, batch, &mut w.next_target);
                (w.next_target.q(), w.next_target.q())
            }
            (_, None) => {
                self.online.forward(&w.next, batch, &mut w.next_online);
                (w.next_online.q(), w.next_online.q())
            }
        };
        // A transition without a next state has no bootstrap term.
        w.value.clear();
        w.value.extend_from_slice(value);
        for (row, _) in w.ends.iter().enumerate().filter(|(_, end)| **end) {
            w.value[row * OUTPUTS..(row + 1) * OUTPUTS].fill(0.0);
        }
        w.dq.resize(batch, 0.0);
        let inputs = TdInputs {
            q: w.online.q(),
            next_choose: choose,
            next_value: &w.value,
        };
        let loss = td_loss(&inputs, &w.actions, &w.rewards, gamma, &mut w.dq);
        if !loss.is_finite() {
            tracing::warn!(loss, strategy = %self.strategy, "policy network: non-finite loss; optimiser step skipped");
            return;
        }
        w.grad.resize(dims(self.config.hidden).param_count(), 0.0);
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
            tracing::warn!(loss, strategy = %self.strategy, "policy network: non-finite gradient; optimiser step skipped");
            return;
        }
        self.adam.step(
            self.online.params_mut(),
            &w.grad,
            clip_scale(norm, GRAD_CLIP),
        );
    }
}

/// A neural strategy's part of `policy.json`. Parameters and moments are
/// the bit patterns of their `f32` values (`f32::to_bits`), so they read
/// back exactly; the replay is in columns, oldest transition first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct NeuralFile {
    updates: u64,
    steps: u64,
    online: Vec<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target: Option<Vec<u32>>,
    adam_m: Vec<u32>,
    adam_v: Vec<u32>,
    replay: ReplayColumns,
}

/// The replay, one column per field.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct ReplayColumns {
    states: Vec<PolicyState>,
    actions: Vec<Action>,
    rewards: Vec<f32>,
    /// `null` where a transition had no next state.
    next: Vec<Option<PolicyState>>,
}

fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}

/// `values` back from their bits; `Err` names `what` when one is not finite.
fn floats(what: &str, values: &[u32]) -> std::result::Result<Vec<f32>, String> {
    let out: Vec<f32> = values.iter().map(|&b| f32::from_bits(b)).collect();
    match out.iter().find(|v| !v.is_finite()) {
        Some(v) => Err(format!("network.{what} holds {v}")),
        None => Ok(out),
    }
}

impl NeuralQ {
    /// What `policy.json` keeps of the network.
    pub(crate) fn to_file(&self) -> NeuralFile {
        let mut replay = ReplayColumns::default();
        for t in &self.replay {
            replay.states.push(t.state);
            replay.actions.push(t.action);
            replay.rewards.push(t.reward);
            replay.next.push(t.next);
        }
        NeuralFile {
            updates: self.updates,
            steps: self.adam.steps,
            online: bits(self.online.params()),
            target: self.target.as_ref().map(|t| bits(t.params())),
            adam_m: bits(&self.adam.m),
            adam_v: bits(&self.adam.v),
            replay,
        }
    }

    /// The network a file describes, for `strategy` with `config` (the
    /// file's settings); `Err` says what does not fit.
    pub(crate) fn from_file(
        strategy: Strategy,
        config: NetworkConfig,
        file: NeuralFile,
    ) -> std::result::Result<Self, String> {
        let d = dims(config.hidden);
        let n = d.param_count();
        let online = Mlp::from_params(d, floats("online", &file.online)?)?;
        let target = match (strategy.has_target(), file.target) {
            (true, Some(t)) => Some(Mlp::from_params(d, floats("target", &t)?)?),
            (false, None) => None,
            (true, None) => return Err(format!("{strategy} needs a target network")),
            (false, Some(_)) => return Err(format!("{strategy} has no target network")),
        };
        let m = floats("adam_m", &file.adam_m)?;
        let v = floats("adam_v", &file.adam_v)?;
        if m.len() != n || v.len() != n {
            return Err(format!(
                "{} and {} optimiser moments, expected {n} each",
                m.len(),
                v.len()
            ));
        }
        if v.iter().any(|&x| x < 0.0) {
            return Err("a second moment (adam_v) is negative".into());
        }
        if file.steps > file.updates {
            return Err(format!(
                "{} optimiser steps but only {} updates",
                file.steps, file.updates
            ));
        }
        let r = file.replay;
        let len = r.states.len();
        if r.actions.len() != len || r.rewards.len() != len || r.next.len() != len {
            return Err(format!(
                "replay columns of {len} states, {} actions, {} rewards and {} next states",
                r.actions.len(),
                r.rewards.len(),
                r.next.len()
            ));
        }
        if let Some(bad) = r.rewards.iter().find(|x| !x.is_finite()) {
            return Err(format!("a replay reward is {bad}"));
        }
        let mut replay: VecDeque<Transition> = (0..len)
            .map(|i| Transition {
                state: r.states[i],
                action: r.actions[i],
                reward: r.rewards[i],
                next: r.next[i],
            })
            .collect();
        while replay.len() > config.replay_capacity {
            replay.pop_front();
        }
        let mut adam = AdamW::new(adamw(config.lr), n);
        adam.m = m;
        adam.v = v;
        adam.steps = file.steps;
        Ok(NeuralQ {
            strategy,
            config,
            online,
            target,
            adam,
            replay,
            updates: file.updates,
        })
    }
}

#[cfg(test)]
#[path = "neural_tests.rs"]
mod tests;
