//! The engine actor: routes messages to the core's cycle steps
//! ([`crate::cycle`]) and waits on the pipeline, the learner pool and the
//! state writer. Its life is one [`Phase`]; its saves follow a
//! [`SaveSchedule`].

use actix::WeakRecipient;
use actix::prelude::*;
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use super::messages::*;
use super::phase::{OnChange, Phase, SaveSchedule};
use crate::cycle::{EngineCore, Hosts, LearnedCycle, Learning, Persistence, TickPlan};
use crate::decision::{DecisionSender, publish_cycle};
use crate::host::{Clock, Resources};
use crate::persist::{Answer, Durability, PendingFile, PersistError, StateWriter};
use crate::pipeline::{AutomationResult, GuardedRun, Pipeline, PipelineError};
use crate::record::{CycleRecord, Reason};
use crate::runtime::{BotGuard, BotLock, LearnerPool, PipelineSlots, Slot};
use crate::training::TrainingPipeline;
use crate::{Error, Result};

/// What the actor needs besides the core: shared services and host hooks.
pub(crate) struct Wiring {
    pub pipeline: Arc<dyn Pipeline>,
    pub hosts: Hosts,
    pub clock: Arc<dyn Clock>,
    /// This engine's bot's lock, shared with every engine of the bot.
    pub lock: BotLock,
    pub learners: LearnerPool,
    pub writer: StateWriter,
    /// The pipelines that may run at once, shared with the registry's engines.
    pub slots: PipelineSlots,
    pub events: Option<DecisionSender>,
    /// The supervisor (weak: an engine does not keep its registry alive).
    pub watcher: Option<WeakRecipient<EngineExited>>,
    pub generation: u64,
    /// The pipeline, when it is kaizen's training pipeline: for status and
    /// model changes.
    pub training: Option<TrainingPipeline>,
}

/// One bot's engine. Build it with [`EngineBuilder`](super::EngineBuilder).
pub struct SelfImprovementEngine {
    pub(super) core: EngineCore,
    pub(super) wiring: Wiring,
    pub(super) phase: Phase,
    saves: SaveSchedule,
    resources: Resources,
    idle_waiters: VecDeque<tokio::sync::oneshot::Sender<()>>,
    /// A refit of the built-in forecaster is running on a blocking thread.
    refitting: bool,
}

/// A save under way: its result once the writer has answered.
type Save = ResponseActFuture<SelfImprovementEngine, Result<()>>;

/// How long a `Flush` waits for a running cycle before it saves anyway.
const FLUSH_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// A step of a cycle: done now, or waiting for something. It only lives on
/// the stack between two calls; boxing the record would allocate on every tick.
#[allow(clippy::large_enum_variant)]
enum Step {
    Ready(CycleRecord),
    Wait(ResponseActFuture<SelfImprovementEngine, CycleRecord>),
}

impl Step {
    fn respond(self) -> ActorResponse<SelfImprovementEngine, CycleRecord> {
        match self {
            Step::Ready(r) => ActorResponse::reply(r),
            Step::Wait(f) => ActorResponse::r#async(f),
        }
    }

    fn into_future(self) -> ResponseActFuture<SelfImprovementEngine, CycleRecord> {
        match self {
            Step::Ready(r) => Box::pin(actix::fut::ready(r)),
            Step::Wait(f) => f,
        }
    }
}

impl SelfImprovementEngine {
    pub(crate) fn new(core: EngineCore, wiring: Wiring) -> Self {
        SelfImprovementEngine {
            core,
            wiring,
            phase: Phase::default(),
            saves: SaveSchedule::default(),
            resources: Resources::default(),
            idle_waiters: VecDeque::new(),
            refitting: false,
        }
    }

