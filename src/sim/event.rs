//! Regime shifts: a change to a bot at a tick ([`BotEvent`]).
//!
//! A bot's `events` (in a scenario, `[[bots.events]]` tables under its
//! `[[bots]]` table) say what changes and when. An event at tick `t` applies
//! at the start of tick `t`, before that tick's cycles: `skill` sets the
//! hidden skill (a breakage, or a fix from outside), and every other field
//! replaces that parameter of [`BotParams`] from then on. Fields left out stay
//! as they were. Events at the same tick apply in the order written; an event
//! at or past the horizon never applies.
//!
//! ```toml
//! [[bots]]
//! name = "alpha"
//! drift = 0.005
//! [[bots.events]]       # at tick 1000 the market turns: the model breaks and decays faster
//! tick = 1000
//! skill = 0.3
//! drift = 0.02
//! ```
//!
//! ```
//! use kaizen::sim::{BotEvent, BotParams};
//!
//! let mut bot = BotParams::default();
//! let shift = BotEvent { tick: 10, skill: Some(0.2), demand: Some(50.0), ..BotEvent::at(10) };
//! let skill = shift.apply(&mut bot);
//! assert_eq!((skill, bot.demand), (Some(0.2), 50.0));
//! # Ok::<(), kaizen::Error>(())
//! ```

use serde::{Deserialize, Serialize};

use super::bot::BotParams;
use crate::Result;

/// One change to a bot at a tick. See the [module docs](self).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BotEvent {
    /// The tick it applies at (its start, before cycles).
    pub tick: u64,
    /// The hidden skill from then on, in [0, 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skill: Option<f64>,
    /// The new `drift`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<f64>,
    /// The new `demand`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub demand: Option<f64>,
    /// The new revenue `noise`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<f64>,
    /// The new `gain`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gain: Option<f64>,
    /// The new `half_energy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub half_energy: Option<f64>,
    /// The new `cost_per_energy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_per_energy: Option<f64>,
    /// The new `eval_noise`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_noise: Option<f64>,
}

impl BotEvent {
    /// An event at `tick` that changes nothing (to fill in with `..`).
    pub fn at(tick: u64) -> BotEvent {
        BotEvent {
            tick,
            skill: None,
            drift: None,
            demand: None,
            noise: None,
            gain: None,
            half_energy: None,
            cost_per_energy: None,
            eval_noise: None,
        }
    }

    /// Replaces the parameters this event changes in `params`; returns the
    /// skill it sets, if it sets one.
    pub fn apply(&self, params: &mut BotParams) -> Option<f64> {
        let set = |field: &mut f64, value: Option<f64>| {
            if let Some(v) = value {
                *field = v;
            }
        };
        set(&mut params.drift, self.drift);
        set(&mut params.demand, self.demand);
        set(&mut params.noise, self.noise);
        set(&mut params.gain, self.gain);
        set(&mut params.half_energy, self.half_energy);
        set(&mut params.cost_per_energy, self.cost_per_energy);
        set(&mut params.eval_noise, self.eval_noise);
        self.skill
    }

    /// Checks the event against the parameters `before` it: the result must
    /// be valid; errors name `{prefix}.field`.
    pub(crate) fn validate(&self, before: &BotParams, prefix: &str) -> Result<BotParams> {
        let mut after = BotParams {
            events: Vec::new(),
            ..before.clone()
        };
        if let Some(skill) = self.apply(&mut after) {
            after.skill = skill;
        }
        after.validate(prefix)?;
        Ok(after)
    }
}

/// The parameters of a bot at every change: `(tick, params from that tick
/// on, skill set at that tick)`, in tick order, starting with tick 0 (the
/// events at tick 0 applied). Events at or past `horizon` are left out.
pub fn regimes(bot: &BotParams, horizon: u64) -> Vec<(u64, BotParams, Option<f64>)> {
    let mut base = BotParams {
        events: Vec::new(),
        ..bot.clone()
    };
    let mut out = vec![(0, base.clone(), None)];
    for event in sorted(&bot.events) {
        if event.tick >= horizon {
            break;
        }
        let skill = event.apply(&mut base);
        match out.last_mut() {
            Some(last) if last.0 == event.tick => {
                last.1 = base.clone();
                last.2 = skill.or(last.2);
            }
            _ => out.push((event.tick, base.clone(), skill)),
        }
    }
    out
}

/// The events in tick order (a stable sort: same-tick events keep their order).
pub(crate) fn sorted(events: &[BotEvent]) -> Vec<BotEvent> {
    let mut events = events.to_vec();
    events.sort_by_key(|e| e.tick);
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_changes_only_what_it_names() {
        let mut bot = BotParams::default();
        let e = BotEvent {
            gain: Some(0.0),
            cost_per_energy: Some(9.0),
            ..BotEvent::at(3)
        };
        assert_eq!(e.apply(&mut bot), None);
        assert_eq!(
            bot,
            BotParams {
                gain: 0.0,
                cost_per_energy: 9.0,
                ..BotParams::default()
            }
        );
    }

    #[test]
    fn regimes_merge_same_tick_events_and_drop_those_past_the_horizon() {
        let bot = BotParams {
            events: vec![
                BotEvent {
                    drift: Some(0.05),
                    ..BotEvent::at(20)
                },
                BotEvent {
                    skill: Some(0.1),
                    ..BotEvent::at(10)
                },
                BotEvent {
                    demand: Some(7.0),
                    ..BotEvent::at(20)
                },
                BotEvent {
                    gain: Some(0.9),
                    ..BotEvent::at(50)
                },
            ],
            ..BotParams::default()
        };
        let r = regimes(&bot, 50);
        let ticks: Vec<u64> = r.iter().map(|x| x.0).collect();
        assert_eq!(ticks, [0, 10, 20]);
        assert_eq!(r[1].2, Some(0.1));
        assert_eq!((r[2].1.drift, r[2].1.demand, r[2].2), (0.05, 7.0, None));
        assert_eq!(r[2].1.gain, BotParams::default().gain);
        assert!(r.iter().all(|x| x.1.events.is_empty()));
    }

    #[test]
    fn an_event_that_leaves_a_parameter_out_of_range_is_refused() {
        let bad = BotEvent {
            gain: Some(1.5),
            ..BotEvent::at(1)
        };
        assert_eq!(
            bad.validate(&BotParams::default(), "bots[0].events[2]")
                .unwrap_err()
                .to_string(),
            "invalid bots[0].events[2].gain = 1.5: expected a number in [0, 1]"
        );
        let broken = BotEvent {
            skill: Some(-0.1),
            ..BotEvent::at(1)
        };
        assert!(broken.validate(&BotParams::default(), "e").is_err());
    }
}
