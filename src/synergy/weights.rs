//! The learned synergy weights ([`SynergyWeights`]: one per key, each in
//! `[0, 10]`, starting at 1.0) and their file, `synergy.json` (SPEC §5).
//!
//! `synergy.json` is flat, one number per key of the learner's set:
//! `{"version":1,"roi":1.1,"efficiency":1.0,"resilience":1.0,"antifragility":1.0}`.
//! Loading ([`load_weights`]): a missing file gives the defaults (1.0). A file
//! with a missing or non-numeric key, a weight outside `[0, 10]`, or that does
//! not parse is moved aside with a warning naming it, and its `.bak` copy is
//! used when that one is good (the persistence rule, which wins over SPEC's
//! plain "defaults"); otherwise **all** weights are the defaults. Keys of a
//! larger set in the file are ignored, so a core learner reads an extended file.
//!

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

use super::key::{SynergyKey, SynergyKeys};
use super::vector::{MAX_KEYS, key_what, keyed_vector};
use crate::error::ensure_finite;
use crate::persist::{self, Decode, PendingFile};
use crate::{Error, Result};

/// The weights file in an engine's state folder.
pub const WEIGHTS_FILE: &str = "synergy.json";

/// The lowest a weight may be.
pub const WEIGHT_MIN: f64 = 0.0;
/// The highest a weight may be.
pub const WEIGHT_MAX: f64 = 10.0;
/// The weight every key starts with.
pub const WEIGHT_START: f64 = 1.0;

/// One weight per synergy key, each in `[0, 10]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SynergyWeights {
    pub(super) keys: SynergyKeys,
    pub(super) values: [f64; MAX_KEYS],
}

keyed_vector!(SynergyWeights, "weight");

impl SynergyWeights {
    /// Every weight of `keys` at its start value 1.0.
    pub fn new(keys: SynergyKeys) -> Self {
        let mut values = [0.0; MAX_KEYS];
        values[..keys.keys().len()].fill(WEIGHT_START);
        Self { keys, values }
    }

    /// Weights from `values`, one per key of `keys` in key order.
    /// Refuses a wrong count, a non-finite value and a value outside `[0, 10]`.
    pub fn from_values(keys: SynergyKeys, values: &[f64]) -> Result<Self> {
        Self::filled(keys, values)
    }

    /// Sets the weight of `key`. Refuses a key outside the set, a non-finite
    /// value and a value outside `[0, 10]`; nothing changes then.
    pub fn set(&mut self, key: SynergyKey, value: f64) -> Result<()> {
        self.check_key(key)?;
        let value = ensure_finite(key_what("synergy weight", key), value)?;
        if !(WEIGHT_MIN..=WEIGHT_MAX).contains(&value) {
            return Err(Error::invalid(
                key_what("synergy weight", key),
                value,
                "a weight in [0, 10]",
            ));
        }
        self.values[key.index()] = value;
        Ok(())
    }

    /// Sets the weight at vector position `i` to `value` clamped to `[0, 10]`.
    /// For learners; `value` must not be NaN (±∞ clamps to a bound).
    pub(crate) fn set_clamped(&mut self, i: usize, value: f64) {
        self.values[i] = value.clamp(WEIGHT_MIN, WEIGHT_MAX);
    }
}

impl Default for SynergyWeights {
    /// The core weights, all 1.0.
    fn default() -> Self {
        Self::new(SynergyKeys::Core)
    }
}

/// Written flat, one entry per key: `{"roi":1.0,"efficiency":1.0,…}`.
impl Serialize for SynergyWeights {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.as_slice().len()))?;
        for (key, value) in self.iter() {
            map.serialize_entry(key.name(), &value)?;
        }
        map.end()
    }
}

/// `weights` encoded as `dir/synergy.json`.
pub fn weights_file(dir: &Path, weights: &SynergyWeights) -> Result<PendingFile> {
    Ok(PendingFile::json(dir.join(WEIGHTS_FILE), weights)?)
}

/// Reads `dir/synergy.json` for the key set `keys`; the defaults when the file
/// (and its backup) is missing or unusable. A newer file is an error.
pub fn load_weights(dir: &Path, keys: SynergyKeys) -> Result<SynergyWeights> {
    let loaded = persist::load_with(&dir.join(WEIGHTS_FILE), |bytes| decode_weights(bytes, keys))?;
    Ok(loaded.unwrap_or_else(|| SynergyWeights::new(keys)))
}

/// Reads `dir/synergy.json` (or its backup) without changing anything,
/// whichever key set it holds (all seven keys ⇒ extended, else core).
pub fn inspect_weights(dir: &Path) -> persist::Inspected<SynergyWeights> {
    persist::inspect_with(&dir.join(WEIGHTS_FILE), |bytes| {
        let map: BTreeMap<String, Value> = persist::decode_json(bytes)?;
        let keys = if SynergyKeys::Extended
            .keys()
            .iter()
            .all(|k| map.contains_key(k.name()))
        {
            SynergyKeys::Extended
        } else {
            SynergyKeys::Core
        };
        weights_from(&map, keys)
    })
}

fn decode_weights(bytes: &[u8], keys: SynergyKeys) -> Result<SynergyWeights, Decode> {
    weights_from(&persist::decode_json(bytes)?, keys)
}

/// The weights of `keys` in a decoded `synergy.json`.
fn weights_from(
    map: &BTreeMap<String, Value>,
    keys: SynergyKeys,
) -> Result<SynergyWeights, Decode> {
    let mut weights = SynergyWeights::new(keys);
    for &key in keys.keys() {
        let value = map
            .get(key.name())
            .ok_or_else(|| Decode::Corrupt(format!("weight \"{key}\" is missing")))?;
        let number = value
            .as_f64()
            .ok_or_else(|| Decode::Corrupt(format!("weight \"{key}\" is not a number: {value}")))?;
        weights
            .set(key, number)
            .map_err(|e| Decode::Corrupt(e.to_string()))?;
    }
    Ok(weights)
}
