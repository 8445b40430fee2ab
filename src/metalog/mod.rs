//! Per-module ROI accounting ([`MetaLogger`]) and the stable module index
//! ([`ModuleIndex`]) (SPEC §6).
//!
//! Each cycle names the modules it touched. [`MetaLogger::log_cycle`] takes
//! the cycle's ROI, computes `delta = roi − previous roi` (the previous is 0
//! for the first cycle) and adds the whole delta to the total of every module
//! named; [`MetaLogger::log_delta`] takes the delta itself (the engine uses
//! it: it knows each cycle's delta, and the logger keeps the running ROI, so
//! the cumulative ROI lives in one place). [`MetaLogger::rankings`] orders modules by total, and
//! [`MetaLogger::diminishing`] flags modules whose recent deltas have gone
//! flat, once each.
//!
//! [`ModuleIndex`] maps a module name to a small stable number,
//! `FNV-1a-64(name) mod 1000`, stored once assigned, so the policy's state
//! space stays bounded and the same across processes.
//!
//! Choices where SPEC is silent:
//! - **Bounded memory.** Each module keeps its last [`MODULE_DELTAS_KEPT`]
//!   (100) deltas and its running total; the logger keeps the last
//!   [`CYCLES_KEPT`] (100) cycle entries for `kaizen status`. Older ones are
//!   dropped, and so are older ones found in a loaded file.
//! - A module named twice in one cycle gets the delta once.
//! - A non-finite ROI is refused with [`Error::NonFinite`], and so is a finite
//!   one whose delta or a module's new total would overflow; nothing changes.
//! - [`MetaLogger::diminishing`] refuses `consecutive` of 0 or more than
//!   [`MODULE_DELTAS_KEPT`] (it could never flag anything) and a negative or
//!   non-finite threshold. A flagged module stays flagged (and is saved so).
//! - A `modules.json` entry of 1000 or more cannot come from this code: the
//!   file is treated as corrupt (moved aside, its backup tried).
//!
//! Files: `meta.json` ([`META_FILE`]) and `modules.json` ([`MODULES_FILE`]),
//! written through [`crate::persist`] with maps in name order, so the same
//! state always gives the same bytes.
//!
//! ```
//! use kaizen::metalog::{MetaLogger, ModuleIndex};
//! use kaizen::record::Reason;
//!
//! let mut log = MetaLogger::new();
//! log.log_cycle(0, 1.0, &["a"], Reason::Policy)?;
//! log.log_cycle(1, 2.0, &["a", "b"], Reason::Policy)?;
//! log.log_delta(2, 0.1, &["b"], Reason::Interval)?; // the same as an ROI of 2.1
//! let rankings = log.rankings();
//! assert_eq!(rankings[0], ("a".to_string(), 2.0));
//! assert!((log.total("b") - 1.1).abs() < 1e-12);
//!
//! let mut index = ModuleIndex::new();
//! assert_eq!(index.index("a"), (0xaf63dc4c8601ec8c_u64 % 1000) as u16);
//! # Ok::<(), kaizen::Error>(())
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, ensure_finite};
use crate::persist::{self, Decode, Durability};
use crate::record::Reason;
use crate::roi::{keep_newest, mean_std, push_bounded};

/// The file a [`MetaLogger`] is saved to, inside the bot's state folder.
pub const META_FILE: &str = "meta.json";
/// The file a [`ModuleIndex`] is saved to, inside the bot's state folder.
pub const MODULES_FILE: &str = "modules.json";
/// SPEC's default `threshold` for [`MetaLogger::diminishing`].
pub const DEFAULT_DIMINISHING_THRESHOLD: f64 = 0.0;
/// SPEC's default `consecutive` for [`MetaLogger::diminishing`].
pub const DEFAULT_DIMINISHING_CONSECUTIVE: usize = 3;
/// A module whose last deltas have a population std below this is flat.
pub const DIMINISHING_STD: f64 = 1e-3;
/// How many of its newest deltas each module keeps.
pub const MODULE_DELTAS_KEPT: usize = 100;
/// How many of the newest cycle entries the logger keeps (what `kaizen
/// status` can show; the full ROI history lives in the engine's own file).
pub const CYCLES_KEPT: usize = 20;
/// Module indices lie in `0..MODULE_INDEX_BUCKETS`.
pub const MODULE_INDEX_BUCKETS: u16 = 1000;

/// One logged cycle, as shown by `kaizen status`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CycleEntry {
    /// The cycle number the engine gave.
    pub cycle: u64,
    /// The cycle's ROI.
    pub roi: f64,
    /// `roi` minus the previous cycle's ROI.
    pub delta: f64,
    /// The modules named, as given.
    pub modules: Vec<String>,
    /// Why the cycle ran.
    pub reason: Reason,
}

/// What the logger knows about one module.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct ModuleStats {
    /// Sum of every delta credited to the module, including dropped ones.
    total: f64,
    /// The newest deltas, oldest first.
    deltas: VecDeque<f64>,
    /// Already reported by [`MetaLogger::diminishing`].
    flagged: bool,
}

