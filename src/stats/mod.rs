//! Statistics that kaizen acts on: pure maths, no I/O, no clock.
//!
//! - [`significance`](significance()) — the fixed-sample t-test of a new
//!   sample against a baseline (the training gate's test); its module docs
//!   explain the peeking problem of such a test.
//! - [`AbTest`] — an A/B test that may be watched after every outcome: an
//!   e-value, a confidence sequence for the uplift and a decision (continue,
//!   promote, hold). The maths, and why it stays valid without a known
//!   variance, is in [`mixture`].
//! - [`e_bh`] and [`ELond`] — false-discovery-rate control over a fleet's
//!   tests, on their e-values, for tests that stop at different times.
//! - [`ips`], [`snips`], [`doubly_robust`] — off-policy estimates of what a
//!   candidate policy would have earned on logged decisions, with intervals.
//! - [`simulation`] — seeded A/A and A/B simulations that measure the error
//!   rate and power of the A/B test watched after every outcome, beside a
//!   watched fixed-sample t-test (`examples/abtest_sim.rs` prints the table).
//! - [`Moments`] — count, mean and squared deviations of a sample or a stream.
//!
//! Every function says what it assumes, and every number an operator may act
//! on is checked against a reference implementation's values (scipy, mpmath)
//! in the tests, from `scripts/reference/stats_reference.py` and its committed
//! output under `tests/data/stats/`.

pub mod abtest;
mod error;
pub mod fdr;
pub mod mixture;
mod moments;
mod normal;
pub mod offpolicy;
pub mod significance;
pub mod simulation;
pub(crate) mod student_t;

pub use abtest::{AbStatus, AbTest, AbTestConfig, Arm, Decision, HoldReason, Verdict};
pub use error::StatsError;
pub use fdr::{ELond, e_bh};
pub use moments::Moments;
pub use offpolicy::{
    Estimator, LoggedDecision, OffPolicyEstimate, RewardPrediction, doubly_robust, ips, snips,
};
pub use significance::{Significance, TestType, significance};
