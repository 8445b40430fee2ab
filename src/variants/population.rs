//! A bot's population of variants and the mutation engine that evolves it.
//!
//! Each member is a set of [`Params`] (and, with code variants, the index of
//! the command it runs) with the outcomes it earned. Members are ranked by
//! their mean outcome (all their outcomes, so a survivor's estimate
//! sharpens). In each generation a member is *due* `evaluations` outcomes
//! when it is new (fewer than `evaluations` outcomes in all) or ranks in the
//! top `quantile` (default 25%, at least one): the parents, whose estimates
//! decide who breeds and which member is best. A survivor below the top is
//! not run again: another outcome could not make it a parent without lifting
//! it into the top, where it is due. So the cycles go to new candidates and
//! to re-checking the leaders (a lucky first outcome is soon corrected),
//! not to members that only wait to be replaced.
//! [`Population::next`] names the member to try next (the first due member
//! with the fewest outcomes this generation); [`Population::record`] adds an
//! outcome. Once no member is due, the generation ends: the bottom
//! `quantile` is replaced by children of the top `quantile`: a mutation of
//! a parent, or with probability `crossover` a mutation of the crossover of
//! two top members. Protected members (the serving variant) are never replaced.
//!
//! The generator is part of the state, so a population saved and loaded
//! goes on exactly as one that never stopped.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::mutate::{RESAMPLE_P, crossover, grid, mutate, random};
use super::space::{Params, Space};
use crate::stats::Moments;
use crate::{Error, Result};

/// How the first population is drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Init {
    /// Uniformly (log-uniformly on log scales) within bounds.
    #[default]
    Random,
    /// From a grid of `grid_points` values per number (shuffled).
    Grid,
}

/// The mutation engine's settings (`[variants.evolution]` in a spec).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvolutionConfig {
    /// Members (default 8).
    pub size: usize,
    /// The share replaced each generation (default 0.25).
    pub quantile: f64,
    /// Outcomes each member earns per generation (default 1).
    pub evaluations: u64,
    /// The probability that a child is a crossover of two parents (default 0.5).
    pub crossover: f64,
    /// The first population (default random).
    pub init: Init,
    /// Values per number in a grid (default 3).
    pub grid_points: usize,
}

impl Default for EvolutionConfig {
    fn default() -> Self {
        EvolutionConfig {
            size: 8,
            quantile: 0.25,
            evaluations: 1,
            crossover: 0.5,
            init: Init::Random,
            grid_points: 3,
        }
    }
}

impl EvolutionConfig {
    /// Checks the settings; errors name `variants.<key>`.
    pub fn check(&self) -> Result<()> {
        if !(2..=10_000).contains(&self.size) {
            return Err(Error::invalid(
                "variants.evolution.size",
                self.size,
                "2 to 10,000 members",
            ));
        }
        if !(self.quantile > 0.0 && self.quantile <= 0.5) {
            return Err(Error::invalid(
                "variants.evolution.quantile",
                self.quantile,
                "a share in (0, 0.5]",
            ));
        }
        if self.evaluations == 0 {
            return Err(Error::invalid(
                "variants.evolution.evaluations",
                0,
                "at least 1 outcome",
            ));
        }
        if !(0.0..=1.0).contains(&self.crossover) {
            return Err(Error::invalid(
                "variants.evolution.crossover",
                self.crossover,
                "a probability in [0, 1]",
            ));
        }
        if self.grid_points < 2 {
            return Err(Error::invalid(
                "variants.evolution.grid_points",
                self.grid_points,
                "at least 2",
            ));
        }
        Ok(())
    }

    /// The members replaced (and copied from) each generation.
    pub fn replaced(&self) -> usize {
        ((self.size as f64 * self.quantile).floor() as usize).max(1)
    }
}

/// One variant of a bot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Variant {
    /// Its id, unique within the bot (`KAIZEN_VARIANT`).
    pub id: u64,
    /// Its parameters (`KAIZEN_PARAMS`).
    pub params: Params,
    /// The code variant it runs: an index into the spec's `commands`.
    pub command: usize,
    /// The variants it was bred from.
    pub parents: Vec<u64>,
    /// The generation it was born in.
    pub generation: u64,
    /// Every outcome it earned.
    pub outcomes: Moments,
    /// Outcomes earned in the current generation.
    pub pending: u64,
}

