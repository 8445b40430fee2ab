//! The `ImprovementEngineRegistry` actor: owns, supervises, runs and scales
//! the engines (SPEC §8).
//!
//! - **Owns**: [`register_engine`](RegistryHandle::register_engine) takes an
//!   [`EngineBuilder`] and starts the engine on one of the registry's worker
//!   arbiters (one thread per core by default), sharing the registry's bot
//!   locks, learner pool, state writer and decision stream.
//! - **Runs**: [`run_all_cycles`](RegistryHandle::run_all_cycles) ticks every
//!   engine concurrently and returns every engine's record (a cycle still
//!   running after [`RegistryConfig::round_wait`] is reported `busy`, its
//!   record follows on the decision stream);
//!   [`run_cycle`](RegistryHandle::run_cycle) runs one; [`schedule`](RegistryHandle::schedule)
//!   does rounds on a timer that drops missed ticks instead of bursting
//!   ([`next_deadline`]).
//! - **Supervises**: an engine that stops unexpectedly (a [`Stop`](crate::engine::Stop), a dead
//!   arbiter) is built again from its builder, which loads its saved state.
//!   More than `restart_limit` restarts within `restart_window` mark it failed:
//!   it is reported (an [`EngineEvent`]) and skipped, not restarted.
//! - **Scales**: [`autoscale`](RegistryHandle::autoscale) asks every engine for
//!   its status, decides with [`autoscale::decide`](crate::autoscale::decide),
//!   and (unless `dry_run`) creates an engine with the factory or removes the
//!   lowest-EMA engine after saving it.
//! - **Shuts down**: [`shutdown`](RegistryHandle::shutdown) stops the timer,
//!   lets running cycles finish (bounded), saves every engine and the registry.
//!
//! The registry's own state, `registry.json` in the state root, keeps the
//! engines it had and its last autoscale decisions.

mod builder;
mod dispatch;
mod handle;
mod latency;
mod model_moves;
mod scale;
mod schedule;
mod state;
mod timings;

pub use builder::RegistryBuilder;
use dispatch::{Answer, Round, Target, Workers};
pub use handle::{Approval, Budget, EngineFactory, EngineReport, RegistryHandle, RegistryReport};
pub use latency::{Latencies, LatencySummary};
pub use schedule::next_deadline;
pub use state::{
    EngineEntry, EngineSettings, REGISTRY_FILE, REGISTRY_FORMAT_VERSION, RegistryFile,
    inspect as inspect_registry,
};
pub use timings::TickTimings;

use actix::prelude::*;
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::alert::AlertConfig;
use crate::autoscale::{AutoscaleConfig, AutoscaleRequest, Baseline};
use crate::decision::{
    self, AutoscaleRecord, Decision, DecisionSender, EngineEvent, EngineEventKind,
};
use crate::engine::{EngineBuilder, EngineExited, SelfImprovementEngine, Shutdown, Status, Tick};
use crate::host::{Clock, ResourceProbe};
use crate::record::{CycleRecord, Reason};
use crate::runtime::Services;
use crate::snapshot::EngineSnapshot;
use crate::{Error, Result};

/// The longest a change to the set of engines waits before `registry.json` is written.
pub const REGISTRY_SAVE_DELAY: Duration = Duration::from_millis(500);

/// How long the autoscaler waits for an engine's status (a blocked engine
/// counts as having none).
pub const STATUS_WAIT: Duration = Duration::from_secs(10);

/// What a round allows beyond its slowest pipeline's timeout.
pub const ROUND_MARGIN: Duration = Duration::from_secs(30);

/// How long a round waits for the cycles it started, by default.
pub const DEFAULT_ROUND_WAIT: Duration = Duration::from_secs(5);

/// How many autoscale records the registry keeps (and saves).
pub const AUTOSCALE_KEPT: usize = 20;

