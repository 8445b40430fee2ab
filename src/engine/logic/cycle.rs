//! A cycle after its plan: the profit reading before the pipeline, the
//! outcome absorbed into ROI and metrics, the synergy update, and the
//! conclusion (policy update, meta logger, counters, the record).

use super::{CyclePlan, Dirty, EngineCore, Hosts, Reading};
use crate::Result;
use crate::metalog::{DEFAULT_DIMINISHING_CONSECUTIVE, DEFAULT_DIMINISHING_THRESHOLD};
use crate::pipeline::{AutomationResult, PipelineError};
use crate::policy::Action;
use crate::record::{CycleAction, CycleOutcome, CycleRecord};
use crate::synergy::{LearnReport, SynergyDeltas, SynergyKey, SynergyLearner};

/// The outcome of a cycle, absorbed into ROI and metrics, waiting for the
/// synergy update.
#[derive(Clone, Debug)]
pub struct Absorbed {
    ok: bool,
    error: Option<String>,
    delta: f64,
    before: Option<f64>,
    after: Option<f64>,
    modules: Vec<String>,
    /// The synergy deltas after this cycle's metrics: the learner's input.
    pub deltas: SynergyDeltas,
}

impl Absorbed {
    /// The cycle's ROI delta (after `roi_scale`): the learner's other input.
    pub fn delta(&self) -> f64 {
        self.delta
    }

    /// Whether the pipeline (and the profit readings around it) succeeded.
    pub fn ok(&self) -> bool {
        self.ok
    }
}

impl EngineCore {
    /// The profit reading before the pipeline; it also settles a pending skip.
    pub fn before_pipeline(&mut self, plan: &CyclePlan, hosts: &Hosts) -> Result<Reading> {
        let reading = hosts.read_profit(&self.bot);
        self.record_reading(&reading);
        self.settle_skip(&reading, &plan.inputs.state)?;
        Ok(reading)
    }

    /// Takes in what the pipeline produced and the profit readings around it.
    pub fn absorb(
        &mut self,
        run: Result<AutomationResult, PipelineError>,
        before: &Reading,
        after: &Reading,
    ) -> Result<Absorbed> {
        self.record_reading(after);
        let mut error = run.as_ref().err().map(|e| e.to_string());
        for r in [before, after] {
            if let Reading::Failed(why) = r {
                error.get_or_insert_with(|| why.clone());
            }
        }
        let result = run.unwrap_or_default();
        let raw = match (before, after) {
            (Reading::Profit(b), Reading::Profit(a)) => a - b,
            (Reading::NoSource, Reading::NoSource) if error.is_none() => {
                result.roi.as_ref().map_or(0.0, |r| r.roi)
            }
            _ => 0.0,
        };
        let delta = self.roi.record_delta(raw)?;
        for (name, value) in &result.metrics {
            if let Err(e) = self.book.metrics.record(name, *value) {
                error.get_or_insert_with(|| e.to_string());
            }
        }
        self.dirty.mark(Dirty::ENGINE);
        Ok(Absorbed {
            ok: error.is_none(),
            error,
            delta,
            before: before.value(),
            after: after.value(),
            modules: result.credited_modules().to_vec(),
            deltas: self.book.metrics.deltas(self.keys),
        })
    }

    /// Lends the synergy learner out for an update (heavy learners go to the
    /// pool); `None` if it is already out.
    pub fn take_learner(&mut self) -> Option<Box<dyn SynergyLearner>> {
        self.learner.take()
    }

    /// Takes the learner back after an update.
    pub fn return_learner(&mut self, learner: Box<dyn SynergyLearner>) {
        // A heavy learner's network and replay change with every update; a
        // light one's only state is its weights.
        if learner.is_heavy() || *learner.weights() != self.weights {
            self.dirty.mark(Dirty::LEARNER);
        }
        self.weights = *learner.weights();
        self.learner = Some(learner);
    }

    /// Runs the synergy update here (for learners that are not heavy).
    pub fn learn_inline(&mut self, absorbed: &Absorbed) -> Result<LearnReport> {
        let mut learner = self.learner.take().ok_or_else(|| crate::Error::Busy {
            engine: self.name.to_string(),
        })?;
        let report = crate::runtime::learners::update_caught(
            learner.as_mut(),
            absorbed.delta,
            &absorbed.deltas,
        );
        self.return_learner(learner);
        report
    }

    /// Whether the learner wants to run off the message-handling thread.
    pub fn learner_is_heavy(&self) -> bool {
        self.learner.as_ref().is_some_and(|l| l.is_heavy())
    }

    /// Finishes a cycle: policy update, meta logger, counters; the record.
    pub fn conclude(
        &mut self,
        plan: CyclePlan,
        absorbed: Absorbed,
        learned: Result<LearnReport>,
    ) -> Result<CycleRecord> {
        let learner_note = match &learned {
            Ok(r) => r
                .skipped
                .map(|s| format!("skipped: {s:?}"))
                .or_else(|| r.loss.map(|l| format!("loss {l:.6}"))),
            Err(e) => Some(format!("update failed: {e}")),
        };
        let energy = plan.chain.energy;
        let reward = absorbed.delta - self.config.energy_cost * f64::from(energy)
            + absorbed.deltas.get(SynergyKey::Roi).unwrap_or(0.0)
            + absorbed.deltas.get(SynergyKey::Efficiency).unwrap_or(0.0);
        // SPEC §4 order: the policy learns (its next state sees this cycle's
        // ROI, metrics and weights), then the meta logger.
        self.book.cycles += 1;
        if !absorbed.ok {
            self.book.failures += 1;
        }
        self.book.recent.push(absorbed.ok);
        self.book.last_run = Some(plan.now);
        let next = self.state(plan.energy_score.unwrap_or(1.0))?;
        self.policy
            .update(&plan.inputs.state, Action::Run, reward, Some(&next))?;
        self.book.cumulative_roi += absorbed.delta;
        self.meta.log_cycle(
            self.book.cycles,
            self.book.cumulative_roi,
            &absorbed.modules,
            plan.reason.as_str(),
        )?;
        self.meta.diminishing(
            DEFAULT_DIMINISHING_THRESHOLD,
            DEFAULT_DIMINISHING_CONSECUTIVE,
        )?;
        if let Some(m) = absorbed.modules.first() {
            if self.modules.get(m).is_none() {
                self.modules.index(m);
                self.dirty.mark(Dirty::MODULES);
            }
            if self.book.last_module.as_deref() != Some(m.as_str()) {
                self.book.last_module = Some(m.clone());
            }
        }
        self.book.energy_reward = Some(1.0 / (1.0 + (-reward).exp()));
        self.dirty.mark(Dirty::ENGINE | Dirty::POLICY | Dirty::META);
        Ok(CycleRecord {
            engine: self.name.clone(),
            bot: self.bot.clone(),
            time: plan.now,
            cycle: self.book.cycles,
            action: CycleAction::Run,
            reason: plan.reason,
            energy_score: plan.energy_score,
            inputs: Some(plan.inputs),
            chain: Some(plan.chain),
            outcome: Some(CycleOutcome {
                ok: absorbed.ok,
                delta: absorbed.delta,
                reward,
                profit_before: absorbed.before,
                profit_after: absorbed.after,
                error: absorbed.error,
                modules: absorbed.modules,
                learner: learner_note,
            }),
        })
    }
}
