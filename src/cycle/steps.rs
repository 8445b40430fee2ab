//! The cycle's steps after the plan, each a type consumed by value: a
//! [`CyclePlan`] is started ([`StartedCycle`]: the profit read before the
//! pipeline), its outcome absorbed ([`AbsorbedCycle`]: delta, EMA, history,
//! metrics), its synergy update made here or lent out ([`Learning`]), and
//! the [`LearnedCycle`] concluded into a [`CycleRecord`] (policy update, meta
//! logger, counters).

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;

use super::{Dirty, EngineCore, Hosts, Reading};
use crate::chain::EnergyChain;
use crate::decide::Decision;
use crate::energy::feedback;
use crate::metalog::{DEFAULT_DIMINISHING_CONSECUTIVE, DEFAULT_DIMINISHING_THRESHOLD};
use crate::pipeline::{AutomationResult, PipelineAlert, PipelineError, panic_message};
use crate::policy::{Action, run_reward};
use crate::record::{CycleAction, CycleInputs, CycleOutcome, CycleRecord, Reason};
use crate::reward::WeightedReward;
use crate::synergy::{LearnReport, SynergyDeltas, SynergyLearner};
use crate::{Error, Result};

/// A cycle decided: everything fixed before the pipeline runs.
#[derive(Clone, Debug)]
pub(crate) struct CyclePlan {
    /// When it started.
    pub(crate) now: f64,
    /// Why it runs.
    pub(crate) reason: Reason,
    /// The energy score, if there is an energy source.
    pub(crate) energy_score: Option<f64>,
    /// The inputs of the energy chain and the policy state (chain mode).
    pub(crate) inputs: Option<CycleInputs>,
    /// The energy chain (chain mode).
    pub(crate) chain: Option<EnergyChain>,
    /// The energy the pipeline gets.
    pub(crate) energy: u32,
    /// The energy was forced by the caller (a forced-energy round).
    pub(crate) forced: bool,
    /// The learned decision that chose the cycle (learned mode).
    pub(crate) decision: Option<Decision>,
    /// Why the profit could not be read when the cycle was to be decided
    /// (learned mode): nothing was decided, and the cycle is refused before
    /// its pipeline with this reason, as a chain-mode cycle is.
    pub(crate) unread: Option<String>,
}

impl CyclePlan {
    /// Its rank while it waits for a pipeline slot (higher first; see
    /// [`crate::runtime::slots`]): +∞ for a cycle nobody decided on (a
    /// requested cycle, a forced-energy round, a trigger listed in `force`),
    /// a learned decision's expected value against skipping, and 0 — what
    /// skipping is worth — for a chain-mode cycle, which has no value estimate.
    pub(crate) fn slot_rank(&self) -> f64 {
        match &self.decision {
            _ if self.forced || self.reason == Reason::Requested => f64::INFINITY,
            Some(d) if d.forced => f64::INFINITY,
            Some(d) => d.value,
            None => 0.0,
        }
    }
}

/// What a tick decided.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // lives on the stack for one call
pub(crate) enum TickPlan {
    /// Nothing runs: here is the record.
    Skip(CycleRecord),
    /// A cycle runs.
    Run(CyclePlan),
}

/// A cycle under way: the profit was read before the pipeline.
#[derive(Debug)]
pub(crate) struct StartedCycle {
    plan: CyclePlan,
    before: Reading,
}

impl StartedCycle {
    /// The energy the pipeline gets.
    pub(crate) fn energy(&self) -> u32 {
        self.plan.energy
    }

    /// When the cycle started.
    pub(crate) fn now(&self) -> f64 {
        self.plan.now
    }

    /// Why the pipeline must not run, if so: the profit source failed
    /// before it. Absorb this as the pipeline's outcome instead.
    pub(crate) fn refusal(&self) -> Option<PipelineError> {
        match &self.before {
            Reading::Failed(why) => Some(PipelineError::Failed(format!("not run: {why}"))),
            _ => None,
        }
    }
}