/// The registry's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct RegistryConfig {
    /// Where `registry.json` and the engines' folders live; `None` keeps
    /// nothing on disk (engines get this root unless their builder has one).
    pub state_root: Option<PathBuf>,
    /// Worker threads (arbiters) the engines are spread over (default: one per core).
    pub arbiters: usize,
    /// Restarts allowed within `restart_window` before an engine is marked failed (5).
    pub restart_limit: usize,
    /// The window restarts are counted in (60 s).
    pub restart_window: Duration,
    /// How long shutdown waits for running cycles (30 s).
    pub shutdown_wait: Duration,
    /// How long a round waits for the cycles its ticks started (5 s, on the
    /// registry's clock). An engine whose cycle is still running then is
    /// reported `busy` in the round; its cycle goes on, and the full record comes on the decision
    /// stream and in its status when it ends. Rounds on a timer do not wait
    /// for each other, so a slow pipeline never holds up the other engines'
    /// ticks. `Duration::MAX` waits for every cycle (each is bounded by its
    /// pipeline's timeout).
    pub round_wait: Duration,
    /// How many pipelines may run at once across this registry's engines;
    /// `None` (the default) shares the process-wide bound, which comes from
    /// the soft limit on open files ([`PipelineSlots`](crate::runtime::PipelineSlots)).
    pub max_running_pipelines: Option<usize>,
    /// Default autoscale options.
    pub autoscale: AutoscaleConfig,
    /// The alert rules' thresholds (defaults of [`AlertConfig`]): a
    /// [`Monitor`](crate::monitor::Monitor) of this registry uses them
    /// unless its own [`MonitorConfig`](crate::monitor::MonitorConfig) says otherwise.
    pub alerts: AlertConfig,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            state_root: None,
            arbiters: std::thread::available_parallelism().map_or(1, |n| n.get()),
            restart_limit: 5,
            restart_window: Duration::from_secs(60),
            shutdown_wait: Duration::from_secs(30),
            round_wait: DEFAULT_ROUND_WAIT,
            max_running_pipelines: None,
            autoscale: AutoscaleConfig::default(),
            alerts: AlertConfig::default(),
        }
    }
}

struct Entry {
    builder: EngineBuilder,
    bot: Arc<str>,
    addr: Option<Addr<SelfImprovementEngine>>,
    /// The worker (arbiter) the engine lives on.
    worker: usize,
    created: u64,
    generation: u64,
    restarts: VecDeque<f64>,
    failed: Option<String>,
}

struct Timer {
    period: Duration,
    /// The next round's time, on the registry's clock.
    deadline: f64,
    handle: SpawnHandle,
    autoscale: Option<AutoscaleConfig>,
}

/// The registry actor. Start it with [`RegistryHandle::builder`].
pub struct ImprovementEngineRegistry {
    config: RegistryConfig,
    clock: Arc<dyn Clock>,
    probe: Box<dyn ResourceProbe>,
    entries: BTreeMap<Arc<str>, Entry>,
    next_created: u64,
    workers: Workers,
    events: DecisionSender,
    services: Services,
    factory: Option<EngineFactory>,
    approval: Option<Approval>,
    budget: Option<Budget>,
    /// The adaptive autoscaler's rounds (saved in `registry.json`).
    baseline: Baseline,
    /// The share of the last round's runs that succeeded (1 when none ran).
    pass_rate: f64,
    last_change: Option<f64>,
    autoscale_log: VecDeque<AutoscaleRecord>,
    timer: Option<Timer>,
    /// A timer round's ticks have not all been answered yet (an engine's
    /// thread is blocked); its running cycles do not count.
    round_running: bool,
    dropped_ticks: u64,
    latency: Latencies,
    timings: Arc<TickTimings>,
    registry_save_pending: bool,
    /// Starts of engines so far (every start gets the next number).
    generations: u64,
    /// Engines removed whose shutdown has not answered yet.
    retiring: BTreeMap<Arc<str>, Addr<SelfImprovementEngine>>,
    /// An autoscale step is under way.
    scaling: bool,
    /// Engines `registry.json` listed that have not been registered (again)
    /// in this run: kept in the file until registered or unregistered, so a
    /// host can bring them back.
    dormant: BTreeMap<Arc<str>, EngineEntry>,
    stopping: bool,
    /// The state folder's lock, held until shutdown has saved everything.
    lock: Option<crate::runtime::StateLock>,
}

impl Actor for ImprovementEngineRegistry {
    type Context = Context<Self>;

    fn stopped(&mut self, _: &mut Self::Context) {
        self.workers.stop();
    }
}

impl ImprovementEngineRegistry {
    fn now(&self) -> f64 {
        self.clock.now()
    }

    fn engine_event(
        &self,
        engine: &Arc<str>,
        bot: &Arc<str>,
        kind: EngineEventKind,
        detail: String,
    ) {
        decision::publish(
            Some(&self.events),
            Decision::Engine(EngineEvent {
                time: self.now(),
                engine: engine.clone(),
                bot: bot.clone(),
                kind,
                detail,
            }),
        );
    }

