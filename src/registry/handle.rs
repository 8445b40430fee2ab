//! [`RegistryHandle`]: the registry's library API.

use actix::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{
    EngineEntry, Entry, ImprovementEngineRegistry, Latencies, LatencySummary, RegistryConfig,
    RegistryFile, TickTimings, Timer,
};
use crate::alert::AlertConfig;
use crate::autoscale::{AutoscaleAction, AutoscaleConfig, AutoscaleRequest};
use crate::decision::{AutoscaleRecord, Decision, DecisionSender};
use crate::engine::{EngineBuilder, RunCycle, SelfImprovementEngine, Shutdown};
use crate::host::{Clock, FixedProbe, ResourceProbe, SysinfoProbe, SystemClock};
use crate::persist::PersistError;
use crate::record::CycleRecord;
use crate::runtime::{PipelineSlots, Services, StateLock};
use crate::snapshot::EngineSnapshot;
use crate::{Error, Result};

/// Builds the engine for a name the autoscaler chose (`engine{i}`). The
/// builder's own name is replaced by that name.
pub type EngineFactory = Arc<dyn Fn(&str) -> Result<EngineBuilder> + Send + Sync>;

/// Asked before the autoscaler creates an engine (SPEC §8: removals are not asked); `false` holds.
pub type Approval = Arc<dyn Fn(&AutoscaleAction) -> bool + Send + Sync>;

/// The host's budget hook, asked before the adaptive autoscaler creates an
/// engine; `false` holds.
pub type Budget = Arc<dyn Fn() -> bool + Send + Sync>;

/// One engine as the registry reports it: its entry, its restarts and, when
/// it answered, its snapshot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EngineReport {
    /// The registry's entry of the engine (name, bot, registration order,
    /// failure, settings).
    #[serde(flatten)]
    pub entry: EngineEntry,
    /// Restarts within the current window.
    pub restarts: usize,
    /// Its snapshot, when it answered.
    pub status: Option<EngineSnapshot>,
}

/// The registry's state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegistryReport {
    /// Every engine, by name.
    pub engines: Vec<EngineReport>,
    /// The last autoscale decisions, oldest first.
    pub autoscale: Vec<AutoscaleRecord>,
    /// Timer ticks dropped (late, or while a round was running).
    pub dropped_ticks: u64,
    /// The timer's period, when one is set.
    pub period: Option<Duration>,
}

/// Starts a registry.
pub struct RegistryBuilder {
    config: RegistryConfig,
    clock: Arc<dyn Clock>,
    probe: Option<Box<dyn ResourceProbe>>,
    factory: Option<EngineFactory>,
    approval: Option<Approval>,
    budget: Option<Budget>,
    services: Option<Services>,
    lock: Option<StateLock>,
}

impl RegistryBuilder {
    /// The state folder's lock, when the caller took it already (the CLI
    /// does, before it touches the folder). Without it, `start` takes the
    /// lock of `state_root` itself.
    pub fn state_lock(mut self, lock: StateLock) -> Self {
        self.lock = Some(lock);
        self
    }

    /// The clock cycles are stamped with (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The CPU/memory probe (default: [`SysinfoProbe`], which waits ~200 ms
    /// for its first reading).
    pub fn probe(mut self, probe: impl ResourceProbe + 'static) -> Self {
        self.probe = Some(Box::new(probe));
        self
    }

    /// How the autoscaler builds new engines.
    pub fn factory(mut self, factory: EngineFactory) -> Self {
        self.factory = Some(factory);
        self
    }

    /// Asked before each autoscale create or remove.
    pub fn approval(mut self, approval: Approval) -> Self {
        self.approval = Some(approval);
        self
    }