/// The pipeline's outcome taken into ROI and metrics; waits for the synergy update.
#[derive(Debug)]
pub(crate) struct AbsorbedCycle {
    plan: CyclePlan,
    ok: bool,
    error: Option<String>,
    delta: f64,
    before: Option<f64>,
    after: Option<f64>,
    modules: Vec<String>,
    /// The synergy deltas after this cycle's metrics: the learner's input.
    deltas: SynergyDeltas,
    /// What the pipeline reported.
    metrics: BTreeMap<String, f64>,
    /// The value of its metrics, with a `[reward]` table.
    weighted: Option<WeightedReward>,
    alerts: Vec<PipelineAlert>,
}

impl AbsorbedCycle {
    /// When the cycle started.
    pub(crate) fn now(&self) -> f64 {
        self.plan.now
    }
}

/// A cycle whose synergy learner is lent out with a [`LearnerJob`]; bring
/// the learner back with [`EngineCore::learned`].
#[derive(Debug)]
pub(crate) struct LentCycle(AbsorbedCycle);

/// A cycle with its synergy update made: ready to conclude.
#[derive(Debug)]
pub(crate) struct LearnedCycle {
    cycle: AbsorbedCycle,
    report: Result<LearnReport>,
}

impl LearnedCycle {
    /// When the cycle started.
    pub(crate) fn now(&self) -> f64 {
        self.cycle.now()
    }
}

/// The synergy update of a cycle: made on the spot (a light learner), or
/// lent out to run elsewhere (a heavy one, [`SynergyLearner::is_heavy`]).
#[derive(Debug)]
pub(crate) enum Learning {
    /// Made here.
    Learned(LearnedCycle),
    /// The learner and its inputs, to run on a pool thread.
    Lent(LentCycle, LearnerJob),
}

/// A synergy update to run anywhere: the learner and its inputs.
pub struct LearnerJob {
    learner: Box<dyn SynergyLearner>,
    roi_delta: f64,
    deltas: SynergyDeltas,
}

impl std::fmt::Debug for LearnerJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LearnerJob")
            .field("learner", &self.learner.kind())
            .field("roi_delta", &self.roi_delta)
            .finish_non_exhaustive()
    }
}

/// A learner back from an update, with what the update did.
pub struct Learned {
    /// The learner, updated (or unchanged, on error).
    pub learner: Box<dyn SynergyLearner>,
    /// The update's report, or why it failed (a panic becomes an error).
    pub report: Result<LearnReport>,
}

impl LearnerJob {
    /// Runs the update here; a panic becomes [`Error::Panicked`].
    pub fn run(self) -> Learned {
        let LearnerJob {
            mut learner,
            roi_delta,
            deltas,
        } = self;
        let report =
            std::panic::catch_unwind(AssertUnwindSafe(|| learner.update(roi_delta, &deltas)))
                .unwrap_or_else(|payload| {
                    Err(Error::Panicked {
                        what: "synergy learner update",
                        message: panic_message(&*payload),
                    })
                });
        Learned { learner, report }
    }
}

impl EngineCore {
    /// Starts a planned cycle: reads the profit before the pipeline (which
    /// also settles a pending skip).
    pub(crate) fn start(&mut self, plan: CyclePlan, hosts: &Hosts) -> Result<StartedCycle> {
        let before = match &plan.unread {
            Some(why) => Reading::Failed(why.clone()),
            None => hosts.read_profit(&self.bot),
        };
        self.record_reading(&before);
        if let Some(inputs) = &plan.inputs {
            self.settle_skip(&before, &inputs.state)?;
        }
        Ok(StartedCycle { plan, before })
    }

