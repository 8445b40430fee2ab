//! [`VariantPipeline`]: a pipeline whose runs are a bot's variants.
//!
//! Each run asks the bot's [`Variants`] which variant runs and hands it to
//! a [`VariantRunner`]: for a command, as `KAIZEN_VARIANT` (its id) and
//! `KAIZEN_PARAMS` (its parameters as a JSON object) to that variant's
//! command (a code variant, or the pipeline's one command); for a training
//! bot, as the training pipeline's hyperparameters
//! ([`TrainingVariants`](crate::training::TrainingVariants)). The outcome
//! comes back: the result's `roi.roi`, or the metric named by
//! `variants.metric`, with the run's energy.
//!
//! The state is then written through [`crate::persist`] (atomic, versioned):
//! the fleet's FDR state first, then the bot's. A judgement is one step: the
//! fleet's file records the verdict with the test it judged, so a bot whose
//! file missed it (a crash between the two writes) takes that verdict when
//! it is opened again, and the fleet never counts one test twice (see
//! [`crate::variants::trial`]). The fleet's file is at version
//! [`FLEET_FORMAT_VERSION`]; version 1 (no verdicts) is read as is.
//!
//! A run that fails, or whose result lacks the outcome, records nothing
//! (the warning names why) and its result goes to the engine unchanged:
//! variants never change what a cycle reports.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use super::{AutomationResult, CommandPipeline, Pipeline, PipelineFuture};
use crate::host::{Clock, SystemClock};
use crate::persist::{self, Decode, Durability, PendingFile};
use crate::variants::{Assignment, Fleet, VariantEvent, Variants, VariantsSpec};
use crate::{Error, Result};

/// The version of `variants-fleet.json`: 2 added each bot's last verdict.
pub const FLEET_FORMAT_VERSION: u64 = 2;

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
            Some(f) => Self::load(f)?.unwrap_or(fleet),
            None => fleet,
        };
        Ok(Arc::new(SharedFleet {
            fleet: Mutex::new(fleet),
            file,
        }))
    }

    /// Reads a fleet's file (versions 1 and 2), with [`persist`]'s recovery rules.
    ///
    /// # Errors
    /// A file that cannot be read or is newer than this build.
    pub fn load(file: &Path) -> Result<Option<Fleet>> {
        Ok(persist::load_with(file, |bytes| {
            // Version 2 added `verdicts`, which has a default.
            persist::json_version(bytes, FLEET_FORMAT_VERSION)?;
            serde_json::from_slice(bytes).map_err(|e| Decode::Corrupt(e.to_string()))
        })?)
    }

    /// Writes a fleet's file at [`FLEET_FORMAT_VERSION`], atomically.
    ///
    /// # Errors
    /// A write that fails.
    pub fn save(file: &Path, fleet: &Fleet, durability: Durability) -> Result<()> {
        let bytes = persist::encode_json_version(file, fleet, FLEET_FORMAT_VERSION)?;
        persist::write_all(
            &[PendingFile {
                path: file.to_path_buf(),
                bytes,
            }],
            durability,
        )?;
        Ok(())
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
    name: String,
    variants: Mutex<Variants>,
    file: Option<PathBuf>,
    fleet: Arc<SharedFleet>,
    clock: Arc<dyn Clock>,
    durability: Durability,
}

/// What runs one cycle of a variant: a command (the variant's code and
/// its parameters in the environment), or kaizen's training pipeline with
/// the parameters as its hyperparameters.
pub trait VariantRunner: Send + Sync {
    /// Runs `assignment`'s variant for `bot` with `energy`.
    fn run_variant(&self, bot: &str, energy: u32, assignment: &Assignment) -> PipelineFuture;

    /// Whether `result` is an outcome of the variant that ran (default: every
    /// result; a training cycle that did not train is not one).
    fn is_outcome(&self, _result: &AutomationResult) -> bool {
        true
    }
}

