//! The library's error type.
//!
//! Every fallible call in kaizen returns [`Error`]. Each variant names what was
//! wrong and where, so a message can go straight to an operator, and a host
//! can match the kind instead of reading the text:
//!
//! - bad input: [`Invalid`](Error::Invalid), [`NonFinite`](Error::NonFinite),
//!   [`UnknownName`](Error::UnknownName);
//! - an engine that cannot take the request now: [`Busy`](Error::Busy),
//!   [`Paused`](Error::Paused), [`ShuttingDown`](Error::ShuttingDown);
//! - the set of engines: [`EngineExists`](Error::EngineExists),
//!   [`EngineStillSaving`](Error::EngineStillSaving),
//!   [`UnknownEngine`](Error::UnknownEngine),
//!   [`AutoscaleInProgress`](Error::AutoscaleInProgress),
//!   [`NoFactory`](Error::NoFactory);
//! - saving: [`SaveFailed`](Error::SaveFailed),
//!   [`ShutdownIncomplete`](Error::ShutdownIncomplete),
//!   [`Persist`](Error::Persist);
//! - the process: [`NotRunning`](Error::NotRunning),
//!   [`NoActixSystem`](Error::NoActixSystem),
//!   [`StateLocked`](Error::StateLocked), [`Panicked`](Error::Panicked),
//!   [`LearnerLost`](Error::LearnerLost), [`Tensor`](Error::Tensor);
//! - models: [`Models`](Error::Models), [`NoModels`](Error::NoModels);
//! - variants: [`UnknownVariant`](Error::UnknownVariant),
//!   [`VariantRefused`](Error::VariantRefused), [`NoVariants`](Error::NoVariants).

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::persist::PersistError;

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in kaizen's library API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting or an input is outside what it may be.
    #[error("invalid {what} = {value}: expected {expected}")]
    Invalid {
        /// What was wrong, e.g. `policy.alpha` or `success_rate`.
        what: Cow<'static, str>,
        /// The value that was given, as text.
        value: String,
        /// What would have been accepted.
        expected: Cow<'static, str>,
    },
    /// A number that must be finite was NaN or infinite.
    #[error("{what} must be a finite number, got {value}")]
    NonFinite {
        /// What the number was, e.g. `roi delta` or `metric synergy_roi`.
        what: Cow<'static, str>,
        /// The offending value.
        value: f64,
    },
    /// A name that is not one of the known ones.
    #[error("unknown {kind} {name:?}; known: {known}")]
    UnknownName {
        /// What kind of name, e.g. `strategy`.
        kind: &'static str,
        /// The name that was given.
        name: String,
        /// The known names, comma separated.
        known: String,
    },
    /// An actor (the registry, an engine) has stopped and cannot answer.
    #[error("{0} is not running")]
    NotRunning(String),
    /// The engine is running a cycle and cannot start another (or change
    /// what the running one uses) until it has finished.
    #[error("engine {engine} is running a cycle; ask again once it has finished")]
    Busy {
        /// The engine.
        engine: String,
    },
    /// The engine is paused by an operator and runs no cycle until resumed.
    #[error("engine {engine} is paused; resume it before asking for a cycle")]
    Paused {
        /// The engine.
        engine: String,
    },
    /// The engine or the registry is shutting down and takes no new work.
    #[error("{what} is shutting down and takes no new work")]
    ShuttingDown {
        /// What is shutting down, e.g. `the registry` or `engine alpha`.
        what: String,
    },
    /// An engine of that name is already registered.
    #[error("an engine named {name:?} is already registered")]
    EngineExists {
        /// The name.
        name: String,
    },
    /// The engine of that name was removed and is still saving its state; a
    /// new engine may take the name once it has finished.
    #[error(
        "the engine named {name:?} was removed and is still saving its state; register the new one once it has finished"
    )]
    EngineStillSaving {
        /// The name.
        name: String,
    },
    /// No live engine has that name.
    #[error("no live engine is named {name:?}")]
    UnknownEngine {
        /// The name asked for.
        name: String,
    },
    /// An autoscale step is already deciding; steps run one at a time.
    #[error("an autoscale step is already under way; steps run one at a time")]
    AutoscaleInProgress,
    /// Autoscale decided to create an engine, but the registry has no factory.
    #[error("autoscale decided to create an engine, but the registry has no factory to build it")]
    NoFactory,
    /// State was not saved (the writer could not write it, or is not running).
    #[error("the state of {what} was not saved: {source}")]
    SaveFailed {
        /// Whose state, e.g. `engine alpha`.
        what: String,
        /// What the writer reported.
        #[source]
        source: Arc<PersistError>,
    },
    /// Shutdown finished, but not everything was saved.
    #[error("shutdown did not save everything{}: {first}", engines_list(engines))]
    ShutdownIncomplete {
        /// The engines whose last state was not saved (empty when only the
        /// final flush to disk failed).
        engines: Vec<String>,
        /// The first failure.
        #[source]
        first: Box<Error>,
    },
    /// The call needs an actix `System` running on this thread (start one
    /// with `actix::System::new().block_on(…)` or `#[actix::main]`).
    #[error(
        "{what} must be called inside a running actix System (wrap the code in actix::System::new().block_on(…) or use #[actix::main])"
    )]
    NoActixSystem {
        /// What was called.
        what: &'static str,
    },
    /// Another process holds the state folder.
    #[error("the state folder {} is in use by another kaizen{}", path.display(), pid.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    StateLocked {
        /// The state folder.
        path: PathBuf,
        /// The process holding it, when known.
        pid: Option<u32>,
    },
    /// The learner pool lost an engine's synergy learner mid-update (its
    /// thread died); the learner was loaded again from the state folder.
    #[error(
        "the learner pool lost the synergy learner of engine {engine}; it was reloaded from its saved state"
    )]
    LearnerLost {
        /// The engine.
        engine: String,
    },
    /// Code that must not panic did (caught: a synergy update, say).
    #[error("{what} panicked: {message}")]
    Panicked {
        /// What panicked.
        what: &'static str,
        /// The panic's message.
        message: String,
    },
    /// A state file could not be read or written.
    #[error(transparent)]
    Persist(#[from] PersistError),
    /// A statistic could not be computed from its inputs.
    #[error(transparent)]
    Stats(#[from] crate::stats::StatsError),
    /// A tensor computation failed (the DQN learner).
    #[error("tensor computation failed: {0}")]
    Tensor(#[from] candle_core::Error),
    /// A model registry refused an operation (an unknown version, nothing to
    /// roll back to, the registry locked by another process, …).
    #[error(transparent)]
    Models(#[from] crate::models::ModelsError),
    /// The engine has no model registry: it does not run the training pipeline.
    #[error("engine {engine} keeps no models: it does not run kaizen's training pipeline")]
    NoModels {
        /// The engine.
        engine: String,
    },
    /// A variant id that is not a member of the bot's population.
    #[error("no variant {id} in the population")]
    UnknownVariant {
        /// The id asked for.
        id: u64,
    },
    /// An operator's change of a variant that its current role forbids
    /// (promoting the serving one, retiring the serving one); nothing changed.
    #[error("variant {id} cannot be {action}: {why}")]
    VariantRefused {
        /// The variant.
        id: u64,
        /// What was asked: `promoted` or `retired`.
        action: &'static str,
        /// Why not.
        why: &'static str,
    },
    /// The engine runs no variants: its bot has no `[variants]` table.
    #[error("engine {engine} runs no variants: its bot has no [variants] table")]
    NoVariants {
        /// The engine.
        engine: String,
    },
}

/// `" (engines a, b)"`, or nothing for no engine.
fn engines_list(engines: &[String]) -> String {
    if engines.is_empty() {
        String::new()
    } else {
        format!(" (engines {})", engines.join(", "))
    }
}

impl Error {
    /// This error with the subject of an [`Error::Invalid`] or
    /// [`Error::NonFinite`] renamed by `name` (say, a config's key to its key
    /// in the file that holds it); other errors unchanged.
    pub fn renamed(self, name: impl FnOnce(&str) -> String) -> Error {
        match self {
            Error::Invalid {
                what,
                value,
                expected,
            } => Error::Invalid {
                what: name(&what).into(),
                value,
                expected,
            },
            Error::NonFinite { what, value } => Error::NonFinite {
                what: name(&what).into(),
                value,
            },
            other => other,
        }
    }

    /// An [`Error::Invalid`] for `what`, showing `value` and what was `expected`.
    pub fn invalid(
        what: impl Into<Cow<'static, str>>,
        value: impl std::fmt::Display,
        expected: impl Into<Cow<'static, str>>,
    ) -> Self {
        Error::Invalid {
            what: what.into(),
            value: value.to_string(),
            expected: expected.into(),
        }
    }
}

/// `value` if it is finite, else [`Error::NonFinite`] naming `what`.
pub fn ensure_finite(what: impl Into<Cow<'static, str>>, value: f64) -> Result<f64> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(Error::NonFinite {
            what: what.into(),
            value,
        })
    }
}

