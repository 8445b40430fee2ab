//! `policy.json`: saving a policy and resuming it exactly.
//!
//! ```text
//! {"version":2,
//!  "hyperparameters":{"alpha":0.5,"gamma":0.9,"epsilon":0.1,"temperature":1.0,
//!                     "exploration":"epsilon_greedy","adaptive":false,"lambda":0.9,"seed":0,
//!                     "epsilon_start":0.1,"temperature_start":1.0,
//!                     "epsilon_schedule":{"kind":"constant"},
//!                     "temperature_schedule":{"kind":"constant"}},
//!  "strategy":"q_learning","episodes":50,
//!  "values":[{"state":[8,0,…],"actions":{"0":0.0,"1":9.23}}],
//!  "rng":{"seed":[…],"stream":0,"word_pos":12},
//!  "critic":[{"state":[…],"value":0.4}],                 (actor_critic)
//!  "traces":[{"state":[…],"action":1,"trace":0.81}],     (q_lambda)
//!  "recent_rewards":[1.0,0.0],                           (adaptive)
//!  "q_network":{"updates":…,"steps":…,"online":[…],"target":[…],
//!               "adam_m":[…],"adam_v":[…],
//!               "replay":{"states":[…],"actions":[…],"rewards":[…],"next":[…]}}}
//!                                                        (dqn, double_dqn, deep_q)
//! ```
//! `epsilon` and `temperature` are the current values, `epsilon_start` and
//! `temperature_start` where their schedules started; `hyperparameters`
//! also holds `network` for a neural strategy. `values` and `critic` are
//! sorted by state, so equal policies give equal bytes; the optional fields
//! are left out when empty. The network's parameters are the bit patterns
//! of their `f32` values (see `neural.rs`); at the default sizes a full
//! replay (1,000 transitions) makes the file about 100 kB, against a few
//! kB for a tabular policy.
//!
//! **Versions.** Version 2 added the schedules, their starts and the neural
//! strategies. A version-1 file (kaizen round 1) reads as constant schedules
//! starting from its ε and T, and is written back as version 2; a kaizen
//! that only knows version 1 refuses a version-2 file and leaves it alone.
//!
//! A file that parses but holds impossible content (an invalid setting, a
//! state listed twice, a state slot out of range, a network of the wrong
//! size) is treated like a corrupt one: moved aside, and its backup tried.

use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::path::Path;

use super::learn::{MAX_TRACES, MIN_TRACE, RECENT_REWARDS, Trace};
use super::neural::{NeuralFile, NeuralQ};
use super::state::StateMap;
use super::{
    Exploration, NetworkConfig, PolicyConfig, PolicyState, Schedule, SelfImprovementPolicy, Starts,
    Strategy,
};
use crate::persist::{self, Decode, Durability, PendingFile, encode_json_version, load_with};
use crate::{Error, Result};

/// The version of `policy.json` this build writes, and the newest it reads.
pub const POLICY_FORMAT_VERSION: u64 = 2;

/// The settings part of the file: [`PolicyConfig`] without the strategy,
/// which has its own top-level field, and with the schedules' starts.
#[derive(Serialize, Deserialize)]
struct Hyperparameters {
    alpha: f64,
    gamma: f64,
    epsilon: f64,
    temperature: f64,
    exploration: Exploration,
    adaptive: bool,
    lambda: f64,
    seed: u64,
    /// Version 1 has none: the current ε.
    #[serde(default)]
    epsilon_start: Option<f64>,
    /// Version 1 has none: the current temperature.
    #[serde(default)]
    temperature_start: Option<f64>,
    #[serde(default)]
    epsilon_schedule: Schedule,
    #[serde(default)]
    temperature_schedule: Schedule,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    network: Option<NetworkConfig>,
}

/// One Q-table row: `{"0": q(skip), "1": q(run)}`.
#[derive(Serialize, Deserialize)]
struct ActionValues {
    #[serde(rename = "0")]
    skip: f64,
    #[serde(rename = "1")]
    run: f64,
}

#[derive(Serialize, Deserialize)]
struct ValueEntry {
    state: PolicyState,
    actions: ActionValues,
}

#[derive(Serialize, Deserialize)]
struct CriticEntry {
    state: PolicyState,
    value: f64,
}

/// Everything in `policy.json` but the version, which persistence adds.
#[derive(Serialize, Deserialize)]
struct PolicyFile {
    hyperparameters: Hyperparameters,
    strategy: Strategy,
    episodes: u64,
    values: Vec<ValueEntry>,
    rng: ChaCha8Rng,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    critic: Vec<CriticEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    traces: Vec<Trace>,
    #[serde(default, skip_serializing_if = "VecDeque::is_empty")]
    recent_rewards: VecDeque<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    q_network: Option<NeuralFile>,
}

