//! `registry.json`: the engines a registry had, its last autoscale decisions
//! and the adaptive autoscaler's baseline.
//!
//! Format version 2 added the baseline; a version-1 file reads with an empty
//! one (the baseline then fills up again over `window` rounds, as it did
//! after every restart before).

use serde::{Deserialize, Serialize};
use std::path::Path;

use crate::Result;
use crate::autoscale::Baseline;
use crate::cycle::Persistence;
use crate::decision::AutoscaleRecord;
use crate::engine::{EngineBuilder, Origin};
use crate::persist::{
    Decode, Inspected, PersistError, encode_json_version, inspect_with, json_version, load_with,
};
use crate::roi::RoiConfig;

pub use crate::persist::root::REGISTRY_FILE;

/// One engine as the registry knows it: an entry of `registry.json`, and
/// the base of its [`EngineReport`](super::EngineReport).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EngineEntry {
    /// The engine.
    pub name: String,
    /// Its bot.
    pub bot: String,
    /// Registration order.
    pub created: u64,
    /// Why it is marked failed, if it is.
    pub failed: Option<String>,
    /// Its settings, in brief.
    #[serde(default)]
    pub spec: EngineSettings,
}

impl EngineEntry {
    /// The entry of the engine `name` built by `builder`.
    pub fn of(name: &str, builder: &EngineBuilder, created: u64, failed: Option<String>) -> Self {
        EngineEntry {
            name: name.to_string(),
            bot: builder.bot_name().to_string(),
            created,
            failed,
            spec: EngineSettings::of(builder),
        }
    }
}

/// An engine's settings as `registry.json` records them, and where they
/// come from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EngineSettings {
    /// Where the engine comes from (a spec file, a template), when said.
    pub origin: Option<Origin>,
    /// `weights` or `dqn`.
    pub learner: String,
    /// Seconds after which a cycle is forced.
    pub interval_secs: f64,
    /// The energy threshold.
    pub energy_threshold: f64,
    /// The pipeline's timeout, in seconds.
    pub timeout_secs: f64,
    /// `per_cycle` or `write_behind`.
    pub persistence: String,
    /// The ROI tracker's settings (`kaizen status` reads the saved state
    /// with them); absent in files from before they were recorded, which
    /// then read with the defaults.
    pub roi: Option<RoiConfig>,
}

impl EngineSettings {
    /// The settings of `builder`.
    pub fn of(builder: &EngineBuilder) -> Self {
        let c = builder.config();
        EngineSettings {
            origin: builder.origin_of().cloned(),
            learner: c.learner.kind().to_string(),
            interval_secs: c.interval.as_secs_f64(),
            energy_threshold: c.energy_threshold,
            timeout_secs: c.timeout.as_secs_f64(),
            persistence: match c.persistence {
                Persistence::PerCycle(_) => "per_cycle",
                Persistence::WriteBehind { .. } => "write_behind",
            }
            .to_string(),
            roi: Some(c.roi),
        }
    }
}

/// The content of `registry.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RegistryFile {
    /// The engines, by name.
    pub engines: Vec<EngineEntry>,
    /// When autoscale last created or removed an engine.
    pub last_change: Option<f64>,
    /// The last autoscale decisions, oldest first.
    pub autoscale: Vec<AutoscaleRecord>,
    /// The adaptive autoscaler's rounds and lag count, so a restarted
    /// registry decides as the one before it would have (version 2).
    pub baseline: Baseline,
}

/// The format version of `registry.json` this build writes (2: the baseline).
pub const REGISTRY_FORMAT_VERSION: u64 = 2;

impl RegistryFile {
    /// Decodes `registry.json` of version 1 or 2 (version 2 only added
    /// fields with defaults).
    pub fn decode(bytes: &[u8]) -> std::result::Result<RegistryFile, Decode> {
        json_version(bytes, REGISTRY_FORMAT_VERSION)?;
        serde_json::from_slice(bytes).map_err(|e| Decode::Corrupt(e.to_string()))
    }

    /// Encodes the file for `path`, at [`REGISTRY_FORMAT_VERSION`].
    pub fn encode(&self, path: &Path) -> std::result::Result<Vec<u8>, PersistError> {
        encode_json_version(path, self, REGISTRY_FORMAT_VERSION)
    }
}

/// Reads `root/registry.json` (with the usual recovery rules).
pub fn load(root: &Path) -> Result<Option<RegistryFile>> {
    Ok(load_with(&root.join(REGISTRY_FILE), RegistryFile::decode)?)
}

/// Looks at `root/registry.json` without changing anything (for readers
/// such as `kaizen status`).
pub fn inspect(root: &Path) -> Inspected<RegistryFile> {
    inspect_with(&root.join(REGISTRY_FILE), RegistryFile::decode)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autoscale::{AutoscaleConfig, AutoscaleInputs, AutoscaleMode};

    #[test]
    fn version_1_reads_with_an_empty_baseline_and_version_2_round_trips() {
        let v1 = br#"{"version":1,"engines":[],"last_change":5.0,"autoscale":[]}"#;
        let file = RegistryFile::decode(v1).unwrap();
        assert_eq!(file.last_change, Some(5.0));
        assert!(file.baseline.rounds().is_empty());

        let mut baseline = Baseline::new();
        let config = AutoscaleConfig {
            mode: AutoscaleMode::Adaptive,
            ..AutoscaleConfig::default()
        };
        let inputs = AutoscaleInputs {
            energy: 0.4,
            trend: -0.1,
            cpu: 0.1,
            memory: 0.1,
            now: 10.0,
            last_change: None,
            engines: Vec::new(),
            taken: Vec::new(),
        };
        baseline
            .step(&inputs, 0.5, &config, &|| true, None)
            .unwrap();
        let file = RegistryFile {
            baseline,
            ..RegistryFile::default()
        };
        let bytes = file.encode(Path::new("registry.json")).unwrap();
        assert!(bytes.starts_with(b"{\"version\":2,"));
        assert_eq!(RegistryFile::decode(&bytes).unwrap(), file);

        let v3 = br#"{"version":3,"engines":[]}"#;
        assert!(matches!(RegistryFile::decode(v3), Err(Decode::Newer(3))));
    }
}
