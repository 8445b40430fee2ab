//! The names of the synergy metrics and the two key sets a learner can use.
//!
//! A [`SynergyKey`] names one cross-module metric. Its [`name`](SynergyKey::name)
//! (`"roi"`) is the key in `synergy.json`; its [`metric_name`](SynergyKey::metric_name)
//! (`"synergy_roi"`) is the name a pipeline reports the metric under.
//! A learner weighs either the four [core](SynergyKeys::Core) keys (the default) or
//! all seven ([`SynergyKeys::Extended`]). The keys are ordered so that the core keys
//! come first: a vector over the extended set starts with the core vector.
//!
//! ```
//! use kaizen::synergy::{SynergyKey, SynergyKeys};
//!
//! let key = SynergyKey::from_name("efficiency")?;
//! assert_eq!(key.metric_name(), "synergy_efficiency");
//! assert_eq!(SynergyKey::from_metric_name("synergy_roi"), Some(SynergyKey::Roi));
//! assert_eq!(SynergyKeys::Core.keys(), &SynergyKey::CORE);
//! assert_eq!(SynergyKeys::Extended.keys().len(), 7);
//! # Ok::<(), kaizen::Error>(())
//! ```

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::{Error, Result};

/// One synergy metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SynergyKey {
    /// `synergy_roi`.
    Roi,
    /// `synergy_efficiency`.
    Efficiency,
    /// `synergy_resilience`.
    Resilience,
    /// `synergy_antifragility`.
    Antifragility,
    /// `synergy_reliability` (extended set only).
    Reliability,
    /// `synergy_maintainability` (extended set only).
    Maintainability,
    /// `synergy_throughput` (extended set only).
    Throughput,
}

/// Every key, in order: the name used in files, then the metric name.
const NAMES: [(SynergyKey, &str, &str); 7] = [
    (SynergyKey::Roi, "roi", "synergy_roi"),
    (SynergyKey::Efficiency, "efficiency", "synergy_efficiency"),
    (SynergyKey::Resilience, "resilience", "synergy_resilience"),
    (
        SynergyKey::Antifragility,
        "antifragility",
        "synergy_antifragility",
    ),
    (
        SynergyKey::Reliability,
        "reliability",
        "synergy_reliability",
    ),
    (
        SynergyKey::Maintainability,
        "maintainability",
        "synergy_maintainability",
    ),
    (SynergyKey::Throughput, "throughput", "synergy_throughput"),
];

impl SynergyKey {
    /// The four core keys: roi, efficiency, resilience, antifragility.
    pub const CORE: [SynergyKey; 4] = [
        SynergyKey::Roi,
        SynergyKey::Efficiency,
        SynergyKey::Resilience,
        SynergyKey::Antifragility,
    ];

    /// All seven keys, the core ones first.
    pub const ALL: [SynergyKey; 7] = [
        SynergyKey::Roi,
        SynergyKey::Efficiency,
        SynergyKey::Resilience,
        SynergyKey::Antifragility,
        SynergyKey::Reliability,
        SynergyKey::Maintainability,
        SynergyKey::Throughput,
    ];

    /// The key's position in [`SynergyKey::ALL`] (and in every synergy vector).
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The short name used as a JSON key, e.g. `"roi"`.
    pub const fn name(self) -> &'static str {
        NAMES[self.index()].1
    }

    /// The metric's name as pipelines report it, e.g. `"synergy_roi"`.
    pub const fn metric_name(self) -> &'static str {
        NAMES[self.index()].2
    }

    /// The key with short name `name` (`"roi"`), or [`Error::UnknownName`].
    pub fn from_name(name: &str) -> Result<Self> {
        NAMES
            .iter()
            .find(|(_, short, _)| *short == name)
            .map(|(key, _, _)| *key)
            .ok_or_else(|| Error::UnknownName {
                kind: "synergy key",
                name: name.to_string(),
                known: NAMES.map(|(_, short, _)| short).join(", "),
            })
    }

    /// The key whose metric is called `name` (`"synergy_roi"`); `None` for any
    /// other metric.
    pub fn from_metric_name(name: &str) -> Option<Self> {
        NAMES
            .iter()
            .find(|(_, _, metric)| *metric == name)
            .map(|(key, _, _)| *key)
    }
}

