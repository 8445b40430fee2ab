//! The self-improvement policy: Q-learning that decides, tick by tick,
//! whether an engine runs its pipeline (SPEC §3).
//!
//! A [`PolicyState`] (the engine's situation, quantised) is the key of a
//! Q-table holding one value per [`Action`] — or, for the neural strategies,
//! the input of a Q-network with one output per action.
//! [`SelfImprovementPolicy::score`] is the best value of a state,
//! [`select_action`] picks an action with the configured [`Exploration`],
//! and [`update`] learns from a reward with the configured [`Strategy`], from
//! the rewards of [`run_reward`] and [`skip_reward`]. After each update the
//! exploration [`Schedule`]s move ε and the temperature. All randomness
//! comes from a seeded [`ChaCha8Rng`] that is saved with the table (or the
//! network), so a reloaded policy goes on exactly as if it had never stopped.
//!
//! | strategy (aliases) | learns | next-state value |
//! |---|---|---|
//! | `q_learning` (`q-learning`) | table | `max_a' Q(s', a')` |
//! | `sarsa` | table | `Q(s', a)` |
//! | `q_lambda` (`qlambda`) | table + eligibility traces | `max_a' Q(s', a')` |
//! | `actor_critic` (`actor-critic`) | table + critic `V(s)` | `V(s')` |
//! | `dqn` | network + target network | `max_a Q_target(s', a)` |
//! | `double_dqn` (`ddqn`, `double-dqn`) | network + target network | `Q_target(s', argmax_a Q(s', a))` |
//! | `deep_q` | network alone | `max_a Q(s', a)` |
//!
//! The neural strategies (`neural.rs`) reuse the synergy DQN's network,
//! optimiser and TD loss with the policy's sizes ([`NetworkConfig`]);
//! [`available_strategies`] lists the names.
//!
//! ```
//! use kaizen::policy::{Action, PolicyConfig, PolicyState, SelfImprovementPolicy, StateInputs};
//!
//! let mut policy = SelfImprovementPolicy::new(PolicyConfig::default())?;
//! let s = PolicyState::new(&StateInputs { energy_score: 0.8, ..StateInputs::default() })?;
//! for _ in 0..50 {
//!     policy.update(&s, Action::Run, 1.0, Some(&s))?;
//! }
//! // SPEC §3's worked check: 10·(1 − 0.95⁵⁰).
//! assert!((policy.score(&s) - 10.0 * (1.0 - 0.95f64.powi(50))).abs() < 1e-12);
//! let action = policy.select_action(&s); // Run with probability 0.95 (ε = 0.1)
//! # let _ = action;
//! # Ok::<(), kaizen::Error>(())
//! ```
//!
//! ## Choices where SPEC is silent
//! - **One draw per decision.** [`select_action`] computes both actions'
//!   probabilities ([`action_probabilities`]: ε/2 each plus 1 − ε on the
//!   argmax, ties → run; or the softmax) and draws one uniform number.
//!   This is the same distribution as "explore with probability ε, else
//!   argmax", with one RNG step per tick.
//! - **sarsa** uses `Q(s', a)`, the action just taken, as SPEC states
//!   (there is no separate next action).
//! - **q_lambda** keeps traces across exploratory actions (no Watkins cut;
//!   SPEC has none) and keeps at most 1,024 of them: past that the smallest
//!   is dropped. At the default γλ = 0.81 a trace lasts 66 updates, so the
//!   cap only matters when γλ is near 1.
//! - **Overflow.** A finite reward so large that a value would become
//!   infinite is refused like a NaN reward ([`Error::NonFinite`](crate::Error::NonFinite)) and
//!   nothing changes, so a table can always be saved.
//! - **adaptive**: an update uses the current α and γ, then adapts them
//!   (the first update uses the configured values). The last 100 rewards
//!   are kept only while `adaptive` is on.
//! - **Loading** ([`SelfImprovementPolicy::load`]): the file holds learned
//!   state and the config holds settings. The strategy must match (else an
//!   error naming both). The file's Q-table, critic, traces, rewards,
//!   episode count and RNG are kept; the config's ε, T, exploration, λ and
//!   `adaptive` apply. α and γ come from the file when both the file and the
//!   config are adaptive (they are learned then), else from the config. The
//!   RNG continues the file's stream: the config's seed only seeds a new
//!   policy, and [`SelfImprovementPolicy::config`] reports the file's seed.
//! - The tables are hash maps with a small multiply-fold hasher (faster
//!   than SipHash for these short keys, which are bounded and quantised, so
//!   collision flooding is not a concern); `policy.json` lists states
//!   sorted, so equal tables give equal bytes.
//!
//! [`select_action`]: SelfImprovementPolicy::select_action
//! [`update`]: SelfImprovementPolicy::update
//! [`action_probabilities`]: SelfImprovementPolicy::action_probabilities