    /// The `check_budget()` hook of the adaptive autoscaler: asked before it
    /// creates an engine (default: always yes).
    pub fn check_budget(mut self, budget: Budget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// The bot locks, learner pool and state writer the registry's engines
    /// use (default: the process-wide ones).
    pub fn services(mut self, services: Services) -> Self {
        self.services = Some(services);
        self
    }

    /// Starts the registry actor on the current arbiter, and its worker
    /// arbiters. Must be called inside an actix system
    /// ([`Error::NoActixSystem`] otherwise). With a `state_root`, the
    /// registry holds the folder's [`StateLock`] until it has shut down:
    /// another registry on the same folder, in this process or another, is
    /// refused with [`Error::StateLocked`].
    pub fn start(self) -> Result<RegistryHandle> {
        if actix::System::try_current().is_none() {
            return Err(Error::NoActixSystem {
                what: "RegistryHandle::builder(…).start()",
            });
        }
        self.config.autoscale.validate()?;
        self.config.alerts.validate()?;
        let alerts = Arc::new(self.config.alerts.clone());
        let mut lock = match (&self.config.state_root, self.lock) {
            (None, _) => None,
            (Some(root), Some(lock)) if lock.root() == root => Some(lock),
            (Some(root), Some(lock)) => {
                return Err(Error::invalid(
                    "registry state lock",
                    lock.root().display(),
                    format!("the lock of the state root {}", root.display()),
                ));
            }
            (Some(root), None) => Some(StateLock::acquire(root)?),
        };
        let probe: Box<dyn ResourceProbe> = match self.probe {
            Some(p) => p,
            None => match SysinfoProbe::new() {
                Ok(p) => Box::new(p),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read CPU and memory use; assuming an idle machine");
                    Box::new(FixedProbe::default())
                }
            },
        };
        let earlier = match &self.config.state_root {
            Some(root) => super::state::load(root)?.unwrap_or_default(),
            None => RegistryFile::default(),
        };
        let services = match self.config.max_running_pipelines {
            Some(n) => Services {
                pipelines: PipelineSlots::new(n),
                ..self.services.unwrap_or_default()
            },
            None => self.services.unwrap_or_default(),
        };
        // Durable saves under the root go through its write-ahead log.
        if let Some(lock) = &mut lock {
            lock.attach_log(&services.writer)?;
        }
        let events = crate::decision::channel();
        let timings = Arc::new(TickTimings::default());
        let registry = ImprovementEngineRegistry {
            workers: super::Workers::new(self.config.arbiters),
            config: self.config,
            clock: self.clock,
            probe,
            entries: BTreeMap::new(),
            next_created: 0,
            events: events.clone(),
            services,
            factory: self.factory,
            approval: self.approval,
            budget: self.budget,
            baseline: earlier.baseline,
            pass_rate: 1.0,
            last_change: earlier.last_change,
            autoscale_log: earlier.autoscale.into_iter().collect(),
            dormant: earlier
                .engines
                .into_iter()
                .map(|e| (Arc::from(e.name.as_str()), e))
                .collect(),
            timer: None,
            round_running: false,
            dropped_ticks: 0,
            latency: Latencies::default(),
            timings: timings.clone(),
            registry_save_pending: false,
            generations: 0,
            retiring: BTreeMap::new(),
            scaling: false,
            stopping: false,
            lock,
        };
        Ok(RegistryHandle {
            addr: registry.start(),
            events,
            timings,
            alerts,
        })
    }
}

/// The registry's library API. Cheap to clone; every call is a message to
/// the registry actor.
///
/// ```no_run
/// use kaizen::engine::EngineBuilder;
/// use kaizen::pipeline::{AutomationResult, pipeline_fn};
/// use kaizen::registry::{RegistryConfig, RegistryHandle};
///
/// #[actix::main]
/// async fn main() -> kaizen::Result<()> {
///     let registry = RegistryHandle::builder(RegistryConfig {
///         state_root: Some("state".into()),
///         ..RegistryConfig::default()
///     })
///     .start()?;
///     let noop = pipeline_fn(|_: &str, _: u32| async { Ok(AutomationResult::default()) });
///     registry.register_engine(EngineBuilder::new("alpha", noop)).await?;
///     let records = registry.run_all_cycles().await?;
///     println!("alpha: {}", records["alpha"].reason);
///     registry.shutdown().await
/// }
/// ```
#[derive(Clone)]
pub struct RegistryHandle {
    pub(super) addr: Addr<ImprovementEngineRegistry>,
    events: DecisionSender,
    timings: Arc<TickTimings>,
    alerts: Arc<AlertConfig>,
}

