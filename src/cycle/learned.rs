//! The learned decision mode in an engine's ticks: which mode a state
//! folder runs, the [`Decider`] kept in `decide.json`, and how a tick, a
//! requested cycle and a cycle's outcome reach it.
//!
//! **Which mode.** An explicit `decision` in the settings wins. Without one,
//! the mode saved in `engine.json` is kept; an `engine.json` from before the
//! modes existed (no saved mode) runs [`DecisionMode::Chain`], and a new
//! engine (no `engine.json`, or no folder) [`DecisionMode::Learned`]. The
//! resolved mode is saved, so a folder keeps its mode until told otherwise.
//! While pipeline slots are short, a learned cycle waits ranked by its
//! decision's expected value ([`crate::runtime::slots`]).
//!
//! **A tick in learned mode** (SPEC §4 step 1 and the energy threshold stay:
//! a paused or busy engine and a score under `energy_threshold` skip before
//! anything is decided). The profit is read (a failed reading fails the
//! tick's cycle before its pipeline, with an error naming the file or
//! source, as in chain mode: nothing is decided on a ledger that could not
//! be read, and the decider learns nothing from it); the interval,
//! forecast and diagnostics triggers are computed as in chain mode and given
//! to the decider as inputs, and a cycle is forced only when one of them is
//! listed in `force`. The decision's energy (0: skip) is the cycle's energy —
//! there is no energy chain and no run/skip policy in this mode.
//!
//! **Credit** (one precedence, as in [`crate::decide`]):
//!
//! | the engine has | the decider learns from |
//! |---|---|
//! | a `ProfitSource` | the ledger: the profit read at every decision and right after every cycle (the counterfactual credit of [`crate::decide::level`]) |
//! | none | the cycle's reported value: the `[reward]` table's weighted value, else the pipeline's ROI (the same value chain mode takes as its delta) |
//!
//! A cycle the decider did not choose (a `RunCycle`, a forced-energy round)
//! is [imposed](Decider::impose): recorded with propensity 1 and
//! `why = imposed`, and learned from like any other.

use std::path::Path;

use super::config::{DecisionMode, ForceTrigger};
use super::steps::{CyclePlan, TickPlan};
use super::{Dirty, EngineCore, Hosts, Reading};
use crate::decide::{Context, Decider, Decision, Outcome, Triggers};
use crate::error::Result;
use crate::persist;
use crate::record::Reason;

/// The learned decision's state file in an engine's folder.
pub const DECIDE_FILE: &str = "decide.json";

/// The decider of an engine named `name`: from `dir/decide.json` when it
/// is there (taking the settings' `[decide]` values if they changed, see
/// [`Decider::reconfigure`]), else new, seeded with the settings' seed
/// mixed with the name.
pub(super) fn open_decider(
    name: &str,
    config: &crate::decide::DecideConfig,
    dir: Option<&Path>,
) -> Result<Decider> {
    let wanted = crate::decide::DecideConfig {
        seed: decider_seed(config.seed, name),
        ..config.clone()
    };
    if let Some(dir) = dir
        && let Some(mut decider) = persist::load_json::<Decider>(&dir.join(DECIDE_FILE))?
    {
        if decider.config() != &wanted {
            decider.reconfigure(wanted)?;
        }
        return Ok(decider);
    }
    Decider::new(wanted)
}

/// The seed of a new decider of the engine `name` whose settings say
/// `seed`: the two mixed, so engines of one spec draw apart (and a replay
/// of the engine's decisions draws as it did).
pub fn decider_seed(seed: u64, name: &str) -> u64 {
    seed ^ fnv1a(name)
}

