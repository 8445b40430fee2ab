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
//!   [`LearnerLost`](Error::LearnerLost), [`Tensor`](Error::Tensor).

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;

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
