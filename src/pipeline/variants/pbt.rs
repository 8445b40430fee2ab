//! Population-based training in the runtime: the bots whose `[variants]`
//! name the same `group` copy each other's models and parameters
//! ([`crate::variants::pbt`] is the pure step).
//!
//! - **Members.** Every variant pipeline of a group joins the group's
//!   member list, kept with the fleet's rule ([`SharedFleet`]) so every bot
//!   of one `kaizen run` sees it. A member's score is its serving variant's
//!   mean outcome per unit of energy
//!   ([`Variants::pbt_member`](crate::variants::Variants::pbt_member)); its
//!   saved checkpoint is the version its model registry serves, read from
//!   disk and checked against its recorded checksum
//!   ([`VariantRunner::checkpoint`]): a bot that never saved one, or whose
//!   file is gone or damaged, is no donor.
//! - **When.** The interval is counted in outcomes (trained cycles) of
//!   each bot: `pbt_interval` (default 20) outcomes after its last check, a
//!   bot checks again. The check is made when the engine runs the bot's
//!   next cycle — the pipeline is only called for a cycle the engine chose
//!   to run, with the energy it chose — so energy is the budget: a bot the
//!   engine does not run never copies, and the copy is taken inside that
//!   cycle, before it trains with its energy.
//! - **What.** The check ranks the group ([`pbt_step`]); when this bot is in
//!   the bottom `pbt_quantile` it takes its copy: the donor's perturbed
//!   parameters become its serving variant ([`Variants::adopt`]; the
//!   variants file is written before the cycle runs, so a restart keeps
//!   them and nothing restored from a checkpoint overwrites them), and the
//!   donor's model enters its registry as a challenger that must pass the
//!   deploy gate, or serves at once with `pbt_bypass_gate = true`
//!   ([`ContinuousLearner::adopt`](crate::training::ContinuousLearner::adopt)).
//!   The same cycle then trains with the perturbed parameters.
//! - **State.** `variants-pbt.json` next to the fleet's file (version
//!   [`PBT_FORMAT_VERSION`], through [`crate::persist`]): each bot's outcome
//!   count and last check, and the group's last [`KEPT_COPIES`] copies.
//!   A crash between the bot's variants file and this one repeats the check
//!   at the next cycle, which finds the copied variant unscored and so
//!   copies nothing twice.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use super::{Bot, VariantRunner};
use crate::Result;
use crate::persist::{self, Durability};
use crate::variants::{ModelCopy, Params, PbtCopy, pbt_step};

/// The file, next to `variants-fleet.json`.
pub const PBT_FILE: &str = "variants-pbt.json";

/// The version of [`PBT_FILE`].
pub const PBT_FORMAT_VERSION: u64 = 1;

/// Copies kept per group in the file.
pub const KEPT_COPIES: usize = 100;

/// A bot's place in its group's schedule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PbtCount {
    /// Its outcomes so far.
    pub outcomes: u64,
    /// Its outcome count at its last check.
    pub checked: u64,
}

/// One copy, as the file and the faces show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PbtRecord {
    /// When (the bot's clock).
    pub at: f64,
    /// The bot that copied.
    pub bot: String,
    /// The bot copied.
    pub from: String,
    /// The donor's version copied.
    pub from_version: u64,
    /// The variant that serves the perturbed parameters.
    pub variant: u64,
    /// The perturbed parameters.
    pub params: Params,
    /// The version the copy was saved as in the bot's registry.
    pub version: Option<u64>,
    /// The copy serves (it passed the gate, or bypassed it).
    pub deployed: bool,
    /// It serves without the gate (`pbt_bypass_gate`).
    pub bypassed: bool,
    /// Why the model was not taken (the cycle failed), if it was not.
    pub error: Option<String>,
}

/// One group's state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PbtGroupState {
    /// Each bot's schedule.
    pub bots: BTreeMap<String, PbtCount>,
    /// The last copies, oldest first.
    pub copies: Vec<PbtRecord>,
}

/// The content of [`PBT_FILE`]: group → its state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PbtState {
    /// The groups.
    pub groups: BTreeMap<String, PbtGroupState>,
}

/// The groups of one fleet: their state, its file, and the live members.
pub struct PbtGroups {
    state: Mutex<PbtState>,
    members: Mutex<BTreeMap<String, BTreeMap<String, Weak<Bot>>>>,
    file: Option<PathBuf>,
}

/// A copy this bot takes in the cycle about to run.
pub(super) struct Taken {
    pub copy: PbtCopy,
    pub model: ModelCopy,
    pub variant: u64,
}

