//! Exploration schedules: how ε and the softmax temperature move as the
//! policy learns (`epsilon_schedule`, `temperature_schedule`).
//!
//! After every policy update the schedule sets the value from the value the
//! policy started with (`start`: the configured `epsilon` or `temperature`)
//! and the number of updates so far (`n`, the policy's episodes):
//!
//! | schedule | value after `n` updates | as a step after each update |
//! |---|---|---|
//! | `constant` | `start` | unchanged |
//! | `linear { to, over }` | `start + (to − start)·min(n, over)/over` | `(start − to)/over` taken off until `to` is reached |
//! | `exponential { rate, floor }` | `max(floor, start·rateⁿ)` | `max(floor, value·rate)` |
//!
//! The value is computed in closed form from `start` and `n`, not by
//! stepping, so a long run accumulates no rounding error and a policy loaded
//! from its file recomputes exactly the value it had. Worked check: ε from
//! 1, `linear { to = 0, over = 4 }` gives 0.75, 0.5, 0.25, 0, 0, … after
//! updates 1, 2, 3, 4, 5; from 0.5, `exponential { rate = 0.5, floor = 0.1 }`
//! gives 0.25, 0.125, 0.1, 0.1, ….
//!
//! In a spec's `[policy]`, a schedule is the string `"constant"` or a table
//! with its `kind`:
//!
//! ```toml
//! [policy]
//! epsilon = 0.5
//! epsilon_schedule = { kind = "linear", to = 0.05, over = 1000 }
//! temperature_schedule = { kind = "exponential", rate = 0.999, floor = 0.05 }
//! ```

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::fmt;

use crate::error::ensure_finite;
use crate::{Error, Result};

/// How an exploration parameter moves with the number of policy updates
/// (module docs).
///
/// ```
/// use kaizen::policy::Schedule;
///
/// let linear = Schedule::Linear { to: 0.0, over: 4 };
/// let values: Vec<f64> = (0..6).map(|n| linear.value(1.0, n)).collect();
/// assert_eq!(values, [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]);
/// let exponential = Schedule::Exponential { rate: 0.5, floor: 0.1 };
/// assert_eq!(exponential.value(0.5, 2), 0.125);
/// assert_eq!(exponential.value(0.5, 3), 0.1);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Schedule {
    /// The value stays where it started.
    #[default]
    Constant,
    /// A straight line from the start value to `to` over `over` updates,
    /// then `to`.
    Linear {
        /// The value reached after `over` updates.
        to: f64,
        /// How many updates the line takes, ≥ 1.
        over: u64,
    },
    /// Multiplied by `rate` after each update, never below `floor`.
    Exponential {
        /// The factor per update, in (0, 1].
        rate: f64,
        /// The value it does not go below.
        floor: f64,
    },
}

/// The schedule's table in a file: `kind` and its parameters.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum Tagged {
    Constant,
    Linear { to: f64, over: u64 },
    Exponential { rate: f64, floor: f64 },
}

impl From<Tagged> for Schedule {
    fn from(t: Tagged) -> Self {
        match t {
            Tagged::Constant => Schedule::Constant,
            Tagged::Linear { to, over } => Schedule::Linear { to, over },
            Tagged::Exponential { rate, floor } => Schedule::Exponential { rate, floor },
        }
    }
}

impl<'de> Deserialize<'de> for Schedule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct ScheduleVisitor;
        impl<'de> Visitor<'de> for ScheduleVisitor {
            type Value = Schedule;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "\"constant\", { kind = \"linear\", to = …, over = … } or \
                     { kind = \"exponential\", rate = …, floor = … }",
                )
            }

            fn visit_str<E: de::Error>(self, name: &str) -> std::result::Result<Schedule, E> {
                match name {
                    "constant" => Ok(Schedule::Constant),
                    "linear" => Err(E::custom(
                        "the linear schedule needs its parameters: { kind = \"linear\", to = 0.05, over = 1000 }",
                    )),
                    "exponential" => Err(E::custom(
                        "the exponential schedule needs its parameters: { kind = \"exponential\", rate = 0.99, floor = 0.05 }",
                    )),
                    other => Err(E::custom(format!(
                        "unknown schedule {other:?}; known: constant, linear, exponential"
                    ))),
                }
            }

            fn visit_map<M: MapAccess<'de>>(
                self,
                map: M,
            ) -> std::result::Result<Schedule, M::Error> {
                Tagged::deserialize(de::value::MapAccessDeserializer::new(map)).map(Schedule::from)
            }
        }
        d.deserialize_any(ScheduleVisitor)
    }
}

impl Schedule {
    /// The value after `episodes` updates of a policy that started at `start`.
    pub fn value(&self, start: f64, episodes: u64) -> f64 {
        match *self {
            Schedule::Constant => start,
            Schedule::Linear { to, over } => {
                if episodes >= over {
                    to
                } else {
                    start + (to - start) * (episodes as f64 / over as f64)
                }
            }
            Schedule::Exponential { rate, floor } => {
                // rateⁿ underflows to 0 for large n, leaving the floor.
                (start * rate.powf(episodes as f64)).max(floor)
            }
        }
    }

    /// Checks the parameters; `what` names the setting
    /// (`policy.epsilon_schedule`) and `max` is the largest value the
    /// parameter may take (1 for ε, none for the temperature).
    pub(crate) fn validate(&self, what: &'static str, max: Option<f64>) -> Result<()> {
        let in_range = |field: &'static str, v: f64| -> Result<()> {
            let v = ensure_finite(field_name(what, field), v)?;
            let ok = v >= 0.0 && max.is_none_or(|m| v <= m);
            if ok {
                Ok(())
            } else {
                let expected = match max {
                    Some(m) => format!("a number in [0, {m}]"),
                    None => "a number ≥ 0".to_string(),
                };
                Err(Error::invalid(field_name(what, field), v, expected))
            }
        };
        match *self {
            Schedule::Constant => Ok(()),
            Schedule::Linear { to, over } => {
                in_range("to", to)?;
                if over == 0 {
                    return Err(Error::invalid(
                        field_name(what, "over"),
                        0,
                        "at least 1 update",
                    ));
                }
                Ok(())
            }
            Schedule::Exponential { rate, floor } => {
                in_range("floor", floor)?;
                let rate = ensure_finite(field_name(what, "rate"), rate)?;
                if !(rate > 0.0 && rate <= 1.0) {
                    return Err(Error::invalid(
                        field_name(what, "rate"),
                        rate,
                        "a number in (0, 1]",
                    ));
                }
                Ok(())
            }
        }
    }
}

/// `policy.epsilon_schedule.to` and the like.
fn field_name(what: &str, field: &str) -> String {
    format!("{what}.{field}")
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Constant => f.write_str("constant"),
            Schedule::Linear { to, over } => write!(f, "linear to {to} over {over} updates"),
            Schedule::Exponential { rate, floor } => {
                write!(f, "exponential ×{rate} per update, floor {floor}")
            }
        }
    }
}