impl SelfImprovementPolicy {
    /// Writes the policy to `path` as `policy.json` (atomically, keeping the
    /// previous file as `.bak`). Returns the number of bytes written.
    ///
    /// ```
    /// use kaizen::persist::Durability;
    /// use kaizen::policy::{Action, PolicyConfig, PolicyState, SelfImprovementPolicy};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("policy.json");
    /// let mut policy = SelfImprovementPolicy::new(PolicyConfig::default())?;
    /// policy.update(&PolicyState::default(), Action::Run, 1.0, None)?;
    /// policy.save(&path, Durability::Atomic)?;
    /// let again = SelfImprovementPolicy::load(&path, PolicyConfig::default())?;
    /// assert_eq!(again, policy);
    /// # Ok::<(), kaizen::Error>(())
    /// ```
    pub fn save(&self, path: impl AsRef<Path>, durability: Durability) -> Result<u64> {
        Ok(persist::write_all(
            &[self.state_file(path.as_ref())?],
            durability,
        )?)
    }

    /// The policy encoded as the file [`save`](Self::save) writes at `path`,
    /// for a caller that writes it later (the engine's state writer).
    pub fn state_file(&self, path: &Path) -> Result<PendingFile> {
        Ok(PendingFile {
            path: path.to_path_buf(),
            bytes: encode_json_version(path, &self.to_file(), POLICY_FORMAT_VERSION)?,
        })
    }

    /// What the policy file at `path` holds, read only (nothing is moved
    /// aside): for `kaizen status`, which names a damaged file.
    pub fn inspect(path: &Path) -> persist::Inspected<Self> {
        persist::inspect_with(path, decode)
    }

    /// Reads the policy saved at `path`, with `config` as the settings.
    ///
    /// A missing file gives a new policy from `config`; so does a corrupt
    /// one (it is moved aside with a warning) unless its backup is good. A
    /// file from a newer kaizen is an error and is left untouched. A file
    /// trained with another strategy than `config`'s is [`Error::Invalid`]
    /// naming both, and so is a network of another width. Which of the file
    /// and `config` wins for each setting is described in the
    /// [module documentation](super).
    pub fn load(path: impl AsRef<Path>, config: PolicyConfig) -> Result<Self> {
        config.validate()?;
        let path = path.as_ref();
        let Some(mut policy) = load_with(path, decode)? else {
            return Self::new(config);
        };
        if policy.config.strategy != config.strategy {
            return Err(Error::invalid(
                "policy.strategy",
                config.strategy,
                format!(
                    "{} (the strategy {} was trained with; move that file away to start anew)",
                    policy.config.strategy,
                    path.display()
                ),
            ));
        }
        let learned = policy.config.adaptive && config.adaptive;
        let (alpha, gamma) = if learned {
            (policy.config.alpha, policy.config.gamma)
        } else {
            (config.alpha, config.gamma)
        };
        if !config.adaptive {
            policy.recent_rewards.clear();
        }
        if let Some(net) = &mut policy.neural {
            net.set_config(config.network())?;
        }
        policy.starts = Starts::of(&config);
        policy.config = PolicyConfig {
            alpha,
            gamma,
            seed: policy.config.seed,
            ..config
        };
        policy.apply_schedules();
        Ok(policy)
    }

    fn to_file(&self) -> PolicyFile {
        let c = &self.config;
        let mut values: Vec<ValueEntry> = self
            .table
            .iter()
            .map(|(&state, &[skip, run])| ValueEntry {
                state,
                actions: ActionValues { skip, run },
            })
            .collect();
        values.sort_unstable_by_key(|e| e.state);
        let mut critic: Vec<CriticEntry> = self
            .critic
            .iter()
            .map(|(&state, &value)| CriticEntry { state, value })
            .collect();
        critic.sort_unstable_by_key(|e| e.state);
        PolicyFile {
            hyperparameters: Hyperparameters {
                alpha: c.alpha,
                gamma: c.gamma,
                epsilon: c.epsilon,
                temperature: c.temperature,
                exploration: c.exploration,
                adaptive: c.adaptive,
                lambda: c.lambda,
                seed: c.seed,
                epsilon_start: Some(self.starts.epsilon),
                temperature_start: Some(self.starts.temperature),
                epsilon_schedule: c.epsilon_schedule,
                temperature_schedule: c.temperature_schedule,
                network: c.network.clone(),
            },
            strategy: c.strategy,
            episodes: self.episodes,
            values,
            rng: self.rng.clone(),
            critic,
            traces: self.traces.clone(),
            recent_rewards: self.recent_rewards.clone(),
            q_network: self.neural.as_ref().map(NeuralQ::to_file),
        }
    }
}