/// The largest magnitude kaizen accepts for a number that comes from
/// outside: a pipeline's result, a ledger's reading, a metric, a scaled ROI
/// delta. 10¹⁰⁰ is far beyond any real amount in any unit, and small enough
/// that nothing kaizen computes from such numbers — sums over any number of
/// cycles, squares in a variance, Q-values (at most 100 rewards' worth) —
/// can leave `f64`'s range, so no running total ever becomes ∞.
pub const MAX_MAGNITUDE: f64 = 1e100;

/// `value` if it is finite and within ±[`MAX_MAGNITUDE`], else
/// [`Error::NonFinite`] or [`Error::Invalid`] naming `what`.
///
/// ```
/// use kaizen::error::ensure_bounded;
/// assert_eq!(ensure_bounded("roi", -2.5).unwrap(), -2.5);
/// assert!(matches!(ensure_bounded("roi", 1e308), Err(kaizen::Error::Invalid { .. })));
/// assert!(matches!(ensure_bounded("roi", f64::NAN), Err(kaizen::Error::NonFinite { .. })));
/// ```
pub fn ensure_bounded(what: impl Into<Cow<'static, str>>, value: f64) -> Result<f64> {
    let what = what.into();
    let value = ensure_finite(what.clone(), value)?;
    if value.abs() <= MAX_MAGNITUDE {
        Ok(value)
    } else {
        Err(Error::invalid(
            what,
            value,
            "a number between -1e100 and 1e100",
        ))
    }
}

