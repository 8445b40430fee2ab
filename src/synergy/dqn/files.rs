//! The DQN learner's files and how they are read back.
//!
//! - `synergy.json`: the reported weights, as for the weight learner.
//! - `synergy-dqn.safetensors`: the online and target networks and the AdamW
//!   moments (`online.l1.weight`, …, `target.*`, `adam_m.*`, `adam_v.*`, all
//!   `f32`), with metadata `version`, `updates` (update calls so far) and
//!   `steps` (optimiser steps so far). The header is written with sorted keys,
//!   so the same learner always gives the same bytes.
//! - `synergy-dqn.json`: `{"version":1,"keys":"core","updates":…,"steps":…,
//!   "rng":…,"replay":{"states":[…],"actions":[…],"rewards":[…]}}`, the replay
//!   oldest first.
//!
//! They are written in that order (networks, then state, then weights), each
//! atomically, each keeping its previous copy as `.bak`.

use candle_core::{Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use super::net::{Mlp, flat_from, segments, tensors_of};
use super::replay::{Replay, ReplayFile};
use super::{DQNSynergyLearner, DqnConfig};
use crate::Result;
use crate::persist::{self, Decode, FORMAT_VERSION, PendingFile, PersistError, backup_path};
use crate::synergy::key::SynergyKeys;
use crate::synergy::weights::{load_weights, weights_file};

/// The networks and optimiser moments file.
pub const DQN_NETS_FILE: &str = "synergy-dqn.safetensors";
/// The replay, counters and RNG file.
pub const DQN_STATE_FILE: &str = "synergy-dqn.json";

/// The four flat vectors stored in the safetensors file, by tensor prefix.
const PREFIXES: [&str; 4] = ["online", "target", "adam_m", "adam_v"];

/// When a learner's state was saved: its counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Moment {
    updates: u64,
    steps: u64,
}

/// What the safetensors file holds, in [`PREFIXES`] order.
pub(super) struct Nets {
    moment: Moment,
    flats: [Vec<f32>; 4],
}

/// What the JSON state file holds, decoded and checked.
pub(super) struct State {
    moment: Moment,
    rng: ChaCha8Rng,
    replay: Replay,
}

#[derive(Serialize, Deserialize)]
struct StateFile {
    keys: SynergyKeys,
    updates: u64,
    steps: u64,
    rng: ChaCha8Rng,
    replay: ReplayFile,
}

/// The safetensors header, re-encoded with sorted keys.
#[derive(Serialize, Deserialize)]
struct Header {
    #[serde(rename = "__metadata__")]
    metadata: BTreeMap<String, String>,
    #[serde(flatten)]
    tensors: BTreeMap<String, serde_json::Value>,
}

impl DQNSynergyLearner {
    fn moment(&self) -> Moment {
        Moment {
            updates: self.updates,
            steps: self.adam.steps,
        }
    }

