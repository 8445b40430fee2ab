//! [`VariantPipeline`]: a command pipeline whose runs are a bot's variants.
//!
//! Each run asks the bot's [`Variants`] which variant runs, hands it to the
//! program as `KAIZEN_VARIANT` (its id) and `KAIZEN_PARAMS` (its parameters
//! as a JSON object), runs that variant's command (a code variant, or the
//! pipeline's one command), and tells the outcome back: the result's
//! `roi.roi`, or the metric named by `variants.metric`, with the run's energy.
//! The state is then written through [`crate::persist`] (atomic, versioned),
//! and the fleet's FDR state beside it. A run that fails, or whose result
//! lacks the outcome, records nothing (the warning names why) and its result
//! goes to the engine unchanged: variants never change what a cycle reports.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use super::{AutomationResult, CommandPipeline, Pipeline, PipelineFuture};
use crate::host::{Clock, SystemClock};
use crate::persist::{self, Durability};
use crate::variants::{Assignment, Fleet, VariantEvent, Variants, VariantsSpec};
use crate::{Error, Result};

/// The fleet's FDR rule, shared by the variant pipelines of every bot, and
/// the file it is kept in.
pub struct SharedFleet {
    fleet: Mutex<Fleet>,
    file: Option<PathBuf>,
}

impl SharedFleet {
    /// The rule kept in `file` (read if there, else `fleet`), or in memory.
    ///
    /// # Errors
    /// A file that cannot be read (see [`persist::load_json`]).
    pub fn open(fleet: Fleet, file: Option<PathBuf>) -> Result<Arc<Self>> {
        let fleet = match &file {
            Some(f) => persist::load_json(f)?.unwrap_or(fleet),
            None => fleet,
        };
        Ok(Arc::new(SharedFleet {
            fleet: Mutex::new(fleet),
            file,
        }))
    }

    /// The rule's state now.
    pub fn snapshot(&self) -> Fleet {
        self.fleet
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

struct Bot {
    variants: Mutex<Variants>,
    file: Option<PathBuf>,
    fleet: Arc<SharedFleet>,
    clock: Arc<dyn Clock>,
    durability: Durability,
}

/// A bot's command pipeline running its variants (see the module docs).
pub struct VariantPipeline {
    commands: Vec<CommandPipeline>,
    bot: Arc<Bot>,
}

impl VariantPipeline {
    /// The pipeline of a `[variants]` table: `base` is the spec's command,
    /// which also gives the code variants their folder and environment. The
    /// state is read from `file` when it is there and was made from the same
    /// table (a changed table starts a new population), and written there
    /// after every outcome.
    ///
    /// # Errors
    /// A table with a bad key, or a state file that cannot be read.
    pub fn open(
        spec: VariantsSpec,
        base: CommandPipeline,
        file: Option<PathBuf>,
        fleet: Arc<SharedFleet>,
    ) -> Result<Self> {
        let fresh = Variants::new(spec.clone())?;
        let variants = match &file {
            Some(f) => persist::load_json::<Variants>(f)?
                .filter(|v| v.spec() == &spec)
                .unwrap_or(fresh),
            None => fresh,
        };
        let commands = if spec.commands.is_empty() {
            vec![base]
        } else {
            spec.commands
                .iter()
                .map(|c| base.with_command(c.clone()))
                .collect::<Result<_>>()?
        };
        Ok(VariantPipeline {
            commands,
            bot: Arc::new(Bot {
                variants: Mutex::new(variants),
                file,
                fleet,
                clock: Arc::new(SystemClock),
                durability: Durability::Fsync,
            }),
        })
    }

    /// Uses `clock` for test deadlines and `durability` for the state file
    /// (before the first run).
    pub fn with(mut self, clock: Arc<dyn Clock>, durability: Durability) -> Self {
        if let Some(bot) = Arc::get_mut(&mut self.bot) {
            bot.clock = clock;
            bot.durability = durability;
        }
        self
    }

    /// The bot's variants now.
    pub fn variants(&self) -> Variants {
        self.bot
            .variants
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Bot {
    /// Records a run's outcome and saves the state; returns the events.
    fn record(
        &self,
        a: &Assignment,
        result: &AutomationResult,
        energy: u32,
    ) -> Result<Vec<VariantEvent>> {
        let mut variants = self.variants.lock().unwrap_or_else(PoisonError::into_inner);
        let outcome = match variants.spec().metric.as_deref() {
            None | Some("roi") => result.roi.as_ref().map(|r| r.roi),
            Some(name) => result.metrics.get(name).copied(),
        }
        .ok_or_else(|| {
            Error::invalid(
                "variant outcome",
                "nothing",
                "the result's roi.roi, or the metric named by variants.metric",
            )
        })?;
        let mut fleet = self
            .fleet
            .fleet
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut next = variants.clone();
        let mut next_fleet = fleet.clone();
        let events = next.outcome(
            a,
            outcome,
            f64::from(energy),
            self.clock.now(),
            &mut next_fleet,
        )?;
        // The fleet's file first, so no promotion is ever on disk unjudged. A
        // crash between the two writes can have the fleet judge one test a
        // second time after the restart; the bot's file still names exactly
        // one serving variant.
        if let Some(f) = &self.fleet.file
            && next_fleet != *fleet
        {
            persist::save_json(f, &next_fleet, self.durability)?;
        }
        if let Some(f) = &self.file {
            persist::save_json(f, &next, self.durability)?;
        }
        (*variants, *fleet) = (next, next_fleet);
        Ok(events)
    }
}

impl Pipeline for VariantPipeline {
    fn run(&self, bot: &str, energy: u32) -> PipelineFuture {
        let assignment = self
            .bot
            .variants
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .assign();
        let assignment = match assignment {
            Ok(a) => a,
            Err(e) => {
                return Box::pin(async move { Err(super::PipelineError::Failed(e.to_string())) });
            }
        };
        let params = serde_json::to_string(&assignment.params).unwrap_or_else(|_| "{}".into());
        let command = &self.commands[assignment.command.min(self.commands.len() - 1)];
        let run = command.run_with(
            bot,
            energy,
            &[
                ("KAIZEN_VARIANT", assignment.variant.to_string()),
                ("KAIZEN_PARAMS", params),
            ],
        );
        let (state, name) = (Arc::clone(&self.bot), bot.to_string());
        Box::pin(async move {
            let result = run.await?;
            match state.record(&assignment, &result, energy) {
                Ok(events) => {
                    for e in events {
                        tracing::info!(bot = %name, event = %serde_json::to_string(&e).unwrap_or_default(), "variants");
                    }
                }
                Err(e) => {
                    tracing::warn!(bot = %name, variant = assignment.variant, "variant outcome not recorded: {e}")
                }
            }
            Ok(result)
        })
    }
}

#[cfg(test)]
mod tests;
