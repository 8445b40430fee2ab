//! The engine's logic without the actor (SPEC §4).
//!
//! [`EngineCore`] owns one bot's learning state and does, synchronously,
//! everything a tick and a cycle decide: [`plan_tick`](EngineCore::plan_tick)
//! (steps 1–4: energy, forced reasons, the policy), [`plan_cycle`](EngineCore::plan_cycle)
//! (the energy chain), [`absorb`](EngineCore::absorb) (the outcome: delta,
//! EMA, history, metrics) and [`conclude`](EngineCore::conclude) (policy
//! update, meta logger, counters, the record). The actor calls these around
//! the parts that wait: the pipeline, and a heavy synergy update.
//!
//! Choices where SPEC is silent:
//! - A policy *skip* reads the profit once; its reward (the profit change up
//!   to the next reading, over `roi_scale`) is learned at the next tick that
//!   reads the profit, with that tick's state as the next state. Without a
//!   profit source a skip's reward is 0.
//! - Every profit reading (before, after, and at policy skips) is a profit
//!   sample for the long-term trend; `capital` for the energy score is the
//!   latest reading (0 before the first).
//! - The success rate is 1 before the first cycle.
//! - After a cycle, the energy source gets `reward = 1/(1 + e^(−r))` of the
//!   cycle's policy reward `r` with its next score.
//! - A profit source that fails or reports NaN/∞ makes the cycle fail with
//!   delta 0; before the pipeline, the pipeline is then not run at all.
//! - A host energy source that fails gives the tick an energy score of 0.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::config::EngineConfig;
use crate::chain::{ChainInputs, EnergyChain, energy_chain};
use crate::energy::{EnergyInputs, EnergySource};
use crate::error::Result;
use crate::host::Resources;
use crate::metalog::{META_FILE, MODULES_FILE, MetaLogger, ModuleIndex};
use crate::persist::{self, PendingFile};
use crate::policy::{Action, PolicyState, SelfImprovementPolicy, StateInputs};
use crate::record::{CycleInputs, CycleRecord, Reason};
use crate::roi::RoiTracker;
use crate::synergy::{SynergyKeys, SynergyLearner, SynergyWeights, adjustment, core_products};

/// The engine's own file.
pub const ENGINE_FILE: &str = "engine.json";
/// The policy's file.
pub const POLICY_FILE: &str = "policy.json";
/// Cycles the success rate looks back over.
pub const SUCCESS_WINDOW: u32 = 50;
/// Deltas the state's "recent mean" looks back over.
pub const RECENT_DELTAS: usize = 10;

/// A cycle about to run: everything decided before the pipeline.
#[derive(Clone, Debug)]
pub struct CyclePlan {
    /// When it started.
    pub now: f64,
    /// Why it runs.
    pub reason: Reason,
    /// The energy score, if there is an energy source.
    pub energy_score: Option<f64>,
    /// The inputs of the energy chain and the policy state.
    pub inputs: CycleInputs,
    /// The energy chain.
    pub chain: EnergyChain,
}

/// What a tick decided.
#[derive(Debug)]
pub enum TickPlan {
    /// Nothing runs: here is the record.
    Done(CycleRecord),
    /// A cycle runs.
    Run(CyclePlan),
}

/// Builds the stateful parts an engine cannot clone: its energy source.
pub type EnergyFactory = Arc<dyn Fn(Option<&Path>) -> Result<Box<dyn EnergySource>> + Send + Sync>;

/// One bot's learning state and the logic of its ticks and cycles.
pub struct EngineCore {
    name: Arc<str>,
    bot: Arc<str>,
    config: EngineConfig,
    dir: Option<PathBuf>,
    keys: SynergyKeys,
    roi: RoiTracker,
    policy: SelfImprovementPolicy,
    learner: Option<Box<dyn SynergyLearner>>,
    weights: SynergyWeights,
    meta: MetaLogger,
    modules: ModuleIndex,
    energy: Option<Box<dyn EnergySource>>,
    book: Book,
    dirty: Dirty,
}

