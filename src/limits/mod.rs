//! The yardsticks kaizen measures itself against: what this machine does
//! with nothing of kaizen in the way.
//!
//! A speed on a shared machine says little by itself (the same build ran a
//! round 2.5× slower on a busier host of the same kind); the ratio to the
//! same work done bare, measured in the same run, says how much of the
//! machine kaizen leaves on the table. `kaizen bench` and the criterion
//! benches report both.
//!
//! - [`RawFleet`]: a round of trivial actix actors with the shape of a
//!   registry round — the actors spread round robin over worker arbiters,
//!   one batch per arbiter, each batch's dispatcher sending the tick to its
//!   actors and gathering their answers.
//! - [`RawSaves`]: the appends, writes and flushes of a durable batch of
//!   the state writer (its write-ahead log, then the files) on files
//!   already open, without encoding, scratch files or renames.

mod round;
mod saves;

pub use round::RawFleet;
pub use saves::RawSaves;
