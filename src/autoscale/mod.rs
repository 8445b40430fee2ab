//! The autoscale decision (SPEC §8): create an engine, remove one, or hold.
//!
//! [`decide`] is pure: it sees the energy score, the long-term ROI trend, the
//! machine's CPU and memory use, the engines there are now and when the last
//! change happened, and returns one [`AutoscaleDecision`] with the reason. The
//! registry carries the decision out (or, in `dry_run`, only records it).
//! [`inputs`], pure too, makes those inputs from what the registry observed:
//! each engine's [`EngineSnapshot`] and the host's [`AutoscaleRequest`].
//!
//! - `projected = trend − cost_per_engine`.
//! - **create** when `energy ≥ create_energy`, `trend > roi_threshold`,
//!   `projected > 0`, fewer than `max_engines`, CPU < `max_cpu`, memory <
//!   `max_memory`, the cooldown has passed and the approval callback (if any)
//!   agrees. The new engine is named after the first free `engine{i}`, `i ≥ 0`.
//! - else **remove** when (`energy ≤ remove_energy` or `trend ≤ roi_threshold`
//!   or `projected ≤ 0` or CPU ≥ 0.9 or memory ≥ 0.9), more than `min_engines`
//!   and the cooldown has passed. The engine removed is the one with the
//!   lowest `roi_delta_ema`, the oldest on ties, among those not
//!   [pinned](EngineSummary::pinned) (engines an operator defined in a spec
//!   count towards the bounds but are never removed).
//!
//! With `mode = "adaptive"` the [`adaptive`] rule decides instead, from a
//! baseline of the last rounds.
//!
//! As SPEC §8 says, the approval callback gates *creation* only: a removal
//! relieves pressure, so a host whose callback refuses everything still
//! shrinks under CPU or memory pressure.

use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

use crate::error::{Error, Result, ensure_finite, ensure_unit};
use crate::host::Resources;
use crate::snapshot::EngineSnapshot;

pub mod adaptive;
pub use adaptive::{AdaptiveStats, Baseline, Moment, RoundSample};

/// Which rule an autoscale step decides by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AutoscaleMode {
    /// SPEC §8's fixed thresholds ([`decide`]).
    #[default]
    Threshold,
    /// A moving baseline of the last rounds ([`Baseline::step`]).
    Adaptive,
}

/// CPU or memory use at or above which an engine is removed regardless of ROI.
pub const PRESSURE_LIMIT: f64 = 0.9;

/// The autoscale options of SPEC §8 (the approval callback is passed to [`decide`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AutoscaleConfig {
    /// Never fewer engines than this (default 1).
    pub min_engines: usize,
    /// Never more engines than this (default 5).
    pub max_engines: usize,
    /// Energy score at or above which an engine may be created (default 0.8).
    pub create_energy: f64,
    /// Energy score at or below which an engine is removed (default 0.3).
    pub remove_energy: f64,
    /// The ROI trend must be above this to create, at or below it removes (default 0).
    pub roi_threshold: f64,
    /// What one more engine costs, in ROI-trend units (default 0).
    pub cost_per_engine: f64,
    /// CPU use below which an engine may be created (default 0.8).
    pub max_cpu: f64,
    /// Memory use below which an engine may be created (default 0.8).
    pub max_memory: f64,
    /// Seconds after a change during which no other change is made (default 0 in
    /// the library; the CLI uses 60).
    pub cooldown_secs: f64,
    /// Decide and record, but change nothing (default false).
    pub dry_run: bool,
    /// Which rule decides: SPEC §8's thresholds (the default) or the
    /// [adaptive](adaptive) baseline.
    pub mode: AutoscaleMode,
    /// Adaptive mode: how many rounds the baseline keeps (default 20).
    pub window: usize,
    /// Adaptive mode: how far below its mean the energy or the trend must be
    /// for a round to count as lagging (default 0).
    pub tolerance: f64,
}

impl Default for AutoscaleConfig {
    fn default() -> Self {
        AutoscaleConfig {
            min_engines: 1,
            max_engines: 5,
            create_energy: 0.8,
            remove_energy: 0.3,
            roi_threshold: 0.0,
            cost_per_engine: 0.0,
            max_cpu: 0.8,
            max_memory: 0.8,
            cooldown_secs: 0.0,
            dry_run: false,
            mode: AutoscaleMode::Threshold,
            window: adaptive::DEFAULT_WINDOW,
            tolerance: 0.0,
        }
    }
}