impl Variant {
    /// Its mean outcome, once it has one.
    pub fn score(&self) -> Option<f64> {
        (self.outcomes.count > 0).then_some(self.outcomes.mean)
    }
}

/// What ended a generation: who was replaced, by whom.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Generation {
    /// The generation that ended.
    pub number: u64,
    /// Ids removed.
    pub retired: Vec<u64>,
    /// Ids born.
    pub born: Vec<u64>,
}

/// A bot's population (see the module docs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Population {
    space: Space,
    config: EvolutionConfig,
    commands: usize,
    members: Vec<Variant>,
    next_id: u64,
    generation: u64,
    rng: ChaCha8Rng,
}

impl Population {
    /// A first population of `space` with `commands` code variants (1 when
    /// there are none), drawn from `seed`.
    ///
    /// # Errors
    /// Bad settings, or no command.
    pub fn new(space: Space, config: EvolutionConfig, commands: usize, seed: u64) -> Result<Self> {
        config.check()?;
        if commands == 0 {
            return Err(Error::invalid(
                "variants.commands",
                "[]",
                "at least one command",
            ));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let params = match config.init {
            Init::Random => random(&space, config.size, &mut rng),
            Init::Grid => grid(&space, config.size, config.grid_points, &mut rng),
        };
        let members = params
            .into_iter()
            .enumerate()
            .map(|(i, params)| Variant {
                id: i as u64,
                params,
                command: i % commands,
                parents: Vec::new(),
                generation: 0,
                outcomes: Moments::default(),
                pending: 0,
            })
            .collect();
        Ok(Population {
            space,
            next_id: config.size as u64,
            config,
            commands,
            members,
            generation: 0,
            rng,
        })
    }

    /// The search space.
    pub fn space(&self) -> &Space {
        &self.space
    }

    /// The members, oldest first (a PBT copy's member first, see [`adopt`](Self::adopt)).
    pub fn members(&self) -> &[Variant] {
        &self.members
    }

    /// The member with this id.
    pub fn get(&self, id: u64) -> Option<&Variant> {
        self.members.iter().find(|v| v.id == id)
    }

    /// The current generation (0 first).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The member to try next: the first due member (see the module docs)
    /// with the fewest outcomes this generation (of all members when none
    /// is due).
    pub fn next(&self) -> Option<&Variant> {
        let due = self.due();
        self.members
            .iter()
            .zip(due)
            .min_by_key(|(v, due)| (!due, v.pending))
            .map(|(v, _)| v)
    }

    /// The member indices, best mean outcome first (members without an
    /// outcome last, in order).
    fn ranked(&self) -> Vec<usize> {
        let mut ranked: Vec<usize> = (0..self.members.len()).collect();
        ranked.sort_by(|&a, &b| {
            let score = |i: usize| self.members[i].score().unwrap_or(f64::NEG_INFINITY);
            score(b).total_cmp(&score(a))
        });
        ranked
    }

    /// Whether each member is still due an outcome this generation: it has
    /// fewer than `evaluations` this generation, and is new or in the top
    /// `quantile` (see the module docs).
    fn due(&self) -> Vec<bool> {
        let n = self.config.evaluations;
        let mut due: Vec<bool> = self.members.iter().map(|v| v.outcomes.count < n).collect();
        for &i in &self.ranked()[..self.config.replaced().min(self.members.len())] {
            due[i] = true;
        }
        due.iter()
            .zip(&self.members)
            .map(|(&due, v)| due && v.pending < n)
            .collect()
    }

    /// The member with the best mean outcome so far.
    pub fn best(&self) -> Option<&Variant> {
        self.members
            .iter()
            .filter(|v| v.outcomes.count > 0)
            .max_by(|a, b| a.outcomes.mean.total_cmp(&b.outcomes.mean))
    }

    /// Adds an outcome of member `id`; ends the generation when no member is
    /// due an outcome (see the module docs), keeping the members in `protect`.
    ///
    /// # Errors
    /// An unknown id or a non-finite value (nothing changes).
    pub fn record(&mut self, id: u64, value: f64, protect: &[u64]) -> Result<Option<Generation>> {
        if !value.is_finite() {
            return Err(Error::NonFinite {
                what: format!("variant {id}'s outcome").into(),
                value,
            });
        }
        let member = self
            .members
            .iter_mut()
            .find(|v| v.id == id)
            .ok_or_else(|| Error::invalid("variant", id, "a member of the population"))?;
        member.outcomes.push(value);
        member.pending += 1;
        if !self.due().contains(&true) {
            return Ok(Some(self.evolve(protect)));
        }
        Ok(None)
    }

    /// A child of the members at `top[n % top.len()]` (and, by crossover,
    /// another of `top`), mutated, with the next id.
    fn breed(&mut self, top: &[usize], n: usize) -> Variant {
        let k = top.len();
        let parent = &self.members[top[n % k]];
        let (mut parents, base) = (vec![parent.id], parent.params.clone());
        let base = if k >= 2 && self.rng.random_bool(self.config.crossover) {
            let other = &self.members[top[(n + 1 + self.rng.random_range(0..k - 1)) % k]];
            parents.push(other.id);
            crossover(&base, &other.params, &mut self.rng)
        } else {
            base
        };
        let command = if self.commands > 1 && self.rng.random_bool(RESAMPLE_P) {
            self.rng.random_range(0..self.commands)
        } else {
            parent.command
        };
        let child = Variant {
            id: self.next_id,
            params: mutate(&self.space, &base, &mut self.rng),
            command,
            parents,
            generation: self.generation + 1,
            outcomes: Moments::default(),
            pending: 0,
        };
        self.next_id += 1;
        child
    }

    /// Takes member `id` out of the population (an operator's `retire`);
    /// a child of `parent` (mutated) takes its place, so the size stays.
    /// Returns the child's id.
    ///
    /// # Errors
    /// [`Error::UnknownVariant`] for an unknown `id` or `parent`; `id`
    /// equal to `parent` is invalid.
    pub fn retire(&mut self, id: u64, parent: u64) -> Result<u64> {
        let find = |id: u64| {
            self.members
                .iter()
                .position(|v| v.id == id)
                .ok_or(Error::UnknownVariant { id })
        };
        let (slot, from) = (find(id)?, find(parent)?);
        if slot == from {
            return Err(Error::invalid(
                "variant",
                id,
                "a variant other than the one its replacement descends from",
            ));
        }
        let child = self.breed(&[from], 0);
        let born = child.id;
        self.members[slot] = child;
        Ok(born)
    }

    /// Puts `params` in the place of member `id` (a population-based-training
    /// copy): a new member with the next id, the same command, no outcomes,
    /// first in the population, so it is the next to run
    /// ([`next`](Self::next) takes the first due member with the fewest
    /// outcomes, and a new member is due).
    /// Returns its id.
    ///
    /// # Errors
    /// An unknown `id`, or parameters outside the space (nothing changes).
    pub fn adopt(&mut self, id: u64, params: Params) -> Result<u64> {
        self.space.check(&params)?;
        let slot = self
            .members
            .iter()
            .position(|v| v.id == id)
            .ok_or_else(|| Error::invalid("variant", id, "a member of the population"))?;
        let old = self.members.remove(slot);
        let child = Variant {
            id: self.next_id,
            params,
            command: old.command,
            parents: Vec::new(),
            generation: self.generation,
            outcomes: Moments::default(),
            pending: 0,
        };
        self.next_id += 1;
        let born = child.id;
        self.members.insert(0, child);
        Ok(born)
    }

    /// Ends the generation now (see the module docs).
    pub fn evolve(&mut self, protect: &[u64]) -> Generation {
        let k = self.config.replaced();
        let ranked = self.ranked();
        let top: Vec<usize> = ranked[..k].to_vec();
        let doomed: Vec<usize> = ranked
            .iter()
            .rev()
            .copied()
            .filter(|&i| !protect.contains(&self.members[i].id) && !top.contains(&i))
            .take(k)
            .collect();
        let mut generation = Generation {
            number: self.generation,
            retired: Vec::new(),
            born: Vec::new(),
        };
        for (n, &slot) in doomed.iter().enumerate() {
            let child = self.breed(&top, n);
            generation.retired.push(self.members[slot].id);
            generation.born.push(child.id);
            self.members[slot] = child;
        }
        for v in &mut self.members {
            v.pending = 0;
        }
        self.generation += 1;
        generation
    }
}

#[cfg(test)]
mod tests;
