//! The engine settings of a spec (`[engine]`, `[policy]`, `[synergy]`) and
//! the duration format, shared with simulation scenarios.

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use std::time::Duration;

use crate::chain::ChainConfig;
use crate::cycle::{DecisionMode, EngineConfig, ForceTrigger, Persistence};
use crate::engine::EngineBuilder;
use crate::error::MAX_DURATION;
use crate::forecast::ForecasterConfig;
use crate::persist::Durability;
use crate::pipeline::DEFAULT_TIMEOUT;
use crate::policy::PolicyConfig;
use crate::roi::RoiConfig;
use crate::synergy::{DqnConfig, LearnerConfig, SynergyKeys, WeightLearnerConfig};
use crate::{Error, Result};

/// A duration in a spec: seconds as a number, or a string with one unit
/// (`ms`, `s`, `m`, `h`, `d`), e.g. `"250ms"`, `"90s"`, `"15m"`, `"1h"`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct SpecDuration(pub Duration);

impl SpecDuration {
    /// Parses `"15m"` and the like.
    ///
    /// ```
    /// use kaizen::spec::SpecDuration;
    /// use std::time::Duration;
    /// assert_eq!(SpecDuration::parse("90s").unwrap().0, Duration::from_secs(90));
    /// assert_eq!(SpecDuration::parse("1.5h").unwrap().0, Duration::from_secs(5400));
    /// assert!(SpecDuration::parse("ten minutes").is_err());
    /// ```
    pub fn parse(text: &str) -> std::result::Result<SpecDuration, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| c.is_ascii_alphabetic())
            .ok_or_else(|| format!("{text:?} has no unit (ms, s, m, h or d)"))?;
        let (number, unit) = text.split_at(split);
        let value: f64 = number
            .trim()
            .parse()
            .map_err(|_| format!("{text:?} does not start with a number"))?;
        let scale = match unit.trim() {
            "ms" => 0.001,
            "s" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            other => return Err(format!("unknown unit {other:?} (use ms, s, m, h or d)")),
        };
        SpecDuration::from_secs(value * scale)
    }

    /// A duration of `secs` seconds: finite, ≥ 0 and at most 100 years
    /// ([`MAX_DURATION`](crate::error::MAX_DURATION)).
    pub fn from_secs(secs: f64) -> std::result::Result<SpecDuration, String> {
        let d = Duration::try_from_secs_f64(secs)
            .map_err(|_| format!("{secs} s is not a duration (it must be finite and ≥ 0)"))?;
        if d > MAX_DURATION {
            return Err(format!(
                "{secs} s is longer than 100 years, the longest duration kaizen takes"
            ));
        }
        Ok(SpecDuration(d))
    }
}

impl<'de> Deserialize<'de> for SpecDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Secs(f64),
            Text(String),
        }
        match Raw::deserialize(d).map_err(|_| {
            de::Error::custom(
                "expected a duration: seconds, or a string like \"90s\", \"15m\", \"1h\"",
            )
        })? {
            Raw::Secs(s) => SpecDuration::from_secs(s),
            Raw::Text(t) => SpecDuration::parse(&t),
        }
        .map_err(de::Error::custom)
    }
}

/// Where the energy score comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnergyKind {
    /// [`CapitalEnergy`](crate::energy::CapitalEnergy), SPEC §7.
    #[default]
    Capital,
    /// No energy source: the score is 1 and E0 is the requested energy.
    None,
}

impl EnergyKind {
    /// `builder` with this energy source: the one place a kind becomes a source.
    pub fn apply(self, builder: EngineBuilder) -> EngineBuilder {
        match self {
            EnergyKind::Capital => builder.capital_energy(),
            EnergyKind::None => builder,
        }
    }
}

/// When state is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PersistenceKind {
    /// After every cycle.
    #[default]
    PerCycle,
    /// At most once per `write_behind_window`.
    WriteBehind,
}