impl AutoscaleConfig {
    /// Checks every field and names the first that is wrong.
    pub fn validate(&self) -> Result<()> {
        if self.min_engines > self.max_engines {
            return Err(Error::invalid(
                "autoscale.min_engines",
                self.min_engines,
                format!("at most autoscale.max_engines ({})", self.max_engines),
            ));
        }
        ensure_unit("autoscale.create_energy", self.create_energy)?;
        ensure_unit("autoscale.remove_energy", self.remove_energy)?;
        ensure_finite("autoscale.roi_threshold", self.roi_threshold)?;
        ensure_finite("autoscale.cost_per_engine", self.cost_per_engine)?;
        ensure_unit("autoscale.max_cpu", self.max_cpu)?;
        ensure_unit("autoscale.max_memory", self.max_memory)?;
        if self.window == 0 {
            return Err(Error::invalid("autoscale.window", 0, "at least 1 round"));
        }
        let tolerance = ensure_finite("autoscale.tolerance", self.tolerance)?;
        if tolerance < 0.0 {
            return Err(Error::invalid("autoscale.tolerance", tolerance, "≥ 0"));
        }
        let cooldown = ensure_finite("autoscale.cooldown", self.cooldown_secs)?;
        if cooldown < 0.0 {
            return Err(Error::invalid(
                "autoscale.cooldown",
                cooldown,
                "a duration ≥ 0 seconds",
            ));
        }
        Ok(())
    }
}

/// One engine as the decision sees it: the part of its [`EngineSnapshot`]
/// a removal is chosen by, and its registration order. Kept this small
/// because every autoscale record lists every engine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EngineSummary {
    /// The engine's name.
    pub name: String,
    /// Its `roi_delta_ema`.
    pub roi_ema: f64,
    /// When it was registered, in registry order (smaller is older).
    pub created: u64,
    /// Defined by the operator (an `engines/*.toml` spec): it counts towards
    /// `min_engines`/`max_engines` but autoscaling never removes it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pinned: bool,
}

/// What an autoscale step decides from. `None` fields are taken from what
/// the registry observed ([`inputs`]): the energy is the mean of the
/// engines' last energy scores (1 when none has an energy source), the trend
/// the mean of their long-term ROI trends, the resources its probe's sample,
/// the options its defaults.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AutoscaleRequest {
    /// The energy score in [0, 1].
    pub energy: Option<f64>,
    /// The long-term ROI trend.
    pub trend: Option<f64>,
    /// CPU and memory use.
    pub resources: Option<Resources>,
    /// The options.
    pub config: Option<AutoscaleConfig>,
}

/// One engine the registry observed for an autoscale step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Observed<'a> {
    /// The engine's name.
    pub name: &'a str,
    /// Its registration order.
    pub created: u64,
    /// Its snapshot, when it answered in time.
    pub snapshot: Option<&'a EngineSnapshot>,
    /// Never removed by autoscaling ([`EngineSummary::pinned`]).
    pub pinned: bool,
}

