//! One bot's learning state and the logic of its cycle, without the actor
//! (SPEC §4): the core an engine wraps.
//!
//! [`EngineCore`] owns an engine's ROI tracker, policy, synergy learner, meta
//! logger, module index and energy source. A cycle is a chain of steps, each
//! a type consumed by value, so the steps cannot be taken out of order:
//!
//! | step | call | gives |
//! |---|---|---|
//! | decide (SPEC §4 steps 2–4) | `plan_tick(now, resources, hosts, energy)` | `TickPlan`: `Skip(CycleRecord)` or `Run(CyclePlan)` |
//! | or: a cycle asked for | `plan_requested(now, energy, …)` | `CyclePlan` (energy chain computed) |
//! | read the profit before | `start(CyclePlan, hosts)` | `StartedCycle` (its energy; a profit source that failed refuses the pipeline) |
//! | the pipeline runs | the actor, under its timeout | `Result<AutomationResult, PipelineError>` |
//! | absorb the outcome | `absorb(StartedCycle, outcome, hosts)` | `AbsorbedCycle` (profit after, delta, EMA, history, metrics) |
//! | synergy update | `learn(AbsorbedCycle)` | `Learning`: `Learned(LearnedCycle)`, or `Lent(LentCycle, LearnerJob)` for a heavy learner, brought back by `learned(LentCycle, Option<Learned>)` |
//! | conclude | `conclude(LearnedCycle)` | `CycleRecord` (policy update, meta logger, counters) |
//!
//! The steps are `pub(crate)`: the engine actor is their one caller. Hosts
//! see the engine through its messages and an [`EngineSnapshot`].
//!
//! Choices where SPEC is silent:
//! - A policy *skip* reads the profit once; its reward
//!   ([`skip_reward`](crate::policy::skip_reward)) is learned at the next tick
//!   that reads the profit, with that tick's state as the next state.
//!   Without a profit source a skip's reward is 0.
//! - Every profit reading (before, after, and at policy skips) is a profit
//!   sample for the long-term trend; `capital` for the energy score is the
//!   latest reading (0 before the first).
//! - The success rate is 1 before the first cycle.
//! - After a cycle, the energy source gets
//!   [`feedback`](crate::energy::feedback) of the cycle's policy reward with
//!   its next score.
//! - A profit source that fails or reports NaN/∞ makes the cycle fail with
//!   delta 0; before the pipeline, the pipeline is then not run at all.
//! - A host energy source that fails gives the tick an energy score of 0.
//! - The meta logger is given each cycle's ROI delta and keeps the running
//!   ROI itself, so the two cannot disagree after one file is restored
//!   from its `.bak` and the other is not.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::energy::EnergySource;
use crate::error::Result;
use crate::forecast::{Forecaster, Refit, Refitted};
use crate::metalog::{META_FILE, MODULES_FILE, MetaLogger, ModuleIndex};
use crate::persist;
use crate::policy::{Action, PolicyState, SelfImprovementPolicy, skip_reward};
use crate::record::{CycleRecord, Reason};
use crate::roi::RoiTracker;
use crate::snapshot::{EngineSnapshot, LastTick};
use crate::synergy::{SynergyKeys, SynergyLearner, SynergyWeights};

mod book;
mod config;
mod files;
mod hosts;
mod learned;
mod plan;
mod steps;

pub use book::inspect_engine;
use book::{Book, Dirty, EngineFile, Outcomes};
pub use config::{DecisionMode, EngineConfig, ForceTrigger, Persistence};
pub use hosts::{Hosts, Reading};
pub use learned::{DECIDE_FILE, decider_seed};
pub(crate) use steps::{CyclePlan, LearnedCycle, Learning, StartedCycle, TickPlan};
pub use steps::{Learned, LearnerJob};

