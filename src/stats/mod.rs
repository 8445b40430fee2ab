//! Statistics that kaizen acts on: pure maths, no I/O, no clock.
//!
//! - [`significance`](significance()) — the fixed-sample t-test of a new sample against a
//!   baseline (the training gate's test), with the peeking problem explained.
//! - [`Moments`] — count, mean and squared deviations of a sample or a stream.
//!
//! Every function says what it assumes, and every number an operator may act
//! on is checked against a reference implementation's values (scipy) in the
//! tests, from `scripts/reference/stats_reference.py` and its committed output
//! under `tests/data/stats/`.

mod error;
mod moments;
mod normal;
mod significance;
mod student_t;

pub use error::StatsError;
pub use moments::Moments;
pub use significance::{Significance, TestType, significance};