/// The `[engine]` table.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineTable {
    /// A cycle is forced after this long (default 1 h).
    pub interval: SpecDuration,
    /// Ticks with a lower energy score are skipped (default 0.5).
    pub energy_threshold: f64,
    /// Where the energy score comes from (default capital).
    pub energy: EnergyKind,
    /// Requested energy of tick-driven cycles (default 1).
    pub default_energy: u32,
    /// Cost of one unit of energy in the reward (default 0).
    pub energy_cost: f64,
    /// A forecast above this forces a cycle (default 0).
    pub pre_roi_bias: f64,
    /// `roi_ema_alpha` (default 0.1).
    pub roi_ema_alpha: f64,
    /// `roi_scale` (default 1).
    pub roi_scale: f64,
    /// The forecast factor's cap (default 5).
    pub forecast_cap: f64,
    /// Added to the forecast (default 0).
    pub forecast_bias: f64,
    /// The forecast's weight (default 1).
    pub forecast_k: f64,
    /// When state is written (default per cycle).
    pub persistence: PersistenceKind,
    /// The write-behind window (default 1 s).
    pub write_behind_window: SpecDuration,
    /// fsync state writes (default true).
    pub fsync: bool,
    /// The built-in ROI forecaster (default none: only a host's).
    pub forecast: ForecastKind,
    /// Deltas the built-in forecaster keeps and fits (default 200).
    pub forecast_history: usize,
    /// The built-in forecaster chooses its order again every this many
    /// cycles (default 10).
    pub forecast_refit_every: usize,
    /// How ticks decide (`"learned"` or `"chain"`; default: what the state
    /// folder saved, `chain` for a folder from before the modes, `learned`
    /// for a new engine).
    pub decision: Option<DecisionMode>,
    /// The triggers that force a cycle in learned mode
    /// (`["interval", "forecast", "diagnostics"]`; default none).
    pub force: Vec<ForceTrigger>,
}

/// Which built-in forecaster an engine runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForecastKind {
    /// None: the forecast comes from the host's hook, if any.
    #[default]
    None,
    /// ARIMA chosen by AIC on the engine's ROI deltas ([`crate::forecast`]).
    Arima,
}

/// The built-in forecaster's history in a spec, by default: choosing the
/// order costs ~119 ms on 200 deltas against ~461 ms on 1,000 (criterion),
/// so with a refit every 10 cycles about 12 ms of a blocking thread per
/// cycle instead of 46 ms.
pub const DEFAULT_FORECAST_HISTORY: usize = 200;

impl Default for EngineTable {
    fn default() -> Self {
        let config = EngineConfig::default();
        let chain = ChainConfig::default();
        EngineTable {
            interval: SpecDuration(config.interval),
            energy_threshold: config.energy_threshold,
            energy: EnergyKind::Capital,
            default_energy: config.default_energy,
            energy_cost: config.energy_cost,
            pre_roi_bias: config.pre_roi_bias,
            roi_ema_alpha: RoiConfig::default().ema_alpha,
            roi_scale: RoiConfig::default().scale,
            forecast_cap: chain.forecast_cap,
            forecast_bias: chain.forecast_bias,
            forecast_k: chain.forecast_k,
            persistence: PersistenceKind::PerCycle,
            write_behind_window: SpecDuration(Duration::from_secs(1)),
            fsync: true,
            forecast: ForecastKind::None,
            forecast_history: DEFAULT_FORECAST_HISTORY,
            forecast_refit_every: ForecasterConfig::default().refit_every,
            decision: None,
            force: Vec::new(),
        }
    }
}

/// Which synergy learner.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LearnerKind {
    /// [`SynergyWeightLearner`](crate::synergy::SynergyWeightLearner).
    #[default]
    Weights,
    /// [`DQNSynergyLearner`](crate::synergy::DQNSynergyLearner).
    Dqn,
}

/// The `[synergy]` table. The DQN-only keys are refused with `learner = "weights"`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SynergyTable {
    /// Which learner (default weights).
    pub learner: LearnerKind,
    /// Which keys (default core).
    pub keys: SynergyKeys,
    /// Learning rate (default 0.1 for weights, 1e-3 for dqn).
    pub lr: Option<f64>,
    /// DQN: discount.
    pub gamma: Option<f64>,
    /// DQN: batch size.
    pub batch_size: Option<usize>,
    /// DQN: replay capacity.
    pub replay_capacity: Option<usize>,
    /// DQN: target sync every this many updates.
    pub target_sync: Option<u64>,
    /// DQN: gradient-norm clip.
    pub grad_clip: Option<f64>,
    /// DQN: AdamW weight decay.
    pub weight_decay: Option<f64>,
    /// DQN: seed of the initial weights and sampling.
    pub seed: Option<u64>,
}