fn gone(_: MailboxError) -> Error {
    Error::NotRunning("the registry".into())
}

impl RegistryHandle {
    /// A registry builder with `config`.
    pub fn builder(config: RegistryConfig) -> RegistryBuilder {
        RegistryBuilder {
            config,
            clock: Arc::new(SystemClock),
            probe: None,
            factory: None,
            approval: None,
            budget: None,
            services: None,
            lock: None,
        }
    }

    /// Subscribes to the decision stream (every cycle, autoscale step and
    /// engine event from now on).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Decision> {
        self.events.subscribe()
    }

    /// The sending side of the decision stream, for a host that adds its
    /// own items to it (the monitor publishes alerts on it).
    pub fn publisher(&self) -> DecisionSender {
        self.events.clone()
    }

    /// The alert rules' thresholds of the registry's settings
    /// ([`RegistryConfig::alerts`]), which its monitor uses by default.
    pub fn alert_config(&self) -> &AlertConfig {
        &self.alerts
    }

    /// The decision-latency and cycle-duration histograms ([`TickTimings`]).
    pub fn timings(&self) -> Arc<TickTimings> {
        self.timings.clone()
    }

    /// Registers and starts an engine; its saved state is loaded. A name
    /// already registered is refused.
    pub async fn register_engine(&self, builder: EngineBuilder) -> Result<()> {
        self.addr.send(Register(builder)).await.map_err(gone)?
    }

    /// Replaces the engine of the builder's name with a new one built from
    /// `builder`: the old engine saves and stops first (after its running
    /// cycle, bounded by `shutdown_wait`), then the new one starts from that
    /// saved state. Without an engine of that name, it simply registers.
    pub async fn replace_engine(&self, builder: EngineBuilder) -> Result<()> {
        self.addr.send(Replace(builder)).await.map_err(gone)?
    }

    /// Saves and stops an engine, and answers once it has stopped (after its
    /// running cycle, bounded by `shutdown_wait`), so what it held (a model
    /// registry's lock) is being released; `false` when no engine has that
    /// name. [`unregister_engine`](Self::unregister_engine) answers at once.
    pub async fn retire_engine(&self, name: &str) -> Result<bool> {
        self.addr.send(Retire(name.to_string())).await.map_err(gone)
    }

    /// Saves and stops an engine (or forgets one `registry.json` listed but
    /// that was not registered again); `false` when no engine has that name.
    pub async fn unregister_engine(&self, name: &str) -> Result<bool> {
        self.addr
            .send(Unregister(name.to_string()))
            .await
            .map_err(gone)
    }

    /// Ticks every engine concurrently; returns each engine's record, by
    /// name. A cycle still running after [`RegistryConfig::round_wait`] is
    /// reported `busy`; its full record comes on the decision stream when
    /// it ends.
    pub async fn run_all_cycles(&self) -> Result<BTreeMap<String, CycleRecord>> {
        self.addr.send(RunAll(None)).await.map_err(gone)?
    }

    /// A forced-energy round (the reference's `run_all_cycles(energy=…)`):
    /// every engine decides as on a tick, and each one that runs starts its
    /// energy chain from `energy` (1..=100) instead of its `default_energy`.
    /// Those runs are marked `forced` with propensity 1, so off-policy
    /// estimates leave them out; skips are recorded as on any tick.
    pub async fn run_all_cycles_with(&self, energy: u32) -> Result<BTreeMap<String, CycleRecord>> {
        if !(crate::chain::MIN_ENERGY..=crate::chain::MAX_ENERGY).contains(&energy) {
            return Err(Error::invalid(
                "run_all_cycles_with energy",
                energy,
                "a whole number in 1..=100",
            ));
        }
        self.addr.send(RunAll(Some(energy))).await.map_err(gone)?
    }

    /// Runs one engine's cycle now with `energy` requested.
    pub async fn run_cycle(&self, name: &str, energy: u32) -> Result<CycleRecord> {
        let engine = self
            .engine(name)
            .await?
            .ok_or_else(|| Error::UnknownEngine {
                name: name.to_string(),
            })?;
        let asked = Instant::now();
        let record = engine
            .send(RunCycle { energy })
            .await
            .map_err(|_| Error::NotRunning(format!("engine {name}")))??;
        self.timings.observe(&record, asked.elapsed());
        Ok(record)
    }

    /// Runs a round every `period` (and an autoscale step after each round
    /// when `autoscale` is given); replaces an earlier schedule.
    pub async fn schedule(
        &self,
        period: Duration,
        autoscale: Option<AutoscaleConfig>,
    ) -> Result<()> {
        self.addr
            .send(Schedule { period, autoscale })
            .await
            .map_err(gone)?
    }

    /// Stops the timer.
    pub async fn unschedule(&self) -> Result<()> {
        self.addr.send(Unschedule).await.map_err(gone)
    }

    /// One autoscale decision (carried out unless `dry_run`), with its record.
    pub async fn autoscale(&self, request: AutoscaleRequest) -> Result<AutoscaleRecord> {
        self.addr.send(Autoscale(request)).await.map_err(gone)?
    }

    /// Every engine's status and the last autoscale decisions.
    pub async fn status(&self) -> Result<RegistryReport> {
        self.addr.send(Report).await.map_err(gone)
    }

    /// The address of a live engine, to send it messages directly.
    pub async fn engine(&self, name: &str) -> Result<Option<Addr<SelfImprovementEngine>>> {
        self.addr
            .send(EngineAddr(name.to_string()))
            .await
            .map_err(gone)
    }

    /// The tick latencies of every round since the last call with `reset`
    /// (or since the start): from sending a tick to its answer.
    pub async fn tick_latency(&self, reset: bool) -> Result<LatencySummary> {
        self.addr.send(TickLatency(reset)).await.map_err(gone)
    }

    /// Stops the timer, lets running cycles finish (up to `shutdown_wait`),
    /// saves every engine and the registry, and stops the registry.
    pub async fn shutdown(&self) -> Result<()> {
        self.addr.send(ShutdownAll).await.map_err(gone)?
    }
}

