//! Every setting of an engine, with SPEC's defaults.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::chain::{ChainConfig, MAX_ENERGY, MIN_ENERGY};
use crate::decide::DecideConfig;
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

/// How an engine decides whether, and with how much energy, a tick runs a
/// cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionMode {
    /// The learned energy of [`crate::decide`]: each tick picks an energy
    /// (0: none) from what the bot's ledger (or its pipeline's reported
    /// values) showed earlier cycles bought. The default for a new engine.
    Learned,
    /// SPEC §4: the forced reasons, the run/skip policy and the energy chain
    /// (`decision = "chain"`). What an engine whose state predates the
    /// decision modes keeps running.
    Chain,
}

impl DecisionMode {
    /// The mode as written in specs and state (`"learned"`, `"chain"`).
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionMode::Learned => "learned",
            DecisionMode::Chain => "chain",
        }
    }
}

/// A trigger a spec's `force = [...]` can make a learned decision obey.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForceTrigger {
    /// The interval since the last cycle has passed.
    Interval,
    /// The forecast is above `pre_roi_bias`.
    Forecast,
    /// The diagnostics report is not empty.
    Diagnostics,
}

impl ForceTrigger {
    /// Whether this trigger fires on a tick with `triggers` (a forecast
    /// fires above `pre_roi_bias`).
    pub fn fires(self, triggers: &crate::decide::Triggers, pre_roi_bias: f64) -> bool {
        match self {
            ForceTrigger::Interval => triggers.interval,
            ForceTrigger::Forecast => triggers.forecast.is_some_and(|f| f > pre_roi_bias),
            ForceTrigger::Diagnostics => triggers.diagnostics,
        }
    }
}

/// The settings of one engine. `Default` gives SPEC's defaults, with the
/// decision mode left to the state folder (see [`decision`](Self::decision)).
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
    /// The decision mode; `None` (the default): what the state folder saved,
    /// [`DecisionMode::Chain`] for a folder from before the modes existed,
    /// and [`DecisionMode::Learned`] for a new engine.
    pub decision: Option<DecisionMode>,
    /// The learned decision's settings (its `seed` is mixed with the
    /// engine's name, so engines do not draw alike).
    pub decide: DecideConfig,
    /// The triggers that force a cycle in learned mode (default none: the
    /// triggers are only inputs to the decision).
    pub force: Vec<ForceTrigger>,
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
            decision: None,
            decide: DecideConfig::default(),
            force: Vec::new(),
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
        self.decide.validate()?;
        self.learner.validate()
    }
}
