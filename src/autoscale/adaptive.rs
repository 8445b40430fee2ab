//! The adaptive autoscaler (`mode = "adaptive"`): decisions against a moving
//! baseline of the last rounds instead of SPEC §8's fixed thresholds.
//!
//! Each step adds this round to the baseline — the energy score, the ROI
//! trend, the pass rate (the share of the last round's cycles that succeeded)
//! and the momentum (trend − the previous step's trend, 0 on the first) — and
//! keeps the last `window` rounds (default 20), this one included. Of each
//! quantity it takes the mean and the population standard deviation (divided
//! by n, floored at [`STD_FLOOR`]), and `z = (value − mean) / std`. Then, in
//! order:
//!
//! 1. **Lag rule**: a round lags when `energy < mean_energy − tolerance` or
//!    `trend < mean_trend − tolerance`. After [`LAG_ROUNDS`] lagging rounds in
//!    a row the count resets and the engine with the lowest `roi_delta_ema`
//!    is removed — at `min_engines` a warning is recorded instead.
//! 2. **Create** when `energy ≥ mean_energy + w_c·std_energy`, `trend ≥
//!    mean_trend + std_trend` and `trend − mean_trend − cost_per_engine > 0`,
//!    with `w_c = 1 + max(momentum_z, 0)`; gated by the host's budget hook,
//!    `max_engines`, the cooldown and the approval callback.
//! 3. **Remove** when `energy ≤ mean_energy − w_r·std_energy` or `trend ≤
//!    mean_trend − std_trend`, with `w_r = 1 + max(−momentum_z, 0)`; gated by
//!    `min_engines` and the cooldown (approval is asked for creation only).
//! 4. Else hold.
//!
//! Assumptions: a round is one autoscale step (the registry's schedule runs
//! one after each tick round); the current round is part of its own baseline,
//! so a steady state (every value equal) has z = 0 and changes nothing; CPU
//! and memory do not enter this rule (the budget hook is the host's gate).
//! The registry saves the baseline (and the lag count) in `registry.json`,
//! so a restarted registry goes on from the same rounds.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

use super::{
    AutoscaleAction, AutoscaleConfig, AutoscaleDecision, AutoscaleInputs, free_name, lowest_ema,
};
use crate::error::{Result, ensure_finite, ensure_unit};

/// The default number of rounds the baseline keeps.
pub const DEFAULT_WINDOW: usize = 20;
/// Lagging rounds in a row that remove an engine.
pub const LAG_ROUNDS: usize = 3;
/// The smallest standard deviation used (a constant series has z = 0).
pub const STD_FLOOR: f64 = 1e-6;

/// One round the baseline keeps.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoundSample {
    /// The energy score.
    pub energy: f64,
    /// The long-term ROI trend.
    pub trend: f64,
    /// The share of the round's cycles that succeeded.
    pub pass_rate: f64,
    /// The trend minus the previous round's.
    pub momentum: f64,
}

/// One quantity of this round against the baseline.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Moment {
    /// This round's value.
    pub value: f64,
    /// The mean over the baseline.
    pub mean: f64,
    /// The population standard deviation over the baseline, floored at
    /// [`STD_FLOOR`].
    pub std: f64,
    /// `(value − mean) / std`.
    pub z: f64,
}

impl Moment {
    fn of(value: f64, series: impl Iterator<Item = f64> + Clone) -> Moment {
        let n = series.clone().count().max(1) as f64;
        let mean = series.clone().sum::<f64>() / n;
        let var = series.map(|x| (x - mean).powi(2)).sum::<f64>() / n;
        let std = var.sqrt().max(STD_FLOOR);
        Moment {
            value,
            mean,
            std,
            z: (value - mean) / std,
        }
    }
}

/// Everything an adaptive decision used, for its record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdaptiveStats {
    /// Rounds in the baseline, this one included.
    pub rounds: usize,
    /// The energy score against its baseline.
    pub energy: Moment,
    /// The ROI trend against its baseline.
    pub trend: Moment,
    /// The pass rate against its baseline.
    pub pass_rate: Moment,
    /// The momentum against its baseline.
    pub momentum: Moment,
    /// `w_c = 1 + max(momentum_z, 0)`.
    pub w_create: f64,
    /// `w_r = 1 + max(−momentum_z, 0)`.
    pub w_remove: f64,
    /// Lagging rounds in a row after this one (0 after the lag rule fired).
    pub lagging: usize,
    /// Set when the lag rule fired at `min_engines`.
    pub warning: Option<String>,
}

/// The adaptive autoscaler's memory: the last rounds and the lag count.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    rounds: VecDeque<RoundSample>,
    lagging: usize,
}

impl Baseline {
    /// An empty baseline.
    pub fn new() -> Self {
        Self::default()
    }

    /// The rounds kept, oldest first.
    pub fn rounds(&self) -> &VecDeque<RoundSample> {
        &self.rounds
    }