    /// The builder as the registry runs it: its services, decision stream
    /// and (unless the builder has its own) clock.
    fn wire(&self, builder: EngineBuilder) -> EngineBuilder {
        let builder = builder
            .services(self.services.clone())
            .decisions(self.events.clone())
            .default_clock(&self.clock);
        match (&self.config.state_root, builder.state_dir()) {
            (Some(root), None) => builder.state_root(root.clone()),
            _ => builder,
        }
    }

    /// Builds an engine (loading its saved state) and starts it on the next
    /// worker; returns its address and the worker's index.
    fn start_engine(
        &mut self,
        builder: &EngineBuilder,
        generation: u64,
        ctx: &mut Context<Self>,
    ) -> Result<(Addr<SelfImprovementEngine>, usize)> {
        let watcher = ctx.address().recipient().downgrade();
        let engine = builder.build_supervised(Some(watcher), generation)?;
        Ok(self.workers.start(engine))
    }

    /// A number no start of any engine of this registry has had, so a late
    /// exit notice of an earlier engine of the same name is told apart.
    fn next_generation(&mut self) -> u64 {
        self.generations += 1;
        self.generations
    }

    fn register(&mut self, builder: EngineBuilder, ctx: &mut Context<Self>) -> Result<()> {
        if self.stopping {
            return Err(stopping());
        }
        let builder = self.wire(builder);
        let name: Arc<str> = Arc::from(builder.name());
        if self.entries.contains_key(&name) {
            return Err(Error::EngineExists {
                name: name.to_string(),
            });
        }
        if self.retiring.contains_key(&name) {
            return Err(Error::EngineStillSaving {
                name: name.to_string(),
            });
        }
        let generation = self.next_generation();
        let (addr, worker) = self.start_engine(&builder, generation, ctx)?;
        let created = self.next_created;
        self.next_created += 1;
        let bot: Arc<str> = Arc::from(builder.bot_name());
        self.entries.insert(
            name.clone(),
            Entry {
                bot: bot.clone(),
                builder,
                addr: Some(addr),
                worker,
                created,
                generation,
                restarts: VecDeque::new(),
                failed: None,
            },
        );
        self.engine_event(
            &name,
            &bot,
            EngineEventKind::Registered,
            format!("created #{created}"),
        );
        self.registry_changed(ctx);
        Ok(())
    }

    /// An engine stopped without being asked: restart it from its saved
    /// state, or mark it failed when it restarts too often.
    fn restart(&mut self, name: &Arc<str>, generation: u64, why: &str, ctx: &mut Context<Self>) {
        if self.stopping {
            return;
        }
        let now = self.now();
        let window = self.config.restart_window.as_secs_f64();
        let limit = self.config.restart_limit;
        let Some(entry) = self.entries.get_mut(name) else {
            return;
        };
        if entry.generation != generation || entry.failed.is_some() {
            return;
        }
        entry.restarts.push_back(now);
        while entry.restarts.front().is_some_and(|&t| now - t > window) {
            entry.restarts.pop_front();
        }
        entry.addr = None;
        if entry.restarts.len() > limit {
            let detail = format!(
                "{} restarts within {window} s (limit {limit}); last: {why}",
                entry.restarts.len()
            );
            entry.failed = Some(detail.clone());
            let bot = entry.bot.clone();
            self.engine_event(name, &bot, EngineEventKind::Failed, detail);
            self.registry_changed(ctx);
            return;
        }
        // Let the writer finish what the stopped engine handed it before the
        // new one reads the state back; meanwhile ticks answer "stopped".
        self.generations += 1;
        let generation = self.generations;
        entry.generation = generation;
        let (name, why) = (name.clone(), why.to_string());
        let drained = self.services.writer.flush();
        ctx.spawn(drained.into_actor(self).map(move |_, act, ctx| {
            act.start_again(&name, generation, &why, ctx);
        }));
    }

    /// The second half of a restart, once the writer has drained.
    fn start_again(
        &mut self,
        name: &Arc<str>,
        generation: u64,
        why: &str,
        ctx: &mut Context<Self>,
    ) {
        let (builder, bot) = match self.entries.get(name) {
            Some(e) if e.generation == generation && e.failed.is_none() && !self.stopping => {
                (e.builder.clone(), e.bot.clone())
            }
            _ => return,
        };
        match self.start_engine(&builder, generation, ctx) {
            Ok((addr, worker)) => {
                if let Some(entry) = self.entries.get_mut(name) {
                    entry.addr = Some(addr);
                    entry.worker = worker;
                }
                self.engine_event(name, &bot, EngineEventKind::Restarted, why.to_string());
            }
            Err(e) => {
                let detail = format!("cannot restart: {e}");
                if let Some(entry) = self.entries.get_mut(name) {
                    entry.failed = Some(detail.clone());
                }
                self.engine_event(name, &bot, EngineEventKind::Failed, detail);
                self.registry_changed(ctx);
            }
        }
    }

