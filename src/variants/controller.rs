//! [`Variants`]: a bot's variants, the state a cycle asks which variant runs
//! and tells the outcome to.
//!
//! Each cycle runs one variant ([`Variants::assign`]):
//! - while an A/B test runs, its arms in turn (serving, challenger, …);
//! - otherwise the population member the mutation engine wants to try.
//!
//! Every outcome ([`Variants::outcome`], per unit of the cycle's energy)
//! goes into the member's score, and, during a test, into the test. When a
//! generation ends and the best-scored member is not the serving variant, a
//! test of it against the serving one starts. A test that stops is judged
//! by the fleet's rule ([`Fleet`]); the challenger then serves, or the
//! serving variant stays (a challenger is tested once). The serving variant and a running test's
//! challenger are never replaced by the mutation engine. There is exactly
//! one serving variant at any time, and it is a field of this one state: a
//! promotion is one write of the state file (atomic, through
//! [`crate::persist`]), so a crash leaves the old or the new champion.

use serde::{Deserialize, Serialize};

use super::config::VariantsSpec;
use super::pbt::{PbtCopy, PbtMember};
use super::population::{Generation, Population};
use super::space::Params;
use super::trial::{Fleet, VariantTest};
use crate::stats::{AbStatus, Arm, Decision};
use crate::{Error, Result};

/// What one cycle runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    /// The variant (`KAIZEN_VARIANT`).
    pub variant: u64,
    /// Its parameters (`KAIZEN_PARAMS`).
    pub params: Params,
    /// Its command: an index into `variants.commands`.
    pub command: usize,
    /// The test arm it runs as, during a test.
    pub arm: Option<Arm>,
}

/// Something that happened to a bot's variants, for the decision stream and logs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum VariantEvent {
    /// A generation ended.
    Generation(Generation),
    /// A test started.
    TestStarted {
        /// The serving variant.
        serving: u64,
        /// The challenger.
        challenger: u64,
        /// The test's level (the fleet's α_t).
        alpha: f64,
    },
    /// A test stopped and the fleet judged it.
    TestEnded {
        /// The test's last status.
        status: AbStatus,
        /// The challenger now serves.
        promoted: bool,
        /// The variant serving after it.
        serving: u64,
    },
    /// An operator promoted a variant (`kaizen variants promote`); a running
    /// test was cancelled unjudged.
    Promoted {
        /// The variant that serves now.
        variant: u64,
        /// The variant that served before.
        previous: u64,
        /// The challenger of the test this cancelled, if one ran.
        cancelled_test: Option<u64>,
    },
    /// An operator retired a variant (`kaizen variants retire`): a child of
    /// the serving variant took its place.
    Retired {
        /// The variant taken out.
        variant: u64,
        /// Its replacement.
        replaced_by: u64,
        /// It was a running test's challenger (the test was cancelled unjudged).
        cancelled_test: bool,
    },
    /// Population-based training: this bot copied another bot of its group
    /// (its saved model and its serving parameters, perturbed); the new
    /// variant serves in place of the old serving one.
    PbtCopied {
        /// The bot copied.
        from: String,
        /// Its saved model version that was copied.
        version: u64,
        /// The new serving variant, with the perturbed parameters.
        variant: u64,
        /// The serving variant it replaced.
        replaced: u64,
        /// The challenger of the test this cancelled, if one ran.
        cancelled_test: Option<u64>,
    },
}

/// An event's name on the decision stream and in `kaizen history`:
/// `variants_proposed` (a generation bred new variants), `trial_started`,
/// `test_promote` / `test_hold` / `test_reject` (a test's verdict: its
/// challenger serves; the evidence was not there by the deadline; the
/// evidence was there but the fleet's false-discovery-rate rule refused
/// it), `promotion`, `retire`, `pbt_copy`.
pub fn event_name(event: &VariantEvent) -> &'static str {
    match event {
        VariantEvent::Generation(_) => "variants_proposed",
        VariantEvent::TestStarted { .. } => "trial_started",
        VariantEvent::TestEnded { promoted: true, .. } => "test_promote",
        VariantEvent::TestEnded { status, .. } if status.decision == Decision::Hold => "test_hold",
        VariantEvent::TestEnded { .. } => "test_reject",
        VariantEvent::Promoted { .. } => "promotion",
        VariantEvent::Retired { .. } => "retire",
        VariantEvent::PbtCopied { .. } => "pbt_copy",
    }
}

/// An operator's change of a bot's variants (the CLI, the API).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VariantAction {
    /// [`Variants::promote`] this variant.
    Promote(u64),
    /// [`Variants::retire`] this variant.
    Retire(u64),
}

impl VariantAction {
    /// Makes the change on `variants`.
    ///
    /// # Errors
    /// As [`Variants::promote`] and [`Variants::retire`] (nothing changes).
    pub fn apply(self, variants: &mut Variants) -> Result<VariantEvent> {
        match self {
            VariantAction::Promote(id) => variants.promote(id),
            VariantAction::Retire(id) => variants.retire(id),
        }
    }