    /// Runs the built-in forecaster's due refit (milliseconds on a long
    /// history) on a blocking thread, never on this engine's arbiter, and
    /// installs it when done. One at a time: a refit due while one runs is
    /// asked for again at the next cycle.
    fn spawn_refit(&mut self, ctx: &mut Context<Self>) {
        let Some(job) = self.core.take_refit() else {
            return;
        };
        if self.refitting {
            return;
        }
        self.refitting = true;
        let run = tokio::task::spawn_blocking(move || job.run());
        ctx.spawn(run.into_actor(self).map(|done, act, _| {
            act.refitting = false;
            match done {
                Ok(refitted) => act.core.install_refit(refitted),
                Err(e) => {
                    tracing::error!(engine = %act.core.name(), error = %e, "forecaster refit failed");
                }
            }
        }));
    }

    /// The engine's learning state (for inspection in tests and tools).
    pub fn core(&self) -> &EngineCore {
        &self.core
    }

    /// A tick or cycle that could not be computed: logged, reported as a skip.
    fn internal_error(&mut self, now: f64, e: &Error) -> CycleRecord {
        tracing::error!(engine = %self.core.name(), error = %e, "engine error; tick skipped");
        self.end_cycle();
        self.core.skip_record(now, Reason::Failed)
    }

    /// The cycle under way ended, however it ended: whoever waits for the
    /// engine to be idle is told.
    fn end_cycle(&mut self) {
        self.phase.end_cycle();
        while let Some(w) = self.idle_waiters.pop_front() {
            let _ = w.send(());
        }
    }

    /// Publishes a record on the decision stream.
    fn emit(&self, record: &CycleRecord) {
        publish_cycle(self.wiring.events.as_ref(), record);
    }

    /// After a change, the state goes to the writer as configured; for
    /// per-cycle persistence the returned save is what to wait on. Nothing is
    /// saved while a cycle is half done (its ROI recorded, its counters not
    /// yet): the cycle's end saves everything.
    fn persist(&mut self, ctx: &mut Context<Self>) -> Option<Save> {
        if self.phase.cycling() || !self.core.is_dirty() {
            return None;
        }
        match self.core.config().persistence {
            Persistence::PerCycle(durability) => {
                let files = self.core.take_files();
                (!files.is_empty()).then(|| self.submit(files, durability))
            }
            Persistence::WriteBehind { window, .. } => {
                match self.saves.changed() {
                    OnChange::SetTimer => self.set_save_timer(window, ctx),
                    OnChange::SaveIfDue => self.save_if_due(ctx),
                    OnChange::Nothing => {}
                }
                None
            }
        }
    }

    /// The write-behind timer, on the engine's clock: the save is due a
    /// fixed part of `window` from now.
    fn set_save_timer(&mut self, window: std::time::Duration, ctx: &mut Context<Self>) {
        let clock = &self.wiring.clock;
        let at = clock.now() + self.flush_delay(window).as_secs_f64();
        ctx.spawn(clock.sleep_until(at).into_actor(self).map(|(), act, ctx| {
            act.saves.timer_fired();
            act.save_if_due(ctx);
        }));
    }

    /// Makes a due write-behind save, unless a cycle is running (its end
    /// saves) or the previous save is still with the writer (its answer
    /// saves): see [`SaveSchedule`].
    fn save_if_due(&mut self, ctx: &mut Context<Self>) {
        if !self.saves.take_due(self.phase.cycling()) {
            return;
        }
        let files = self.core.take_files();
        if !files.is_empty() {
            let save = self.submit(files, self.durability());
            ctx.spawn(save.map(|_, _, _| ()));
        }
    }

    /// Hands `files` to the writer. If the save fails, every state file is
    /// marked changed, so the next save writes them all again.
    fn submit(&mut self, files: Vec<PendingFile>, durability: Durability) -> Save {
        let ack = self.wiring.writer.submit(files, durability);
        self.saves.submitted();
        Box::pin(ack.into_actor(self).map(|answer, act, ctx| {
            act.saves.answered();
            let result = saved(act.core.name(), answer);
            if let Err(e) = &result {
                tracing::error!(engine = %act.core.name(), error = %e, "state not saved; it will be written again");
                act.core.mark_all_dirty();
                // Write-behind tries again a window later; a per-cycle
                // save is retried by the next cycle.
                if let Persistence::WriteBehind { window, .. } = act.core.config().persistence
                    && act.saves.retry()
                {
                    act.set_save_timer(window, ctx);
                }
            }
            act.save_if_due(ctx);
            result
        }))
    }

