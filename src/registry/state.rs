//! `registry.json`: the engines a registry had and its last autoscale decisions.

use serde::{Deserialize, Serialize};
use std::path::Path;

use crate::Result;
use crate::cycle::Persistence;
use crate::decision::AutoscaleRecord;
use crate::engine::{EngineBuilder, Origin};
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
}

/// Reads `root/registry.json` (with the usual recovery rules).
pub fn load(root: &Path) -> Result<Option<RegistryFile>> {
    Ok(crate::persist::load_json(&root.join(REGISTRY_FILE))?)
}
