//! Per-module ROI accounting ([`MetaLogger`]) and the stable module index
//! ([`ModuleIndex`]) (SPEC §6).
//!
//! Each cycle names the modules it touched. [`MetaLogger::log_cycle`] takes
//! the cycle's ROI, computes `delta = roi − previous roi` (the previous is 0
//! for the first cycle) and adds the whole delta to the total of every module
//! named. [`MetaLogger::rankings`] orders modules by total, and
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
//!
//! let mut log = MetaLogger::new();
//! log.log_cycle(0, 1.0, &["a"], "policy")?;
//! log.log_cycle(1, 2.0, &["a", "b"], "policy")?;
//! log.log_cycle(2, 2.1, &["b"], "interval")?;
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
use crate::roi::{keep_newest, mean_std};

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
/// How many of the newest cycle entries the logger keeps.
pub const CYCLES_KEPT: usize = 100;
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
    pub reason: String,
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
        if self.deltas.len() >= MODULE_DELTAS_KEPT {
            self.deltas.pop_front();
        }
        self.deltas.push_back(delta);
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
        reason: &str,
    ) -> Result<f64> {
        let roi = ensure_finite("cycle roi", roi)?;
        let delta = ensure_finite("cycle roi delta", roi - self.last_roi)?;
        let mut unique: Vec<&str> = modules.iter().map(AsRef::as_ref).collect();
        unique.sort_unstable();
        unique.dedup();
        for name in &unique {
            ensure_finite(
                format!("total roi of module {name}"),
                self.total(name) + delta,
            )?;
        }
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
        if self.recent.len() >= CYCLES_KEPT {
            self.recent.pop_front();
        }
        self.recent.push_back(CycleEntry {
            cycle,
            roi,
            delta,
            modules: modules.iter().map(|m| m.as_ref().to_string()).collect(),
            reason: reason.to_string(),
        });
        self.last_roi = roi;
        Ok(delta)
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
        let decode = |bytes: &[u8]| {
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
        };
        Ok(persist::load_with(path, decode)?.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_logger() -> MetaLogger {
        let mut log = MetaLogger::new();
        assert_eq!(log.log_cycle(0, 1.0, &["a"], "interval").unwrap(), 1.0);
        assert_eq!(log.log_cycle(1, 2.0, &["a", "b"], "policy").unwrap(), 1.0);
        let d = log.log_cycle(2, 2.1, &["b"], "policy").unwrap();
        assert!((d - 0.1).abs() < 1e-12);
        log
    }

    #[test]
    fn spec_example_totals() {
        let log = spec_logger();
        assert_eq!(log.total("a"), 2.0);
        assert!((log.total("b") - 1.1).abs() < 1e-12);
        assert_eq!(log.total("never"), 0.0);
        assert_eq!(log.last_roi(), 2.1);
    }

    #[test]
    fn rankings_highest_first_ties_by_name() {
        let log = spec_logger();
        let r = log.rankings();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0], ("a".to_string(), 2.0));
        assert_eq!(r[1].0, "b");

        let mut log = MetaLogger::new();
        log.log_cycle(0, 1.0, &["zeta", "alpha", "mid"], "x")
            .unwrap();
        log.log_cycle(1, 3.0, &["mid"], "x").unwrap();
        log.log_cycle(2, 2.0, &["low"], "x").unwrap();
        assert_eq!(
            log.rankings(),
            [
                ("mid".to_string(), 3.0),
                ("alpha".to_string(), 1.0),
                ("zeta".to_string(), 1.0),
                ("low".to_string(), -1.0),
            ]
        );
    }

    #[test]
    fn a_module_named_twice_is_credited_once() {
        let mut log = MetaLogger::new();
        log.log_cycle(0, 2.0, &["a", "a"], "x").unwrap();
        assert_eq!(log.total("a"), 2.0);
        assert_eq!(log.recent()[0].modules, ["a", "a"]);
    }

    #[test]
    fn recent_cycles_are_recorded_and_bounded() {
        let log = spec_logger();
        let first = &log.recent()[0];
        assert_eq!((first.cycle, first.roi, first.delta), (0, 1.0, 1.0));
        assert_eq!(first.modules, ["a"]);
        assert_eq!(first.reason, "interval");

        let mut log = MetaLogger::new();
        for c in 0..(CYCLES_KEPT as u64 + 5) {
            log.log_cycle(c, c as f64, &["m"], "x").unwrap();
        }
        assert_eq!(log.recent().len(), CYCLES_KEPT);
        assert_eq!(log.recent().front().unwrap().cycle, 5);
        let stats = &log.modules["m"];
        assert_eq!(stats.deltas.len(), MODULE_DELTAS_KEPT);
        // Totals keep counting past the bound: Σ deltas = last roi − 0.
        assert_eq!(stats.total, (CYCLES_KEPT + 4) as f64);
    }

    #[test]
    fn non_finite_or_overflowing_roi_changes_nothing() {
        let mut log = spec_logger();
        let before = log.clone();
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(matches!(
                log.log_cycle(3, bad, &["a"], "x"),
                Err(Error::NonFinite { .. })
            ));
        }
        assert_eq!(log, before);

        // The delta itself overflows: MAX − (−MAX).
        let mut log = MetaLogger::new();
        log.log_cycle(0, f64::MIN, &["a"], "x").unwrap();
        let before = log.clone();
        assert!(log.log_cycle(1, f64::MAX, &["b"], "x").is_err());
        assert_eq!(log, before);

        // The delta is finite but a total would overflow.
        let mut log = MetaLogger::new();
        log.log_cycle(0, f64::MAX, &["a"], "x").unwrap();
        log.log_cycle(1, 0.0, &["b"], "x").unwrap();
        let before = log.clone();
        let err = log.log_cycle(2, f64::MAX, &["b", "a"], "x").unwrap_err();
        assert!(err.to_string().contains("module a"), "{err}");
        assert_eq!(log, before);
    }

    #[test]
    fn diminishing_flags_flat_modules_once() {
        let mut log = MetaLogger::new();
        // a: deltas 1, 0, 0, 0 (roi 1, 1, 1, 1); b: 1, 1 (too few); c: 1, 2, 0, 0.
        log.log_cycle(0, 1.0, &["a", "b", "c"], "x").unwrap();
        assert_eq!(log.diminishing(0.0, 3).unwrap(), Vec::<String>::new());
        log.log_cycle(1, 1.0, &["a"], "x").unwrap();
        log.log_cycle(2, 1.0, &["a"], "x").unwrap();
        log.log_cycle(3, 1.0, &["a"], "x").unwrap();
        // a has 4 deltas, the last 3 are 0 ⇒ flagged.
        assert_eq!(log.diminishing(0.0, 3).unwrap(), ["a"]);
        assert!(log.is_flagged("a"));
        assert!(!log.is_flagged("b"));
        assert!(!log.is_flagged("unknown"));
        // Reported once.
        assert_eq!(log.diminishing(0.0, 3).unwrap(), Vec::<String>::new());
        assert!(log.is_flagged("a"));
    }

    #[test]
    fn diminishing_threshold_and_std() {
        let mut log = MetaLogger::new();
        // x: deltas 0.05, 0.0505, 0.0495 (roi 0.05, 0.1005, 0.15):
        //   mean 0.05, population std √(2·0.0005² / 3) ≈ 0.000408 < 1e-3.
        // y: deltas 0.1, −0.1, 0 (roi 0.15 → 0.25 → 0.15 → 0.15 after x):
        //   mean 0, std ≈ 0.0816 ⇒ not flat.
        // Then z and w: deltas 0, 0, 0 (the roi stays put).
        let mut roi = 0.0;
        for (d, m) in [
            (0.05, "x"),
            (0.0505, "x"),
            (0.0495, "x"),
            (0.1, "y"),
            (-0.1, "y"),
            (0.0, "y"),
        ] {
            roi += d;
            log.log_cycle(0, roi, &[m], "x").unwrap();
        }
        // |mean| 0.05 > 0.04 ⇒ x not flagged; y's std is too large.
        assert_eq!(log.diminishing(0.04, 3).unwrap(), Vec::<String>::new());
        // Two names flagged in one call come back sorted.
        log.log_cycle(6, roi, &["z", "w"], "x").unwrap();
        log.log_cycle(7, roi, &["z", "w"], "x").unwrap();
        log.log_cycle(8, roi, &["z", "w"], "x").unwrap();
        assert_eq!(log.diminishing(0.0, 4).unwrap(), Vec::<String>::new());
        assert_eq!(log.diminishing(0.06, 3).unwrap(), ["w", "x", "z"]);
        assert!(!log.is_flagged("y"));
    }

    #[test]
    fn diminishing_refuses_bad_settings() {
        let mut log = spec_logger();
        assert!(matches!(
            log.diminishing(f64::NAN, 3),
            Err(Error::NonFinite { .. })
        ));
        assert!(matches!(
            log.diminishing(-0.1, 3),
            Err(Error::Invalid { .. })
        ));
        for consecutive in [0, MODULE_DELTAS_KEPT + 1] {
            let err = log.diminishing(0.0, consecutive).unwrap_err();
            assert!(err.to_string().contains("consecutive"), "{err}");
        }
        assert!(log.diminishing(0.0, MODULE_DELTAS_KEPT).is_ok());
    }

    #[test]
    fn fnv1a64_known_vectors() {
        assert_eq!(fnv1a64(""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64("a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64("foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn module_index_is_fnv_mod_1000_and_stays() {
        let mut index = ModuleIndex::new();
        assert!(index.is_empty());
        assert_eq!(index.get("a"), None);
        // 0xaf63dc4c8601ec8c = 12638187200555641996 ⇒ mod 1000 = 996.
        assert_eq!(index.index("a"), 996);
        // 0x85944171f73967e8 = 9625390261332436968 ⇒ 968.
        assert_eq!(index.index("foobar"), 968);
        assert_eq!(index.index("a"), 996);
        assert_eq!(index.get("a"), Some(996));
        assert_eq!(index.len(), 2);
    }

    fn corrupt_files(dir: &Path) -> usize {
        std::fs::read_dir(dir)
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                name.to_string_lossy().contains(".corrupt-")
            })
            .count()
    }

    #[test]
    fn logger_round_trip_is_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(META_FILE);
        let mut log = spec_logger();
        log.log_cycle(3, 2.1, &["b"], "policy").unwrap();
        log.log_cycle(4, 2.1, &["b"], "policy").unwrap();
        assert_eq!(log.diminishing(0.0, 2).unwrap(), ["b"]);
        log.save(&path, Durability::Atomic).unwrap();
        let first = std::fs::read(&path).unwrap();
        let back = MetaLogger::load(&path).unwrap();
        assert_eq!(back, log);
        assert!(back.is_flagged("b"));
        back.save(&path, Durability::Atomic).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), first);
        let text = String::from_utf8(first).unwrap();
        assert!(
            text.starts_with(r#"{"version":1,"last_roi":2.1,"modules":{"a":"#),
            "{text}"
        );
    }

    #[test]
    fn loading_an_oversized_logger_keeps_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(META_FILE);
        let deltas: Vec<String> = (0..150).map(|i| i.to_string()).collect();
        let entries: Vec<String> = (0..120)
            .map(|c| format!(r#"{{"cycle":{c},"roi":0,"delta":0,"modules":[],"reason":"x"}}"#))
            .collect();
        let text = format!(
            r#"{{"version":1,"last_roi":0,"modules":{{"m":{{"total":1,"deltas":[{}],"flagged":false}}}},"recent":[{}]}}"#,
            deltas.join(","),
            entries.join(",")
        );
        std::fs::write(&path, text).unwrap();
        let log = MetaLogger::load(&path).unwrap();
        assert_eq!(log.modules["m"].deltas.len(), MODULE_DELTAS_KEPT);
        assert_eq!(log.modules["m"].deltas.front(), Some(&50.0));
        assert_eq!(log.recent().len(), CYCLES_KEPT);
        assert_eq!(log.recent().front().unwrap().cycle, 20);
    }

    #[test]
    fn corrupt_logger_gives_a_fresh_one_and_is_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(META_FILE);
        assert_eq!(MetaLogger::load(&path).unwrap(), MetaLogger::new());
        for text in [
            "",
            "{\"version\":1,\"last_roi\":",
            r#"{"version":1,"last_roi":0,"modules":{"m":{"total":"x","deltas":[],"flagged":false}},"recent":[]}"#,
            r#"{"version":1,"last_roi":0,"modules":{},"recent":[{"cycle":-1,"roi":0,"delta":0,"modules":[],"reason":"x"}]}"#,
        ] {
            std::fs::write(&path, text).unwrap();
            assert_eq!(
                MetaLogger::load(&path).unwrap(),
                MetaLogger::new(),
                "{text}"
            );
            assert!(!path.exists());
        }
        assert_eq!(corrupt_files(dir.path()), 4);
    }

    #[test]
    fn corrupt_logger_falls_back_to_its_backup() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(META_FILE);
        let log = spec_logger();
        log.save(&path, Durability::Atomic).unwrap();
        log.save(&path, Durability::Atomic).unwrap();
        std::fs::write(&path, "{").unwrap();
        assert_eq!(MetaLogger::load(&path).unwrap(), log);
        assert_eq!(corrupt_files(dir.path()), 1);
    }

    #[test]
    fn newer_files_are_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let newer = |name: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, r#"{"version":3}"#).unwrap();
            path
        };
        let is_newer = |r: Result<()>| {
            matches!(
                r,
                Err(Error::Persist(persist::PersistError::NewerVersion { .. }))
            )
        };
        let meta = newer(META_FILE);
        assert!(is_newer(MetaLogger::load(&meta).map(drop)));
        let modules = newer(MODULES_FILE);
        assert!(is_newer(ModuleIndex::load(&modules).map(drop)));
        for path in [meta, modules] {
            assert_eq!(std::fs::read_to_string(&path).unwrap(), r#"{"version":3}"#);
        }
    }

    #[test]
    fn index_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(MODULES_FILE);
        let mut index = ModuleIndex::new();
        index.index("foobar");
        index.index("a");
        index.save(&path, Durability::Atomic).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, r#"{"version":1,"modules":{"a":996,"foobar":968}}"#);
        assert_eq!(ModuleIndex::load(&path).unwrap(), index);
    }

    #[test]
    fn stored_index_wins_over_the_hash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(MODULES_FILE);
        std::fs::write(&path, r#"{"version":1,"modules":{"a":7}}"#).unwrap();
        let mut index = ModuleIndex::load(&path).unwrap();
        assert_eq!(index.index("a"), 7);
    }

    #[test]
    fn corrupt_index_gives_an_empty_one_and_is_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(MODULES_FILE);
        for text in [
            "",
            r#"{"version":1,"modules":{"a":1000}}"#,
            r#"{"version":1,"modules":{"a":-1}}"#,
            r#"{"version":1,"modules":{"a":70000}}"#,
            r#"{"version":1,"modules":[1,2]}"#,
        ] {
            std::fs::write(&path, text).unwrap();
            assert_eq!(
                ModuleIndex::load(&path).unwrap(),
                ModuleIndex::new(),
                "{text}"
            );
            assert!(!path.exists(), "{text}");
        }
        assert_eq!(corrupt_files(dir.path()), 5);
    }
}