    /// When a change is written: between half the window and the whole of
    /// it, at a point fixed by the engine's name. Engines changed in the same
    /// round then save spread over half a window instead of all at once (a
    /// burst that held every engine's encoded files in memory together).
    fn flush_delay(&self, window: std::time::Duration) -> std::time::Duration {
        let phase = crate::metalog::fnv1a64(self.core.name()) % 1024;
        window.mul_f64(0.5 + 0.5 * phase as f64 / 1024.0)
    }

    fn durability(&self) -> Durability {
        match self.core.config().persistence {
            Persistence::PerCycle(d) | Persistence::WriteBehind { durability: d, .. } => d,
        }
    }

    /// Saves a change that is not part of a cycle, without waiting.
    pub(super) fn save_detached(&mut self, ctx: &mut Context<Self>) {
        if let Some(save) = self.persist(ctx) {
            ctx.spawn(save.map(|_, _, _| ()));
        }
    }

    /// A skip that changed state: saved as configured (skips do not wait for
    /// the disk), emitted, answered.
    fn finish_skip(&mut self, record: CycleRecord, ctx: &mut Context<Self>) -> CycleRecord {
        self.save_detached(ctx);
        self.emit(&record);
        record
    }

    fn start_cycle(&mut self, plan: crate::cycle::CyclePlan, ctx: &mut Context<Self>) -> Step {
        let Some(guard) = self.wiring.lock.try_lock() else {
            tracing::debug!(engine = %self.core.name(), bot = %self.core.bot(), "bot busy in another engine");
            let record = self.core.skip_record(plan.now, Reason::Busy);
            return Step::Ready(self.finish_skip(record, ctx));
        };
        self.phase.begin_cycle();
        let now = plan.now;
        let rank = plan.slot_rank();
        let started = match self.core.start(plan, &self.wiring.hosts) {
            Ok(s) => s,
            Err(e) => return Step::Ready(self.internal_error(now, &e)),
        };
        if let Some(refused) = started.refusal() {
            return self.after_pipeline(started, Err(refused), guard, ctx);
        }
        // A slot first: so many pipelines run at once, no more; while they
        // are short, the cycle worth most gets the next one.
        match self.wiring.slots.try_take() {
            Some(slot) => self.run_pipeline(started, guard, slot, ctx),
            None => {
                let take = self.wiring.slots.take_ranked(rank);
                Step::Wait(Box::pin(take.into_actor(self).then(
                    move |slot, act, ctx| act.run_pipeline(started, guard, slot, ctx).into_future(),
                )))
            }
        }
    }

    /// Runs the pipeline, holding `slot` until it ends.
    fn run_pipeline(
        &mut self,
        started: crate::cycle::StartedCycle,
        guard: BotGuard,
        slot: Slot,
        ctx: &mut Context<Self>,
    ) -> Step {
        let timeout = self.core.config().timeout;
        let mut run = GuardedRun::start(
            self.wiring.pipeline.as_ref(),
            self.core.bot(),
            started.energy(),
            timeout,
        );
        // Most pipelines that answer at once need no trip through the context.
        let mut cx = TaskContext::from_waker(futures_util::task::noop_waker_ref());
        match Pin::new(&mut run).poll(&mut cx) {
            Poll::Ready(outcome) => {
                drop(slot);
                self.after_pipeline(started, outcome, guard, ctx)
            }
            Poll::Pending => Step::Wait(Box::pin(run.into_actor(self).then(
                move |outcome, act, ctx| {
                    drop(slot);
                    act.after_pipeline(started, outcome, guard, ctx)
                        .into_future()
                },
            ))),
        }
    }

