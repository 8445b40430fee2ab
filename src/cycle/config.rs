//! Every setting of an engine, with SPEC's defaults.

use std::time::Duration;

use crate::chain::{ChainConfig, MAX_ENERGY, MIN_ENERGY};
use crate::error::{Error, Result, ensure_duration, ensure_finite, ensure_unit};
use crate::forecast::ForecasterConfig;
use crate::persist::Durability;
use crate::pipeline::DEFAULT_TIMEOUT;
use crate::policy::PolicyConfig;
use crate::reward::RewardConfig;
use crate::roi::RoiConfig;
use crate::synergy::LearnerConfig;

/// When an engine's state reaches the disk.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Persistence {
    /// After every cycle, before the cycle's record is emitted. With
    /// [`Durability::Fsync`] a cycle that was reported is never lost.
    PerCycle(Durability),
    /// At most once per `window` per engine, in the background. A crash loses
    /// at most the cycles of the last `window` (plus the writer's queue, which
    /// drains in one batch). Every file on disk is whole and from a finished
    /// cycle; an engine's files are each atomic, not together, so after a
    /// crash in the middle of a batch they may come from saves one window
    /// apart.
    WriteBehind {
        /// The longest time a change waits before it is written.
        window: Duration,
        /// How hard each write tries to reach the disk.
        durability: Durability,
    },
}

impl Default for Persistence {
    /// Per cycle, flushed to disk.
    fn default() -> Self {
        Persistence::PerCycle(Durability::Fsync)
    }
}

/// The settings of one engine. `Default` gives SPEC's defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineConfig {
    /// A cycle is forced when this long has passed since the last (default 1 h).
    pub interval: Duration,
    /// Ticks with an energy score under this are skipped (default 0.5).
    pub energy_threshold: f64,
    /// The pipeline's timeout (default 15 min).
    pub timeout: Duration,
    /// The energy a tick-driven cycle asks for when there is no energy source (default 1).
    pub default_energy: u32,
    /// Cost of one unit of energy in the policy's reward (default 0).
    pub energy_cost: f64,
    /// A forecast above this forces a cycle (default 0).
    pub pre_roi_bias: f64,
    /// The energy chain's forecast factor.
    pub chain: ChainConfig,
    /// ROI tracking.
    pub roi: RoiConfig,
    /// The Q-learning policy.
    pub policy: PolicyConfig,
    /// The synergy learner.
    pub learner: LearnerConfig,
    /// When state is written.
    pub persistence: Persistence,
    /// The built-in ARIMA forecaster on the engine's own ROI deltas, for the
    /// `forecast` trigger and the chain's forecast factor (`None`: only a
    /// host's [`RoiForecast`](crate::host::RoiForecast), which wins when both
    /// are there). Its state is kept in `forecast.json`.
    pub forecast: Option<ForecasterConfig>,
    /// The weighted reward that makes a cycle's reported value from its
    /// metrics (default none: the pipeline's own ROI).
    pub reward: Option<RewardConfig>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            interval: Duration::from_secs(3600),
            energy_threshold: 0.5,
            timeout: DEFAULT_TIMEOUT,
            default_energy: 1,
            energy_cost: 0.0,
            pre_roi_bias: 0.0,
            chain: ChainConfig::default(),
            roi: RoiConfig::default(),
            policy: PolicyConfig::default(),
            learner: LearnerConfig::default(),
            persistence: Persistence::default(),
            forecast: None,
            reward: None,
        }
    }
}

impl EngineConfig {
    /// Checks every setting and names the first that is wrong.
    pub fn validate(&self) -> Result<()> {
        ensure_unit("engine.energy_threshold", self.energy_threshold)?;
        ensure_duration("engine.interval", self.interval)?;
        ensure_duration("pipeline.timeout", self.timeout)?;
        if let Persistence::WriteBehind { window, .. } = self.persistence {
            ensure_duration("engine.write_behind_window", window)?;
        }
        if self.timeout.is_zero() {
            return Err(Error::invalid("engine.timeout", "0s", "a duration above 0"));
        }
        if !(MIN_ENERGY..=MAX_ENERGY).contains(&self.default_energy) {
            return Err(Error::invalid(
                "engine.default_energy",
                self.default_energy,
                "a whole number in 1..=100",
            ));
        }
        let cost = ensure_finite("engine.energy_cost", self.energy_cost)?;
        if cost < 0.0 {
            return Err(Error::invalid("engine.energy_cost", cost, "a number ≥ 0"));
        }
        ensure_finite("engine.pre_roi_bias", self.pre_roi_bias)?;
        if let Persistence::WriteBehind { window, .. } = self.persistence
            && window.is_zero()
        {
            return Err(Error::invalid(
                "engine.persistence.window",
                "0s",
                "a duration above 0 (or per-cycle persistence)",
            ));
        }
        self.chain.validate()?;
        self.roi.validate()?;
        self.policy.validate()?;
        if let Some(f) = &self.forecast {
            f.validate()?;
        }
        if let Some(reward) = &self.reward {
            reward.validate()?;
        }
        self.learner.validate()
    }
}