impl fmt::Display for SynergyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which keys a learner weighs. Stored as `"core"` / `"extended"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SynergyKeys {
    /// The four core keys ([`SynergyKey::CORE`]).
    #[default]
    Core,
    /// All seven keys ([`SynergyKey::ALL`]).
    Extended,
}

impl SynergyKeys {
    /// The keys of this set, in vector order.
    pub const fn keys(self) -> &'static [SynergyKey] {
        match self {
            SynergyKeys::Core => &SynergyKey::CORE,
            SynergyKeys::Extended => &SynergyKey::ALL,
        }
    }

    /// Whether `key` belongs to this set.
    pub const fn contains(self, key: SynergyKey) -> bool {
        key.index() < self.keys().len()
    }

    /// `"core"` or `"extended"`.
    pub const fn name(self) -> &'static str {
        match self {
            SynergyKeys::Core => "core",
            SynergyKeys::Extended => "extended",
        }
    }

    /// The set called `name` (`"core"` / `"extended"`), or [`Error::UnknownName`].
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "core" => Ok(SynergyKeys::Core),
            "extended" => Ok(SynergyKeys::Extended),
            _ => Err(Error::UnknownName {
                kind: "synergy key set",
                name: name.to_string(),
                known: "core, extended".to_string(),
            }),
        }
    }
}

impl fmt::Display for SynergyKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_follow_the_vector_order() {
        for (i, key) in SynergyKey::ALL.into_iter().enumerate() {
            assert_eq!(key.index(), i);
            assert_eq!(SynergyKey::from_name(key.name()).unwrap(), key);
            assert_eq!(SynergyKey::from_metric_name(key.metric_name()), Some(key));
            assert_eq!(key.metric_name(), format!("synergy_{}", key.name()));
            assert_eq!(key.to_string(), key.name());
        }
        assert_eq!(SynergyKey::Antifragility.name(), "antifragility");
        assert_eq!(SynergyKey::Throughput.metric_name(), "synergy_throughput");
    }

    #[test]
    fn unknown_names_are_refused_or_ignored() {
        let err = SynergyKey::from_name("synergy_roi").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown synergy key \"synergy_roi\"; known: roi, efficiency, resilience, \
             antifragility, reliability, maintainability, throughput"
        );
        assert_eq!(SynergyKey::from_metric_name("roi"), None);
        assert_eq!(SynergyKey::from_metric_name("latency"), None);
        assert_eq!(SynergyKey::from_metric_name(""), None);
    }

    #[test]
    fn key_sets() {
        assert_eq!(SynergyKeys::default(), SynergyKeys::Core);
        assert_eq!(SynergyKeys::Core.keys().len(), 4);
        assert_eq!(SynergyKeys::Extended.keys(), &SynergyKey::ALL);
        assert!(SynergyKeys::Core.contains(SynergyKey::Antifragility));
        assert!(!SynergyKeys::Core.contains(SynergyKey::Reliability));
        assert!(SynergyKeys::Extended.contains(SynergyKey::Throughput));
        assert_eq!(
            SynergyKeys::from_name("extended").unwrap(),
            SynergyKeys::Extended
        );
        assert!(matches!(
            SynergyKeys::from_name("all"),
            Err(Error::UnknownName { .. })
        ));
        assert_eq!(
            serde_json::to_string(&SynergyKeys::Core).unwrap(),
            "\"core\""
        );
        let keys: SynergyKeys = serde_json::from_str("\"extended\"").unwrap();
        assert_eq!(keys, SynergyKeys::Extended);
    }
}