    /// Takes in what the pipeline produced: reads the profit after it (when
    /// it was read before), the delta, EMA, history and metrics.
    pub(crate) fn absorb(
        &mut self,
        cycle: StartedCycle,
        run: Result<AutomationResult, PipelineError>,
        hosts: &Hosts,
    ) -> Result<AbsorbedCycle> {
        let StartedCycle { plan, before } = cycle;
        let after = match before {
            Reading::Profit(_) => hosts.read_profit(&self.bot),
            _ => Reading::NoSource,
        };
        self.record_reading(&after);
        let mut error = run.as_ref().err().map(|e| e.to_string());
        for r in [&before, &after] {
            if let Reading::Failed(why) = r {
                error.get_or_insert_with(|| why.clone());
            }
        }
        let mut result = run.unwrap_or_default();
        // A failed run reported nothing: it has no weighted reward.
        let weighted = match (&self.config.reward, &error) {
            (Some(reward), None) => match reward.score(&result.metrics) {
                Ok(w) => Some(w),
                Err(e) => {
                    error = Some(e.to_string());
                    None
                }
            },
            _ => None,
        };
        // One precedence: the ledger; else the reported value (the weighted
        // reward, or the pipeline's own ROI).
        let mut raw = match (&before, &after) {
            (Reading::Profit(b), Reading::Profit(a)) => a - b,
            (Reading::NoSource, Reading::NoSource) if error.is_none() => match &weighted {
                Some(w) => w.value,
                None => result.roi.as_ref().map_or(0.0, |r| r.roi),
            },
            _ => 0.0,
        };
        // Nothing is counted before everything the delta will change has
        // been checked: a delta that would take the ROI history, its EMA or
        // a running total out of range fails the cycle (delta 0, nothing
        // credited) instead of wedging the engine.
        if let Err(e) = self.admit(raw, result.credited_modules()) {
            error.get_or_insert_with(|| format!("not counted: {e}"));
            raw = 0.0;
            result = AutomationResult::default();
        }
        self.decided(&plan, error.is_none(), &after, raw);
        let delta = self.roi.record_delta(raw)?;
        if let Some(f) = &mut self.forecaster {
            if let Some(job) = f.observe_deferred(delta)? {
                self.refit = Some(job);
            }
            self.dirty.mark(Dirty::FORECAST);
        }
        for (name, value) in &result.metrics {
            if let Err(e) = self.book.metrics.record(name, *value) {
                error.get_or_insert_with(|| e.to_string());
            }
        }
        self.dirty.mark(Dirty::ENGINE);
        Ok(AbsorbedCycle {
            plan,
            ok: error.is_none(),
            error,
            delta,
            before: before.value(),
            after: after.value(),
            modules: result.credited_modules().to_vec(),
            deltas: self.book.metrics.deltas(self.keys),
            weighted,
            alerts: std::mem::take(&mut result.alerts),
            metrics: std::mem::take(&mut result.metrics),
        })
    }

    /// Whether a raw delta crediting `modules` fits everything it changes:
    /// the ROI tracker (scaled delta, EMA) and the meta logger's running
    /// totals.
    fn admit(&self, raw: f64, modules: &[String]) -> Result<()> {
        let delta = self.roi.check_delta(raw)?;
        self.meta.check_delta(delta, modules).map(|_| ())
    }

    /// The synergy update: made here for a light learner; a heavy one is
    /// lent out with its inputs, to come back through [`learned`](Self::learned).
    pub(crate) fn learn(&mut self, cycle: AbsorbedCycle) -> Learning {
        let Some(learner) = self.learner.take() else {
            // Lent out already: cannot happen while one cycle runs at a time.
            let report = Err(Error::Busy {
                engine: self.name.to_string(),
            });
            return Learning::Learned(LearnedCycle { cycle, report });
        };
        let job = LearnerJob {
            learner,
            roi_delta: cycle.delta,
            deltas: cycle.deltas,
        };
        if job.learner.is_heavy() {
            return Learning::Lent(LentCycle(cycle), job);
        }
        let learned = job.run();
        self.take_back(learned.learner);
        Learning::Learned(LearnedCycle {
            cycle,
            report: learned.report,
        })
    }

