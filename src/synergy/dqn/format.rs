//! The DQN learner's binary files (format version 2): a checkpoint of the
//! whole learner, and a journal of the updates made since a checkpoint.
//!
//! Both are little-endian and end with a CRC-32 (IEEE) of every byte before
//! it, so a torn or damaged file is detected and moved aside instead of
//! being trusted. (`crc32fast` picks a CPU-specific routine at run time; a
//! CRC is exact integer arithmetic, so every machine computes the same
//! value and writes the same bytes.)
//!
//! **Checkpoint** (`synergy-dqn.ckpt`):
//!
//! | bytes | field |
//! |---|---|
//! | 8 | magic `kzdqn-ck` |
//! | 4 | format version, 2 |
//! | 4 × 3 | network sizes: inputs, hidden, outputs |
//! | 8, 8 | `updates` (update calls so far), `steps` (optimiser steps so far) |
//! | 32, 8, 16 | the RNG: ChaCha8 seed, stream, word position |
//! | 4 × 4n | online net, target net, AdamW m, AdamW v (`n` = parameter count, the kernel layout of `mlp.rs`) |
//! | 4 | transitions in the replay, `len` |
//! | 4·d·len, len, 4·len | the replay, oldest first: states, actions, rewards |
//! | 4 | CRC-32 |
//!
//! **Journal** (`synergy-dqn.journal`): the updates made after the checkpoint
//! it names, each as its `d` state values and `d` rewards (`f32`), enough to
//! replay them exactly:
//!
//! | bytes | field |
//! |---|---|
//! | 8 | magic `kzdqn-jl` |
//! | 4 | format version, 2 |
//! | 4 × 3 | network sizes |
//! | 8, 4 | the checkpoint it follows: its `updates` and its CRC-32 |
//! | 4 | entries, `count` |
//! | 8·d·count | per update: `d` state values, then `d` rewards |
//! | 4 | CRC-32 |

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::mlp::MlpDims;
use super::replay::Replay;
use crate::persist::Decode;

/// The version this build writes into the DQN's binary files.
pub(super) const DQN_FORMAT_VERSION: u32 = 2;

const CHECKPOINT_MAGIC: &[u8; 8] = b"kzdqn-ck";
const JOURNAL_MAGIC: &[u8; 8] = b"kzdqn-jl";

/// Bytes of a journal's fixed part (header and CRC).
const JOURNAL_FIXED: usize = 8 + 4 + 12 + 8 + 4 + 4 + 4;

/// A checkpoint's identity, as a journal names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct CheckpointId {
    /// The checkpoint's `updates`.
    pub updates: u64,
    /// The checkpoint's CRC-32.
    pub crc: u32,
}

/// Everything a checkpoint holds, decoded and checked.
#[derive(Clone, Debug)]
pub(super) struct Checkpoint {
    pub id: CheckpointId,
    pub steps: u64,
    pub rng: ChaCha8Rng,
    /// Online, target, AdamW m, AdamW v.
    pub flats: [Vec<f32>; 4],
    pub replay: Replay,
}

/// The parts of a learner a checkpoint is encoded from.
pub(super) struct CheckpointRef<'a> {
    pub dims: MlpDims,
    pub updates: u64,
    pub steps: u64,
    pub rng: &'a ChaCha8Rng,
    pub flats: [&'a [f32]; 4],
    pub replay: &'a Replay,
}

/// A decoded journal: the checkpoint it follows and its updates.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Journal {
    pub base: CheckpointId,
    /// `count` entries of `2·d` values: the state, then the rewards.
    pub entries: Vec<f32>,
}

/// Bytes of an encoded checkpoint.
pub(super) fn checkpoint_len(dims: MlpDims, replay_len: usize) -> usize {
    let d = dims.inputs;
    8 + 4 + 12 + 16 + 56 + 16 * dims.param_count() + 4 + replay_len * (4 * d + 5) + 4
}

/// Bytes of an encoded journal of `count` updates.
pub(super) fn journal_len(d: usize, count: u64) -> u64 {
    JOURNAL_FIXED as u64 + count * 8 * d as u64
}

