//! One simulated bot: its parameters ([`BotParams`]) and the four formulas of
//! the world — drift, revenue, the skill a cycle adds, and what it costs.
//!
//! Every bot has a hidden **skill** in [0, 1]. Each tick:
//! - a cycle run with energy `E` (if any) adds
//!   `gain · (1 − skill) · E / (E + half_energy)` ([`skill_gain`]) and costs
//!   `cost_per_energy · E` ([`cycle_cost`]);
//! - the bot earns `demand · skill · (1 + noise · u)` with `u` uniform in
//!   [−1, 1) ([`revenue`]);
//! - the skill drifts down: `skill ← skill · (1 − drift)` ([`drifted`]).
//!
//! Choices where the issue is silent: drift is multiplicative (the skill
//! loses a share of itself, so it never leaves [0, 1] and a bot decays
//! towards 0, fast at first); revenue noise is uniform, so revenue is never
//! negative while `noise ≤ 1`; a cycle counts before the tick's revenue (an
//! improvement made this tick earns this tick).
//!
//! `demand` is public knowledge (the market the bot serves); the skill is
//! hidden. A pipeline can only *measure* it, with an evaluation whose error is
//! uniform in ±`eval_noise`.
//!
//! ```
//! use kaizen::sim::{BotParams, cycle_cost, drifted, revenue, skill_gain};
//!
//! let bot = BotParams { gain: 0.5, half_energy: 10.0, cost_per_energy: 2.0, ..BotParams::default() };
//! // A cycle of energy 10 closes 0.5 · 10/20 = a quarter of the gap to 1.
//! assert!((skill_gain(&bot, 0.6, 10) - 0.1).abs() < 1e-12);
//! assert_eq!(cycle_cost(&bot, 10), 20.0);
//! assert!((drifted(0.5, 0.1) - 0.45).abs() < 1e-12);
//! assert_eq!(revenue(100.0, 0.5, 0.2, 1.0), 60.0);
//! ```

use serde::{Deserialize, Serialize};

use super::event::BotEvent;
use crate::Result;
use crate::error::{Error, ensure_finite, ensure_unit};

/// The parameters of one simulated bot. Every field has a default, so a
/// TOML table may give only what differs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BotParams {
    /// The hidden skill at the start, in [0, 1]. Default 0.7.
    pub skill: f64,
    /// Share of its skill the bot loses each tick, in [0, 1). Default 0.01.
    pub drift: f64,
    /// Revenue per tick at skill 1, ≥ 0. Default 100.
    pub demand: f64,
    /// Half-width of the uniform revenue noise, in [0, 1]. Default 0.1.
    pub noise: f64,
    /// Share of the gap to skill 1 that a cycle of unbounded energy closes,
    /// in [0, 1]. A dead-end bot has (almost) none. Default 0.3.
    pub gain: f64,
    /// The energy at which a cycle gets half of `gain`, > 0. Default 10.
    pub half_energy: f64,
    /// What one unit of energy costs, ≥ 0. Default 1.
    pub cost_per_energy: f64,
    /// Half-width of the uniform error of a skill evaluation, in [0, 1].
    /// Default 0.005.
    pub eval_noise: f64,
    /// Regime shifts: changes to these parameters (or the skill) at given
    /// ticks ([`BotEvent`]; in a scenario, `[[bots.events]]`). Default none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<BotEvent>,
}

impl Default for BotParams {
    fn default() -> Self {
        BotParams {
            skill: 0.7,
            drift: 0.01,
            demand: 100.0,
            noise: 0.1,
            gain: 0.3,
            half_energy: 10.0,
            cost_per_energy: 1.0,
            eval_noise: 0.005,
            events: Vec::new(),
        }
    }
}

impl BotParams {
    /// Checks every parameter; an error names it as `{prefix}.{field}`
    /// (`scenario.bots[2].gain`, say).
    ///
    /// ```
    /// use kaizen::sim::BotParams;
    /// let bad = BotParams { gain: 1.5, ..BotParams::default() };
    /// assert_eq!(
    ///     bad.validate("scenario.bots[2]").unwrap_err().to_string(),
    ///     "invalid scenario.bots[2].gain = 1.5: expected a number in [0, 1]"
    /// );
    /// ```
    pub fn validate(&self, prefix: &str) -> Result<()> {
        let name = |field: &str| format!("{prefix}.{field}");
        ensure_unit(name("skill"), self.skill)?;
        let drift = ensure_unit(name("drift"), self.drift)?;
        if drift >= 1.0 {
            return Err(Error::invalid(name("drift"), drift, "a number in [0, 1)"));
        }
        at_least_zero(name("demand"), self.demand)?;
        ensure_unit(name("noise"), self.noise)?;
        ensure_unit(name("gain"), self.gain)?;
        let half = ensure_finite(name("half_energy"), self.half_energy)?;
        if half <= 0.0 {
            return Err(Error::invalid(
                name("half_energy"),
                half,
                "a number greater than 0",
            ));
        }
        at_least_zero(name("cost_per_energy"), self.cost_per_energy)?;
        ensure_unit(name("eval_noise"), self.eval_noise)?;
        let mut now = self.clone();
        let mut order: Vec<usize> = (0..self.events.len()).collect();
        order.sort_by_key(|&j| self.events[j].tick);
        for j in order {
            now = self.events[j].validate(&now, &name(&format!("events[{j}]")))?;
        }
        Ok(())
    }
}

/// `value` if it is finite and ≥ 0, else an error naming `what`.
pub(crate) fn at_least_zero(what: String, value: f64) -> Result<f64> {
    let value = ensure_finite(what.clone(), value)?;
    if value < 0.0 {
        return Err(Error::invalid(what, value, "a number ≥ 0"));
    }
    Ok(value)
}