impl SynergyTable {
    /// The learner these settings describe.
    pub fn learner(&self) -> Result<LearnerConfig> {
        match self.learner {
            LearnerKind::Weights => {
                let dqn_only = [
                    ("gamma", self.gamma.is_some()),
                    ("batch_size", self.batch_size.is_some()),
                    ("replay_capacity", self.replay_capacity.is_some()),
                    ("target_sync", self.target_sync.is_some()),
                    ("grad_clip", self.grad_clip.is_some()),
                    ("weight_decay", self.weight_decay.is_some()),
                    ("seed", self.seed.is_some()),
                ];
                if let Some((key, _)) = dqn_only.iter().find(|(_, set)| *set) {
                    return Err(Error::invalid(
                        format!("synergy.{key}"),
                        "a value",
                        "no such key with learner = \"weights\" (it is a DQN setting)",
                    ));
                }
                let d = WeightLearnerConfig::default();
                Ok(LearnerConfig::Weights(WeightLearnerConfig {
                    lr: self.lr.unwrap_or(d.lr),
                    keys: self.keys,
                }))
            }
            LearnerKind::Dqn => {
                let d = DqnConfig::default();
                Ok(LearnerConfig::Dqn(DqnConfig {
                    keys: self.keys,
                    lr: self.lr.unwrap_or(d.lr),
                    gamma: self.gamma.unwrap_or(d.gamma),
                    batch_size: self.batch_size.unwrap_or(d.batch_size),
                    replay_capacity: self.replay_capacity.unwrap_or(d.replay_capacity),
                    target_sync: self.target_sync.unwrap_or(d.target_sync),
                    grad_clip: self.grad_clip.unwrap_or(d.grad_clip),
                    weight_decay: self.weight_decay.unwrap_or(d.weight_decay),
                    seed: self.seed.unwrap_or(d.seed),
                    ..d
                }))
            }
        }
    }
}

/// The engine settings of a spec: `[engine]`, `[policy]`, `[synergy]`.
/// Simulation scenarios embed the same tables.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineOptions {
    /// `[engine]`.
    pub engine: EngineTable,
    /// `[policy]`.
    pub policy: PolicyConfig,
    /// `[synergy]`.
    pub synergy: SynergyTable,
    /// `[decide]`: the learned decision's settings
    /// ([`DecideConfig`](crate::decide::DecideConfig)).
    pub decide: crate::decide::DecideConfig,
}

impl EngineOptions {
    /// The engine configuration, validated; errors name the TOML key
    /// (`engine.energy_threshold`, `policy.alpha`, …).
    pub fn config(&self) -> Result<EngineConfig> {
        let e = &self.engine;
        let durability = if e.fsync {
            Durability::Fsync
        } else {
            Durability::Atomic
        };
        let config = EngineConfig {
            interval: e.interval.0,
            energy_threshold: e.energy_threshold,
            timeout: DEFAULT_TIMEOUT,
            default_energy: e.default_energy,
            energy_cost: e.energy_cost,
            pre_roi_bias: e.pre_roi_bias,
            chain: ChainConfig {
                forecast_cap: e.forecast_cap,
                forecast_bias: e.forecast_bias,
                forecast_k: e.forecast_k,
            },
            roi: RoiConfig {
                ema_alpha: e.roi_ema_alpha,
                scale: e.roi_scale,
                ..RoiConfig::default()
            },
            policy: self.policy.clone(),
            learner: self.synergy.learner()?,
            persistence: match e.persistence {
                PersistenceKind::PerCycle => Persistence::PerCycle(durability),
                PersistenceKind::WriteBehind => Persistence::WriteBehind {
                    window: e.write_behind_window.0,
                    durability,
                },
            },
            forecast: (e.forecast == ForecastKind::Arima).then(|| ForecasterConfig {
                max_history: e.forecast_history,
                refit_every: e.forecast_refit_every,
                ..ForecasterConfig::default()
            }),
            reward: None,
            decision: e.decision,
            decide: self.decide.clone(),
            force: e.force.clone(),
        };
        config.validate().map_err(toml_names)?;
        Ok(config)
    }
}

/// Renames a validation error's subject to the TOML key it comes from.
fn toml_names(e: Error) -> Error {
    match e {
        Error::Invalid {
            what,
            value,
            expected,
        } => {
            let key = match what.as_ref() {
                "roi_ema_alpha" | "roi_scale" => format!("engine.{what}"),
                w if w.starts_with("chain.") => format!("engine.{}", &w["chain.".len()..]),
                w if w.starts_with("synergy.dqn.") => {
                    format!("synergy.{}", &w["synergy.dqn.".len()..])
                }
                w => w.to_string(),
            };
            Error::Invalid {
                what: key.into(),
                value,
                expected,
            }
        }
        other => other,
    }
}
