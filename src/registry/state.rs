//! `registry.json`: the engines a registry had and its last autoscale decisions.

use serde::{Deserialize, Serialize};
use std::path::Path;

use crate::Result;
use crate::decision::AutoscaleRecord;

/// The registry's file in the state root.
pub const REGISTRY_FILE: &str = "registry.json";

/// One engine in `registry.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EngineEntryFile {
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
    pub spec: EngineSpecSummary,
}

/// An engine's settings as `registry.json` records them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EngineSpecSummary {
    /// Where the engine comes from (a spec file, a template), when said.
    pub origin: Option<String>,
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
}

impl EngineSpecSummary {
    /// The summary of `builder`'s settings.
    pub fn of(builder: &crate::engine::EngineBuilder) -> Self {
        let c = builder.config();
        EngineSpecSummary {
            origin: builder.origin_text().map(str::to_string),
            learner: c.learner.kind().to_string(),
            interval_secs: c.interval.as_secs_f64(),
            energy_threshold: c.energy_threshold,
            timeout_secs: c.timeout.as_secs_f64(),
            persistence: match c.persistence {
                crate::engine::Persistence::PerCycle(_) => "per_cycle",
                crate::engine::Persistence::WriteBehind { .. } => "write_behind",
            }
            .to_string(),
        }
    }
}

/// The content of `registry.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RegistryFile {
    /// The engines, by name.
    pub engines: Vec<EngineEntryFile>,
    /// When autoscale last created or removed an engine.
    pub last_change: Option<f64>,
    /// The last autoscale decisions, oldest first.
    pub autoscale: Vec<AutoscaleRecord>,
}

/// Reads `root/registry.json` (with the usual recovery rules).
pub fn load(root: &Path) -> Result<Option<RegistryFile>> {
    Ok(crate::persist::load_json(&root.join(REGISTRY_FILE))?)
}
