//! Deciding (SPEC §4 steps 2–4) and planning a cycle's energy: the energy
//! score, the policy state, the forced reasons, the policy's choice and the
//! energy chain.

use super::book::PendingSkip;
use super::steps::{CyclePlan, TickPlan};
use super::{Dirty, EngineCore, Hosts, RECENT_DELTAS};
use crate::chain::{ChainInputs, energy_chain};
use crate::energy::EnergyInputs;
use crate::error::Result;
use crate::host::Resources;
use crate::policy::{Action, PolicyState, StateInputs};
use crate::record::{CycleInputs, Reason};
use crate::synergy::{adjustment, core_products};

impl EngineCore {
    pub(super) fn energy_score(&mut self, resources: Resources) -> Option<f64> {
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
    pub(crate) fn state(&self, energy_score: f64) -> Result<PolicyState> {
        self.state_with(energy_score, self.book.recent.success_rate())
    }

    /// [`state`](Self::state) with the success rate given (a cycle's next
    /// state, before its outcome is counted).
    pub(crate) fn state_with(&self, energy_score: f64, success_rate: f64) -> Result<PolicyState> {
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
            success_rate,
            recent_mean_delta: self.roi.mean_recent(RECENT_DELTAS),
            module_index,
            module_roi,
            diminishing,
            short_mean: self.roi.short_mean(),
            roi_delta_ema: self.roi.ema(),
            synergy: core_products(&self.weights, &deltas),
        })
    }

    pub(super) fn interval_due(&self, now: f64) -> bool {
        self.book
            .last_run
            .is_none_or(|last| now - last >= self.config.interval.as_secs_f64())
    }

    /// The host's forecast, else the built-in forecaster's point forecast.
    pub(super) fn forecast(&self, hosts: &Hosts) -> Option<f64> {
        match &hosts.forecast {
            Some(f) => f.forecast(&self.bot),
            None => self
                .forecaster
                .as_ref()
                .and_then(|f| f.forecast())
                .map(|f| f.mean),
        }
        .filter(|f| f.is_finite())
    }

    /// Steps 2–4 of a tick (the actor checks paused and busy first; the
    /// host's admission is asked before anything else). A tick
    /// of a forced-energy round when `energy` is given: the same decision (the energy threshold, the forced reasons, the policy), but a
    /// cycle that runs starts its energy chain from `energy` instead of
    /// `default_energy` (as a `RunCycle` does) and is marked forced.
    pub(crate) fn plan_tick(
        &mut self,
        now: f64,
        resources: Resources,
        hosts: &Hosts,
        energy: Option<u32>,
    ) -> Result<TickPlan> {
        // The energy is read at every tick, admitted or not: the
        // autoscaler reads it from the last tick of every engine.
        let admitted = hosts.admit(&self.bot);
        let score = self.energy_score(resources);
        let refused = if !admitted {
            Some(Reason::NoSlot)
        } else {
            score
                .filter(|&s| s < self.config.energy_threshold)
                .map(|_| Reason::LowEnergy)
        };
        if let Some(reason) = refused {
            let mut record = self.skip_record(now, reason);
            record.energy_score = score;
            self.last = Some((&record).into());
            return Ok(TickPlan::Skip(record));
        }
        let forecast = self.forecast(hosts);
        let triggers = self.triggers(now, forecast, hosts);
        if let Some(plan) = self.plan_learned(now, score, &triggers, hosts, energy) {
            return Ok(plan);
        }
        let forced = if triggers.interval {
            Some(Reason::Interval)
        } else if triggers
            .forecast
            .is_some_and(|f| f > self.config.pre_roi_bias)
        {
            Some(Reason::Forecast)
        } else if triggers.diagnostics {
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
                        let mut record = self.skip_record(now, Reason::Policy);
                        record.energy_score = score;
                        self.last = Some((&record).into());
                        return Ok(TickPlan::Skip(record));
                    }
                }
            }
        };
        let mut plan = self.plan_cycle(
            now,
            reason,
            energy.unwrap_or(self.config.default_energy),
            score,
            forecast,
            state,
        )?;
        plan.forced = energy.is_some();
        Ok(TickPlan::Run(plan))
    }

    /// Plans a cycle asked for directly (`RunCycle`): the energy score and
    /// the forecast are read, but nothing can skip it.
    pub(crate) fn plan_requested(
        &mut self,
        now: f64,
        requested: u32,
        resources: Resources,
        hosts: &Hosts,
    ) -> Result<CyclePlan> {
        let score = self.energy_score(resources);
        let forecast = self.forecast(hosts);
        if let Some(plan) = self.plan_imposed(now, Reason::Requested, requested, score, hosts) {
            return Ok(plan);
        }
        let state = self.state(score.unwrap_or(1.0))?;
        self.plan_cycle(now, Reason::Requested, requested, score, forecast, state)
    }

    /// The energy chain of a cycle about to run.
    fn plan_cycle(
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
            inputs: Some(inputs),
            energy: chain.energy,
            chain: Some(chain),
            forced: false,
            decision: None,
            unread: None,
        })
    }
}
