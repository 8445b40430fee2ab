//! # kaizen — a runtime for self-improving bots
//!
//! kaizen decides, for each bot it looks after, **when** to run that bot's
//! improvement pipeline and **how much energy** (budget) to give it, learns
//! from the ROI each cycle produced, and grows or shrinks the number of
//! engines with the energy available, the ROI trend and the machine's load.
//!
//! ## Tour
//! The crate is a functional core inside an actor shell:
//! - [`persist`] — the one safe way every state file is read and written.
//! - [`roi`] — ROI deltas, their moving average, short mean and long-term trend.
//! - [`policy`] — the tabular Q-learning policy that decides whether to run a cycle.
//! - [`synergy`] — cross-module synergy metrics and the learners that weigh them.
//! - [`metalog`] — per-module ROI accounting and the stable module index.
//! - [`energy`] — the energy score: how much capacity there is to spend now.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod energy;
pub mod error;
pub mod metalog;
pub mod persist;
pub mod policy;
pub mod roi;
pub mod synergy;

pub use error::{Error, Result};