    /// Takes the learner back from a [`Learning::Lent`] update; `None` when
    /// it was lost (its pool thread died): it is loaded again from the state
    /// folder and the update counts as failed.
    pub(crate) fn learned(&mut self, lent: LentCycle, back: Option<Learned>) -> LearnedCycle {
        let report = match back {
            Some(Learned { learner, report }) => {
                self.take_back(learner);
                report
            }
            None => {
                tracing::error!(engine = %self.name, "the learner pool lost this engine's learner; reloading it from disk");
                self.reopen_learner().and(Err(Error::LearnerLost {
                    engine: self.name.to_string(),
                }))
            }
        };
        LearnedCycle {
            cycle: lent.0,
            report,
        }
    }

    fn take_back(&mut self, learner: Box<dyn SynergyLearner>) {
        // A heavy learner's network and replay change with every update; a
        // light one's only state is its weights.
        if learner.is_heavy() || *learner.weights() != self.weights {
            self.dirty.mark(Dirty::LEARNER);
        }
        self.weights = *learner.weights();
        self.learner = Some(learner);
    }

    /// Finishes a cycle: policy update, meta logger, counters; the record.
    pub(crate) fn conclude(&mut self, learned: LearnedCycle) -> Result<CycleRecord> {
        let LearnedCycle { cycle, report } = learned;
        let learner_note = match &report {
            Ok(r) => r
                .skipped
                .map(|s| format!("skipped: {s:?}"))
                .or_else(|| r.loss.map(|l| format!("loss {l:.6}"))),
            Err(e) => Some(format!("update failed: {e}")),
        };
        let plan = cycle.plan;
        let energy = plan.energy;
        let reward = run_reward(cycle.delta, self.config.energy_cost, energy, &cycle.deltas);
        // SPEC §4 order: the policy learns (its next state sees this cycle's
        // ROI, metrics, weights and outcome), then the meta logger. The steps
        // that can fail come before anything is counted, and each changes
        // nothing when it fails: the cycle is all or nothing.
        let mut recent = self.book.recent;
        recent.push(cycle.ok);
        self.meta.check_delta(cycle.delta, &cycle.modules)?;
        if let Some(inputs) = &plan.inputs {
            let next = self.state_with(plan.energy_score.unwrap_or(1.0), recent.success_rate())?;
            self.policy
                .update(&inputs.state, Action::Run, reward, Some(&next))?;
        }
        self.book.cycles += 1;
        if !cycle.ok {
            self.book.failures += 1;
        }
        self.book.recent = recent;
        self.book.last_run = Some(plan.now);
        self.meta
            .log_delta(self.book.cycles, cycle.delta, &cycle.modules, plan.reason)?;
        self.meta.diminishing(
            DEFAULT_DIMINISHING_THRESHOLD,
            DEFAULT_DIMINISHING_CONSECUTIVE,
        )?;
        if let Some(m) = cycle.modules.first() {
            if self.modules.get(m).is_none() {
                self.modules.index(m);
                self.dirty.mark(Dirty::MODULES);
            }
            if self.book.last_module.as_deref() != Some(m.as_str()) {
                self.book.last_module = Some(m.clone());
            }
        }
        self.book.energy_reward = Some(feedback(reward));
        self.dirty.mark(Dirty::ENGINE | Dirty::POLICY | Dirty::META);
        let record = CycleRecord {
            engine: self.name.clone(),
            bot: self.bot.clone(),
            time: plan.now,
            cycle: self.book.cycles,
            action: CycleAction::Run,
            reason: plan.reason,
            energy_score: plan.energy_score,
            inputs: plan.inputs,
            chain: plan.chain,
            outcome: Some(CycleOutcome {
                ok: cycle.ok,
                delta: cycle.delta,
                reward,
                profit_before: cycle.before,
                profit_after: cycle.after,
                error: cycle.error,
                modules: cycle.modules,
                learner: learner_note,
                metrics: cycle.metrics,
                weighted_reward: cycle.weighted,
                alerts: cycle.alerts,
            }),
            propensity: match &plan.decision {
                Some(d) => Some(d.propensity),
                None => plan.forced.then_some(1.0),
            },
            forced: plan.forced,
            decision: plan.decision,
        };
        self.last = Some((&record).into());
        Ok(record)
    }
}