impl EngineCore {
    /// Opens an engine's state: from the files in `dir` when given (defaults
    /// for what is missing), else fresh and kept in memory only.
    pub fn open(
        name: Arc<str>,
        bot: Arc<str>,
        config: EngineConfig,
        dir: Option<PathBuf>,
        energy: Option<&EnergyFactory>,
    ) -> Result<Self> {
        config.validate()?;
        let (roi, book) = match &dir {
            Some(d) => match persist::load_json::<EngineFile>(&d.join(ENGINE_FILE))? {
                Some(f) => (RoiTracker::from_snapshot(config.roi, f.roi)?, f.book),
                None => (RoiTracker::new(config.roi)?, Book::default()),
            },
            None => (RoiTracker::new(config.roi)?, Book::default()),
        };
        let book = Book {
            recent: Outcomes {
                bits: book.recent.bits & Outcomes::MASK,
                len: book.recent.len.min(SUCCESS_WINDOW),
            },
            ..book
        };
        let policy = match &dir {
            Some(d) => SelfImprovementPolicy::load(d.join(POLICY_FILE), config.policy.clone())?,
            None => SelfImprovementPolicy::new(config.policy.clone())?,
        };
        let learner = config.learner.open(dir.as_deref())?;
        let (meta, modules) = match &dir {
            Some(d) => (
                MetaLogger::load(&d.join(META_FILE))?,
                ModuleIndex::load(&d.join(MODULES_FILE))?,
            ),
            None => (MetaLogger::new(), ModuleIndex::new()),
        };
        let energy = energy.map(|f| f(dir.as_deref())).transpose()?;
        Ok(EngineCore {
            name,
            bot,
            keys: config.learner.keys(),
            weights: *learner.weights(),
            config,
            dir,
            roi,
            policy,
            learner: Some(learner),
            meta,
            modules,
            energy,
            book,
            dirty: Dirty::default(),
        })
    }