/// The command runner: the variant's command, with `KAIZEN_VARIANT` and
/// `KAIZEN_PARAMS`.
struct Commands(Vec<CommandPipeline>);

impl VariantRunner for Commands {
    fn run_variant(&self, bot: &str, energy: u32, a: &Assignment) -> PipelineFuture {
        let params = serde_json::to_string(&a.params).unwrap_or_else(|_| "{}".into());
        let command = &self.0[a.command.min(self.0.len() - 1)];
        command.run_with(
            bot,
            energy,
            &[
                ("KAIZEN_VARIANT", a.variant.to_string()),
                ("KAIZEN_PARAMS", params),
            ],
        )
    }
}

/// A bot's pipeline running its variants (see the module docs).
pub struct VariantPipeline {
    runner: Arc<dyn VariantRunner>,
    bot: Arc<Bot>,
}

impl VariantPipeline {
    /// The pipeline of `bot`'s `[variants]` table: `base` is the spec's
    /// command, which also gives the code variants their folder and
    /// environment. The state is read from `file` when it is there and was
    /// made from the same table (a changed table starts a new population),
    /// and written there after every outcome. A test the fleet judged
    /// while the bot's file missed it ends now with the fleet's verdict.
    ///
    /// # Errors
    /// A table with a bad key, or a state file that cannot be read or written.
    pub fn open(
        bot: &str,
        spec: VariantsSpec,
        base: CommandPipeline,
        file: Option<PathBuf>,
        fleet: Arc<SharedFleet>,
    ) -> Result<Self> {
        let commands = if spec.commands.is_empty() {
            vec![base]
        } else {
            spec.commands
                .iter()
                .map(|c| base.with_command(c.clone()))
                .collect::<Result<_>>()?
        };
        Self::with_runner(bot, spec, Arc::new(Commands(commands)), file, fleet)
    }

    /// [`open`](Self::open) with the variants run by `runner`.
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn with_runner(
        bot: &str,
        spec: VariantsSpec,
        runner: Arc<dyn VariantRunner>,
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
        let bot = Bot {
            name: bot.to_string(),
            variants: Mutex::new(variants),
            file,
            fleet,
            clock: Arc::new(SystemClock),
            durability: Durability::Fsync,
        };
        bot.take_missed_verdict()?;
        Ok(VariantPipeline {
            runner,
            bot: Arc::new(bot),
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
    /// Ends a running test the fleet has already judged (a crash came
    /// between the fleet's write and this bot's), and saves the bot's file.
    fn take_missed_verdict(&self) -> Result<()> {
        let mut variants = self.variants.lock().unwrap_or_else(PoisonError::into_inner);
        let fleet = self.fleet.snapshot();
        let Some(promoted) = variants.test().and_then(|t| fleet.verdict(&self.name, t)) else {
            return Ok(());
        };
        let mut next = variants.clone();
        // The verdict is recorded, so this changes nothing in the fleet.
        let mut same = fleet;
        let events = next.tick(self.clock.now(), &self.name, &mut same)?;
        if let Some(f) = &self.file {
            persist::save_json(f, &next, self.durability)?;
        }
        tracing::info!(bot = %self.name, promoted, events = %serde_json::to_string(&events).unwrap_or_default(), "variants: took the fleet's verdict on a test this bot's file had missed");
        *variants = next;
        Ok(())
    }

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
            &self.name,
            &mut next_fleet,
        )?;
        // The fleet's file first, so no promotion is ever on disk unjudged;
        // it records the verdict, which the bot takes after a crash before
        // its own write (see `take_missed_verdict`).
        if let Some(f) = &self.fleet.file
            && next_fleet != *fleet
        {
            SharedFleet::save(f, &next_fleet, self.durability)?;
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
        let run = self.runner.run_variant(bot, energy, &assignment);
        let runner = Arc::clone(&self.runner);
        let (state, name) = (Arc::clone(&self.bot), bot.to_string());
        Box::pin(async move {
            let result = run.await?;
            if !runner.is_outcome(&result) {
                return Ok(result);
            }
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