struct Register(EngineBuilder);
impl Message for Register {
    type Result = Result<()>;
}
impl Handler<Register> for ImprovementEngineRegistry {
    type Result = Result<()>;
    fn handle(&mut self, msg: Register, ctx: &mut Self::Context) -> Result<()> {
        self.register(msg.0, ctx)
    }
}

struct Replace(EngineBuilder);
impl Message for Replace {
    type Result = Result<()>;
}
impl Handler<Replace> for ImprovementEngineRegistry {
    type Result = ResponseActFuture<Self, Result<()>>;
    fn handle(&mut self, msg: Replace, ctx: &mut Self::Context) -> Self::Result {
        let name: Arc<str> = Arc::from(msg.0.name());
        Box::pin(
            self.retire(name, ctx)
                .map(move |_, act, ctx| act.register(msg.0, ctx)),
        )
    }
}

struct Retire(String);
impl Message for Retire {
    type Result = bool;
}
impl Handler<Retire> for ImprovementEngineRegistry {
    type Result = ResponseActFuture<Self, bool>;
    fn handle(&mut self, msg: Retire, ctx: &mut Self::Context) -> Self::Result {
        Box::pin(self.retire(Arc::from(msg.0), ctx))
    }
}

impl ImprovementEngineRegistry {
    /// Removes the engine `name` and resolves once it has saved and stopped
    /// (after its running cycle, bounded by `shutdown_wait`); whether there
    /// was one.
    fn retire(
        &mut self,
        name: Arc<str>,
        ctx: &mut Context<Self>,
    ) -> impl ActorFuture<Self, Output = bool> + 'static {
        let had = self.remove(&name, ctx);
        // Asking a retiring engine to shut down again answers once its
        // first shutdown has saved.
        let retiring = self.retiring.get(&name).cloned();
        let wait = self.config.shutdown_wait;
        async move {
            if let Some(addr) = retiring {
                let _ = addr.send(Shutdown { wait }).await;
            }
        }
        .into_actor(self)
        .map(move |(), act, _| {
            act.retiring.remove(&name);
            had
        })
    }
}

