//! The error type of [`crate::stats`].

use std::borrow::Cow;

/// Everything that can go wrong in a statistic: each variant names the input
/// that was wrong and why, so the message can go straight to an operator.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StatsError {
    /// A sample is too small for the statistic.
    #[error("{what} needs at least {needed} values, got {got}")]
    TooFewValues {
        /// Which sample, e.g. `baseline`.
        what: Cow<'static, str>,
        /// How many values the statistic needs.
        needed: usize,
        /// How many were given.
        got: usize,
    },
    /// A sample whose values are all the same (to rounding), so a t statistic
    /// would divide by zero.
    #[error(
        "{what} has zero variance: every value is the same (to rounding), so the test has no spread to judge the difference against"
    )]
    ZeroVariance {
        /// Which sample, e.g. `paired differences (new - baseline)`.
        what: Cow<'static, str>,
    },
    /// A value that must be finite was NaN or infinite.
    #[error("{what}[{index}] is {value}: every value must be a finite number")]
    NonFinite {
        /// Which sample, e.g. `new`.
        what: Cow<'static, str>,
        /// Where in it (0-based).
        index: usize,
        /// The offending value.
        value: f64,
    },
    /// A setting or an input outside what it may be.
    #[error("invalid {what} = {value}: expected {expected}")]
    Invalid {
        /// What was wrong, e.g. `alpha`.
        what: Cow<'static, str>,
        /// The value that was given, as text.
        value: String,
        /// What would have been accepted.
        expected: Cow<'static, str>,
    },
    /// An intermediate result left `f64`'s range (values too large to square).
    #[error("{what} overflowed: the values are too large (their squares leave f64's range)")]
    Overflow {
        /// Which quantity overflowed.
        what: Cow<'static, str>,
    },
    /// An A/B test that has already decided was given another outcome.
    #[error("the A/B test has already decided ({decision}); start a new test for new outcomes")]
    AlreadyDecided {
        /// The decision it reached.
        decision: String,
    },
}

impl StatsError {
    /// A [`StatsError::Invalid`] for `what`, showing `value` and what was `expected`.
    pub fn invalid(
        what: impl Into<Cow<'static, str>>,
        value: impl std::fmt::Display,
        expected: impl Into<Cow<'static, str>>,
    ) -> Self {
        StatsError::Invalid {
            what: what.into(),
            value: value.to_string(),
            expected: expected.into(),
        }
    }
}

/// `alpha` if it is a level strictly between 0 and 1, else an error naming `what`.
pub(crate) fn ensure_level(what: &'static str, alpha: f64) -> Result<f64, StatsError> {
    if alpha.is_finite() && alpha > 0.0 && alpha < 1.0 {
        Ok(alpha)
    } else {
        Err(StatsError::invalid(
            what,
            alpha,
            "a number strictly between 0 and 1",
        ))
    }
}

/// `Ok` when every value of `values` is finite, else the first offender.
pub(crate) fn ensure_all_finite(
    what: impl Into<Cow<'static, str>>,
    values: &[f64],
) -> Result<(), StatsError> {
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(index) => Err(StatsError::NonFinite {
            what: what.into(),
            index,
            value: values[index],
        }),
    }
}
