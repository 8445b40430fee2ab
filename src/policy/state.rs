//! The policy's view of an engine: a short vector of small integers.
//!
//! Every real input `x` becomes `rhe(10·x)` (round half to even) clamped to
//! [−50, 50], so one state covers a 0.1-wide band of each input and the
//! state space stays finite. The module index is stored as is (0..=999) and
//! the diminishing flag as 0 or 1.
//!
//! Quantisation works on the `f64` product `10·x`, not on the decimal the
//! caller had in mind. `0.35` is stored as `0.34999999999999997…`, whose
//! exact tenfold is below 3.5, but the product is rounded to the nearest
//! `f64`, which is exactly `3.5`: a tie, so it becomes 4 (and `0.45` becomes
//! 4, `0.25` becomes 2). For every `x = k/20` with |x| ≤ 5 the product is
//! the exact tie `k/2`, so these decimal ties behave as decimal intuition
//! says; values just beside a tie can still land on either side of it.
//!
//! When there is no module, the index slot is 0, the same as a module whose
//! index is 0 (SPEC §3); the module ROI slot usually tells them apart.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::{Error, Result};

/// What an engine knows when it asks the policy; [`PolicyState::new`] turns
/// it into a [`PolicyState`]. Fields are in the state's slot order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StateInputs {
    /// The energy score, in [0, 1] in practice.
    pub energy_score: f64,
    /// The long-term ROI trend (SPEC §2).
    pub roi_trend: f64,
    /// Share of the last 100 deltas more than 3 std from their mean.
    pub anomaly_rate: f64,
    /// Share of successful cycles among the last 50.
    pub success_rate: f64,
    /// Mean ROI delta of the last 10 cycles.
    pub recent_mean_delta: f64,
    /// Index (0..=999) of the last cycle's first module; `None` when there was none.
    pub module_index: Option<u16>,
    /// That module's total ROI from the meta logger.
    pub module_roi: f64,
    /// Whether the meta logger flagged diminishing returns.
    pub diminishing: bool,
    /// Mean of the last (up to) 5 ROI deltas.
    pub short_mean: f64,
    /// The moving average of ROI deltas.
    pub roi_delta_ema: f64,
    /// Weighted synergy deltas `w_k·Δ_k` for roi, efficiency, resilience,
    /// antifragility.
    pub synergy: [f64; 4],
}

/// A quantised engine state: the key of the policy's tables.
///
/// Serialized as a JSON array of 14 integers. Built with [`PolicyState::new`]
/// from [`StateInputs`], or from a raw array with [`PolicyState::from_array`].
///
/// ```
/// use kaizen::policy::{PolicyState, StateInputs};
///
/// let state = PolicyState::new(&StateInputs {
///     energy_score: 0.75,   // rhe(7.5) = 8
///     roi_trend: -0.25,     // rhe(-2.5) = -2
///     module_index: Some(417),
///     diminishing: true,
///     short_mean: 12.0,     // 120 clamped to 50
///     ..StateInputs::default()
/// })
/// .unwrap();
/// assert_eq!(state.as_array(), &[8, -2, 0, 0, 0, 417, 0, 1, 50, 0, 0, 0, 0, 0]);
/// ```
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(try_from = "[i16; 14]", into = "[i16; 14]")]
pub struct PolicyState([i16; PolicyState::LEN]);

/// The slot of the module index, stored as is.
const MODULE_INDEX: usize = 5;
/// The slot of the diminishing flag, 0 or 1.
const DIMINISHING: usize = 7;
/// The largest module index.
const MAX_MODULE_INDEX: i16 = 999;
/// Quantised reals are clamped to `[-LIMIT, LIMIT]`.
const LIMIT: i16 = 50;

impl PolicyState {
    /// The number of slots.
    pub const LEN: usize = 14;

    /// The name of each slot, in order.
    pub const FIELDS: [&'static str; PolicyState::LEN] = [
        "energy_score",
        "roi_trend",
        "anomaly_rate",
        "success_rate",
        "recent_mean_delta",
        "module_index",
        "module_roi",
        "diminishing",
        "short_mean",
        "roi_delta_ema",
        "synergy_roi",
        "synergy_efficiency",
        "synergy_resilience",
        "synergy_antifragility",
    ];

