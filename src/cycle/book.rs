//! What `engine.json` holds besides the ROI tracker's fields, reading it
//! without loading anything else, and which state files changed since they
//! were last written.
//!
//! `engine.json` stays at format version 1: its changes since round 1 read
//! old files unchanged — the `cumulative_roi` field is no longer written
//! (the meta logger keeps the running ROI; the field is ignored), and the
//! `decision` field (the decision mode) is new: a file without it is an
//! engine from before the modes, which keeps running `chain`
//! ([`super::learned`]); an older kaizen ignores the field.

use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;

use super::{DecisionMode, ENGINE_FILE, SUCCESS_WINDOW};
use crate::persist;
use crate::policy::PolicyState;
use crate::roi::{RoiConfig, RoiSnapshot, RoiTracker};
use crate::snapshot::EngineSnapshot;
use crate::synergy::MetricHistory;

/// The last cycles' successes, newest in bit 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct Outcomes {
    pub(super) bits: u64,
    pub(super) len: u32,
}

impl Outcomes {
    pub(super) const MASK: u64 = (1 << SUCCESS_WINDOW) - 1;

    pub(super) fn push(&mut self, ok: bool) {
        self.bits = ((self.bits << 1) | u64::from(ok)) & Self::MASK;
        self.len = (self.len + 1).min(SUCCESS_WINDOW);
    }

    pub(super) fn success_rate(&self) -> f64 {
        if self.len == 0 {
            return 1.0;
        }
        let live = self.bits & ((1u64 << self.len) - 1);
        f64::from(live.count_ones()) / f64::from(self.len)
    }
}

/// A policy skip whose reward is not known yet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct PendingSkip {
    pub(super) state: PolicyState,
    pub(super) profit: Option<f64>,
}

/// Everything in `engine.json` besides the ROI tracker's fields.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct Book {
    pub(super) last_run: Option<f64>,
    pub(super) cycles: u64,
    pub(super) failures: u64,
    pub(super) recent: Outcomes,
    pub(super) last_profit: Option<f64>,
    pub(super) pending_skip: Option<PendingSkip>,
    pub(super) energy_reward: Option<f64>,
    pub(super) last_module: Option<String>,
    pub(super) metrics: MetricHistory,
    pub(super) paused: bool,
    /// The decision mode the engine runs; absent in a file from before the
    /// modes, which therefore keeps running [`DecisionMode::Chain`].
    pub(super) decision: Option<DecisionMode>,
}

#[derive(Serialize)]
pub(super) struct EngineFileRef<'a> {
    #[serde(flatten)]
    pub(super) roi: &'a RoiSnapshot,
    #[serde(flatten)]
    pub(super) book: &'a Book,
}

#[derive(Deserialize)]
pub(super) struct EngineFile {
    #[serde(flatten)]
    pub(super) roi: RoiSnapshot,
    #[serde(flatten)]
    pub(super) book: Book,
}

/// Reads `dir/engine.json` (or its backup) without changing anything: the
/// snapshot of engine `engine` as saved, its readers computed with the
/// engine's ROI settings `roi` (`roi_scale` was applied on the way in). The
/// learner, weights and last tick are not in this file: they are left empty.
pub fn inspect_engine(
    dir: &Path,
    engine: &str,
    bot: &str,
    roi: RoiConfig,
) -> persist::Inspected<EngineSnapshot> {
    persist::inspect_with(&dir.join(ENGINE_FILE), |bytes| {
        let f: EngineFile = persist::decode_json(bytes)?;
        let roi = RoiTracker::from_snapshot(roi, f.roi)
            .map_err(|e| persist::Decode::Corrupt(e.to_string()))?;
        Ok(EngineSnapshot {
            engine: Arc::from(engine),
            bot: Arc::from(bot),
            paused: f.book.paused,
            busy: false,
            cycles: f.book.cycles,
            failures: f.book.failures,
            success_rate: f.book.recent.success_rate(),
            roi_delta_ema: roi.ema(),
            short_mean: roi.short_mean(),
            trend: roi.trend(),
            last_run: f.book.last_run,
            last_module: f.book.last_module,
            learner: None,
            weights: Vec::new(),
            last: None,
            training: None,
        })
    })
}

/// Which state files changed since they were last encoded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Dirty(pub(super) u8);

impl Dirty {
    pub(super) const ENGINE: u8 = 1;
    pub(super) const POLICY: u8 = 2;
    pub(super) const LEARNER: u8 = 4;
    pub(super) const META: u8 = 8;
    pub(super) const MODULES: u8 = 16;
    pub(super) const ENERGY: u8 = 32;
    pub(super) const FORECAST: u8 = 64;
    pub(super) const DECIDE: u8 = 128;
    pub(super) const ALL: u8 = 255;

    pub(super) fn mark(&mut self, bits: u8) {
        self.0 |= bits;
    }
    pub(super) fn has(self, bits: u8) -> bool {
        self.0 & bits != 0
    }
}