    /// A learner from the files in `dir`, or a fresh one (seeded from
    /// `config.seed`) where there are none. Weights come from `synergy.json`
    /// (1.0 when missing). A file from a newer kaizen is an error; damaged
    /// files are moved aside with a warning and their `.bak` copies are tried
    /// (the persistence rules).
    ///
    /// The two DQN files belong together only when their counters (`updates`,
    /// `steps`) agree; they are never combined otherwise:
    /// - They agree: training resumes exactly where it stopped.
    /// - They disagree (a crash between the two writes leaves one file a save
    ///   ahead): the `.bak` of one file is tried as the partner of the other,
    ///   preferring the newer pair; the pair found is used, with a warning.
    /// - No pair agrees, or the state file is missing: the networks and the
    ///   optimiser are kept (what was learned), the replay starts empty and
    ///   the RNG is reseeded from `config.seed + updates`; warning.
    /// - No usable networks file: a fresh learner (the state file is ignored);
    ///   warning if there was one.
    pub fn load(dir: &Path, config: DqnConfig) -> Result<Self> {
        let mut learner = Self::new(config)?;
        learner.weights = load_weights(dir, learner.config.keys)?;
        let config = &learner.config;
        let d = config.d();
        let nets_path = dir.join(DQN_NETS_FILE);
        let state_path = dir.join(DQN_STATE_FILE);
        let nets_of = |bytes: &[u8]| decode_nets(bytes, d);
        let state_of = |bytes: &[u8]| decode_state(bytes, config);
        let nets = persist::load_with(&nets_path, nets_of)?;
        let state = persist::load_with(&state_path, state_of)?;
        let Some(nets) = nets else {
            if state.is_some() {
                tracing::warn!(
                    file = %state_path.display(),
                    "no usable {DQN_NETS_FILE}; the synergy DQN starts fresh and ignores its state file"
                );
            }
            return Ok(learner);
        };
        let (nets, state) = if state.as_ref().is_some_and(|s| s.moment == nets.moment) {
            (nets, state)
        } else {
            let older_nets = match &state {
                Some(s) => persist::load_with(&backup_path(&nets_path), nets_of)?
                    .filter(|n| n.moment == s.moment),
                None => None,
            };
            let older_state = persist::load_with(&backup_path(&state_path), state_of)?
                .filter(|s| s.moment == nets.moment);
            pick_pair(nets, state, older_nets, older_state, dir)
        };
        let [online, target, m, v] = nets.flats;
        learner.online = Mlp::from_params(d, online)?;
        learner.target = Mlp::from_params(d, target)?;
        learner.adam.m = m;
        learner.adam.v = v;
        learner.adam.steps = nets.moment.steps;
        learner.updates = nets.moment.updates;
        match state {
            Some(state) => {
                learner.rng = state.rng;
                learner.replay = state.replay;
            }
            None => {
                learner.rng =
                    ChaCha8Rng::seed_from_u64(learner.config.seed.wrapping_add(learner.updates));
            }
        }
        Ok(learner)
    }
}

/// Chooses among the pairs that agree when the main files do not (see
/// [`DQNSynergyLearner::load`]).
fn pick_pair(
    nets: Nets,
    state: Option<State>,
    older_nets: Option<Nets>,
    older_state: Option<State>,
    dir: &Path,
) -> (Nets, Option<State>) {
    let with_older_nets = older_nets.zip(state);
    let use_older_nets = match (&with_older_nets, &older_state) {
        (Some((n, _)), Some(_)) => n.moment.updates > nets.moment.updates,
        (Some(_), None) => true,
        (None, _) => false,
    };
    match (with_older_nets, older_state) {
        (Some((older, state)), _) if use_older_nets => {
            tracing::warn!(
                dir = %dir.display(),
                updates = older.moment.updates,
                newer_updates = nets.moment.updates,
                "{DQN_NETS_FILE} is ahead of {DQN_STATE_FILE}; using its backup copy, which matches"
            );
            (older, Some(state))
        }
        (_, Some(older)) => {
            tracing::warn!(
                dir = %dir.display(),
                updates = nets.moment.updates,
                "{DQN_STATE_FILE} does not match {DQN_NETS_FILE}; using its backup copy, which does"
            );
            (nets, Some(older))
        }
        _ => {
            tracing::warn!(
                dir = %dir.display(),
                updates = nets.moment.updates,
                "{DQN_STATE_FILE} is missing or does not match {DQN_NETS_FILE}; keeping the networks, starting an empty replay"
            );
            (nets, None)
        }
    }
}

/// The three files of `learner` for `dir`, in the order they are written.
pub(super) fn state_files(learner: &DQNSynergyLearner, dir: &Path) -> Result<Vec<PendingFile>> {
    Ok(vec![
        nets_file(learner, dir)?,
        state_file(learner, dir)?,
        weights_file(dir, &learner.weights)?,
    ])
}

/// `synergy-dqn.safetensors`, encoded.
pub(super) fn nets_file(learner: &DQNSynergyLearner, dir: &Path) -> Result<PendingFile> {
    let path = dir.join(DQN_NETS_FILE);
    let d = learner.d();
    let flats: [&[f32]; 4] = [
        learner.online.params(),
        learner.target.params(),
        &learner.adam.m,
        &learner.adam.v,
    ];
    let mut tensors: Vec<(String, Tensor)> = Vec::with_capacity(4 * 6);
    for (prefix, flat) in PREFIXES.into_iter().zip(flats) {
        let names = segments(d).map(|seg| format!("{prefix}.{}", seg.name));
        tensors.extend(names.into_iter().zip(tensors_of(d, flat)?));
    }
    let moment = learner.moment();
    let metadata = HashMap::from([
        ("version".to_string(), FORMAT_VERSION.to_string()),
        ("updates".to_string(), moment.updates.to_string()),
        ("steps".to_string(), moment.steps.to_string()),
    ]);
    let encode_err = |reason: String| PersistError::Encode {
        path: path.clone(),
        reason,
    };
    let bytes = safetensors::serialize(tensors, Some(metadata))
        .map_err(|e| e.to_string())
        .and_then(sorted_header)
        .map_err(encode_err)?;
    Ok(PendingFile { path, bytes })
}