mod action;
mod config;
mod file;
mod learn;
mod neural;
mod reward;
mod schedule;
mod state;
#[cfg(test)]
mod tests;

pub use action::Action;
pub use config::{Exploration, NetworkConfig, PolicyConfig, Strategy, available_strategies};
pub use file::POLICY_FORMAT_VERSION;
pub use reward::{run_reward, skip_reward};
pub use schedule::Schedule;
pub use state::{PolicyState, StateInputs};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::VecDeque;

use crate::Result;
use learn::Trace;
use neural::NeuralQ;
use state::StateMap;

/// Softmax temperatures below this act as this (SPEC §3).
const MIN_TEMPERATURE: f64 = 0.01;

/// Where ε and the temperature started: what their schedules count from.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Starts {
    epsilon: f64,
    temperature: f64,
}

impl Starts {
    fn of(config: &PolicyConfig) -> Self {
        Starts {
            epsilon: config.epsilon,
            temperature: config.temperature,
        }
    }
}

/// Q-learning policy with seeded exploration (SPEC §3): tabular, or a
/// Q-network for the neural strategies.
///
/// See the [module documentation](self) for an example and the choices made
/// where SPEC is silent.
#[derive(Clone, Debug, PartialEq)]
pub struct SelfImprovementPolicy {
    /// Settings; `alpha`, `gamma`, `epsilon` and `temperature` are the
    /// current (possibly adapted or scheduled) values.
    config: PolicyConfig,
    /// The values ε and T started from (the schedules' `start`).
    starts: Starts,
    /// Q(s, ·), indexed by [`Action::index`]; missing states are all 0.
    table: StateMap<[f64; 2]>,
    /// The Q-network of a neural strategy (then the tables stay empty).
    neural: Option<NeuralQ>,
    /// V(s) of `actor_critic`; missing states are 0.
    critic: StateMap<f64>,
    /// Eligibility traces of `q_lambda`, oldest first.
    traces: Vec<Trace>,
    /// The latest rewards (at most 100) while `adaptive`.
    recent_rewards: VecDeque<f64>,
    /// Number of updates so far.
    episodes: u64,
    /// The source of every random choice.
    rng: ChaCha8Rng,
}

impl SelfImprovementPolicy {
    /// An empty policy; `config` is validated first.
    pub fn new(config: PolicyConfig) -> Result<Self> {
        config.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let neural = config
            .strategy
            .is_neural()
            .then(|| NeuralQ::new(config.strategy, config.network(), &mut rng));
        Ok(SelfImprovementPolicy {
            starts: Starts::of(&config),
            config,
            table: StateMap::default(),
            neural,
            critic: StateMap::default(),
            traces: Vec::new(),
            recent_rewards: VecDeque::new(),
            episodes: 0,
            rng,
        })
    }

    /// The settings in force, with the current α, γ, ε and temperature.
    pub fn config(&self) -> &PolicyConfig {
        &self.config
    }

    /// The current exploration rate ε (moved by `epsilon_schedule`).
    pub fn epsilon(&self) -> f64 {
        self.config.epsilon
    }

