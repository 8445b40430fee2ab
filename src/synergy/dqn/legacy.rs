//! Reading the format-1 files (kaizen round 1), to migrate them.
//!
//! - `synergy-dqn.safetensors`: the online and target networks and the AdamW
//!   moments (`online.l1.weight`, …, `target.*`, `adam_m.*`, `adam_v.*`, all
//!   `f32`, weights in candle's `[out, in]` shape), with metadata `version`
//!   (1), `updates` and `steps`.
//! - `synergy-dqn.json`: `{"version":1,"keys":…,"updates":…,"steps":…,
//!   "rng":…,"replay":{"states":[…],"actions":[…],"rewards":[…]}}`.
//!
//! The two belong together only when their counters agree; a crash between
//! their writes left one of them a save ahead, and then the `.bak` of one is
//! tried as the partner of the other. They are read only when there is no
//! format-2 checkpoint; the first save after that writes the format-2 files
//! (the format-1 files are left as they are, and no longer read).

use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use std::path::Path;

use super::DqnConfig;
use super::mlp::MlpDims;
use super::replay::{Replay, ReplayFile};
use crate::Result;
use crate::persist::{self, Decode, FORMAT_VERSION, backup_path};
use crate::synergy::key::SynergyKeys;

/// The networks and optimiser moments file of format 1.
pub const DQN_NETS_FILE: &str = "synergy-dqn.safetensors";
/// The replay, counters and RNG file of format 1.
pub const DQN_STATE_FILE: &str = "synergy-dqn.json";

/// The four flat vectors stored in the safetensors file, by tensor prefix.
const PREFIXES: [&str; 4] = ["online", "target", "adam_m", "adam_v"];

/// When a learner's state was saved: its counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Moment {
    pub updates: u64,
    pub steps: u64,
}

/// What the safetensors file holds (in the kernel layout), in [`PREFIXES`] order.
pub(super) struct Nets {
    pub moment: Moment,
    pub flats: [Vec<f32>; 4],
}

/// What the JSON state file holds, decoded and checked.
pub(super) struct State {
    moment: Moment,
    pub rng: ChaCha8Rng,
    pub replay: Replay,
}

#[derive(Deserialize)]
struct StateFile {
    keys: SynergyKeys,
    updates: u64,
    steps: u64,
    rng: ChaCha8Rng,
    replay: ReplayFile,
}

/// The format-1 state in `dir`: the networks, and the replay and RNG when a
/// state file matches them (see the module docs); `None` without usable
/// networks (with a warning if there was a state file).
pub(super) fn load(dir: &Path, config: &DqnConfig) -> Result<Option<(Nets, Option<State>)>> {
    let dims = config.dims();
    let nets_path = dir.join(DQN_NETS_FILE);
    let state_path = dir.join(DQN_STATE_FILE);
    let nets_of = |bytes: &[u8]| decode_nets(bytes, dims);
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
        return Ok(None);
    };
    if state.as_ref().is_some_and(|s| s.moment == nets.moment) {
        return Ok(Some((nets, state)));
    }
    let older_nets = match &state {
        Some(s) => {
            persist::load_with(&backup_path(&nets_path), nets_of)?.filter(|n| n.moment == s.moment)
        }
        None => None,
    };
    let older_state = persist::load_with(&backup_path(&state_path), state_of)?
        .filter(|s| s.moment == nets.moment);
    Ok(Some(pick_pair(nets, state, older_nets, older_state, dir)))
}

/// Chooses among the pairs that agree when the main files do not.
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

fn decode_nets(bytes: &[u8], dims: MlpDims) -> std::result::Result<Nets, Decode> {
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
    let tensors =
        safetensors::SafeTensors::deserialize(bytes).map_err(|e| corrupt(e.to_string()))?;
    let mut flats = [const { Vec::new() }; 4];
    for (flat, prefix) in flats.iter_mut().zip(PREFIXES) {
        *flat = flat_from(&tensors, prefix, dims).map_err(corrupt)?;
    }
    if flats[3].iter().any(|&v| v < 0.0) {
        return Err(corrupt("a second moment (adam_v) is negative".into()));
    }
    Ok(Nets { moment, flats })
}

/// The flat vector (kernel layout) stored as tensors `<prefix>.l1.weight`,
/// … (candle's layout); `Err` names what is missing, misshapen or not finite.
fn flat_from(
    tensors: &safetensors::SafeTensors<'_>,
    prefix: &str,
    dims: MlpDims,
) -> std::result::Result<Vec<f32>, String> {
    let mut flat = Vec::with_capacity(dims.param_count());
    for seg in dims.segments() {
        let name = format!("{prefix}.{}", seg.name);
        let t = tensors
            .tensor(&name)
            .map_err(|_| format!("tensor {name} is missing"))?;
        let shape: &[usize] = if seg.is_weight {
            &[seg.fan_out, seg.fan_in]
        } else {
            &[seg.fan_out]
        };
        if t.dtype() != safetensors::Dtype::F32 || t.shape() != shape {
            return Err(format!(
                "tensor {name} is {:?} {:?}, expected F32 {shape:?}",
                t.dtype(),
                t.shape()
            ));
        }
        let values: Vec<f32> = t
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
            return Err(format!("tensor {name} holds {bad}"));
        }
        if seg.is_weight {
            // [out][in] → [in][out].
            let (rows, cols) = (seg.fan_out, seg.fan_in);
            flat.extend(
                (0..cols)
                    .flat_map(|c| (0..rows).map(move |r| (r, c)))
                    .map(|(r, c)| values[r * cols + c]),
            );
        } else {
            flat.extend(values);
        }
    }
    Ok(flat)
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
