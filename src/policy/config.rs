//! The policy's settings: learning rates, exploration and strategy.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::error::{ensure_finite, ensure_unit};
use crate::{Error, Result};

/// Finds `name` among the names of `all`, or says which names are known.
fn parse_name<T: Copy>(
    kind: &'static str,
    name: &str,
    all: &[T],
    name_of: fn(T) -> &'static str,
) -> Result<T> {
    all.iter()
        .copied()
        .find(|&v| name_of(v) == name)
        .ok_or_else(|| Error::UnknownName {
            kind,
            name: name.to_string(),
            known: all
                .iter()
                .map(|&v| name_of(v))
                .collect::<Vec<_>>()
                .join(", "),
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

            /// The variant called `name`; an unknown name is
            /// [`Error::UnknownName`] listing the known ones.
            pub fn from_name(name: &str) -> Result<Self> {
                parse_name($kind, name, Self::ALL, Self::name)
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
    /// ```
    /// use kaizen::policy::Strategy;
    ///
    /// assert_eq!(Strategy::from_name("q_lambda").unwrap(), Strategy::QLambda);
    /// let err = Strategy::from_name("dqn").unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "unknown strategy \"dqn\"; known: q_learning, sarsa, q_lambda, actor_critic"
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
        Ok(())
    }
}