    /// The current softmax temperature (moved by `temperature_schedule`).
    pub fn temperature(&self) -> f64 {
        self.config.temperature
    }

    /// The ε and temperature the schedules started from.
    pub fn schedule_starts(&self) -> (f64, f64) {
        (self.starts.epsilon, self.starts.temperature)
    }

    /// Transitions in a neural strategy's replay (`None` when tabular).
    pub fn replay_len(&self) -> Option<usize> {
        self.neural.as_ref().map(NeuralQ::replay_len)
    }

    /// Optimiser steps a neural strategy has taken (`None` when tabular).
    pub fn network_steps(&self) -> Option<u64> {
        self.neural.as_ref().map(NeuralQ::steps)
    }

    /// The current learning rate α.
    pub fn alpha(&self) -> f64 {
        self.config.alpha
    }

    /// The current discount γ.
    pub fn gamma(&self) -> f64 {
        self.config.gamma
    }

    /// The learning rule.
    pub fn strategy(&self) -> Strategy {
        self.config.strategy
    }

    /// How many updates the policy has learned from.
    pub fn episodes(&self) -> u64 {
        self.episodes
    }

    /// How many states the Q-table holds (0 for a neural strategy).
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether the Q-table is empty.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// `Q(state, action)`: from the table (0 for an unseen state) or the
    /// online network.
    pub fn q(&self, state: &PolicyState, action: Action) -> f64 {
        self.values(state)[action.index()]
    }

    /// The best value of `state`: `max_a Q(state, a)`; 0 for an unseen state.
    pub fn score(&self, state: &PolicyState) -> f64 {
        let [skip, run] = self.values(state);
        skip.max(run)
    }

    /// The critic's `V(state)` (`actor_critic` only; 0 for an unseen state
    /// and under the other strategies).
    pub fn state_value(&self, state: &PolicyState) -> f64 {
        self.critic.get(state).copied().unwrap_or(0.0)
    }

    /// The probability that [`select_action`](Self::select_action) picks each
    /// action, indexed by [`Action::index`]: `[p(skip), p(run)]`.
    ///
    /// `epsilon_greedy`: ε/2 each, plus 1 − ε on the argmax (ties → run).
    /// `softmax`: `p ∝ exp(q / max(0.01, T))`, computed with the maximum
    /// subtracted so large values cannot overflow.
    pub fn action_probabilities(&self, state: &PolicyState) -> [f64; 2] {
        let [skip, run] = self.values(state);
        let p_skip = match self.config.exploration {
            Exploration::EpsilonGreedy => {
                let epsilon = self.config.epsilon;
                let greedy = if skip > run { 1.0 - epsilon } else { 0.0 };
                epsilon / 2.0 + greedy
            }
            Exploration::Softmax => {
                let t = self.config.temperature.max(MIN_TEMPERATURE);
                let top = skip.max(run);
                let w_skip = ((skip - top) / t).exp();
                let w_run = ((run - top) / t).exp();
                w_skip / (w_skip + w_run)
            }
        };
        [p_skip, 1.0 - p_skip]
    }

    /// Picks the action for `state` with the configured exploration, drawing
    /// one number from the policy's RNG.
    pub fn select_action(&mut self, state: &PolicyState) -> Action {
        self.choose(state).0
    }

    /// [`select_action`](Self::select_action) with the probability the
    /// action had ([`action_probabilities`](Self::action_probabilities)):
    /// its propensity, for off-policy estimates.
    pub fn choose(&mut self, state: &PolicyState) -> (Action, f64) {
        let [p_skip, p_run] = self.action_probabilities(state);
        if self.rng.random::<f64>() < p_skip {
            (Action::Skip, p_skip)
        } else {
            (Action::Run, p_run)
        }
    }

    /// Q(state, ·): the table's (zeros for an unseen state) or the network's.
    fn values(&self, state: &PolicyState) -> [f64; 2] {
        match &self.neural {
            Some(net) => net.values(state),
            None => self.table.get(state).copied().unwrap_or_default(),
        }
    }
}