    fn after_pipeline(
        &mut self,
        started: crate::cycle::StartedCycle,
        outcome: Result<AutomationResult, PipelineError>,
        guard: BotGuard,
        ctx: &mut Context<Self>,
    ) -> Step {
        let now = started.now();
        let absorbed = self.core.absorb(started, outcome, &self.wiring.hosts);
        drop(guard);
        let absorbed = match absorbed {
            Ok(a) => a,
            Err(e) => return Step::Ready(self.internal_error(now, &e)),
        };
        match self.core.learn(absorbed) {
            Learning::Learned(cycle) => self.finish(cycle, ctx),
            Learning::Lent(lent, job) => {
                let rx = self.wiring.learners.update(job);
                Step::Wait(Box::pin(rx.into_actor(self).then(move |back, act, ctx| {
                    let cycle = act.core.learned(lent, back.ok());
                    act.finish(cycle, ctx).into_future()
                })))
            }
        }
    }

    fn finish(&mut self, cycle: LearnedCycle, ctx: &mut Context<Self>) -> Step {
        let now = cycle.now();
        let record = match self.core.conclude(cycle) {
            Ok(r) => r,
            Err(e) => return Step::Ready(self.internal_error(now, &e)),
        };
        self.end_cycle();
        self.spawn_refit(ctx);
        match self.persist(ctx) {
            None => {
                self.emit(&record);
                Step::Ready(record)
            }
            Some(save) => Step::Wait(Box::pin(save.map(move |_, act, _| {
                act.emit(&record);
                record
            }))),
        }
    }
}

impl Actor for SelfImprovementEngine {
    type Context = Context<Self>;

    fn stopped(&mut self, _: &mut Self::Context) {
        if !matches!(self.phase, Phase::ShuttingDown { .. })
            && let Some(w) = self
                .wiring
                .watcher
                .as_ref()
                .and_then(WeakRecipient::upgrade)
        {
            w.do_send(EngineExited {
                engine: self.core.name().clone(),
                generation: self.wiring.generation,
            });
        }
    }
}

impl SelfImprovementEngine {
    /// Decides a tick (with the energy of a forced-energy round if given):
    /// a skip at once, or a cycle started.
    fn tick(&mut self, msg: Tick, energy: Option<u32>, ctx: &mut Context<Self>) -> Step {
        self.resources = msg.resources;
        if let Some(reason) = self.phase.skip_reason(self.core.paused()) {
            let record = self.core.skip_record(msg.now, reason);
            self.emit(&record);
            return Step::Ready(record);
        }
        match self
            .core
            .plan_tick(msg.now, msg.resources, &self.wiring.hosts, energy)
        {
            Ok(TickPlan::Skip(record)) => Step::Ready(self.finish_skip(record, ctx)),
            Ok(TickPlan::Run(plan)) => self.start_cycle(plan, ctx),
            Err(e) => Step::Ready(self.internal_error(msg.now, &e)),
        }
    }
}

impl Handler<Tick> for SelfImprovementEngine {
    type Result = ActorResponse<Self, CycleRecord>;

    fn handle(&mut self, msg: Tick, ctx: &mut Self::Context) -> Self::Result {
        self.tick(msg, None, ctx).respond()
    }
}

impl Handler<ForcedTick> for SelfImprovementEngine {
    type Result = ActorResponse<Self, CycleRecord>;

    fn handle(&mut self, msg: ForcedTick, ctx: &mut Self::Context) -> Self::Result {
        self.tick(msg.tick, Some(msg.energy), ctx).respond()
    }
}

impl Handler<RoundTick> for SelfImprovementEngine {
    type Result = MessageResult<RoundTick>;

    /// Answers at once: a cycle still running goes on in the background and
    /// its record comes through the answer's channel (and, as always, on
    /// the decision stream).
    fn handle(&mut self, msg: RoundTick, ctx: &mut Self::Context) -> Self::Result {
        let now = msg.0.now;
        MessageResult(match self.tick(msg.0, msg.1, ctx) {
            Step::Ready(record) => TickAnswer::Done(Box::new(record)),
            Step::Wait(cycle) => {
                let busy = Box::new(CycleRecord::skip(
                    self.core.name(),
                    self.core.bot(),
                    now,
                    self.core.cycles(),
                    Reason::Busy,
                ));
                let (tx, done) = tokio::sync::oneshot::channel();
                ctx.spawn(cycle.map(move |record, _, _| {
                    let _ = tx.send(Box::new(record));
                }));
                TickAnswer::Running { busy, done }
            }
        })
    }
}