    /// `registry.json` is written at most once per [`REGISTRY_SAVE_DELAY`]
    /// (registering 10,000 engines must not write the file 10,000 times), and
    /// at shutdown.
    fn registry_changed(&mut self, ctx: &mut Context<Self>) {
        if self.config.state_root.is_none() || self.registry_save_pending {
            return;
        }
        self.registry_save_pending = true;
        let at = self.now() + REGISTRY_SAVE_DELAY.as_secs_f64();
        ctx.spawn(
            self.clock
                .sleep_until(at)
                .into_actor(self)
                .map(|(), act, _| act.save_registry()),
        );
    }

    fn save_registry(&mut self) {
        self.registry_save_pending = false;
        let Some(root) = &self.config.state_root else {
            return;
        };
        let live = self
            .entries
            .iter()
            .map(|(name, e)| EngineEntry::of(name, &e.builder, e.created, e.failed.clone()));
        let dormant = self
            .dormant
            .iter()
            .filter(|(name, _)| !self.entries.contains_key(*name))
            .map(|(_, e)| e.clone());
        let mut engines: Vec<EngineEntry> = live.chain(dormant).collect();
        engines.sort_by(|a, b| a.name.cmp(&b.name));
        let file = RegistryFile {
            engines,
            last_change: self.last_change,
            autoscale: self.autoscale_log.iter().cloned().collect(),
            baseline: self.baseline.clone(),
        };
        let path = root.join(REGISTRY_FILE);
        match file.encode(&path) {
            Ok(bytes) => self.services.writer.submit_detached(
                vec![crate::persist::PendingFile { path, bytes }],
                crate::persist::Durability::Fsync,
            ),
            Err(e) => tracing::error!(error = %e, "registry state not saved"),
        }
    }