impl ModuleStats {
    /// Adds `delta` to the total and to the bounded list of recent deltas.
    fn credit(&mut self, delta: f64) {
        self.total += delta;
        push_bounded(&mut self.deltas, delta, MODULE_DELTAS_KEPT);
    }
}

/// Per-module ROI totals, recent deltas and diminishing-returns flags, plus
/// the last cycles logged. See the [module docs](self).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MetaLogger {
    last_roi: f64,
    modules: BTreeMap<String, ModuleStats>,
    recent: VecDeque<CycleEntry>,
}

impl MetaLogger {
    /// An empty logger (previous ROI 0).
    pub fn new() -> Self {
        Self::default()
    }

    /// Logs one cycle: `delta = roi − previous roi` is added to the total of
    /// every module in `modules` (each once) and returned. A non-finite `roi`,
    /// or one whose delta or a resulting total overflows, is refused and
    /// changes nothing.
    pub fn log_cycle<S: AsRef<str>>(
        &mut self,
        cycle: u64,
        roi: f64,
        modules: &[S],
        reason: Reason,
    ) -> Result<f64> {
        let roi = ensure_finite("cycle roi", roi)?;
        let delta = ensure_finite("cycle roi delta", roi - self.last_roi)?;
        self.check_delta(delta, modules)?;
        self.credit(cycle, roi, delta, modules, reason);
        Ok(delta)
    }

    /// Logs one cycle by its ROI `delta`: the delta is added to the total of
    /// every module in `modules` (each once), and the running ROI moves by
    /// it. A non-finite delta, or one that overflows the running ROI or a
    /// total, is refused and changes nothing. Returns the new running ROI.
    pub fn log_delta<S: AsRef<str>>(
        &mut self,
        cycle: u64,
        delta: f64,
        modules: &[S],
        reason: Reason,
    ) -> Result<f64> {
        let roi = self.check_delta(delta, modules)?;
        self.credit(cycle, roi, delta, modules, reason);
        Ok(roi)
    }

    /// What [`log_delta`](Self::log_delta) would make the running ROI, or
    /// the error it would refuse `delta` with; changes nothing. A cycle
    /// asks before it counts anything, so a delta that would overflow a
    /// running total fails the cycle instead of half-logging it.
    pub fn check_delta<S: AsRef<str>>(&self, delta: f64, modules: &[S]) -> Result<f64> {
        let delta = ensure_finite("cycle roi delta", delta)?;
        let roi = ensure_finite("cycle roi", self.last_roi + delta)?;
        match modules
            .iter()
            .map(AsRef::as_ref)
            .find(|n| !(self.total(n) + delta).is_finite())
        {
            Some(name) => Err(Error::NonFinite {
                what: format!("total roi of module {name}").into(),
                value: self.total(name) + delta,
            }),
            None => Ok(roi),
        }
    }

    /// Adds a checked delta ([`check_delta`](Self::check_delta)).
    fn credit<S: AsRef<str>>(
        &mut self,
        cycle: u64,
        roi: f64,
        delta: f64,
        modules: &[S],
        reason: Reason,
    ) {
        let mut unique: Vec<&str> = modules.iter().map(AsRef::as_ref).collect();
        unique.sort_unstable();
        unique.dedup();
        for name in unique {
            match self.modules.get_mut(name) {
                Some(stats) => stats.credit(delta),
                None => self
                    .modules
                    .entry(name.to_string())
                    .or_default()
                    .credit(delta),
            }
        }
        let entry = CycleEntry {
            cycle,
            roi,
            delta,
            modules: modules.iter().map(|m| m.as_ref().to_string()).collect(),
            reason,
        };
        push_bounded(&mut self.recent, entry, CYCLES_KEPT);
        self.last_roi = roi;
    }

    /// `(module, total)` for every module, highest total first, ties by name.
    pub fn rankings(&self) -> Vec<(String, f64)> {
        let mut out: Vec<(String, f64)> = self
            .modules
            .iter()
            .map(|(name, stats)| (name.clone(), stats.total))
            .collect();
        // The map is in name order and the sort is stable, so ties keep it.
        out.sort_by(|a, b| b.1.total_cmp(&a.1));
        out
    }

    /// The total ROI credited to `module` (0 for one never named).
    pub fn total(&self, module: &str) -> f64 {
        self.modules.get(module).map_or(0.0, |s| s.total)
    }