/// The longest duration a setting may have: 100 years. Longer ones are
/// mistakes (and would overflow a deadline).
pub const MAX_DURATION: Duration = Duration::from_secs(100 * 365 * 86_400 + 25 * 86_400);

/// `value` if it is at most [`MAX_DURATION`], else [`Error::Invalid`] naming `what`.
pub fn ensure_duration(what: impl Into<Cow<'static, str>>, value: Duration) -> Result<Duration> {
    if value <= MAX_DURATION {
        Ok(value)
    } else {
        Err(Error::invalid(
            what,
            format!("{} s", value.as_secs_f64()),
            "a duration of at most 100 years",
        ))
    }
}

/// `value` if it lies in `[0, 1]`, else an error naming `what`.
pub fn ensure_unit(what: impl Into<Cow<'static, str>>, value: f64) -> Result<f64> {
    let what = what.into();
    let value = ensure_finite(what.clone(), value)?;
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(Error::invalid(what, value, "a number in [0, 1]"))
    }
}

/// `value` if it is finite and strictly positive, else an error naming `what`.
pub fn ensure_positive(what: impl Into<Cow<'static, str>>, value: f64) -> Result<f64> {
    let what = what.into();
    let value = ensure_finite(what.clone(), value)?;
    if value > 0.0 {
        Ok(value)
    } else {
        Err(Error::invalid(what, value, "a number greater than 0"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finite_refuses_nan_and_infinity_naming_the_input() {
        let err = ensure_finite("roi delta", f64::NAN).unwrap_err();
        assert_eq!(
            err.to_string(),
            "roi delta must be a finite number, got NaN"
        );
        assert!(ensure_finite("x", f64::INFINITY).is_err());
        assert_eq!(ensure_finite("x", -2.5).unwrap(), -2.5);
    }

    #[test]
    fn unit_interval_is_closed() {
        assert_eq!(ensure_unit("rate", 0.0).unwrap(), 0.0);
        assert_eq!(ensure_unit("rate", 1.0).unwrap(), 1.0);
        let err = ensure_unit("success_rate", 1.5).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid success_rate = 1.5: expected a number in [0, 1]"
        );
        assert!(matches!(
            ensure_unit("rate", f64::NAN),
            Err(Error::NonFinite { .. })
        ));
    }

    #[test]
    fn runtime_failures_read_as_sentences() {
        let save = Error::SaveFailed {
            what: "engine alpha".into(),
            source: std::sync::Arc::new(PersistError::WriterStopped),
        };
        assert_eq!(
            save.to_string(),
            "the state of engine alpha was not saved: the state writer thread is not running"
        );
        let shutdown = Error::ShutdownIncomplete {
            engines: vec!["alpha".into(), "beta".into()],
            first: Box::new(save),
        };
        assert!(
            shutdown.to_string().starts_with(
                "shutdown did not save everything (engines alpha, beta): the state of engine alpha"
            ),
            "{shutdown}"
        );
        assert_eq!(
            Error::Busy {
                engine: "alpha".into()
            }
            .to_string(),
            "engine alpha is running a cycle; ask again once it has finished"
        );
        let locked = Error::StateLocked {
            path: "state".into(),
            pid: Some(42),
        };
        assert_eq!(
            locked.to_string(),
            "the state folder state is in use by another kaizen (pid 42)"
        );
    }

    #[test]
    fn positive_refuses_zero_and_negative() {
        assert!(ensure_positive("lr", 0.0).is_err());
        assert!(ensure_positive("lr", -1.0).is_err());
        assert_eq!(ensure_positive("lr", 0.1).unwrap(), 0.1);
    }
}