impl PbtGroups {
    /// The groups kept in `file` (read if there), or in memory.
    ///
    /// # Errors
    /// A file that cannot be read or is newer than this build.
    pub fn open(file: Option<PathBuf>) -> Result<Self> {
        let state = match &file {
            Some(f) => persist::load_json::<PbtState>(f)?.unwrap_or_default(),
            None => PbtState::default(),
        };
        Ok(PbtGroups {
            state: Mutex::new(state),
            members: Mutex::new(BTreeMap::new()),
            file,
        })
    }

    /// The state now.
    pub fn snapshot(&self) -> PbtState {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Makes `bot` a live member of `group` (replacing an older pipeline of it).
    pub(super) fn join(&self, group: &str, bot: &str, member: Weak<Bot>) {
        self.members
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(group.to_string())
            .or_default()
            .insert(bot.to_string(), member);
    }

    fn live(&self, group: &str) -> Vec<Arc<Bot>> {
        let members = self.members.lock().unwrap_or_else(PoisonError::into_inner);
        members
            .get(group)
            .map(|m| m.values().filter_map(Weak::upgrade).collect())
            .unwrap_or_default()
    }

    /// Changes the state with `f` and writes it; a failed write leaves the
    /// state as it was.
    fn change<T>(&self, durability: Durability, f: impl FnOnce(&mut PbtState) -> T) -> Result<T> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let mut next = state.clone();
        let out = f(&mut next);
        if let Some(file) = &self.file {
            persist::save_json(file, &next, durability)?;
        }
        *state = next;
        Ok(out)
    }

    /// Counts an outcome of `bot`.
    pub(super) fn count(&self, group: &str, bot: &str, durability: Durability) -> Result<()> {
        self.change(durability, |s| {
            let g = s.groups.entry(group.to_string()).or_default();
            g.bots.entry(bot.to_string()).or_default().outcomes += 1;
        })
    }

    /// Keeps a copy's record.
    pub(super) fn record(&self, group: &str, r: PbtRecord, durability: Durability) -> Result<()> {
        self.change(durability, |s| {
            let copies = &mut s.groups.entry(group.to_string()).or_default().copies;
            copies.push(r);
            let excess = copies.len().saturating_sub(KEPT_COPIES);
            copies.drain(..excess);
        })
    }

    /// `bot`'s check when it is due (see the module docs): marks it made and
    /// returns the copy this bot takes, if any, with the donor's model read
    /// from disk; the bot's variants already serve the copy's parameters.
    pub(super) fn check(&self, me: &Bot, runner: &dyn VariantRunner) -> Result<Option<Taken>> {
        let spec = me.spec();
        let Some(group) = spec.group.clone() else {
            return Ok(None);
        };
        let count = self
            .snapshot()
            .groups
            .get(&group)
            .and_then(|g| g.bots.get(&me.name).cloned())
            .unwrap_or_default();
        if count.outcomes < count.checked + spec.pbt_interval {
            return Ok(None);
        }
        // One member's lock at a time (never this bot's while another's).
        let mut checkpoints = BTreeMap::new();
        let members: Vec<_> = self
            .live(&group)
            .iter()
            .map(|b| {
                let mut m = b.pbt_member();
                if let Some((v, bytes)) = runner.checkpoint(&b.name) {
                    m.saved = Some(v);
                    checkpoints.insert(b.name.clone(), bytes);
                }
                m
            })
            .collect();
        let space = me.variants().population().space().clone();
        let seed = spec.seed ^ fnv1a(&me.name) ^ count.outcomes.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mine = pbt_step(&space, &members, spec.pbt_quantile, &mut rng)
            .into_iter()
            .find(|c| c.bot == me.name);
        let outcomes = count.outcomes;
        self.change(me.durability, |s| {
            let g = s.groups.entry(group.clone()).or_default();
            g.bots.entry(me.name.clone()).or_default().checked = outcomes;
        })?;
        let Some(copy) = mine else {
            return Ok(None);
        };
        let Some(weights) = checkpoints.remove(&copy.from) else {
            return Ok(None);
        };
        let variant = me.adopt(&copy)?;
        Ok(Some(Taken {
            model: ModelCopy {
                from: copy.from.clone(),
                version: copy.version,
                weights,
                bypass_gate: spec.pbt_bypass_gate,
            },
            variant,
            copy,
        }))
    }
}

/// FNV-1a of a name: a stable seed per bot.
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
