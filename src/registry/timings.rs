//! [`TickTimings`]: how long engines took to decide and to cycle, as
//! histograms with explicit buckets (for `/metrics` and the latency alert).

use std::time::Duration;

use crate::histogram::{DURATION_BOUNDS, Histogram, LATENCY_BOUNDS};
use crate::record::{CycleAction, CycleRecord};

/// The registry's timing histograms, shared with whoever reads them
/// ([`RegistryHandle::timings`](super::RegistryHandle::timings)).
///
/// - `decision`: ticks of a round answered without running a pipeline, from
///   the round's start to the answer (queueing behind the other engines of
///   the same worker included): the decision latency.
/// - `cycle`: ticks that ran a pipeline, and cycles asked for with
///   [`run_cycle`](super::RegistryHandle::run_cycle), from the ask to the
///   answer: the whole cycle, the pipeline's own run time included.
#[derive(Debug)]
pub struct TickTimings {
    /// Decision latency, seconds.
    pub decision: Histogram,
    /// Cycle duration, seconds.
    pub cycle: Histogram,
}

impl Default for TickTimings {
    fn default() -> Self {
        TickTimings {
            decision: Histogram::new(LATENCY_BOUNDS),
            cycle: Histogram::new(DURATION_BOUNDS),
        }
    }
}

impl TickTimings {
    /// Counts one answered tick: a decision or a cycle, by what it did.
    pub fn observe(&self, record: &CycleRecord, took: Duration) {
        match record.action {
            CycleAction::Skip => self.decision.observe(took.as_secs_f64()),
            CycleAction::Run => self.cycle.observe(took.as_secs_f64()),
        }
    }
}
