//! What a learner keeps between cycles and across restarts: `training.json`
//! in the bot's state folder (through [`crate::persist`]: atomic,
//! `"version": 1`, `.bak`).
//!
//! ```text
//! {"version":1,"source":{"files":{…},"schema":{…}},"labels":["no","yes"],
//!  "buffer":[{"features":[…],"target":1.5,"time":…,"quality":…},…],
//!  "rng":{…},"alerts":{…},"counters":{"cycles":9,"trainings":2,…}}
//! ```
//! The buffer holds the samples read since the last training cycle (at most
//! `max_buffer`); the model versions live in the model registry beside it.

use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::training::{AlertBook, Sample, SourcePosition};

/// The learner's state file, inside the bot's state folder.
pub const STATE_FILE: &str = "training.json";

/// Running totals, for status and reports.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    /// Cycles run.
    pub cycles: u64,
    /// Cycles that trained a challenger.
    pub trainings: u64,
    /// Challengers deployed.
    pub deployments: u64,
    /// Good rows read.
    pub rows: u64,
    /// Bad rows skipped.
    pub bad_rows: u64,
}

/// Everything but the models.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LearnerState {
    /// How far the data has been read.
    pub source: SourcePosition,
    /// The class labels, fixed when the first model was created (classification).
    pub labels: Option<Vec<String>>,
    /// Samples waiting for the next training cycle, oldest first.
    pub buffer: Vec<Sample>,
    /// The random generator, where it stopped.
    pub rng: ChaCha8Rng,
    /// Open alerts.
    pub alerts: AlertBook,
    /// Totals.
    pub counters: Counters,
}

impl LearnerState {
    /// A fresh state seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        use rand::SeedableRng;
        LearnerState {
            source: SourcePosition::default(),
            labels: None,
            buffer: Vec::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            alerts: AlertBook::default(),
            counters: Counters::default(),
        }
    }
}
