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
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod error;
pub mod persist;

pub use error::{Error, Result};