/// The checkpoint's bytes and its identity.
pub(super) fn encode_checkpoint(c: &CheckpointRef<'_>) -> (Vec<u8>, CheckpointId) {
    let mut out = Vec::with_capacity(checkpoint_len(c.dims, c.replay.len()));
    header(&mut out, CHECKPOINT_MAGIC, c.dims);
    out.extend_from_slice(&c.updates.to_le_bytes());
    out.extend_from_slice(&c.steps.to_le_bytes());
    out.extend_from_slice(&c.rng.get_seed());
    out.extend_from_slice(&c.rng.get_stream().to_le_bytes());
    out.extend_from_slice(&c.rng.get_word_pos().to_le_bytes());
    for flat in c.flats {
        put_f32s(&mut out, flat);
    }
    let n = c.replay.len();
    out.extend_from_slice(&(n as u32).to_le_bytes());
    for i in 0..n {
        put_f32s(&mut out, c.replay.get(i).0);
    }
    out.extend((0..n).map(|i| c.replay.get(i).1));
    for i in 0..n {
        out.extend_from_slice(&c.replay.get(i).2.to_le_bytes());
    }
    let crc = seal(&mut out);
    let id = CheckpointId {
        updates: c.updates,
        crc,
    };
    (out, id)
}

/// A journal of the updates after `base`: `entries` holds `2·d` values per
/// update (the state, then the rewards).
pub(super) fn encode_journal(dims: MlpDims, base: CheckpointId, entries: &[f32]) -> Vec<u8> {
    let count = entries.len() / (2 * dims.inputs);
    let mut out = Vec::with_capacity(journal_len(dims.inputs, count as u64) as usize);
    header(&mut out, JOURNAL_MAGIC, dims);
    out.extend_from_slice(&base.updates.to_le_bytes());
    out.extend_from_slice(&base.crc.to_le_bytes());
    out.extend_from_slice(&(count as u32).to_le_bytes());
    put_f32s(&mut out, entries);
    seal(&mut out);
    out
}

/// Decodes a checkpoint for a network of `dims` keeping at most `capacity`
/// replay transitions (the newest).
pub(super) fn decode_checkpoint(
    bytes: &[u8],
    dims: MlpDims,
    capacity: usize,
) -> Result<Checkpoint, Decode> {
    let (mut r, crc) = open(bytes, CHECKPOINT_MAGIC, dims)?;
    let updates = r.u64()?;
    let steps = r.u64()?;
    let seed: [u8; 32] = r.array()?;
    let stream = r.u64()?;
    let word_pos = u128::from_le_bytes(r.array()?);
    let mut rng = ChaCha8Rng::from_seed(seed);
    rng.set_stream(stream);
    rng.set_word_pos(word_pos);
    let n = dims.param_count();
    let flats = [r.f32s(n)?, r.f32s(n)?, r.f32s(n)?, r.f32s(n)?];
    if let Some(bad) = flats.iter().flatten().find(|v| !v.is_finite()) {
        return Err(corrupt(format!("a network or moment value is {bad}")));
    }
    if flats[3].iter().any(|&v| v < 0.0) {
        return Err(corrupt("a second moment (AdamW v) is negative"));
    }
    if steps > updates {
        return Err(corrupt(format!(
            "{steps} optimiser steps but only {updates} updates"
        )));
    }
    let len = r.u32()? as usize;
    let d = dims.inputs;
    let states = r.f32s(
        len.checked_mul(d)
            .ok_or_else(|| corrupt("replay too long"))?,
    )?;
    let actions = r.take(len)?.to_vec();
    let rewards = r.f32s(len)?;
    r.end()?;
    let replay = Replay::from_columns(&states, &actions, &rewards, d, capacity).map_err(corrupt)?;
    Ok(Checkpoint {
        id: CheckpointId { updates, crc },
        steps,
        rng,
        flats,
        replay,
    })
}

