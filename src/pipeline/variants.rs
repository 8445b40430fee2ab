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
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use super::{AutomationResult, CommandPipeline, Pipeline, PipelineError, PipelineFuture};
use crate::decision::{self, Decision, DecisionSender, VariantDecision};
use crate::host::{Clock, SystemClock};
use crate::persist::{self, Decode, Durability, PendingFile};
use crate::variants::{
    Assignment, Fleet, ModelCopy, PbtCopy, PbtMember, VariantAction, VariantEvent, Variants,
    VariantsSpec,
};
use crate::{Error, Result};

pub mod pbt;
use pbt::{PBT_FILE, PbtGroups, PbtRecord};

/// The version of `variants-fleet.json`: 2 added each bot's last verdict.
pub const FLEET_FORMAT_VERSION: u64 = 2;

/// The fleet's FDR rule, shared by the variant pipelines of every bot, and
/// the file it is kept in; and the fleet's population-based-training
/// groups ([`PbtGroups`], kept in [`PBT_FILE`] next to it).
pub struct SharedFleet {
    fleet: Mutex<Fleet>,
    file: Option<PathBuf>,
    pbt: PbtGroups,
    decisions: OnceLock<DecisionSender>,
}

impl SharedFleet {
    /// The rule kept in `file` (read if there, else `fleet`), or in memory;
    /// the PBT groups in [`PBT_FILE`] in the same folder.
    ///
    /// # Errors
    /// A file that cannot be read (see [`persist::load_json`]).
    pub fn open(fleet: Fleet, file: Option<PathBuf>) -> Result<Arc<Self>> {
        let fleet = match &file {
            Some(f) => Self::load(f)?.unwrap_or(fleet),
            None => fleet,
        };
        let pbt = PbtGroups::open(file.as_ref().map(|f| f.with_file_name(PBT_FILE)))?;
        Ok(Arc::new(SharedFleet {
            fleet: Mutex::new(fleet),
            file,
            pbt,
            decisions: OnceLock::new(),
        }))
    }

    /// Sends every bot's variant events on `decisions` from now on (as
    /// [`Decision::Variant`]); without it they are only logged. Set once.
    pub fn publish_to(&self, decisions: DecisionSender) {
        let _ = self.decisions.set(decisions);
    }

    fn publish(&self, bot: &str, time: f64, events: Vec<VariantEvent>) {
        for event in events {
            decision::publish(
                self.decisions.get(),
                Decision::Variant(VariantDecision {
                    time,
                    bot: bot.to_string(),
                    event,
                }),
            );
        }
    }

    /// The fleet's PBT groups.
    pub fn pbt(&self) -> &PbtGroups {
        &self.pbt
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

    /// The saved checkpoint of `member`, a bot of this bot's PBT group
    /// whose state folder is next to this bot's: the version its model
    /// registry serves and its weights, read from disk and checked; `None`
    /// when it has none whole on disk (default: a runner that keeps no models).
    fn checkpoint(&self, _member: &str) -> Option<(u64, Vec<u8>)> {
        None
    }

    /// Runs `assignment`'s variant after taking `copy` into this bot's
    /// model registry (default: refused, a runner that keeps no models).
    fn run_copy(
        &self,
        bot: &str,
        _energy: u32,
        _assignment: &Assignment,
        copy: ModelCopy,
    ) -> PipelineFuture {
        let why = format!(
            "bot {bot} cannot take a copy of {}'s model: its pipeline keeps no models",
            copy.from
        );
        Box::pin(async move { Err(PipelineError::Failed(why)) })
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
        let pipeline = VariantPipeline {
            runner,
            bot: Arc::new(bot),
        };
        pipeline.join_group();
        Ok(pipeline)
    }

    /// Makes this bot a live member of its PBT group, if it names one.
    fn join_group(&self) {
        let bot = &self.bot;
        if let Some(group) = &bot.spec().group {
            bot.fleet.pbt.join(group, &bot.name, Arc::downgrade(bot));
        }
    }

    /// Uses `clock` for test deadlines and `durability` for the state files
    /// (before the first run).
    pub fn with(mut self, clock: Arc<dyn Clock>, durability: Durability) -> Self {
        self.bot = match Arc::try_unwrap(self.bot) {
            Ok(mut bot) => {
                bot.clock = clock;
                bot.durability = durability;
                Arc::new(bot)
            }
            Err(shared) => shared,
        };
        self.join_group();
        self
    }

    /// The bot's variants now.
    pub fn variants(&self) -> Variants {
        self.bot.variants()
    }

    /// An operator's promotion or retirement, made on the running state:
    /// saved (when the state has a file), published on the decision stream,
    /// and in effect from the next cycle (a cycle under way records no
    /// outcome for an assignment the change ended). Returns the event and
    /// the variants after it.
    ///
    /// # Errors
    /// As [`VariantAction::apply`], or a save that fails; nothing changes.
    pub fn change(&self, action: VariantAction) -> Result<(VariantEvent, Variants)> {
        self.bot.change(action)
    }
}

impl Bot {
    fn lock(&self) -> std::sync::MutexGuard<'_, Variants> {
        self.variants.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The bot's `[variants]` table.
    fn spec(&self) -> VariantsSpec {
        self.lock().spec().clone()
    }