struct Unregister(String);
impl Message for Unregister {
    type Result = bool;
}
impl Handler<Unregister> for ImprovementEngineRegistry {
    type Result = bool;
    fn handle(&mut self, msg: Unregister, ctx: &mut Self::Context) -> bool {
        self.remove(&msg.0, ctx)
    }
}

/// A round; a forced-energy one with the energy given.
struct RunAll(Option<u32>);
impl Message for RunAll {
    type Result = Result<BTreeMap<String, CycleRecord>>;
}
impl Handler<RunAll> for ImprovementEngineRegistry {
    type Result = ResponseActFuture<Self, Result<BTreeMap<String, CycleRecord>>>;
    fn handle(&mut self, msg: RunAll, _: &mut Self::Context) -> Self::Result {
        if self.stopping {
            return Box::pin(actix::fut::ready(Err(super::stopping())));
        }
        Box::pin(
            self.round(msg.0)
                .into_actor(self)
                .then(|round, act, _| round.settle(act.round_cut_off()).into_actor(act))
                .map(|answers, act, ctx| {
                    let records = act.collect_round(answers, ctx);
                    Ok(records
                        .into_iter()
                        .map(|(name, record)| (name.to_string(), *record))
                        .collect())
                }),
        )
    }
}

struct Schedule {
    period: Duration,
    autoscale: Option<AutoscaleConfig>,
}
impl Message for Schedule {
    type Result = Result<()>;
}
impl Handler<Schedule> for ImprovementEngineRegistry {
    type Result = Result<()>;
    fn handle(&mut self, msg: Schedule, ctx: &mut Self::Context) -> Result<()> {
        if msg.period.is_zero() {
            return Err(Error::invalid(
                "schedule period",
                "0s",
                "a duration above 0",
            ));
        }
        crate::error::ensure_duration("schedule period", msg.period)?;
        if let Some(c) = &msg.autoscale {
            c.validate()?;
        }
        if let Some(old) = self.timer.take() {
            ctx.cancel_future(old.handle);
        }
        let deadline = self.now() + msg.period.as_secs_f64();
        let handle = self.wake_at(deadline, ctx);
        self.timer = Some(Timer {
            period: msg.period,
            deadline,
            handle,
            autoscale: msg.autoscale,
        });
        Ok(())
    }
}

struct Unschedule;
impl Message for Unschedule {
    type Result = ();
}
impl Handler<Unschedule> for ImprovementEngineRegistry {
    type Result = ();
    fn handle(&mut self, _: Unschedule, ctx: &mut Self::Context) {
        if let Some(old) = self.timer.take() {
            ctx.cancel_future(old.handle);
        }
    }
}

struct Autoscale(AutoscaleRequest);
impl Message for Autoscale {
    type Result = Result<AutoscaleRecord>;
}
impl Handler<Autoscale> for ImprovementEngineRegistry {
    type Result = ResponseFuture<Result<AutoscaleRecord>>;
    fn handle(&mut self, msg: Autoscale, ctx: &mut Self::Context) -> Self::Result {
        self.autoscale_step(msg.0, ctx)
    }
}