/// The skill after one tick of drift: `skill · (1 − drift)`.
pub fn drifted(skill: f64, drift: f64) -> f64 {
    skill * (1.0 - drift)
}

/// One tick's revenue: `demand · skill · (1 + noise · u)`, `u` in [−1, 1).
pub fn revenue(demand: f64, skill: f64, noise: f64, u: f64) -> f64 {
    demand * skill * (1.0 + noise * u)
}

/// The `E / (E + half_energy)` part of a cycle's gain, in [0, 1).
pub fn energy_share(half_energy: f64, energy: u32) -> f64 {
    let e = f64::from(energy);
    e / (e + half_energy)
}

/// The skill a cycle with `energy` adds to a bot at `skill`:
/// `gain · (1 − skill) · E / (E + half_energy)`. Never takes the skill past 1.
pub fn skill_gain(bot: &BotParams, skill: f64, energy: u32) -> f64 {
    bot.gain * (1.0 - skill) * energy_share(bot.half_energy, energy)
}

/// What a cycle with `energy` costs: `cost_per_energy · E`.
pub fn cycle_cost(bot: &BotParams, energy: u32) -> f64 {
    bot.cost_per_energy * f64::from(energy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drift_by_hand() {
        // 0.8 · (1 − 0.05) = 0.76; twice: 0.76 · 0.95 = 0.722.
        assert!((drifted(0.8, 0.05) - 0.76).abs() < 1e-12);
        assert!((drifted(drifted(0.8, 0.05), 0.05) - 0.722).abs() < 1e-12);
        assert_eq!(drifted(0.8, 0.0), 0.8);
        assert_eq!(drifted(0.0, 0.5), 0.0);
    }

    #[test]
    fn revenue_by_hand() {
        // 200 · 0.9 · (1 + 0.1 · (−0.5)) = 180 · 0.95 = 171.
        assert!((revenue(200.0, 0.9, 0.1, -0.5) - 171.0).abs() < 1e-9);
        assert_eq!(revenue(200.0, 0.9, 0.0, 0.7), 180.0);
        // Full noise at u = −1 earns nothing, never less.
        assert_eq!(revenue(200.0, 0.9, 1.0, -1.0), 0.0);
    }

    #[test]
    fn skill_gain_by_hand() {
        let bot = BotParams {
            gain: 0.4,
            half_energy: 5.0,
            ..BotParams::default()
        };
        // 0.4 · (1 − 0.5) · 15/20 = 0.15.
        assert!((skill_gain(&bot, 0.5, 15) - 0.15).abs() < 1e-12);
        // 0.4 · 0.2 · 5/10 = 0.04.
        assert!((skill_gain(&bot, 0.8, 5) - 0.04).abs() < 1e-12);
        // A perfect bot has nothing to gain; no energy gains nothing.
        assert_eq!(skill_gain(&bot, 1.0, 100), 0.0);
        assert_eq!(skill_gain(&bot, 0.3, 0), 0.0);
        // Never past 1, even at full gain and the most energy.
        let full = BotParams { gain: 1.0, ..bot };
        assert!(0.3 + skill_gain(&full, 0.3, 100) < 1.0);
    }

    #[test]
    fn cost_by_hand() {
        let bot = BotParams {
            cost_per_energy: 2.5,
            ..BotParams::default()
        };
        assert_eq!(cycle_cost(&bot, 12), 30.0);
        assert_eq!(cycle_cost(&bot, 0), 0.0);
    }

    #[test]
    fn validation_names_the_field() {
        let p = "scenario.bots[2]";
        let cases = [
            (
                BotParams {
                    skill: 1.2,
                    ..BotParams::default()
                },
                "invalid scenario.bots[2].skill = 1.2: expected a number in [0, 1]",
            ),
            (
                BotParams {
                    drift: 1.0,
                    ..BotParams::default()
                },
                "invalid scenario.bots[2].drift = 1: expected a number in [0, 1)",
            ),
            (
                BotParams {
                    demand: -1.0,
                    ..BotParams::default()
                },
                "invalid scenario.bots[2].demand = -1: expected a number ≥ 0",
            ),
            (
                BotParams {
                    half_energy: 0.0,
                    ..BotParams::default()
                },
                "invalid scenario.bots[2].half_energy = 0: expected a number greater than 0",
            ),
            (
                BotParams {
                    cost_per_energy: f64::NAN,
                    ..BotParams::default()
                },
                "scenario.bots[2].cost_per_energy must be a finite number, got NaN",
            ),
            (
                BotParams {
                    eval_noise: f64::INFINITY,
                    ..BotParams::default()
                },
                "scenario.bots[2].eval_noise must be a finite number, got inf",
            ),
            (
                BotParams {
                    noise: -0.1,
                    ..BotParams::default()
                },
                "invalid scenario.bots[2].noise = -0.1: expected a number in [0, 1]",
            ),
        ];
        for (bot, message) in cases {
            assert_eq!(bot.validate(p).unwrap_err().to_string(), message);
        }
        assert!(BotParams::default().validate(p).is_ok());
    }

    #[test]
    fn params_parse_with_defaults_and_refuse_unknown_keys() {
        let bot: BotParams = toml::from_str("gain = 0.0\ndemand = 50").unwrap();
        assert_eq!(bot.gain, 0.0);
        assert_eq!(bot.demand, 50.0);
        assert_eq!(bot.drift, BotParams::default().drift);
        let err = toml::from_str::<BotParams>("gian = 0.1").unwrap_err();
        assert!(err.to_string().contains("unknown field `gian`"), "{err}");
    }
}
