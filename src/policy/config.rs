//! The policy's settings: learning rates, exploration and strategy.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use super::Schedule;
use crate::error::{ensure_finite, ensure_positive, ensure_unit};
use crate::{Error, Result};

/// Finds `name` among the names of `all` (or among `aliases`), or says
/// which names are known.
fn parse_name<T: Copy>(
    kind: &'static str,
    name: &str,
    all: &[T],
    name_of: fn(T) -> &'static str,
    aliases: &[(&'static str, T)],
) -> Result<T> {
    all.iter()
        .copied()
        .find(|&v| name_of(v) == name)
        .or_else(|| aliases.iter().find(|(a, _)| *a == name).map(|&(_, v)| v))
        .ok_or_else(|| {
            let mut known = all
                .iter()
                .map(|&v| name_of(v))
                .collect::<Vec<_>>()
                .join(", ");
            if !aliases.is_empty() {
                let also: Vec<&str> = aliases.iter().map(|(a, _)| *a).collect();
                known = format!("{known} (also: {})", also.join(", "));
            }
            Error::UnknownName {
                kind,
                name: name.to_string(),
                known,
            }
        })
}

/// An enum chosen by name in config and state files: `from_name`, `name`,
/// `FromStr`, `Display`, and serde as the name.
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        $ty:ident, kind $kind:literal {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal ),+ $(,)?
        }
        $( aliases { $( $alias:literal => $target:ident ),+ $(,)? } )?
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "&'static str")]
        pub enum $ty {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $ty {
            /// Every variant, in the order their names are listed in errors.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// Other names accepted for a variant (never written).
            pub const ALIASES: &'static [(&'static str, $ty)] = &[$($( ($alias, $ty::$target) ),+)?];

            /// The variant called `name` (or one of its [aliases](Self::ALIASES));
            /// an unknown name is [`Error::UnknownName`] listing the known ones.
            pub fn from_name(name: &str) -> Result<Self> {
                parse_name($kind, name, Self::ALL, Self::name, Self::ALIASES)
            }

            /// The name used in config and state files.
            pub const fn name(self) -> &'static str {
                match self {
                    $($ty::$variant => $text),+
                }
            }
        }

        impl FromStr for $ty {
            type Err = Error;

            fn from_str(name: &str) -> Result<Self> {
                Self::from_name(name)
            }
        }

        impl TryFrom<String> for $ty {
            type Error = Error;

            fn try_from(name: String) -> Result<Self> {
                Self::from_name(&name)
            }
        }

        impl From<$ty> for &'static str {
            fn from(value: $ty) -> &'static str {
                value.name()
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

named_enum! {
    /// How the policy explores when it selects an action.
    ///
    /// ```
    /// use kaizen::policy::Exploration;
    ///
    /// assert_eq!("softmax".parse::<Exploration>().unwrap(), Exploration::Softmax);
    /// assert_eq!(Exploration::EpsilonGreedy.name(), "epsilon_greedy");
    /// ```
    Exploration, kind "exploration" {
        /// With probability ε a uniformly random action, otherwise the best
        /// one (ties go to run).
        #[default]
        EpsilonGreedy => "epsilon_greedy",
        /// An action drawn with probability ∝ exp(Q / max(0.01, T)).
        Softmax => "softmax",
    }
}

