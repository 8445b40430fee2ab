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