/// `synergy-dqn.json`, encoded.
pub(super) fn state_file(learner: &DQNSynergyLearner, dir: &Path) -> Result<PendingFile> {
    let moment = learner.moment();
    let file = StateFile {
        keys: learner.config.keys,
        updates: moment.updates,
        steps: moment.steps,
        rng: learner.rng.clone(),
        replay: learner.replay.to_file(),
    };
    Ok(PendingFile::json(dir.join(DQN_STATE_FILE), &file)?)
}

/// The safetensors `bytes` with their JSON header re-encoded with sorted keys
/// (`safetensors` writes the metadata in `HashMap` order).
fn sorted_header(bytes: Vec<u8>) -> std::result::Result<Vec<u8>, String> {
    let (len, rest) = bytes.split_first_chunk::<8>().ok_or("no header length")?;
    let len = usize::try_from(u64::from_le_bytes(*len)).map_err(|e| e.to_string())?;
    let (header, data) = rest
        .split_at_checked(len)
        .ok_or("header length out of range")?;
    let header: Header = serde_json::from_slice(header).map_err(|e| e.to_string())?;
    let mut json = serde_json::to_vec(&header).map_err(|e| e.to_string())?;
    // safetensors pads its header with spaces to a multiple of 8 bytes.
    json.resize(json.len().next_multiple_of(8), b' ');
    let mut out = Vec::with_capacity(8 + json.len() + data.len());
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(data);
    Ok(out)
}

fn decode_nets(bytes: &[u8], d: usize) -> std::result::Result<Nets, Decode> {
    let corrupt = |e: String| Decode::Corrupt(e);
    let (_, header) =
        safetensors::SafeTensors::read_metadata(bytes).map_err(|e| corrupt(e.to_string()))?;
    let metadata = header
        .metadata()
        .as_ref()
        .ok_or_else(|| corrupt("no metadata".into()))?;
    let number = |name: &str| -> std::result::Result<u64, Decode> {
        let text = metadata
            .get(name)
            .ok_or_else(|| corrupt(format!("no \"{name}\" in the metadata")))?;
        text.parse().map_err(|_| {
            corrupt(format!(
                "metadata \"{name}\" is not a whole number: {text:?}"
            ))
        })
    };
    match number("version")? {
        v if v > FORMAT_VERSION => return Err(Decode::Newer(v)),
        0 => return Err(corrupt("unknown version 0".into())),
        _ => {}
    }
    let moment = Moment {
        updates: number("updates")?,
        steps: number("steps")?,
    };
    let tensors = candle_core::safetensors::load_buffer(bytes, &Device::Cpu)
        .map_err(|e| corrupt(e.to_string()))?;
    let mut flats = [const { Vec::new() }; 4];
    for (flat, prefix) in flats.iter_mut().zip(PREFIXES) {
        *flat = flat_from(&tensors, prefix, d).map_err(corrupt)?;
    }
    if flats[3].iter().any(|&v| v < 0.0) {
        return Err(corrupt("a second moment (adam_v) is negative".into()));
    }
    Ok(Nets { moment, flats })
}

fn decode_state(bytes: &[u8], config: &DqnConfig) -> std::result::Result<State, Decode> {
    let file: StateFile = persist::decode_json(bytes)?;
    if file.keys != config.keys {
        return Err(Decode::Corrupt(format!(
            "written for the {} keys, the learner uses the {} keys",
            file.keys, config.keys
        )));
    }
    let replay = Replay::from_file(&file.replay, config.d(), config.replay_capacity)
        .map_err(Decode::Corrupt)?;
    Ok(State {
        moment: Moment {
            updates: file.updates,
            steps: file.steps,
        },
        rng: file.rng,
        replay,
    })
}
