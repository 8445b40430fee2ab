//! The library's error type.
//!
//! Every fallible call in kaizen returns [`Error`]. Each variant names what was
//! wrong and where, so a message can go straight to an operator.

use std::borrow::Cow;

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
    fn positive_refuses_zero_and_negative() {
        assert!(ensure_positive("lr", 0.0).is_err());
        assert!(ensure_positive("lr", -1.0).is_err());
        assert_eq!(ensure_positive("lr", 0.1).unwrap(), 0.1);
    }
}
