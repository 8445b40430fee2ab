//! What one tick of an engine decided, and why ([`CycleRecord`]).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::chain::EnergyChain;
use crate::decide::Decision;
use crate::pipeline::PipelineAlert;
use crate::policy::PolicyState;
use crate::reward::WeightedReward;

/// Did the engine run its pipeline?
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CycleAction {
    /// The pipeline ran (successfully or not).
    Run,
    /// Nothing ran.
    Skip,
}

/// Why the engine ran or skipped (SPEC §4).
///
/// Written as its snake-case name (`"low_energy"`). A name this build does
/// not know (a log written by a newer kaizen) reads as [`Reason::Unknown`],
/// so such a file still loads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    /// Skip: the engine is paused.
    Paused,
    /// Skip: a cycle of this engine is running, or another engine is running this bot.
    Busy,
    /// Skip: the energy score is under the engine's threshold.
    LowEnergy,
    /// Skip: the host's admission ([`crate::host::Admission`]) gave the bot
    /// no cycle slot this tick.
    NoSlot,
    /// Run: the interval since the last cycle has passed (or there was none).
    Interval,
    /// Run: the ROI forecast is above `pre_roi_bias`.
    Forecast,
    /// Run: the diagnostics report is not empty.
    Diagnostics,
    /// Run or skip: the policy chose.
    Policy,
    /// Run: a cycle was asked for directly (`RunCycle`).
    Requested,
    /// Skip: the engine restarted too often and is marked failed.
    Failed,
    /// Skip: the engine stopped before it could answer (it is being restarted).
    Stopped,
    /// A reason this build does not know, read from a file a newer kaizen wrote.
    #[serde(other)]
    Unknown,
}

impl Reason {
    /// The reason as written in records and logs (`"low_energy"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Paused => "paused",
            Reason::Busy => "busy",
            Reason::LowEnergy => "low_energy",
            Reason::NoSlot => "no_slot",
            Reason::Interval => "interval",
            Reason::Forecast => "forecast",
            Reason::Diagnostics => "diagnostics",
            Reason::Policy => "policy",
            Reason::Requested => "requested",
            Reason::Failed => "failed",
            Reason::Stopped => "stopped",
            Reason::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a run cycle's energy was computed from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CycleInputs {
    /// The policy state the decision and the update used.
    pub state: PolicyState,
    /// `policy.score(state)`.
    pub policy_score: f64,
    /// The ROI forecast, if a forecaster is set.
    pub forecast: Option<f64>,
    /// `Σ w_k·Δ_k` over the synergy keys.
    pub synergy_adj: f64,
    /// `roi_delta_ema` before the cycle.
    pub roi_ema: f64,
    /// The short mean before the cycle.
    pub short_mean: f64,
    /// The long-term ROI trend before the cycle.
    pub trend: f64,
}

/// What a run cycle produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CycleOutcome {
    /// The pipeline succeeded.
    pub ok: bool,
    /// The ROI delta (after `roi_scale`).
    pub delta: f64,
    /// The reward the policy learned from.
    pub reward: f64,
    /// Profit read before the pipeline, with a profit source.
    pub profit_before: Option<f64>,
    /// Profit read after the pipeline, with a profit source.
    pub profit_after: Option<f64>,
    /// Why the pipeline failed, if it did.
    pub error: Option<String>,
    /// The modules the cycle was credited to.
    pub modules: Vec<String>,
    /// What the synergy learner did (its loss, or why it skipped), if noteworthy.
    pub learner: Option<String>,
    /// The metrics the pipeline reported (none for a failed run).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metrics: BTreeMap<String, f64>,
    /// The cycle's value component by component, with a `[reward]` table
    /// (see [`crate::reward`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weighted_reward: Option<WeightedReward>,
    /// The alerts the pipeline raised in this run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<PipelineAlert>,
}

/// One tick of one engine: the inputs, the energy chain, the action and the reason.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CycleRecord {
    /// The engine.
    pub engine: Arc<str>,
    /// The bot it looks after.
    pub bot: Arc<str>,
    /// When (the engine's clock, seconds).
    pub time: f64,
    /// Cycles this engine has run, including this one when it ran.
    pub cycle: u64,
    /// Ran or skipped.
    pub action: CycleAction,
    /// Why.
    pub reason: Reason,
    /// The energy score, when one was computed.
    pub energy_score: Option<f64>,
    /// What the energy was computed from (runs only).
    pub inputs: Option<CycleInputs>,
    /// Each factor of the energy chain (runs only).
    pub chain: Option<EnergyChain>,
    /// What the run produced (runs only).
    pub outcome: Option<CycleOutcome>,
    /// The probability the deciding policy had of choosing what this record
    /// did, when known: `Some(1.0)` on a run of a forced-energy round (see
    /// `forced`); `None` when nothing measured it (the tabular chain mode).
    /// The learned decision mode fills it for its own draws.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propensity: Option<f64>,
    /// True for a run of a forced-energy round
    /// ([`run_all_cycles_with`](crate::registry::RegistryHandle::run_all_cycles_with)):
    /// its energy was the caller's, not the policy's draw, so its propensity
    /// is 1 and off-policy estimates must leave it out.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forced: bool,
    /// In the learned decision mode, the decision this tick took: every
    /// option with its expected value, the chosen energy (0: skip), why it
    /// won and its propensity (also in `propensity`). `None` in chain mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
}

impl CycleRecord {
    /// A skip with no inputs.
    pub fn skip(engine: &Arc<str>, bot: &Arc<str>, time: f64, cycle: u64, reason: Reason) -> Self {
        CycleRecord {
            engine: engine.clone(),
            bot: bot.clone(),
            time,
            cycle,
            action: CycleAction::Skip,
            reason,
            energy_score: None,
            inputs: None,
            chain: None,
            outcome: None,
            propensity: None,
            forced: false,
            decision: None,
        }
    }

    /// The energy the pipeline got, for a run: the energy chain's, or in
    /// learned mode the decision's.
    pub fn energy(&self) -> Option<u32> {
        match (&self.chain, &self.decision) {
            (Some(c), _) => Some(c.energy),
            (None, Some(d)) if self.action == CycleAction::Run => Some(d.energy),
            _ => None,
        }
    }

    /// True for a run whose pipeline succeeded.
    pub fn succeeded(&self) -> bool {
        self.outcome.as_ref().is_some_and(|o| o.ok)
    }
}