named_enum! {
    /// Which learning rule [`update`](super::SelfImprovementPolicy::update) applies.
    ///
    /// The first four are tabular (SPEC §3); `dqn`, `double_dqn` and
    /// `deep_q` learn a neural Q-function of the state ([`NetworkConfig`]).
    /// The aliases of the reference system are accepted on input.
    ///
    /// ```
    /// use kaizen::policy::Strategy;
    ///
    /// assert_eq!(Strategy::from_name("q_lambda").unwrap(), Strategy::QLambda);
    /// assert_eq!(Strategy::from_name("ddqn").unwrap(), Strategy::DoubleDqn);
    /// let err = Strategy::from_name("ppo").unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "unknown strategy \"ppo\"; known: q_learning, sarsa, q_lambda, actor_critic, \
    ///      dqn, double_dqn, deep_q (also: q-learning, qlambda, actor-critic, ddqn, double-dqn)"
    /// );
    /// ```
    Strategy, kind "strategy" {
        /// One-step Q-learning: the next value is `max_a' Q(s', a')`.
        #[default]
        QLearning => "q_learning",
        /// SARSA as SPEC §3 gives it: the next value is `Q(s', a)`, the same action.
        Sarsa => "sarsa",
        /// Q(λ) with accumulating eligibility traces. The traces add up to
        /// as much as 1/(1 − γλ) (5.3 at the defaults), so one update can
        /// move the table by α/(1 − γλ)·δ in all; with the default α = 0.5
        /// values can grow without bound on long runs. Prefer α ≈ 0.1–0.2
        /// with this strategy.
        QLambda => "q_lambda",
        /// A tabular critic `V(s)` whose TD error also moves `Q(s, a)`.
        ActorCritic => "actor_critic",
        /// A DQN: the target is `r + γ·max_a Q_target(s', a)`, with a target
        /// network copied from the online one every `target_sync` updates.
        Dqn => "dqn",
        /// Double DQN: the online network picks the next action and the
        /// target network values it, `r + γ·Q_target(s', argmax_a Q_online(s', a))`
        /// (as the synergy DQN learner does).
        DoubleDqn => "double_dqn",
        /// A Q-network without a target network: the online network
        /// bootstraps itself, `r + γ·max_a Q_online(s', a)`.
        DeepQ => "deep_q",
    }
    aliases {
        "q-learning" => QLearning,
        "qlambda" => QLambda,
        "actor-critic" => ActorCritic,
        "ddqn" => DoubleDqn,
        "double-dqn" => DoubleDqn,
    }
}

impl Strategy {
    /// Whether the strategy learns a neural Q-function rather than a table.
    pub const fn is_neural(self) -> bool {
        matches!(self, Strategy::Dqn | Strategy::DoubleDqn | Strategy::DeepQ)
    }

    /// Whether the strategy keeps a target network.
    pub(crate) const fn has_target(self) -> bool {
        matches!(self, Strategy::Dqn | Strategy::DoubleDqn)
    }
}

/// The names of every strategy, in the order errors list them (aliases
/// aside): what a spec's `strategy` may say.
///
/// ```
/// assert_eq!(
///     kaizen::policy::available_strategies(),
///     ["q_learning", "sarsa", "q_lambda", "actor_critic", "dqn", "double_dqn", "deep_q"]
/// );
/// ```
pub fn available_strategies() -> Vec<&'static str> {
    Strategy::ALL.iter().map(|s| s.name()).collect()
}

/// Settings of the neural strategies (`[policy.network]` in a spec).
/// `Default` gives the issue's values.
///
/// The network is `state → hidden → ReLU → hidden → ReLU → 2` (one output
/// per action), trained as the synergy DQN is: mean Huber loss (δ = 1),
/// global gradient-norm clip 10, AdamW with candle-nn's defaults but the
/// learning rate (β 0.9/0.999, ε 1e-8, weight decay 0.01).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkConfig {
    /// Width of each hidden layer, 1..=1024. Default 32.
    pub hidden: usize,
    /// AdamW learning rate, > 0. Default 1e-3.
    pub lr: f64,
    /// Transitions per training batch, ≥ 1. Default 32.
    pub batch_size: usize,
    /// Transitions kept in the replay (FIFO), 1..=1,000,000. Default 1,000.
    pub replay_capacity: usize,
    /// The target network is copied from the online one every this many
    /// updates (`dqn`, `double_dqn`), ≥ 1. Default 10.
    pub target_sync: u64,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            hidden: 32,
            lr: 1e-3,
            batch_size: 32,
            replay_capacity: 1_000,
            target_sync: 10,
        }
    }
}

impl NetworkConfig {
    /// The widest hidden layer accepted.
    pub const MAX_HIDDEN: usize = 1024;
    /// The largest replay accepted.
    pub const MAX_REPLAY: usize = 1_000_000;

    /// Checks every setting, naming it (`policy.network.lr`, …).
    pub fn validate(&self) -> Result<()> {
        let count = |what: &'static str, v: u64, max: u64| -> Result<()> {
            if (1..=max).contains(&v) {
                Ok(())
            } else {
                Err(Error::invalid(
                    what,
                    v,
                    format!("a whole number in 1..={max}"),
                ))
            }
        };
        count(
            "policy.network.hidden",
            self.hidden as u64,
            Self::MAX_HIDDEN as u64,
        )?;
        ensure_positive("policy.network.lr", self.lr)?;
        count(
            "policy.network.batch_size",
            self.batch_size as u64,
            u64::MAX,
        )?;
        count(
            "policy.network.replay_capacity",
            self.replay_capacity as u64,
            Self::MAX_REPLAY as u64,
        )?;
        count("policy.network.target_sync", self.target_sync, u64::MAX)
    }
}