/// FNV-1a of `text`: a stable hash, the same on every build.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl EngineCore {
    /// The decision mode this engine runs.
    pub fn decision_mode(&self) -> DecisionMode {
        if self.decider.is_some() {
            DecisionMode::Learned
        } else {
            DecisionMode::Chain
        }
    }

    /// The learned decision's state, in learned mode.
    pub fn decider(&self) -> Option<&Decider> {
        self.decider.as_ref()
    }

    /// The triggers of a tick at `now` (inputs to either mode).
    pub(super) fn triggers(&self, now: f64, forecast: Option<f64>, hosts: &Hosts) -> Triggers {
        Triggers {
            interval: self.interval_due(now),
            forecast,
            diagnostics: hosts
                .diagnostics
                .as_ref()
                .is_some_and(|d| !d.report(&self.bot).is_empty()),
            force: false,
        }
    }

    /// A tick in learned mode, after the energy threshold; `None` in chain
    /// mode. `energy` (a forced-energy round) imposes a cycle of that energy.
    pub(super) fn plan_learned(
        &mut self,
        now: f64,
        score: Option<f64>,
        triggers: &Triggers,
        hosts: &Hosts,
        energy: Option<u32>,
    ) -> Option<TickPlan> {
        self.decider.as_ref()?;
        if let Some(energy) = energy {
            let mut plan = self.plan_imposed(now, Reason::Requested, energy, score, hosts)?;
            plan.forced = true;
            return Some(TickPlan::Run(plan));
        }
        let reading = hosts.read_profit(&self.bot);
        self.record_reading(&reading);
        if let Reading::Failed(why) = reading {
            // Nothing is decided on a ledger that could not be read: the
            // tick is a cycle refused before its pipeline, failed with the
            // reason (which names the file or source).
            return Some(TickPlan::Run(CyclePlan {
                now,
                reason: Reason::Policy,
                energy_score: score,
                inputs: None,
                chain: None,
                energy: 0,
                forced: false,
                decision: None,
                unread: Some(why),
            }));
        }
        let bias = self.config.pre_roi_bias;
        let reason = self
            .config
            .force
            .iter()
            .find(|t| t.fires(triggers, bias))
            .map(|t| match t {
                ForceTrigger::Interval => Reason::Interval,
                ForceTrigger::Forecast => Reason::Forecast,
                ForceTrigger::Diagnostics => Reason::Diagnostics,
            });
        let context = Context {
            profit: reading.value(),
            remaining: None,
            slot_price: 0.0,
            triggers: Triggers {
                force: reason.is_some(),
                ..triggers.clone()
            },
        };
        let decision = self.decider.as_mut()?.decide(&context);
        self.dirty.mark(Dirty::DECIDE);
        if decision.energy == 0 {
            if let Some(d) = self.decider.as_mut() {
                d.record(Outcome::Skipped);
            }
            let mut record = self.skip_record(now, Reason::Policy);
            record.energy_score = score;
            record.propensity = Some(decision.propensity);
            record.decision = Some(decision);
            self.last = Some((&record).into());
            return Some(TickPlan::Skip(record));
        }
        Some(TickPlan::Run(self.learned_plan(
            now,
            reason.unwrap_or(Reason::Policy),
            score,
            decision,
        )))
    }

    /// A cycle of `energy` the decider did not choose; `None` in chain mode.
    pub(super) fn plan_imposed(
        &mut self,
        now: f64,
        reason: Reason,
        energy: u32,
        score: Option<f64>,
        hosts: &Hosts,
    ) -> Option<CyclePlan> {
        self.decider.as_ref()?;
        let context = Context {
            profit: hosts.read_profit(&self.bot).value(),
            ..Context::default()
        };
        let decision = self.decider.as_mut()?.impose(&context, energy);
        self.dirty.mark(Dirty::DECIDE);
        Some(self.learned_plan(now, reason, score, decision))
    }

    fn learned_plan(
        &self,
        now: f64,
        reason: Reason,
        score: Option<f64>,
        decision: Decision,
    ) -> CyclePlan {
        CyclePlan {
            now,
            reason,
            energy_score: score,
            inputs: None,
            chain: None,
            energy: decision.energy,
            forced: false,
            decision: Some(decision),
            unread: None,
        }
    }

    /// Tells the decider what the cycle of `plan` did: it succeeded (`ok`),
    /// the profit after it, and the value it reported (`raw`, taken only
    /// without a ledger).
    pub(super) fn decided(&mut self, plan: &CyclePlan, ok: bool, after: &Reading, raw: f64) {
        let (Some(decider), Some(_)) = (self.decider.as_mut(), &plan.decision) else {
            return;
        };
        let energy = plan.energy;
        decider.record(if ok {
            Outcome::Ran {
                energy,
                profit_after: after.value(),
                reported: matches!(after, Reading::NoSource).then_some(raw),
            }
        } else {
            Outcome::Failed {
                energy,
                profit_after: after.value(),
            }
        });
        self.dirty.mark(Dirty::DECIDE);
    }
}