    /// The bot's variants now.
    fn variants(&self) -> Variants {
        self.lock().clone()
    }

    /// The bot as a member of its PBT group (no saved version filled in).
    fn pbt_member(&self) -> PbtMember {
        self.lock().pbt_member(&self.name)
    }

    /// Takes a PBT copy's parameters ([`Variants::adopt`]) and saves the
    /// state; returns the variant that serves them.
    fn adopt(&self, copy: &PbtCopy) -> Result<u64> {
        Ok(self.apply(|v| v.adopt(copy))?.1.serving())
    }

    /// An operator's change ([`VariantPipeline::change`]).
    fn change(&self, action: VariantAction) -> Result<(VariantEvent, Variants)> {
        self.apply(|v| action.apply(v))
    }

    /// Makes one change on a copy, saves it, then keeps it and publishes
    /// its event; nothing changes when either step fails.
    fn apply(
        &self,
        change: impl FnOnce(&mut Variants) -> Result<VariantEvent>,
    ) -> Result<(VariantEvent, Variants)> {
        let mut variants = self.lock();
        let mut next = variants.clone();
        let event = change(&mut next)?;
        if let Some(f) = &self.file {
            persist::save_json(f, &next, self.durability)?;
        }
        *variants = next;
        self.fleet
            .publish(&self.name, self.clock.now(), vec![event.clone()]);
        Ok((event, variants.clone()))
    }

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
        tracing::info!(bot = %self.name, promoted, "variants: took the fleet's verdict on a test this bot's file had missed");
        *variants = next;
        self.fleet.publish(&self.name, self.clock.now(), events);
        Ok(())
    }

    /// Keeps the record of a PBT copy taken by a cycle that ended with `result`.
    fn record_copy(
        &self,
        copy: PbtCopy,
        variant: u64,
        result: &std::result::Result<AutomationResult, PipelineError>,
    ) {
        let Some(group) = self.spec().group else {
            return;
        };
        let metric = |r: &AutomationResult, k: &str| r.metrics.get(k).copied();
        let version = result
            .as_ref()
            .ok()
            .and_then(|r| metric(r, "pbt_version"))
            .map(|v| v as u64);
        let record = PbtRecord {
            at: self.clock.now(),
            bot: copy.bot,
            from: copy.from,
            from_version: copy.version,
            variant,
            params: copy.params,
            version,
            deployed: result.as_ref().ok().and_then(|r| metric(r, "pbt_deployed")) == Some(1.0),
            bypassed: self.spec().pbt_bypass_gate,
            error: match result {
                Ok(_) if version.is_none() => Some("the cycle did not report the copy".into()),
                Ok(_) => None,
                Err(e) => Some(e.to_string()),
            },
        };
        if let Err(e) = self.fleet.pbt.record(&group, record, self.durability) {
            tracing::warn!(bot = %self.name, "population-based training: the copy's record was not saved: {e}");
        }
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
        let group = next.spec().group.clone();
        (*variants, *fleet) = (next, next_fleet);
        if let Some(group) = group {
            self.fleet.pbt.count(&group, &self.name, self.durability)?;
        }
        Ok(events)
    }
}

impl Pipeline for VariantPipeline {
    fn variant_pipeline(&self) -> Option<&VariantPipeline> {
        Some(self)
    }

    fn run(&self, bot: &str, energy: u32) -> PipelineFuture {
        let runner = Arc::clone(&self.runner);
        let (state, name) = (Arc::clone(&self.bot), bot.to_string());
        Box::pin(async move {
            let taken = match state.fleet.pbt.check(&state, &*runner) {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(bot = %name, "population-based training: no copy this cycle: {e}");
                    None
                }
            };
            let assignment = state
                .lock()
                .assign()
                .map_err(|e| PipelineError::Failed(e.to_string()))?;
            let (run, copied) = match taken {
                Some(t) => (
                    runner.run_copy(&name, energy, &assignment, t.model),
                    Some((t.copy, t.variant)),
                ),
                None => (runner.run_variant(&name, energy, &assignment), None),
            };
            let result = run.await;
            if let Some((copy, variant)) = copied {
                state.record_copy(copy, variant, &result);
            }
            let result = result?;
            if !runner.is_outcome(&result) {
                return Ok(result);
            }
            match state.record(&assignment, &result, energy) {
                Ok(events) => state.fleet.publish(&name, state.clock.now(), events),
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