    /// Its name in the audit trail: `variants.promote`, `variants.retire`.
    pub fn audit_name(self) -> &'static str {
        match self {
            VariantAction::Promote(_) => "variants.promote",
            VariantAction::Retire(_) => "variants.retire",
        }
    }

    /// The variant it changes.
    pub fn id(self) -> u64 {
        match self {
            VariantAction::Promote(id) | VariantAction::Retire(id) => id,
        }
    }
}

/// A bot's variants (see the module docs). Serde: the whole state file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Variants {
    spec: VariantsSpec,
    population: Population,
    serving: u64,
    test: Option<VariantTest>,
    promotions: u64,
    /// Challengers already tested: not tested again.
    tested: Vec<u64>,
}

impl Variants {
    /// The first state of a `[variants]` table: member 0 serves.
    ///
    /// # Errors
    /// A table with a bad key (the error names it).
    pub fn new(spec: VariantsSpec) -> Result<Self> {
        let population = spec.population()?;
        let serving = population.members()[0].id;
        Ok(Variants {
            spec,
            population,
            serving,
            test: None,
            promotions: 0,
            tested: Vec::new(),
        })
    }

    /// The table it runs with.
    pub fn spec(&self) -> &VariantsSpec {
        &self.spec
    }

    /// The population.
    pub fn population(&self) -> &Population {
        &self.population
    }

    /// The serving variant's id.
    pub fn serving(&self) -> u64 {
        self.serving
    }

    /// The running test, if any.
    pub fn test(&self) -> Option<&VariantTest> {
        self.test.as_ref()
    }

    /// Promotions so far.
    pub fn promotions(&self) -> u64 {
        self.promotions
    }

    /// Tests that ended with the fleet's verdict (each judged once; a test
    /// an operator cancelled is not one).
    pub fn tests_ended(&self) -> usize {
        self.tested.len() - usize::from(self.test.is_some())
    }

    /// The variant the next cycle runs.
    pub fn assign(&self) -> Result<Assignment> {
        let (id, arm) = match &self.test {
            Some(t) => {
                let arm = t.next_arm();
                (t.variant(arm), Some(arm))
            }
            None => match self.population.next() {
                Some(v) => (v.id, None),
                None => {
                    return Err(Error::invalid(
                        "variants.population",
                        "empty",
                        "at least 2 members",
                    ));
                }
            },
        };
        let v = self
            .population
            .get(id)
            .ok_or_else(|| Error::invalid("variant", id, "a member of the population"))?;
        Ok(Assignment {
            variant: id,
            params: v.params.clone(),
            command: v.command,
            arm,
        })
    }

    /// Records the outcome of `assignment`'s cycle, earned with `energy`, at
    /// time `now`; `fleet` judges a test that stops (this state being `bot`'s).
    ///
    /// # Errors
    /// A non-finite outcome, an energy not above 0, or an assignment that is
    /// no longer current (nothing changes).
    pub fn outcome(
        &mut self,
        assignment: &Assignment,
        outcome: f64,
        energy: f64,
        now: f64,
        bot: &str,
        fleet: &mut Fleet,
    ) -> Result<Vec<VariantEvent>> {
        if !(energy.is_finite() && energy > 0.0) {
            return Err(Error::invalid("energy", energy, "a number above 0"));
        }
        if !outcome.is_finite() {
            return Err(Error::NonFinite {
                what: "variant outcome".into(),
                value: outcome,
            });
        }
        let current = self.assign()?;
        if current.variant != assignment.variant || current.arm != assignment.arm {
            return Err(Error::invalid(
                "assignment",
                assignment.variant,
                "the variant assigned to the current cycle",
            ));
        }
        let mut events = Vec::new();
        let protect: Vec<u64> = [Some(self.serving), self.test.as_ref().map(|t| t.challenger)]
            .into_iter()
            .flatten()
            .collect();
        if let (Some(test), Some(arm)) = (&mut self.test, assignment.arm) {
            test.observe(arm, outcome, energy)?;
        }
        if let Some(g) = self
            .population
            .record(assignment.variant, outcome / energy, &protect)?
        {
            events.push(VariantEvent::Generation(g));
        }
        self.settle(now, bot, fleet, &mut events)?;
        Ok(events)
    }