/// The inputs of one autoscale step, from the engines that may be removed
/// (`engines`: every engine not marked failed), the names a new engine must
/// not take (`taken`), the `request`, the machine's load (`sample`, asked
/// only when the request has none), `now` and the last change. The registry
/// observes; this computes.
///
/// ```
/// use kaizen::autoscale::{AutoscaleRequest, Observed, inputs};
/// use kaizen::host::Resources;
/// let none = [Observed { name: "engine0", created: 0, snapshot: None, pinned: false }];
/// let i = inputs(&none, vec![], &AutoscaleRequest::default(), Resources::default, 10.0, None);
/// // No engine answered: full energy, no trend, its EMA counted as 0.
/// assert_eq!((i.energy, i.trend, i.engines[0].roi_ema), (1.0, 0.0, 0.0));
/// ```
pub fn inputs(
    engines: &[Observed<'_>],
    taken: Vec<String>,
    request: &AutoscaleRequest,
    sample: impl FnOnce() -> Resources,
    now: f64,
    last_change: Option<f64>,
) -> AutoscaleInputs {
    let mean = |f: &dyn Fn(&EngineSnapshot) -> Option<f64>| {
        let v: Vec<f64> = engines.iter().filter_map(|e| f(e.snapshot?)).collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    let resources = request.resources.unwrap_or_else(sample);
    AutoscaleInputs {
        energy: request
            .energy
            .unwrap_or_else(|| mean(&|s| s.last?.energy_score).unwrap_or(1.0)),
        trend: request
            .trend
            .unwrap_or_else(|| mean(&|s| Some(s.trend)).unwrap_or(0.0)),
        cpu: resources.cpu,
        memory: resources.memory,
        now,
        last_change,
        engines: engines
            .iter()
            .map(|e| EngineSummary {
                name: e.name.to_string(),
                roi_ema: e.snapshot.map_or(0.0, |s| s.roi_delta_ema),
                created: e.created,
                pinned: e.pinned,
            })
            .collect(),
        taken,
    }
}

/// What the decision looks at.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AutoscaleInputs {
    /// The energy score in [0, 1].
    pub energy: f64,
    /// The long-term ROI trend.
    pub trend: f64,
    /// CPU use in [0, 1].
    pub cpu: f64,
    /// Memory use in [0, 1].
    pub memory: f64,
    /// Now, in seconds (any fixed origin; the registry uses its clock).
    pub now: f64,
    /// When the last create or remove happened, if ever.
    pub last_change: Option<f64>,
    /// The engines there are now.
    pub engines: Vec<EngineSummary>,
    /// Names a new engine must not take: engines marked failed, or still
    /// shutting down. They do not count toward `max_engines`.
    #[serde(default)]
    pub taken: Vec<String>,
}

/// What to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", content = "engine", rename_all = "snake_case")]
pub enum AutoscaleAction {
    /// Create an engine with this name.
    Create(String),
    /// Remove (after saving it) the engine with this name.
    Remove(String),
    /// Change nothing.
    Hold,
}

/// In words: `create engine engine1`, `remove engine beta`, `hold`.
///
/// ```
/// use kaizen::autoscale::AutoscaleAction;
/// assert_eq!(AutoscaleAction::Remove("beta".into()).to_string(), "remove engine beta");
/// ```
impl std::fmt::Display for AutoscaleAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AutoscaleAction::Create(name) => write!(f, "create engine {name}"),
            AutoscaleAction::Remove(name) => write!(f, "remove engine {name}"),
            AutoscaleAction::Hold => f.write_str("hold"),
        }
    }
}

/// One decision and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AutoscaleDecision {
    /// What to do.
    #[serde(flatten)]
    pub action: AutoscaleAction,
    /// `trend − cost_per_engine`.
    pub projected: f64,
    /// Why, in words: the conditions that decided it.
    pub reason: String,
}