    /// Flags every module not yet flagged that has at least `consecutive`
    /// deltas whose last `consecutive` have `|mean| ≤ threshold` and a
    /// population std below [`DIMINISHING_STD`]. Returns the newly flagged
    /// names, sorted; a module is reported once. SPEC's defaults are
    /// [`DEFAULT_DIMINISHING_THRESHOLD`] and [`DEFAULT_DIMINISHING_CONSECUTIVE`].
    ///
    /// `threshold` must be finite and ≥ 0, `consecutive` in
    /// `1..=`[`MODULE_DELTAS_KEPT`].
    pub fn diminishing(&mut self, threshold: f64, consecutive: usize) -> Result<Vec<String>> {
        let threshold = ensure_finite("diminishing threshold", threshold)?;
        if threshold < 0.0 {
            return Err(Error::invalid(
                "diminishing threshold",
                threshold,
                "a number ≥ 0",
            ));
        }
        if !(1..=MODULE_DELTAS_KEPT).contains(&consecutive) {
            return Err(Error::invalid(
                "diminishing consecutive",
                consecutive,
                format!("a count in 1..={MODULE_DELTAS_KEPT}"),
            ));
        }
        let mut flagged = Vec::new();
        for (name, stats) in &mut self.modules {
            let n = stats.deltas.len();
            if stats.flagged || n < consecutive {
                continue;
            }
            let (mean, std) = mean_std(stats.deltas.range(n - consecutive..).copied());
            if mean.abs() <= threshold && std < DIMINISHING_STD {
                stats.flagged = true;
                flagged.push(name.clone());
            }
        }
        Ok(flagged)
    }

    /// Whether `module` has been flagged by [`diminishing`](Self::diminishing).
    pub fn is_flagged(&self, module: &str) -> bool {
        self.modules.get(module).is_some_and(|s| s.flagged)
    }

    /// The ROI of the last cycle logged (0 before the first).
    pub fn last_roi(&self) -> f64 {
        self.last_roi
    }

    /// The last [`CYCLES_KEPT`] cycles logged, oldest first.
    pub fn recent(&self) -> &VecDeque<CycleEntry> {
        &self.recent
    }

    /// Writes the logger to `path` (normally `<state>/<bot>/`[`META_FILE`]) as
    /// versioned JSON, atomically. Returns the bytes written.
    pub fn save(&self, path: &Path, durability: Durability) -> Result<u64> {
        Ok(persist::save_json(path, self, durability)?)
    }

    /// Reads a logger saved by [`save`](Self::save). A missing file, or a
    /// corrupt one without a good backup, gives an empty logger; a file from
    /// a newer version is an error and is left untouched. Series longer than
    /// the bounds keep their newest values.
    pub fn load(path: &Path) -> Result<Self> {
        let mut log = persist::load_json::<Self>(path)?.unwrap_or_default();
        for stats in log.modules.values_mut() {
            keep_newest(&mut stats.deltas, MODULE_DELTAS_KEPT);
        }
        keep_newest(&mut log.recent, CYCLES_KEPT);
        Ok(log)
    }
}

/// The standard 64-bit FNV-1a hash of `name`'s UTF-8 bytes.
pub fn fnv1a64(name: &str) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    name.bytes()
        .fold(OFFSET, |hash, b| (hash ^ u64::from(b)).wrapping_mul(PRIME))
}

/// Module name → a stable index in `0..1000`, assigned once as
/// `fnv1a64(name) mod 1000` and kept. See the [module docs](self).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModuleIndex {
    modules: BTreeMap<String, u16>,
}

impl ModuleIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// The index of `name`, assigning `fnv1a64(name) mod 1000` the first time.
    pub fn index(&mut self, name: &str) -> u16 {
        if let Some(&i) = self.modules.get(name) {
            return i;
        }
        let i = (fnv1a64(name) % u64::from(MODULE_INDEX_BUCKETS)) as u16;
        self.modules.insert(name.to_string(), i);
        i
    }

    /// The index of `name` if one was assigned.
    pub fn get(&self, name: &str) -> Option<u16> {
        self.modules.get(name).copied()
    }

    /// How many names have an index.
    pub fn len(&self) -> usize {
        self.modules.len()
    }

    /// `true` when no name has an index.
    pub fn is_empty(&self) -> bool {
        self.modules.is_empty()
    }

    /// Writes the index to `path` (normally `<state>/<bot>/`[`MODULES_FILE`])
    /// as versioned JSON, atomically. Returns the bytes written.
    pub fn save(&self, path: &Path, durability: Durability) -> Result<u64> {
        Ok(persist::save_json(path, self, durability)?)
    }

    /// Reads an index saved by [`save`](Self::save). A missing file, or a
    /// corrupt one (including an index ≥ 1000) without a good backup, gives an
    /// empty index; a file from a newer version is an error and is left
    /// untouched.
    pub fn load(path: &Path) -> Result<Self> {
        Ok(persist::load_with(path, Self::decode)?.unwrap_or_default())
    }

    /// What the file at `path` holds, read only (nothing is moved aside):
    /// for `kaizen status`, which names a damaged file.
    pub fn inspect(path: &Path) -> persist::Inspected<Self> {
        persist::inspect_with(path, Self::decode)
    }

    fn decode(bytes: &[u8]) -> std::result::Result<Self, Decode> {
        let index: Self = persist::decode_json(bytes)?;
        match index
            .modules
            .iter()
            .find(|&(_, &i)| i >= MODULE_INDEX_BUCKETS)
        {
            Some((name, i)) => Err(Decode::Corrupt(format!(
                "module {name:?} has index {i}, expected 0..{MODULE_INDEX_BUCKETS}"
            ))),
            None => Ok(index),
        }
    }
}

#[cfg(test)]
mod tests;