    /// Ends a test that has stopped (also at a deadline), or that the fleet
    /// has already judged (its verdict reached the fleet's file but not this
    /// bot's before a crash), and starts one when no test runs and the
    /// best-scored member is not serving.
    fn settle(
        &mut self,
        now: f64,
        bot: &str,
        fleet: &mut Fleet,
        events: &mut Vec<VariantEvent>,
    ) -> Result<()> {
        if let Some(test) = &self.test {
            let status = test.status(now);
            if status.decision != Decision::Continue || fleet.verdict(bot, test).is_some() {
                let promoted = fleet.judge(bot, test, &status)?;
                if promoted {
                    self.serving = test.challenger;
                    self.promotions += 1;
                }
                self.test = None;
                events.push(VariantEvent::TestEnded {
                    status,
                    promoted,
                    serving: self.serving,
                });
            }
        }
        let generation_ended = events
            .iter()
            .any(|e| matches!(e, VariantEvent::Generation(_)));
        if self.test.is_none() && generation_ended {
            let best = self
                .population
                .best()
                .filter(|b| b.id != self.serving && !self.tested.contains(&b.id));
            if let Some(best) = best {
                self.tested.push(best.id);
                let alpha = fleet.level(self.spec.test.alpha);
                let config = self.spec.test.abtest(now, alpha);
                self.test = Some(VariantTest::start(self.serving, best.id, config, now)?);
                events.push(VariantEvent::TestStarted {
                    serving: self.serving,
                    challenger: best.id,
                    alpha,
                });
            }
        }
        Ok(())
    }

    /// Drops the running test unjudged; its challenger counts as untested.
    fn cancel_test(&mut self) -> Option<u64> {
        let challenger = self.test.take()?.challenger;
        self.tested.retain(|&t| t != challenger);
        Some(challenger)
    }

    /// An operator's promotion: `id` serves from now on, and a running test
    /// is cancelled without asking the fleet (an operator's choice is not a
    /// statistical discovery, so the fleet's FDR rule does not count it).
    ///
    /// # Errors
    /// [`Error::UnknownVariant`] for an `id` that is not a member,
    /// [`Error::VariantRefused`] for the one that already serves (nothing
    /// changes).
    pub fn promote(&mut self, id: u64) -> Result<VariantEvent> {
        if self.population.get(id).is_none() {
            return Err(Error::UnknownVariant { id });
        }
        if id == self.serving {
            return Err(Error::VariantRefused {
                id,
                action: "promoted",
                why: "it serves already",
            });
        }
        let previous = self.serving;
        let cancelled_test = self.cancel_test();
        self.serving = id;
        self.promotions += 1;
        Ok(VariantEvent::Promoted {
            variant: id,
            previous,
            cancelled_test,
        })
    }

    /// An operator's retirement: `id` leaves the population and a mutated
    /// child of the serving variant takes its place; a test with `id` as
    /// its challenger is cancelled unjudged.
    ///
    /// # Errors
    /// [`Error::UnknownVariant`] for an `id` that is not a member,
    /// [`Error::VariantRefused`] for the serving variant (promote another
    /// first); nothing changes.
    pub fn retire(&mut self, id: u64) -> Result<VariantEvent> {
        if id == self.serving {
            return Err(Error::VariantRefused {
                id,
                action: "retired",
                why: "it serves (promote another one first)",
            });
        }
        let replaced_by = self.population.retire(id, self.serving)?;
        let cancelled_test = self.test.as_ref().is_some_and(|t| t.challenger == id);
        if cancelled_test {
            self.cancel_test();
        }
        Ok(VariantEvent::Retired {
            variant: id,
            replaced_by,
            cancelled_test,
        })
    }

    /// This bot as a member of its PBT group: the serving variant's
    /// parameters, and its score — the serving variant's mean outcome per
    /// unit of energy, `None` until it has one (a copy just made is left
    /// out of the ranking until it has run). `saved` is filled by the caller,
    /// who reads the bot's model registry on disk.
    pub fn pbt_member(&self, bot: &str) -> PbtMember {
        let serving = self.population.get(self.serving);
        PbtMember {
            bot: bot.to_string(),
            params: serving.map(|v| v.params.clone()).unwrap_or_default(),
            score: serving.and_then(|v| v.score()),
            saved: None,
        }
    }

    /// Takes a population-based-training copy: its perturbed parameters
    /// become a new variant that serves in place of the serving one and runs
    /// next; a running test is cancelled unjudged (as an operator's
    /// promotion cancels it).
    ///
    /// # Errors
    /// Parameters outside this bot's space (nothing changes).
    pub fn adopt(&mut self, copy: &PbtCopy) -> Result<VariantEvent> {
        let variant = self.population.adopt(self.serving, copy.params.clone())?;
        let replaced = self.serving;
        let cancelled_test = self.cancel_test();
        self.serving = variant;
        Ok(VariantEvent::PbtCopied {
            from: copy.from.clone(),
            version: copy.version,
            variant,
            replaced,
            cancelled_test,
        })
    }

    /// Checks a running test at `now` without an outcome (a cycle that
    /// failed, a periodic check, or a restart): its time deadline, and a
    /// verdict `fleet` already gave on it.
    pub fn tick(&mut self, now: f64, bot: &str, fleet: &mut Fleet) -> Result<Vec<VariantEvent>> {
        let mut events = Vec::new();
        self.settle(now, bot, fleet, &mut events)?;
        Ok(events)
    }
}

#[cfg(test)]
mod tests;