/// Decides one step. `approve`, when given, is asked before a create (never
/// before a remove); a refusal turns the decision into [`AutoscaleAction::Hold`].
///
/// ```
/// use kaizen::autoscale::*;
/// let engine0 = EngineSummary { name: "engine0".into(), roi_ema: 0.0, created: 0, pinned: false };
/// let config = AutoscaleConfig { max_engines: 2, roi_threshold: 0.1, ..Default::default() };
/// let inputs = AutoscaleInputs {
///     energy: 0.9, trend: 0.5, cpu: 0.1, memory: 0.1, now: 0.0, last_change: None,
///     engines: vec![engine0], taken: vec![],
/// };
/// let d = decide(&inputs, &config, None).unwrap();
/// assert_eq!(d.action, AutoscaleAction::Create("engine1".into()));
/// ```
pub fn decide(
    inputs: &AutoscaleInputs,
    config: &AutoscaleConfig,
    approve: Option<&dyn Fn(&AutoscaleAction) -> bool>,
) -> Result<AutoscaleDecision> {
    let energy = ensure_unit("autoscale energy", inputs.energy)?;
    let trend = ensure_finite("autoscale trend", inputs.trend)?;
    let cpu = ensure_unit("cpu use", inputs.cpu)?;
    let memory = ensure_unit("memory use", inputs.memory)?;
    let now = ensure_finite("autoscale now", inputs.now)?;
    for e in &inputs.engines {
        ensure_finite("engine roi_delta_ema", e.roi_ema)?;
    }
    let projected = trend - config.cost_per_engine;
    let len = inputs.engines.len();
    let cooldown_left = match inputs.last_change {
        Some(t) => config.cooldown_secs - (now - t),
        None => 0.0,
    };

    // Conditions, each with its reason; two of them count both ways.
    let weak_trend = (trend <= config.roi_threshold)
        .then(|| format!("trend {trend:.3} ≤ roi_threshold {}", config.roi_threshold));
    let unprofitable = (projected <= 0.0).then(|| format!("projected {projected:.3} ≤ 0"));
    let blockers: Vec<String> = [
        (energy < config.create_energy).then(|| {
            format!(
                "energy {energy:.3} < create_energy {}",
                config.create_energy
            )
        }),
        weak_trend.clone(),
        unprofitable.clone(),
        (len >= config.max_engines)
            .then(|| format!("{len} engines ≥ max_engines {}", config.max_engines)),
        (cpu >= config.max_cpu).then(|| format!("cpu {cpu:.3} ≥ max_cpu {}", config.max_cpu)),
        (memory >= config.max_memory)
            .then(|| format!("memory {memory:.3} ≥ max_memory {}", config.max_memory)),
    ]
    .into_iter()
    .flatten()
    .collect();
    let cooling = cooldown_left > 0.0;
    let hold = |reason: String| AutoscaleDecision {
        action: AutoscaleAction::Hold,
        projected,
        reason,
    };
    let decided = |action: AutoscaleAction, reason: String| AutoscaleDecision {
        action,
        projected,
        reason,
    };

    if blockers.is_empty() {
        if cooling {
            return Ok(hold(format!(
                "would create, but cooldown has {cooldown_left:.1} s left"
            )));
        }
        let reason = format!(
            "energy {energy:.3} ≥ {}, trend {trend:.3} > {}, projected {projected:.3} > 0, \
             {len} < {} engines, cpu {cpu:.3}, memory {memory:.3}",
            config.create_energy, config.roi_threshold, config.max_engines
        );
        let create = AutoscaleAction::Create(free_name(inputs));
        return Ok(match approve {
            Some(f) if !f(&create) => hold(format!("approval refused: {reason}")),
            _ => decided(create, reason),
        });
    }

    let pressure: Vec<String> = [
        (energy <= config.remove_energy).then(|| {
            format!(
                "energy {energy:.3} ≤ remove_energy {}",
                config.remove_energy
            )
        }),
        weak_trend,
        unprofitable,
        (cpu >= PRESSURE_LIMIT).then(|| format!("cpu {cpu:.3} ≥ {PRESSURE_LIMIT}")),
        (memory >= PRESSURE_LIMIT).then(|| format!("memory {memory:.3} ≥ {PRESSURE_LIMIT}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if pressure.is_empty() {
        return Ok(hold(format!(
            "no reason to change; not creating: {}",
            blockers.join(", ")
        )));
    }
    let why = pressure.join(", ");
    if len <= config.min_engines {
        return Ok(hold(format!(
            "would remove ({why}), but {len} engines ≤ min_engines {}",
            config.min_engines
        )));
    }
    if cooling {
        return Ok(hold(format!(
            "would remove ({why}), but cooldown has {cooldown_left:.1} s left"
        )));
    }
    let Some(victim) = lowest_ema(inputs) else {
        return Ok(hold(format!(
            "would remove ({why}), but every engine is defined by a spec"
        )));
    };
    let mut reason = why;
    let _ = write!(reason, "; lowest roi_delta_ema is {victim}");
    Ok(decided(AutoscaleAction::Remove(victim), reason))
}

/// The engine with the lowest `roi_delta_ema`, the oldest on ties, among
/// those autoscaling may remove (not [pinned](EngineSummary::pinned)).
fn lowest_ema(inputs: &AutoscaleInputs) -> Option<String> {
    inputs
        .engines
        .iter()
        .filter(|e| !e.pinned)
        .min_by(|a, b| {
            a.roi_ema
                .total_cmp(&b.roi_ema)
                .then(a.created.cmp(&b.created))
        })
        .map(|e| e.name.clone())
}

/// The first `engine{i}` (i = 0, 1, …) that no engine is called and that
/// is not otherwise taken.
fn free_name(inputs: &AutoscaleInputs) -> String {
    (0..)
        .map(|i| format!("engine{i}"))
        .find(|n| inputs.engines.iter().all(|e| &e.name != n) && !inputs.taken.contains(n))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