    /// Ticks every engine at once, one batch per worker (a forced-energy
    /// round when `energy` is given); failed engines answer `"failed"`.
    /// Resolves with every engine's immediate answer: settle the [`Round`]
    /// to wait for the cycles it started.
    fn round(&mut self, energy: Option<u32>) -> impl Future<Output = Round> + 'static {
        let tick = Tick {
            now: self.now(),
            resources: self.probe.sample(),
        };
        let mut batches: Vec<Vec<Target>> = (0..self.workers.len()).map(|_| Vec::new()).collect();
        let mut limits = vec![Duration::ZERO; self.workers.len()];
        let mut failed = Vec::new();
        for (name, e) in &self.entries {
            match &e.addr {
                Some(addr) => {
                    batches[e.worker].push(Target {
                        name: name.clone(),
                        generation: e.generation,
                        addr: addr.clone(),
                    });
                    let limit = &mut limits[e.worker];
                    *limit = (*limit).max(e.builder.config().timeout);
                }
                None => {
                    // Marked failed, or being restarted.
                    let reason = match e.failed {
                        Some(_) => Reason::Failed,
                        None => Reason::Stopped,
                    };
                    failed.push(Answer {
                        name: name.clone(),
                        generation: e.generation,
                        answer: Ok(Box::new(CycleRecord::skip(
                            name, &e.bot, tick.now, 0, reason,
                        ))),
                        latency: None,
                    });
                }
            }
        }
        // Engines answer a round's tick at once, so a batch is quick unless
        // an engine's thread is blocked (a pipeline doing blocking work
        // inside its future): it is bounded by its slowest pipeline's
        // timeout plus a margin, and late engines are reported busy.
        let limits = limits.into_iter().map(|t| t + ROUND_MARGIN).collect();
        let round = self.workers.round(tick, energy, batches, limits);
        async move {
            let mut round = round.await;
            round.extend(failed);
            round
        }
    }

    /// When a round stops waiting for the cycles it started: `round_wait`
    /// from now on the registry's clock (`None`: it waits for them all).
    fn round_cut_off(&self) -> Option<crate::host::ClockSleep> {
        let wait = self.config.round_wait;
        (wait != Duration::MAX).then(|| self.clock.sleep_until(self.now() + wait.as_secs_f64()))
    }

    /// Turns a round's answers into records, each with its engine's name,
    /// in no particular order; restarts engines that died.
    fn collect_round(
        &mut self,
        answers: Vec<Answer>,
        ctx: &mut Context<Self>,
    ) -> Vec<(Arc<str>, Box<CycleRecord>)> {
        let now = self.now();
        let mut records = Vec::with_capacity(answers.len());
        for Answer {
            name,
            generation,
            answer,
            latency,
        } in answers
        {
            let record = match answer {
                Ok(r) => r,
                Err(MailboxError::Timeout) => {
                    let bot = self
                        .entries
                        .get(&name)
                        .map_or_else(|| name.clone(), |e| e.bot.clone());
                    tracing::warn!(engine = %name, "no answer within the round's time limit");
                    Box::new(CycleRecord::skip(&name, &bot, now, 0, Reason::Busy))
                }
                Err(e) => {
                    let bot = self
                        .entries
                        .get(&name)
                        .map_or_else(|| name.clone(), |e| e.bot.clone());
                    self.restart(
                        &name,
                        generation,
                        &format!("did not answer a tick ({e})"),
                        ctx,
                    );
                    Box::new(CycleRecord::skip(&name, &bot, now, 0, Reason::Stopped))
                }
            };
            if let Some(l) = latency {
                self.latency.record(l);
                self.timings.observe(&record, l);
            }
            records.push((name, record));
        }
        let ran = records
            .iter()
            .map(|(_, r)| r)
            .filter(|r| r.action == crate::record::CycleAction::Run);
        let (runs, ok) = ran.fold((0usize, 0usize), |(n, k), r| {
            (n + 1, k + usize::from(r.succeeded()))
        });
        self.pass_rate = if runs == 0 {
            1.0
        } else {
            ok as f64 / runs as f64
        };
        records
    }

    /// The status of every live engine.
    fn statuses(
        &self,
    ) -> impl Future<Output = Vec<(Arc<str>, u64, Option<EngineSnapshot>)>> + 'static {
        let asks: Vec<_> = self
            .entries
            .iter()
            .map(|(name, e)| {
                (
                    name.clone(),
                    e.created,
                    e.addr.as_ref().map(|a| a.send(Status).timeout(STATUS_WAIT)),
                )
            })
            .collect();
        async move {
            let answers = asks.into_iter().map(|(name, created, ask)| async move {
                let status = match ask {
                    Some(ask) => ask.await.ok(),
                    None => None,
                };
                (name, created, status)
            });
            futures_util::future::join_all(answers).await
        }
    }

    /// Removes an engine: it saves and stops (after its running cycle, bounded).
    /// Until its shutdown has answered, a removed engine's name cannot be
    /// taken by a new engine (both would write the same folder), and a
    /// registry shutdown waits for it too.
    fn remove(&mut self, name: &str, ctx: &mut Context<Self>) -> bool {
        let was_dormant = self.dormant.remove(name).is_some();
        let Some((name, entry)) = self.entries.remove_entry(name) else {
            if was_dormant {
                self.registry_changed(ctx);
            }
            return was_dormant;
        };
        if let Some(addr) = entry.addr {
            let wait = self.config.shutdown_wait;
            let shutdown = addr.send(Shutdown { wait });
            self.retiring.insert(name.clone(), addr);
            let engine = name.clone();
            ctx.spawn(
                async move {
                    match shutdown.await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => tracing::error!(engine = %engine, error = %e, "engine not saved on removal"),
                        Err(e) => tracing::warn!(engine = %engine, error = %e, "engine gone before removal"),
                    }
                    engine
                }
                .into_actor(self)
                .map(|engine, act, _| {
                    act.retiring.remove(&engine);
                }),
            );
        }
        self.engine_event(
            &name,
            &entry.bot,
            EngineEventKind::Unregistered,
            "saved and stopped".into(),
        );
        self.registry_changed(ctx);
        true
    }
}

/// The error for work asked of a registry that is shutting down.
fn stopping() -> Error {
    Error::ShuttingDown {
        what: "the registry".into(),
    }
}

impl Handler<EngineExited> for ImprovementEngineRegistry {
    type Result = ();
    fn handle(&mut self, msg: EngineExited, ctx: &mut Self::Context) {
        self.restart(&msg.engine, msg.generation, "stopped unexpectedly", ctx);
    }
}
