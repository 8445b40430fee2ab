//! What is kept about each model version: its number, where its data came
//! from, how it was trained, how it scored, and what became of it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use super::Significance;
use super::check::CheckOutcome;
use super::compare::Goal;
use super::error::{ModelsError, finite};

/// A model version's number: 1 for a bot's first model, then one more for
/// each version saved. Written `v7` for people, `7` in JSON.
///
/// ```
/// use kaizen::models::VersionId;
/// let v: VersionId = "v7".parse().unwrap();
/// assert_eq!(v, VersionId(7));
/// assert_eq!("7".parse::<VersionId>().unwrap(), v);
/// assert_eq!(v.to_string(), "v7");
/// assert!("v0".parse::<VersionId>().is_err());
/// assert!("seven".parse::<VersionId>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct VersionId(pub u64);

impl fmt::Display for VersionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

impl FromStr for VersionId {
    type Err = ModelsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s.strip_prefix('v').unwrap_or(s);
        match digits.parse::<u64>() {
            Ok(n) if n > 0 && digits.bytes().all(|b| b.is_ascii_digit()) => Ok(VersionId(n)),
            _ => Err(ModelsError::invalid(
                "model version",
                format!("{s:?}"),
                "a version number such as 7 or v7 (1 or more)",
            )),
        }
    }
}

/// Where a version stands.
///
/// A version is saved as a `Candidate` (or `Rejected`, when the deploy gate
/// refused it); the registry moves it on from there. `Champion`, `Retired`
/// and `RolledBack` follow from the champion alias, its history and the
/// post-deploy checks, and are recomputed from them when the registry opens,
/// so a crash between two writes never leaves a status that disagrees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionStatus {
    /// Saved, never served.
    Candidate,
    /// Saved, refused by the deploy gate, never served.
    Rejected,
    /// Serving now: the `champion` alias points at it.
    Champion,
    /// Served before; replaced by another version.
    Retired,
    /// Served; its last post-deploy check found it significantly worse than
    /// the version before it, and it was replaced.
    RolledBack,
}

impl VersionStatus {
    /// The status's name as written in JSON and shown by the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            VersionStatus::Candidate => "candidate",
            VersionStatus::Rejected => "rejected",
            VersionStatus::Champion => "champion",
            VersionStatus::Retired => "retired",
            VersionStatus::RolledBack => "rolled_back",
        }
    }
}

impl fmt::Display for VersionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The data a version was trained on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DataWindow {
    /// How many rows it was trained on.
    pub rows: u64,
    /// The first and last row's position in the data source (0-based, inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offsets: Option<[u64; 2]>,
    /// The first and last row's time, in seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<[f64; 2]>,
}

/// What the caller says about a version when saving it; kept as given.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VersionInfo {
    /// The version it was trained from (warm start), if any.
    pub parent: Option<VersionId>,
    /// `Candidate` (the default) or `Rejected`; the registry moves it on.
    pub status: VersionStatus,
    /// Its scores, e.g. `val_loss`, `accuracy` (finite numbers).
    pub metrics: BTreeMap<String, f64>,
    /// Whether a metric is better low or high, where the name does not say
    /// it (see [`Goal::for_metric`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub goals: BTreeMap<String, Goal>,
    /// The data it was trained on.
    pub data_window: DataWindow,
    /// How it was trained (layers, optimiser, learning rate, …), as the
    /// training pipeline writes its configuration.
    pub hyperparameters: Map<String, Value>,
    /// The deploy gate's test of this version against the champion of the time.
    pub significance: Option<Significance>,
    /// Anything else the pipeline keeps with the version (feature
    /// standardisation, the learning curve, …).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

impl Default for VersionInfo {
    fn default() -> Self {
        VersionInfo {
            parent: None,
            status: VersionStatus::Candidate,
            metrics: BTreeMap::new(),
            goals: BTreeMap::new(),
            data_window: DataWindow::default(),
            hyperparameters: Map::new(),
            significance: None,
            extra: Map::new(),
        }
    }
}

impl VersionInfo {
    /// Refuses what may not be saved: a status other than `Candidate` or
    /// `Rejected`, a non-finite metric or data time, an empty metric name.
    pub(super) fn validate(&self) -> Result<(), ModelsError> {
        if !matches!(
            self.status,
            VersionStatus::Candidate | VersionStatus::Rejected
        ) {
            return Err(ModelsError::invalid(
                "status of a new version",
                self.status,
                "candidate or rejected (the registry decides what serves)",
            ));
        }
        for (name, &value) in &self.metrics {
            if name.is_empty() {
                return Err(ModelsError::invalid(
                    "metric name",
                    "\"\"",
                    "a non-empty name",
                ));
            }
            finite(format!("metric {name}"), value)?;
        }
        if let Some([first, last]) = self.data_window.times {
            finite("data_window.times[0]", first)?;
            finite("data_window.times[1]", last)?;
        }
        Ok(())
    }
}

/// A version to save: its weights (the bytes of a safetensors file) and what
/// is known about it.
#[derive(Clone, Debug, PartialEq)]
pub struct NewVersion {
    /// The model's weights, a whole safetensors file.
    pub weights: Vec<u8>,
    /// Its metadata.
    pub info: VersionInfo,
}

impl NewVersion {
    /// A candidate with these weights and no metadata yet.
    pub fn new(weights: Vec<u8>) -> Self {
        NewVersion {
            weights,
            info: VersionInfo::default(),
        }
    }

    /// Adds a metric.
    pub fn metric(mut self, name: impl Into<String>, value: f64) -> Self {
        self.info.metrics.insert(name.into(), value);
        self
    }

    /// Sets the version it was trained from.
    pub fn parent(mut self, parent: VersionId) -> Self {
        self.info.parent = Some(parent);
        self
    }
}

/// The size and checksum of a version's weights file, recorded when it is
/// saved and checked whenever the weights are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeightsInfo {
    /// Its length in bytes.
    pub bytes: u64,
    /// Its CRC-32 (IEEE).
    pub crc32: u32,
}

/// Everything kept about a saved version (`versions/v<N>/meta.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VersionMeta {
    /// Its number.
    pub id: VersionId,
    /// When it was saved, in seconds since the Unix epoch.
    pub created: f64,
    /// What the caller said about it.
    #[serde(flatten)]
    pub info: VersionInfo,
    /// Its weights file's size and checksum.
    pub weights: WeightsInfo,
    /// The outcome of its latest finished post-deploy check, if any.
    pub post_deploy: Option<CheckOutcome>,
}

impl VersionMeta {
    /// Where the version stands.
    pub fn status(&self) -> VersionStatus {
        self.info.status
    }
}