/// The engine's own file.
pub const ENGINE_FILE: &str = "engine.json";
/// The policy's file.
pub const POLICY_FILE: &str = "policy.json";
/// The built-in forecaster's state file in an engine's folder.
pub const FORECAST_FILE: &str = "forecast.json";
/// Cycles the success rate looks back over.
pub const SUCCESS_WINDOW: u32 = 50;
/// Deltas the state's "recent mean" looks back over.
pub const RECENT_DELTAS: usize = 10;

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
    /// `None` while lent out for a heavy update ([`Learning::Lent`]).
    learner: Option<Box<dyn SynergyLearner>>,
    weights: SynergyWeights,
    meta: MetaLogger,
    modules: ModuleIndex,
    energy: Option<Box<dyn EnergySource>>,
    book: Book,
    dirty: Dirty,
    last: Option<LastTick>,
    /// The built-in forecaster, when configured.
    forecaster: Option<Forecaster>,
    /// A refit of it that is due, for the actor to run off its thread.
    refit: Option<Refit>,
    /// The learned decision, in learned mode (`None`: chain mode).
    decider: Option<crate::decide::Decider>,
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
        let (roi, book, saved) = match &dir {
            Some(d) => match persist::load_json::<EngineFile>(&d.join(ENGINE_FILE))? {
                Some(f) => {
                    let saved = f.book.decision;
                    (
                        RoiTracker::from_snapshot(config.roi, f.roi)?,
                        f.book,
                        Some(saved),
                    )
                }
                None => (RoiTracker::new(config.roi)?, Book::default(), None),
            },
            None => (RoiTracker::new(config.roi)?, Book::default(), None),
        };
        // The settings' mode, else the folder's; a folder from before the
        // modes runs chain, a new engine learned (module docs of `learned`).
        let mode = config.decision.unwrap_or(match saved {
            Some(saved) => saved.unwrap_or(DecisionMode::Chain),
            None => DecisionMode::Learned,
        });
        let mut dirty = Dirty::default();
        // A folder's engine.json learns its mode (a new engine's is
        // written with its first save).
        if saved.is_some() && book.decision != Some(mode) {
            dirty.mark(Dirty::ENGINE);
        }
        let decider = match mode {
            DecisionMode::Learned => Some(learned::open_decider(
                &name,
                &config.decide,
                dir.as_deref(),
            )?),
            DecisionMode::Chain => None,
        };
        let book = Book {
            decision: Some(mode),
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
        let forecaster = match (config.forecast, &dir) {
            (None, _) => None,
            (Some(c), Some(d)) => Some(Forecaster::load(&d.join(FORECAST_FILE), c)?),
            (Some(c), None) => Some(Forecaster::new(c)?),
        };
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
            dirty,
            last: None,
            forecaster,
            refit: None,
            decider,
        })
    }

    /// The built-in forecaster, when configured.
    pub fn forecaster(&self) -> Option<&Forecaster> {
        self.forecaster.as_ref()
    }

    /// The built-in forecaster's refit that fell due at the last cycle, if
    /// any: run it anywhere ([`Refit::run`]) and hand the result to
    /// [`install_refit`](Self::install_refit). Until then the previous model
    /// takes the new deltas; a refit never installed is asked for again at
    /// the next cycle.
    pub fn take_refit(&mut self) -> Option<Refit> {
        self.refit.take()
    }

    /// Installs a refit of the built-in forecaster (the deltas that came in
    /// since it was taken are replayed through the new model).
    pub fn install_refit(&mut self, refitted: Refitted) {
        if let Some(f) = &mut self.forecaster {
            f.install(refitted);
            self.dirty.mark(Dirty::FORECAST);
        }
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

    /// The engine's state now (`busy` is false: the core does not know
    /// whether its actor is waiting on a pipeline).
    pub fn snapshot(&self) -> EngineSnapshot {
        EngineSnapshot {
            engine: self.name.clone(),
            bot: self.bot.clone(),
            paused: self.book.paused,
            busy: false,
            cycles: self.book.cycles,
            failures: self.book.failures,
            success_rate: self.success_rate(),
            roi_delta_ema: self.roi.ema(),
            short_mean: self.roi.short_mean(),
            trend: self.roi.trend(),
            last_run: self.book.last_run,
            last_module: self.book.last_module.clone(),
            learner: Some(self.config.learner.kind().to_string()),
            weights: self
                .weights
                .iter()
                .map(|(k, w)| (k.name().to_string(), w))
                .collect(),
            last: self.last,
            training: None,
        }
    }

    /// Loads the synergy learner again from the state folder (fresh without
    /// one): for when a learner was lost with a learner-pool thread.
    pub(crate) fn reopen_learner(&mut self) -> Result<()> {
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

    /// Replaces the synergy weights (e.g. `kaizen synergy import`);
    /// [`Error::Busy`](crate::Error::Busy) while the learner is lent out.
    pub fn set_weights(&mut self, weights: SynergyWeights) -> Result<()> {
        let learner = self.learner.as_mut().ok_or_else(|| crate::Error::Busy {
            engine: self.name.to_string(),
        })?;
        learner.set_weights(weights)?;
        self.weights = *learner.weights();
        self.dirty.mark(Dirty::LEARNER);
        Ok(())
    }

    /// A skip record for a tick that did not run (paused, busy, low energy,
    /// the policy, an internal failure); it becomes the last tick.
    pub(crate) fn skip_record(&mut self, now: f64, reason: Reason) -> CycleRecord {
        let record = CycleRecord::skip(&self.name, &self.bot, now, self.book.cycles, reason);
        self.last = Some(LastTick::from(&record));
        record
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
        let reward = skip_reward(pending.profit, reading.value(), self.config.roi.scale);
        self.policy
            .update(&pending.state, Action::Skip, reward, Some(next))?;
        self.dirty.mark(Dirty::ENGINE | Dirty::POLICY);
        Ok(())
    }
}

#[cfg(test)]
mod learned_tests;
#[cfg(test)]
mod tests;