    /// The engine's name.
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }
    /// The bot's name.
    pub fn bot(&self) -> &Arc<str> {
        &self.bot
    }
    /// The engine's settings.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }
    /// The state folder, if the engine persists.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }
    /// The ROI tracker.
    pub fn roi(&self) -> &RoiTracker {
        &self.roi
    }
    /// The policy.
    pub fn policy(&self) -> &SelfImprovementPolicy {
        &self.policy
    }
    /// The meta logger.
    pub fn meta(&self) -> &MetaLogger {
        &self.meta
    }
    /// The current synergy weights.
    pub fn weights(&self) -> &SynergyWeights {
        &self.weights
    }
    /// Cycles run so far.
    pub fn cycles(&self) -> u64 {
        self.book.cycles
    }
    /// Cycles whose pipeline failed.
    pub fn failures(&self) -> u64 {
        self.book.failures
    }
    /// When the last cycle ran.
    pub fn last_run(&self) -> Option<f64> {
        self.book.last_run
    }
    /// Share of successful cycles among the last 50 (1 before the first).
    pub fn success_rate(&self) -> f64 {
        self.book.recent.success_rate()
    }
    /// Whether the engine is paused.
    pub fn paused(&self) -> bool {
        self.book.paused
    }
    /// Which synergy learner the engine uses (`weights` or `dqn`).
    pub fn learner_kind(&self) -> &'static str {
        self.config.learner.kind()
    }

    /// Loads the synergy learner again from the state folder (fresh without
    /// one): for when a learner was lost with a learner-pool thread.
    pub fn reopen_learner(&mut self) -> Result<()> {
        let learner = self.config.learner.open(self.dir.as_deref())?;
        self.weights = *learner.weights();
        self.learner = Some(learner);
        Ok(())
    }

    /// Pauses or resumes; persisted.
    pub fn set_paused(&mut self, paused: bool) {
        if self.book.paused != paused {
            self.book.paused = paused;
            self.dirty.mark(Dirty::ENGINE);
        }
    }

    /// Records a metric sample (`RecordMetrics`). Returns whether it was a
    /// synergy metric (other names are ignored).
    pub fn record_metric(&mut self, name: &str, value: f64) -> Result<bool> {
        let key = self.book.metrics.record(name, value)?;
        if key.is_some() {
            self.dirty.mark(Dirty::ENGINE);
        }
        Ok(key.is_some())
    }

    /// Replaces the synergy weights (e.g. `kaizen synergy import`).
    pub fn set_weights(&mut self, weights: SynergyWeights) -> Result<()> {
        let learner = self.learner.as_mut().ok_or_else(|| crate::Error::Busy {
            engine: self.name.to_string(),
        })?;
        learner.set_weights(weights)?;
        self.weights = *learner.weights();
        self.dirty.mark(Dirty::LEARNER);
        Ok(())
    }

    fn skip(&self, now: f64, reason: Reason) -> CycleRecord {
        CycleRecord::skip(&self.name, &self.bot, now, self.book.cycles, reason)
    }

    /// A skip record for a tick that could not start (paused, busy, failed).
    pub fn skip_record(&self, now: f64, reason: Reason) -> CycleRecord {
        self.skip(now, reason)
    }

    fn energy_score(&mut self, resources: Resources) -> Option<f64> {
        let source = self.energy.as_mut()?;
        let success = self.book.recent.success_rate();
        let inputs = EnergyInputs {
            capital: self.book.last_profit.unwrap_or(0.0),
            profit_trend: self.roi.trend(),
            load: resources.load().clamp(0.0, 1.0),
            success_rate: success,
            deploy_eff: 1.0,
            failure_rate: 1.0 - success,
            reward: self.book.energy_reward.take(),
        };
        if inputs.reward.is_some() {
            self.dirty.mark(Dirty::ENGINE);
        }
        self.dirty.mark(Dirty::ENERGY);
        Some(match source.energy_score(&inputs) {
            Ok(s) if s.is_finite() => s.clamp(0.0, 1.0),
            Ok(s) => {
                tracing::warn!(engine = %self.name, score = s, "energy source gave a non-finite score; using 0");
                0.0
            }
            Err(e) => {
                tracing::warn!(engine = %self.name, error = %e, "energy source failed; using 0");
                0.0
            }
        })
    }

    /// The policy state now, with `energy_score` as its first input.
    pub fn state(&self, energy_score: f64) -> Result<PolicyState> {
        let deltas = self.book.metrics.deltas(self.keys);
        let (module_index, module_roi, diminishing) = match &self.book.last_module {
            Some(m) => (
                self.modules.get(m),
                self.meta.total(m),
                self.meta.is_flagged(m),
            ),
            None => (None, 0.0, false),
        };
        PolicyState::new(&StateInputs {
            energy_score,
            roi_trend: self.roi.trend(),
            anomaly_rate: self.roi.anomaly_rate(),
            success_rate: self.book.recent.success_rate(),
            recent_mean_delta: self.roi.mean_recent(RECENT_DELTAS),
            module_index,
            module_roi,
            diminishing,
            short_mean: self.roi.short_mean(),
            roi_delta_ema: self.roi.ema(),
            synergy: core_products(&self.weights, &deltas),
        })
    }

    fn record_reading(&mut self, reading: &Reading) {
        if let Reading::Profit(p) = reading {
            // A reading is finite by construction, so this cannot fail.
            if self.roi.record_profit(*p).is_ok() {
                self.book.last_profit = Some(*p);
                self.dirty.mark(Dirty::ENGINE);
            }
        }
    }

    /// Learns a pending skip's reward from `reading`, with `next` as its next state.
    fn settle_skip(&mut self, reading: &Reading, next: &PolicyState) -> Result<()> {
        let Some(pending) = self.book.pending_skip.take() else {
            return Ok(());
        };
        let reward = match (pending.profit, reading.value()) {
            (Some(then), Some(now)) => (now - then) / self.config.roi.scale,
            _ => 0.0,
        };
        self.policy
            .update(&pending.state, Action::Skip, reward, Some(next))?;
        self.dirty.mark(Dirty::ENGINE | Dirty::POLICY);
        Ok(())
    }

    fn interval_due(&self, now: f64) -> bool {
        self.book
            .last_run
            .is_none_or(|last| now - last >= self.config.interval.as_secs_f64())
    }

    /// Steps 2–4 of a tick (the actor checks paused and busy first).
    pub fn plan_tick(&mut self, now: f64, resources: Resources, hosts: &Hosts) -> Result<TickPlan> {
        let score = self.energy_score(resources);
        if let Some(s) = score
            && s < self.config.energy_threshold
        {
            let mut record = self.skip(now, Reason::LowEnergy);
            record.energy_score = Some(s);
            return Ok(TickPlan::Done(record));
        }
        let forecast = hosts
            .forecast
            .as_ref()
            .and_then(|f| f.forecast(&self.bot))
            .filter(|f| f.is_finite());
        let forced = if self.interval_due(now) {
            Some(Reason::Interval)
        } else if forecast.is_some_and(|f| f > self.config.pre_roi_bias) {
            Some(Reason::Forecast)
        } else if hosts
            .diagnostics
            .as_ref()
            .is_some_and(|d| !d.report(&self.bot).is_empty())
        {
            Some(Reason::Diagnostics)
        } else {
            None
        };
        let state = self.state(score.unwrap_or(1.0))?;
        let reason = match forced {
            Some(reason) => reason,
            None => {
                self.dirty.mark(Dirty::POLICY);
                match self.policy.select_action(&state) {
                    Action::Run => Reason::Policy,
                    Action::Skip => {
                        let reading = hosts.read_profit(&self.bot);
                        self.record_reading(&reading);
                        self.settle_skip(&reading, &state)?;
                        self.book.pending_skip = Some(PendingSkip {
                            state,
                            profit: reading.value(),
                        });
                        self.dirty.mark(Dirty::ENGINE);
                        let mut record = self.skip(now, Reason::Policy);
                        record.energy_score = score;
                        return Ok(TickPlan::Done(record));
                    }
                }
            }
        };
        Ok(TickPlan::Run(self.plan_cycle(
            now,
            reason,
            self.config.default_energy,
            score,
            forecast,
            state,
        )?))
    }

    /// Plans a cycle asked for directly (`RunCycle`): the energy score and
    /// the forecast are read, but nothing can skip it.
    pub fn plan_requested(
        &mut self,
        now: f64,
        requested: u32,
        resources: Resources,
        hosts: &Hosts,
    ) -> Result<CyclePlan> {
        let score = self.energy_score(resources);
        let forecast = hosts
            .forecast
            .as_ref()
            .and_then(|f| f.forecast(&self.bot))
            .filter(|f| f.is_finite());
        let state = self.state(score.unwrap_or(1.0))?;
        self.plan_cycle(now, Reason::Requested, requested, score, forecast, state)
    }

    /// The energy chain of a cycle about to run.
    pub fn plan_cycle(
        &self,
        now: f64,
        reason: Reason,
        requested: u32,
        energy_score: Option<f64>,
        forecast: Option<f64>,
        state: PolicyState,
    ) -> Result<CyclePlan> {
        let deltas = self.book.metrics.deltas(self.keys);
        let inputs = CycleInputs {
            state,
            policy_score: self.policy.score(&state),
            forecast,
            synergy_adj: adjustment(&self.weights, &deltas),
            roi_ema: self.roi.ema(),
            short_mean: self.roi.short_mean(),
            trend: self.roi.trend(),
        };
        let chain = energy_chain(
            &ChainInputs {
                requested,
                energy_score,
                policy_score: inputs.policy_score,
                forecast,
                synergy_adj: inputs.synergy_adj,
                roi_ema: inputs.roi_ema,
                short_mean: inputs.short_mean,
            },
            &self.config.chain,
        )?;
        Ok(CyclePlan {
            now,
            reason,
            energy_score,
            inputs,
            chain,
        })
    }

    /// Whether any state changed since the last [`take_files`](Self::take_files).
    pub fn is_dirty(&self) -> bool {
        self.dirty.0 != 0
    }

    /// Encodes every changed state file, and forgets the changes. Empty when
    /// the engine keeps no state folder.
    pub fn take_files(&mut self) -> Vec<PendingFile> {
        let dirty = std::mem::take(&mut self.dirty);
        let Some(dir) = self.dir.clone() else {
            return Vec::new();
        };
        let mut files = Vec::new();
        // Only a changed file is encoded, each on its own: one that cannot be
        // encoded stays dirty (and is logged); the others are written.
        type Encode<'a> = &'a dyn Fn() -> Option<Result<Vec<PendingFile>>>;
        let mut take = |bit: u8, encode: Encode<'_>| {
            if !dirty.has(bit) {
                return;
            }
            match encode() {
                None => self.dirty.mark(bit), // the learner is away: save it later
                Some(Ok(f)) => files.extend(f),
                Some(Err(e)) => {
                    tracing::error!(engine = %self.name, error = %e, "state file not encoded; kept for the next save");
                    self.dirty.mark(bit);
                }
            }
        };
        take(Dirty::ENGINE, &|| {
            let value = EngineFileRef {
                roi: self.roi.snapshot(),
                book: &self.book,
            };
            Some(json_file(dir.join(ENGINE_FILE), &value))
        });
        take(Dirty::POLICY, &|| {
            Some(
                self.policy
                    .state_file(&dir.join(POLICY_FILE))
                    .map(|f| vec![f]),
            )
        });
        take(Dirty::LEARNER, &|| {
            self.learner.as_ref().map(|l| l.state_files(&dir))
        });
        take(Dirty::META, &|| {
            Some(json_file(dir.join(META_FILE), &self.meta))
        });
        take(Dirty::MODULES, &|| {
            Some(json_file(dir.join(MODULES_FILE), &self.modules))
        });
        take(Dirty::ENERGY, &|| {
            Some(
                self.energy
                    .as_ref()
                    .map_or(Ok(Vec::new()), |e| e.state_files(&dir)),
            )
        });
        files
    }

    /// Marks every state file changed: after a save that failed, so the next
    /// save writes everything again.
    pub fn mark_all_dirty(&mut self) {
        self.dirty.mark(Dirty::ALL);
    }
}

/// `value` as one state file at `path`.
fn json_file<T: serde::Serialize>(path: PathBuf, value: &T) -> Result<Vec<PendingFile>> {
    Ok(vec![PendingFile::json(path, value)?])
}

mod book;
mod cycle;
mod hosts;

use book::{Book, Dirty, EngineFile, EngineFileRef, Outcomes, PendingSkip};
pub use book::{SavedEngine, inspect_engine};
pub use cycle::Absorbed;
pub use hosts::{Hosts, Reading};

#[cfg(test)]
mod tests;
