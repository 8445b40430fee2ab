//! Population-based training's exploit-and-explore step across the bots of
//! one `[variants] group` (core only: the caller loads checkpoints).
//!
//! [`pbt_step`] ranks the bots by their score; each of the bottom
//! `quantile` (default 25%, at least one bot when there are two) copies a
//! bot of the top quantile: the **latest version that bot saved** and its
//! parameters, which it then perturbs with [`mutate`]. A bot that has
//! saved nothing is never copied from (Ray Tune's PBT could exploit trials
//! that never checkpointed), and the copy's parameters are the perturbed ones:
//! the caller restores the version and then runs with [`PbtCopy::params`],
//! never the donor's parameters stored with the checkpoint.
//!
//! A member's score is its recent value: the mean outcome per unit of
//! energy of the variant it serves ([`Variants::pbt_member`](super::Variants::pbt_member)),
//! so a bot that just copied is unscored until its copy has run. The
//! runtime side (groups, checkpoints read from disk, the deploy gate,
//! energy) is [`crate::pipeline::pbt`].

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::mutate::mutate;
use super::space::{Params, Space};

/// One bot of the group as the step sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PbtMember {
    /// The bot.
    pub bot: String,
    /// The parameters it runs with.
    pub params: Params,
    /// Its recent score (`None`: not measured yet, left out of the ranking).
    pub score: Option<f64>,
    /// The latest version it saved to disk, if any.
    pub saved: Option<u64>,
}

/// What a bottom bot does: restore `version` of `from`, then run `params`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PbtCopy {
    /// The bot that copies.
    pub bot: String,
    /// The bot it copies.
    pub from: String,
    /// The saved version of `from` it restores.
    pub version: u64,
    /// The perturbed parameters it runs with after the copy.
    pub params: Params,
}

/// A donor's saved model as the bot that copies it receives it: the bytes
/// read (and checked against their recorded checksum) from the donor's
/// model registry on disk.
#[derive(Clone, PartialEq)]
pub struct ModelCopy {
    /// The bot copied.
    pub from: String,
    /// Its version.
    pub version: u64,
    /// The version's weights (safetensors).
    pub weights: Vec<u8>,
    /// Serve it at once (`pbt_bypass_gate`) instead of passing the deploy gate.
    pub bypass_gate: bool,
}

impl std::fmt::Debug for ModelCopy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelCopy")
            .field("from", &self.from)
            .field("version", &self.version)
            .field("weights", &self.weights.len())
            .field("bypass_gate", &self.bypass_gate)
            .finish()
    }
}

/// The copies of one perturbation interval (see the module docs).
pub fn pbt_step(
    space: &Space,
    members: &[PbtMember],
    quantile: f64,
    rng: &mut impl Rng,
) -> Vec<PbtCopy> {
    let mut ranked: Vec<&PbtMember> = members
        .iter()
        .filter(|m| m.score.is_some_and(f64::is_finite))
        .collect();
    ranked.sort_by(|a, b| b.score.unwrap_or(0.0).total_cmp(&a.score.unwrap_or(0.0)));
    let n = ranked.len();
    if n < 2 {
        return Vec::new();
    }
    let k = ((n as f64 * quantile).floor() as usize).clamp(1, n / 2);
    let donors: Vec<(&PbtMember, u64)> = ranked[..k]
        .iter()
        .filter_map(|m| m.saved.map(|v| (*m, v)))
        .collect();
    if donors.is_empty() {
        return Vec::new();
    }
    ranked[n - k..]
        .iter()
        .enumerate()
        .map(|(i, bottom)| {
            let (donor, version) = donors[i % donors.len()];
            PbtCopy {
                bot: bottom.bot.clone(),
                from: donor.bot.clone(),
                version,
                params: mutate(space, &donor.params, rng),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