struct Report;
impl Message for Report {
    type Result = RegistryReport;
}
impl Handler<Report> for ImprovementEngineRegistry {
    type Result = ResponseActFuture<Self, RegistryReport>;
    fn handle(&mut self, _: Report, _: &mut Self::Context) -> Self::Result {
        Box::pin(self.statuses().into_actor(self).map(|statuses, act, _| {
            let engines = statuses
                .into_iter()
                .filter_map(|(name, _, status)| {
                    let e: &Entry = act.entries.get(&name)?;
                    Some(EngineReport {
                        entry: EngineEntry::of(&name, &e.builder, e.created, e.failed.clone()),
                        restarts: e.restarts.len(),
                        status,
                    })
                })
                .collect();
            RegistryReport {
                engines,
                autoscale: act.autoscale_log.iter().cloned().collect(),
                dropped_ticks: act.dropped_ticks,
                period: act.timer.as_ref().map(|t| t.period),
            }
        }))
    }
}

struct EngineAddr(String);
impl Message for EngineAddr {
    type Result = Option<Addr<SelfImprovementEngine>>;
}
impl Handler<EngineAddr> for ImprovementEngineRegistry {
    type Result = Option<Addr<SelfImprovementEngine>>;
    fn handle(&mut self, msg: EngineAddr, _: &mut Self::Context) -> Self::Result {
        self.entries
            .get(msg.0.as_str())
            .and_then(|e| e.addr.clone())
    }
}

struct TickLatency(bool);
impl Message for TickLatency {
    type Result = LatencySummary;
}
impl Handler<TickLatency> for ImprovementEngineRegistry {
    type Result = MessageResult<TickLatency>;
    fn handle(&mut self, msg: TickLatency, _: &mut Self::Context) -> Self::Result {
        let summary = self.latency.summary();
        if msg.0 {
            self.latency = Latencies::default();
        }
        MessageResult(summary)
    }
}

struct ShutdownAll;
impl Message for ShutdownAll {
    type Result = Result<()>;
}
impl Handler<ShutdownAll> for ImprovementEngineRegistry {
    type Result = ResponseActFuture<Self, Result<()>>;
    fn handle(&mut self, _: ShutdownAll, ctx: &mut Self::Context) -> Self::Result {
        self.stopping = true;
        if let Some(old) = self.timer.take() {
            ctx.cancel_future(old.handle);
        }
        let wait = self.config.shutdown_wait;
        // Every engine, and every engine removed whose shutdown has not
        // answered yet (asking it again waits for the same save).
        let live = self
            .entries
            .iter()
            .filter_map(|(n, e)| Some((n, e.addr.as_ref()?)));
        let shutdowns: Vec<_> = live
            .chain(&self.retiring)
            .map(|(name, addr)| {
                let (name, ask) = (name.clone(), addr.send(Shutdown { wait }));
                async move {
                    match ask.await {
                        Ok(Err(e)) => Some((name, e)),
                        // Saved, or already gone (its last save stands).
                        Ok(Ok(())) | Err(_) => None,
                    }
                }
            })
            .collect();
        Box::pin(
            futures_util::future::join_all(shutdowns)
                .into_actor(self)
                .then(|failed, act, _| {
                    // The registry's own file and one last flush, after the
                    // engines' final saves were handed to the writer.
                    act.save_registry();
                    let flush = act.services.writer.flush();
                    async move {
                        let flushed = match flush.await {
                            Ok(Ok(())) => None,
                            Ok(Err(source)) => Some(source),
                            Err(_) => Some(Arc::new(PersistError::WriterStopped)),
                        };
                        let failed: Vec<(Arc<str>, Error)> = failed.into_iter().flatten().collect();
                        let engines = failed.iter().map(|(n, _)| n.to_string()).collect();
                        let first = failed.into_iter().map(|(_, e)| e).next().or_else(|| {
                            flushed.map(|source| Error::SaveFailed {
                                what: "the registry".into(),
                                source,
                            })
                        });
                        match first {
                            None => Ok(()),
                            Some(first) => Err(Error::ShutdownIncomplete {
                                engines,
                                first: Box::new(first),
                            }),
                        }
                    }
                    .into_actor(act)
                })
                .map(|result, act, ctx: &mut Context<Self>| {
                    // Everything is on disk: the folder is free for the next process.
                    act.lock = None;
                    ctx.stop();
                    result
                }),
        )
    }
}