    /// Adds this round (`inputs`' energy and trend, `pass_rate`) to the
    /// baseline and decides. `budget` is the host's hook, asked only when
    /// everything else says create; `approve`, when given, is asked before a
    /// creation. An input out of range is an error and leaves the baseline
    /// as it was.
    pub fn step(
        &mut self,
        inputs: &AutoscaleInputs,
        pass_rate: f64,
        config: &AutoscaleConfig,
        budget: &dyn Fn() -> bool,
        approve: Option<&dyn Fn(&AutoscaleAction) -> bool>,
    ) -> Result<(AutoscaleDecision, AdaptiveStats)> {
        let energy = ensure_unit("autoscale energy", inputs.energy)?;
        let trend = ensure_finite("autoscale trend", inputs.trend)?;
        let pass_rate = ensure_unit("autoscale pass_rate", pass_rate)?;
        let now = ensure_finite("autoscale now", inputs.now)?;
        for e in &inputs.engines {
            ensure_finite("engine roi_delta_ema", e.roi_ema)?;
        }
        let momentum = self.rounds.back().map_or(0.0, |r| trend - r.trend);
        self.rounds.push_back(RoundSample {
            energy,
            trend,
            pass_rate,
            momentum,
        });
        while self.rounds.len() > config.window.max(1) {
            self.rounds.pop_front();
        }
        let r = &self.rounds;
        let e = Moment::of(energy, r.iter().map(|s| s.energy));
        let t = Moment::of(trend, r.iter().map(|s| s.trend));
        let p = Moment::of(pass_rate, r.iter().map(|s| s.pass_rate));
        let m = Moment::of(momentum, r.iter().map(|s| s.momentum));
        let w_create = 1.0 + m.z.max(0.0);
        let w_remove = 1.0 + (-m.z).max(0.0);

        let lags = energy < e.mean - config.tolerance || trend < t.mean - config.tolerance;
        self.lagging = if lags { self.lagging + 1 } else { 0 };
        let fired = self.lagging >= LAG_ROUNDS;
        if fired {
            self.lagging = 0;
        }
        let mut stats = AdaptiveStats {
            rounds: r.len(),
            energy: e,
            trend: t,
            pass_rate: p,
            momentum: m,
            w_create,
            w_remove,
            lagging: self.lagging,
            warning: None,
        };

        let projected = trend - t.mean - config.cost_per_engine;
        let len = inputs.engines.len();
        let cooldown_left = inputs
            .last_change
            .map_or(0.0, |at| config.cooldown_secs - (now - at));
        let hold = |reason: String| AutoscaleDecision {
            action: AutoscaleAction::Hold,
            projected,
            reason,
        };
        let act = |action: AutoscaleAction, reason: String| AutoscaleDecision {
            action,
            projected,
            reason,
        };
        let cooling = |what: &str, why: &str| {
            hold(format!(
                "would {what} ({why}), but cooldown has {cooldown_left:.1} s left"
            ))
        };

        if fired {
            let why = format!(
                "lagging {LAG_ROUNDS} rounds in a row (energy {energy:.3} vs mean {:.3}, \
                 trend {trend:.3} vs mean {:.3}, tolerance {})",
                e.mean, t.mean, config.tolerance
            );
            if len <= config.min_engines {
                let warning = format!(
                    "{why}; at min_engines {}: nothing removed",
                    config.min_engines
                );
                stats.warning = Some(warning.clone());
                return Ok((hold(warning), stats));
            }
            if cooldown_left > 0.0 {
                return Ok((cooling("remove", &why), stats));
            }
            let Some(victim) = lowest_ema(inputs) else {
                let warning = format!("{why}; every engine is defined by a spec: nothing removed");
                return Ok((hold(warning), stats));
            };
            let reason = format!("{why}; lowest roi_delta_ema is {victim}");
            return Ok((act(AutoscaleAction::Remove(victim), reason), stats));
        }

        let create_energy = e.mean + w_create * e.std;
        let create_trend = t.mean + t.std;
        if energy >= create_energy && trend >= create_trend && projected > 0.0 {
            let why = format!(
                "energy {energy:.3} ≥ {create_energy:.3} (mean + {w_create:.3}·std), \
                 trend {trend:.3} ≥ {create_trend:.3} (mean + std), \
                 trend − mean − cost {projected:.3} > 0"
            );
            if len >= config.max_engines {
                return Ok((
                    hold(format!(
                        "would create ({why}), but {len} engines ≥ max_engines {}",
                        config.max_engines
                    )),
                    stats,
                ));
            }
            if cooldown_left > 0.0 {
                return Ok((cooling("create", &why), stats));
            }
            if !budget() {
                return Ok((
                    hold(format!("would create ({why}), but check_budget() said no")),
                    stats,
                ));
            }
            let action = AutoscaleAction::Create(free_name(inputs));
            if approve.is_some_and(|f| !f(&action)) {
                return Ok((hold(format!("approval refused: {why}")), stats));
            }
            return Ok((act(action, why), stats));
        }

        let remove_energy = e.mean - w_remove * e.std;
        let remove_trend = t.mean - t.std;
        let pressure: Vec<String> = [
            (energy <= remove_energy).then(|| {
                format!("energy {energy:.3} ≤ {remove_energy:.3} (mean − {w_remove:.3}·std)")
            }),
            (trend <= remove_trend)
                .then(|| format!("trend {trend:.3} ≤ {remove_trend:.3} (mean − std)")),
        ]
        .into_iter()
        .flatten()
        .collect();
        if pressure.is_empty() {
            return Ok((
                hold(format!(
                    "within the baseline: energy z {:.3}, trend z {:.3}",
                    e.z, t.z
                )),
                stats,
            ));
        }
        let why = pressure.join(", ");
        if len <= config.min_engines {
            return Ok((
                hold(format!(
                    "would remove ({why}), but {len} engines ≤ min_engines {}",
                    config.min_engines
                )),
                stats,
            ));
        }
        if cooldown_left > 0.0 {
            return Ok((cooling("remove", &why), stats));
        }
        let Some(victim) = lowest_ema(inputs) else {
            return Ok((
                hold(format!(
                    "{why}; every engine is defined by a spec: nothing removed"
                )),
                stats,
            ));
        };
        let reason = format!("{why}; lowest roi_delta_ema is {victim}");
        Ok((act(AutoscaleAction::Remove(victim), reason), stats))
    }
}

#[cfg(test)]
#[path = "adaptive_tests.rs"]
mod tests;