impl Handler<RunCycle> for SelfImprovementEngine {
    type Result = ActorResponse<Self, Result<CycleRecord>>;

    fn handle(&mut self, msg: RunCycle, ctx: &mut Self::Context) -> Self::Result {
        if !(crate::chain::MIN_ENERGY..=crate::chain::MAX_ENERGY).contains(&msg.energy) {
            return ActorResponse::reply(Err(Error::invalid(
                "run_cycle energy",
                msg.energy,
                "a whole number in 1..=100",
            )));
        }
        let engine = self.core.name().to_string();
        let refused = match self.phase {
            Phase::ShuttingDown { .. } => Some(Error::ShuttingDown {
                what: format!("engine {engine}"),
            }),
            _ if self.core.paused() => Some(Error::Paused { engine }),
            Phase::Cycling => Some(Error::Busy { engine }),
            Phase::Idle => None,
        };
        if let Some(e) = refused {
            return ActorResponse::reply(Err(e));
        }
        let now = self.wiring.clock.now();
        match self
            .core
            .plan_requested(now, msg.energy, self.resources, &self.wiring.hosts)
        {
            Ok(plan) => match self.start_cycle(plan, ctx) {
                Step::Ready(r) => ActorResponse::reply(Ok(r)),
                Step::Wait(f) => ActorResponse::r#async(f.map(|r, _, _| Ok(r))),
            },
            Err(e) => ActorResponse::reply(Err(e)),
        }
    }
}

impl SelfImprovementEngine {
    /// Resolves once no cycle is running, or after `wait` (then `false`).
    fn when_idle(&mut self, wait: std::time::Duration) -> impl Future<Output = bool> + use<> {
        let idle = self.phase.cycling().then(|| {
            let (tx, rx) = tokio::sync::oneshot::channel();
            self.idle_waiters.push_back(tx);
            rx
        });
        async move {
            match idle {
                None => true,
                Some(rx) => tokio::time::timeout(wait, rx).await.is_ok(),
            }
        }
    }

    /// Once no cycle is running (or after `wait`), hands every changed state
    /// file to the writer; answers once they, and every earlier save of this
    /// engine, are on disk.
    fn save_when_idle(&mut self, wait: std::time::Duration) -> Save {
        let name = self.core.name().clone();
        Box::pin(self.when_idle(wait).into_actor(self).then(move |idle, act, _| {
            if !idle {
                tracing::warn!(engine = %name, ?wait, "running cycle did not finish in time; saving without it");
            }
            let files = act.core.take_files();
            act.submit(files, act.durability())
        }))
    }
}

/// The writer's answer to a save of `engine`'s state, as a result.
fn saved(
    engine: &str,
    answer: std::result::Result<Answer, tokio::sync::oneshot::error::RecvError>,
) -> Result<()> {
    let source = match answer {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(e)) => e,
        Err(_) => Arc::new(PersistError::WriterStopped),
    };
    Err(Error::SaveFailed {
        what: format!("engine {engine}"),
        source,
    })
}

impl Handler<Flush> for SelfImprovementEngine {
    type Result = ResponseActFuture<Self, Result<()>>;
    fn handle(&mut self, _: Flush, _: &mut Self::Context) -> Self::Result {
        self.save_when_idle(FLUSH_WAIT)
    }
}

impl Handler<Shutdown> for SelfImprovementEngine {
    type Result = ResponseActFuture<Self, Result<()>>;
    fn handle(&mut self, msg: Shutdown, _: &mut Self::Context) -> Self::Result {
        self.phase.shut_down();
        Box::pin(
            self.save_when_idle(msg.wait)
                .map(|saved, _, ctx: &mut Context<Self>| {
                    ctx.stop();
                    saved
                }),
        )
    }
}

impl Handler<Stop> for SelfImprovementEngine {
    type Result = ();
    fn handle(&mut self, _: Stop, ctx: &mut Self::Context) {
        ctx.stop();
    }
}