    /// Quantises `inputs`. A NaN or infinite input is [`Error::NonFinite`]
    /// naming its field (`state.roi_trend`, …); a module index above 999 is
    /// [`Error::Invalid`].
    pub fn new(inputs: &StateInputs) -> Result<Self> {
        let i = inputs;
        let [s0, s1, s2, s3] = i.synergy;
        let reals = [
            (0, i.energy_score),
            (1, i.roi_trend),
            (2, i.anomaly_rate),
            (3, i.success_rate),
            (4, i.recent_mean_delta),
            (6, i.module_roi),
            (8, i.short_mean),
            (9, i.roi_delta_ema),
            (10, s0),
            (11, s1),
            (12, s2),
            (13, s3),
        ];
        let mut slots = [0i16; Self::LEN];
        for (slot, x) in reals {
            if !x.is_finite() {
                return Err(Error::NonFinite {
                    what: field(slot),
                    value: x,
                });
            }
            slots[slot] = quantise(x);
        }
        let index = i.module_index.unwrap_or(0);
        slots[MODULE_INDEX] = match i16::try_from(index) {
            Ok(v) if v <= MAX_MODULE_INDEX => v,
            _ => return Err(Error::invalid(field(MODULE_INDEX), index, "0..=999")),
        };
        slots[DIMINISHING] = i16::from(i.diminishing);
        Ok(PolicyState(slots))
    }

    /// A state from its raw slots, as read from a file. Each slot must be in
    /// the range [`PolicyState::new`] can produce, else [`Error::Invalid`].
    pub fn from_array(slots: [i16; Self::LEN]) -> Result<Self> {
        for (slot, &v) in slots.iter().enumerate() {
            let (lo, hi, expected) = match slot {
                MODULE_INDEX => (0, MAX_MODULE_INDEX, "0..=999"),
                DIMINISHING => (0, 1, "0 or 1"),
                _ => (-LIMIT, LIMIT, "-50..=50"),
            };
            if !(lo..=hi).contains(&v) {
                return Err(Error::invalid(field(slot), v, expected));
            }
        }
        Ok(PolicyState(slots))
    }

    /// The slots, in [`PolicyState::FIELDS`] order.
    pub const fn as_array(&self) -> &[i16; Self::LEN] {
        &self.0
    }
}

/// `rhe(10·x)` clamped to [−50, 50]; `x` is finite (`10·x` may overflow to
/// ±∞, which the clamp handles).
fn quantise(x: f64) -> i16 {
    let limit = f64::from(LIMIT);
    // In [-50, 50] and integral, so the cast is exact.
    (10.0 * x).round_ties_even().clamp(-limit, limit) as i16
}

/// `state.<name>` for error messages.
fn field(slot: usize) -> Cow<'static, str> {
    Cow::Owned(format!("state.{}", PolicyState::FIELDS[slot]))
}

impl TryFrom<[i16; PolicyState::LEN]> for PolicyState {
    type Error = Error;

    fn try_from(slots: [i16; PolicyState::LEN]) -> Result<Self> {
        Self::from_array(slots)
    }
}

impl From<PolicyState> for [i16; PolicyState::LEN] {
    fn from(state: PolicyState) -> Self {
        state.0
    }
}

/// A map keyed by [`PolicyState`] with a fast hasher.
///
/// The engine looks states up several times per tick, so the map uses a
/// small multiply-fold hasher instead of SipHash. States are quantised and
/// bounded, so flooding a table with colliding keys is not a concern. Only
/// lookups use it: whatever is written out is sorted by state first.
pub(crate) type StateMap<V> = HashMap<PolicyState, V, BuildHasherDefault<StateHasher>>;

/// The hasher of [`StateMap`]: each 8-byte word is mixed in with a folded
/// 64×64→128-bit multiply, which spreads every input bit over the whole hash.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct StateHasher(u64);

impl StateHasher {
    /// An odd constant with well-spread bits (2⁶⁴ divided by the golden ratio).
    const K: u64 = 0x9E37_79B9_7F4A_7C15;

    fn mix(&mut self, word: u64) {
        let product = u128::from(self.0 ^ word) * u128::from(Self::K);
        self.0 = (product as u64) ^ ((product >> 64) as u64);
    }
}

impl Hasher for StateHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.mix(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}