/// Decodes a journal for a network of `dims`.
pub(super) fn decode_journal(bytes: &[u8], dims: MlpDims) -> Result<Journal, Decode> {
    let (mut r, _) = open(bytes, JOURNAL_MAGIC, dims)?;
    let base = CheckpointId {
        updates: r.u64()?,
        crc: r.u32()?,
    };
    let count = r.u32()? as usize;
    let width = 2 * dims.inputs;
    let entries = r.f32s(
        count
            .checked_mul(width)
            .ok_or_else(|| corrupt("too many entries"))?,
    )?;
    r.end()?;
    if let Some(bad) = entries.iter().find(|v| !v.is_finite()) {
        return Err(corrupt(format!("an entry holds {bad}")));
    }
    Ok(Journal { base, entries })
}

fn corrupt(why: impl Into<String>) -> Decode {
    Decode::Corrupt(why.into())
}

fn header(out: &mut Vec<u8>, magic: &[u8; 8], dims: MlpDims) {
    out.extend_from_slice(magic);
    out.extend_from_slice(&DQN_FORMAT_VERSION.to_le_bytes());
    for size in [dims.inputs, dims.hidden, dims.outputs] {
        out.extend_from_slice(&(size as u32).to_le_bytes());
    }
}

fn put_f32s(out: &mut Vec<u8>, values: &[f32]) {
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// Appends the CRC-32 of `out`; returns it.
fn seal(out: &mut Vec<u8>) -> u32 {
    let crc = crc32fast::hash(out);
    out.extend_from_slice(&crc.to_le_bytes());
    crc
}

/// Checks magic, version, CRC and sizes; returns a reader of the fields
/// after the header, and the CRC.
fn open<'a>(bytes: &'a [u8], magic: &[u8; 8], dims: MlpDims) -> Result<(Reader<'a>, u32), Decode> {
    let mut r = Reader { rest: bytes };
    if r.take(8)? != magic {
        let what = if magic == CHECKPOINT_MAGIC {
            "checkpoint"
        } else {
            "journal"
        };
        return Err(corrupt(format!("not a kaizen DQN {what} (bad magic)")));
    }
    match r.u32()? {
        v if v > DQN_FORMAT_VERSION => return Err(Decode::Newer(u64::from(v))),
        DQN_FORMAT_VERSION => {}
        v => return Err(corrupt(format!("unknown format version {v}"))),
    }
    // The header read so far, the sizes and the CRC.
    if bytes.len() < 12 + 12 + 4 {
        return Err(corrupt("truncated"));
    }
    let (body, tail) = bytes.split_at(bytes.len() - 4);
    let stored = u32::from_le_bytes(tail.try_into().map_err(|_| corrupt("truncated"))?);
    let crc = crc32fast::hash(body);
    if crc != stored {
        return Err(corrupt(format!(
            "checksum mismatch (stored {stored:08x}, computed {crc:08x}): the file is damaged"
        )));
    }
    r.rest = &body[r.consumed(bytes)..];
    let sizes = [r.u32()?, r.u32()?, r.u32()?].map(|v| v as usize);
    if sizes != [dims.inputs, dims.hidden, dims.outputs] {
        return Err(corrupt(format!(
            "written for a {}→{}→{} network, the learner has {}→{}→{} (another key set?)",
            sizes[0], sizes[1], sizes[2], dims.inputs, dims.hidden, dims.outputs
        )));
    }
    Ok((r, crc))
}

/// Reads fields off the front of a byte slice.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Decode> {
        let (head, rest) = self
            .rest
            .split_at_checked(n)
            .ok_or_else(|| corrupt("truncated"))?;
        self.rest = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Decode> {
        let bytes = self.take(N)?;
        bytes.try_into().map_err(|_| corrupt("truncated"))
    }

    fn u32(&mut self) -> Result<u32, Decode> {
        self.array().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Result<u64, Decode> {
        self.array().map(u64::from_le_bytes)
    }

    fn f32s(&mut self, n: usize) -> Result<Vec<f32>, Decode> {
        let len = n.checked_mul(4).ok_or_else(|| corrupt("truncated"))?;
        let bytes = self.take(len)?;
        Ok(bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }

    /// How far into `all` (which this reader started on) it has read.
    fn consumed(&self, all: &[u8]) -> usize {
        all.len() - self.rest.len()
    }

    /// `Err` unless every byte was read.
    fn end(&self) -> Result<(), Decode> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(corrupt(format!("{} bytes too many", self.rest.len())))
        }
    }
}