/// Decodes `policy.json` into the policy it describes, with the file's own
/// settings; impossible content counts as corrupt.
fn decode(bytes: &[u8]) -> Result<SelfImprovementPolicy, Decode> {
    // Versions 1 and 2 share one shape: what version 2 added has defaults.
    persist::json_version(bytes, POLICY_FORMAT_VERSION)?;
    let file: PolicyFile =
        serde_json::from_slice(bytes).map_err(|e| Decode::Corrupt(e.to_string()))?;
    from_file(file).map_err(|e| Decode::Corrupt(e.to_string()))
}

fn from_file(file: PolicyFile) -> Result<SelfImprovementPolicy> {
    let h = file.hyperparameters;
    let config = PolicyConfig {
        alpha: h.alpha,
        gamma: h.gamma,
        epsilon: h.epsilon,
        temperature: h.temperature,
        exploration: h.exploration,
        adaptive: h.adaptive,
        strategy: file.strategy,
        lambda: h.lambda,
        seed: h.seed,
        epsilon_schedule: h.epsilon_schedule,
        temperature_schedule: h.temperature_schedule,
        network: h.network,
    };
    config.validate()?;
    let starts = Starts {
        epsilon: h.epsilon_start.unwrap_or(h.epsilon),
        temperature: h.temperature_start.unwrap_or(h.temperature),
    };
    // The starts are settings too: the same checks as ε and T.
    PolicyConfig {
        epsilon: starts.epsilon,
        temperature: starts.temperature,
        ..config.clone()
    }
    .validate()?;
    let neural = match (config.strategy.is_neural(), file.q_network) {
        (true, Some(net)) => Some(
            NeuralQ::from_file(config.strategy, config.network(), net).map_err(|why| {
                Error::invalid("q_network", why, "a network that fits its settings")
            })?,
        ),
        (false, None) => None,
        (true, None) => {
            return Err(Error::invalid(
                "q_network",
                "nothing",
                format!("the network of a {} policy", config.strategy),
            ));
        }
        (false, Some(_)) => {
            return Err(Error::invalid(
                "q_network",
                config.strategy,
                "a network only with dqn, double_dqn or deep_q",
            ));
        }
    };
    if neural.is_some() && !file.values.is_empty() {
        return Err(Error::invalid(
            "values",
            config.strategy,
            "no Q-table with a neural strategy",
        ));
    }
    let table = unique(
        "values",
        file.values
            .into_iter()
            .map(|e| (e.state, [e.actions.skip, e.actions.run])),
    )?;
    let critic = unique(
        "critic",
        file.critic.into_iter().map(|e| (e.state, e.value)),
    )?;
    if !critic.is_empty() && config.strategy != Strategy::ActorCritic {
        return Err(Error::invalid(
            "critic",
            config.strategy,
            "critic values only with actor_critic",
        ));
    }
    check_traces(&file.traces, config.strategy)?;
    if file.recent_rewards.len() > RECENT_REWARDS {
        return Err(Error::invalid(
            "recent_rewards",
            file.recent_rewards.len(),
            format!("at most {RECENT_REWARDS} rewards"),
        ));
    }
    Ok(SelfImprovementPolicy {
        config,
        starts,
        table,
        neural,
        critic,
        traces: file.traces,
        recent_rewards: file.recent_rewards,
        episodes: file.episodes,
        rng: file.rng,
    })
}

/// A map of `entries`, refusing a state listed twice.
fn unique<V>(
    what: &'static str,
    entries: impl Iterator<Item = (PolicyState, V)>,
) -> Result<StateMap<V>> {
    let mut map = StateMap::default();
    for (state, value) in entries {
        if map.insert(state, value).is_some() {
            return Err(Error::invalid(
                what,
                format!("{:?}", state.as_array()),
                "each state listed once",
            ));
        }
    }
    Ok(map)
}

/// Traces are only for `q_lambda`: at most [`MAX_TRACES`], each at least
/// [`MIN_TRACE`], one per state and action.
fn check_traces(traces: &[Trace], strategy: Strategy) -> Result<()> {
    if !traces.is_empty() && strategy != Strategy::QLambda {
        return Err(Error::invalid(
            "traces",
            strategy,
            "eligibility traces only with q_lambda",
        ));
    }
    if traces.len() > MAX_TRACES {
        return Err(Error::invalid(
            "traces",
            traces.len(),
            format!("at most {MAX_TRACES} eligibility traces"),
        ));
    }
    if let Some(t) = traces.iter().find(|t| t.trace < MIN_TRACE) {
        return Err(Error::invalid(
            "traces",
            t.trace,
            format!("traces of at least {MIN_TRACE}"),
        ));
    }
    let mut pairs: Vec<_> = traces.iter().map(|t| (t.state, t.action)).collect();
    pairs.sort_unstable();
    if pairs.windows(2).any(|w| w[0] == w[1]) {
        return Err(Error::invalid(
            "traces",
            "a repeated state and action",
            "one trace per state and action",
        ));
    }
    Ok(())
}