/// Settings of a [`SelfImprovementPolicy`](super::SelfImprovementPolicy).
///
/// `Default` gives SPEC §3's values. Missing fields in a config file take
/// their default.
///
/// ```
/// use kaizen::policy::{PolicyConfig, Strategy};
///
/// let config = PolicyConfig { strategy: Strategy::Sarsa, ..PolicyConfig::default() };
/// assert!(config.validate().is_ok());
///
/// let bad = PolicyConfig { alpha: 0.0, ..PolicyConfig::default() };
/// assert_eq!(
///     bad.validate().unwrap_err().to_string(),
///     "invalid policy.alpha = 0: expected a number in (0, 1]"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    /// Learning rate α, in (0, 1]. Default 0.5.
    pub alpha: f64,
    /// Discount γ, in [0, 1]. Default 0.9.
    pub gamma: f64,
    /// Exploration rate ε of `epsilon_greedy`, in [0, 1]. Default 0.1.
    pub epsilon: f64,
    /// Temperature T of `softmax`, finite and ≥ 0; values below 0.01 act as
    /// 0.01. Default 1.0.
    pub temperature: f64,
    /// How actions are explored. Default `epsilon_greedy`.
    pub exploration: Exploration,
    /// Adapt α and γ as learning goes on (SPEC §3). Default false.
    pub adaptive: bool,
    /// The learning rule. Default `q_learning`.
    pub strategy: Strategy,
    /// Trace decay λ of `q_lambda`, in [0, 1]. Default 0.9.
    pub lambda: f64,
    /// Seed of the policy's random number generator. Default 0.
    pub seed: u64,
    /// How ε moves after each update, from `epsilon` as its start. Default
    /// constant.
    pub epsilon_schedule: Schedule,
    /// How the temperature moves after each update, from `temperature` as
    /// its start. Default constant.
    pub temperature_schedule: Schedule,
    /// The neural strategies' network and training settings (their defaults
    /// when absent); refused with a tabular strategy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkConfig>,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            alpha: 0.5,
            gamma: 0.9,
            epsilon: 0.1,
            temperature: 1.0,
            exploration: Exploration::EpsilonGreedy,
            adaptive: false,
            strategy: Strategy::QLearning,
            lambda: 0.9,
            seed: 0,
            epsilon_schedule: Schedule::Constant,
            temperature_schedule: Schedule::Constant,
            network: None,
        }
    }
}

impl PolicyConfig {
    /// Checks every setting; an error names the field (`policy.alpha`, …)
    /// and shows the value.
    pub fn validate(&self) -> Result<()> {
        let alpha = ensure_finite("policy.alpha", self.alpha)?;
        if !(alpha > 0.0 && alpha <= 1.0) {
            return Err(Error::invalid("policy.alpha", alpha, "a number in (0, 1]"));
        }
        ensure_unit("policy.gamma", self.gamma)?;
        ensure_unit("policy.epsilon", self.epsilon)?;
        ensure_unit("policy.lambda", self.lambda)?;
        let temperature = ensure_finite("policy.temperature", self.temperature)?;
        if temperature < 0.0 {
            return Err(Error::invalid(
                "policy.temperature",
                temperature,
                "a number ≥ 0 (values below 0.01 act as 0.01)",
            ));
        }
        self.epsilon_schedule
            .validate("policy.epsilon_schedule", Some(1.0))?;
        self.temperature_schedule
            .validate("policy.temperature_schedule", None)?;
        match &self.network {
            Some(n) if self.strategy.is_neural() => n.validate(),
            Some(_) => Err(Error::invalid(
                "policy.network",
                self.strategy,
                "a neural strategy (dqn, double_dqn or deep_q); the tabular ones have no network",
            )),
            None => Ok(()),
        }
    }

    /// The network settings in force: the configured ones, else the defaults.
    pub fn network(&self) -> NetworkConfig {
        self.network.clone().unwrap_or_default()
    }
}
