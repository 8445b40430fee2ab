//! The monitor: one subscriber on the decision stream, on its own thread,
//! that keeps the history, evaluates the alert rules and feeds observers
//! (the HTTP server's live view), off the engines' tick path.
//!
//! Engines publish each record once on the broadcast stream (a clone and a
//! lock); everything else happens here: the record is queued for the
//! history's writer thread (which writes in batches), counted for the alert
//! rules and handed to each [`Observer`]. Every `evaluate_every` the
//! monitor samples the machine's load, the decision-latency histogram and
//! (every `models_every`) the bots' model registries, evaluates the rules
//! ([`crate::alert`]) and publishes each alert that fires or resolves on the
//! same stream, so it reaches the history, the server's SSE clients and
//! `kaizen run`'s output like any other record.
//!
//! Which log a record goes to: a cycle to its bot's; an engine event to the
//! bot its engine's last cycle named (the engine's name before its first
//! cycle — `kaizen run` names engines after their bots); an autoscale step,
//! and a fleet-wide alert, to [`FLEET`](crate::history::FLEET).
//!
//! If the monitor falls more than the stream's capacity behind (a burst of
//! more than 4,096 records while its thread gets no CPU), the records it
//! missed are counted in [`MonitorStats::lagged`], not waited for.

mod readings;

pub use readings::{LatencyWindow, last_degradation};

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;

use crate::alert::{AlertConfig, AlertEvent, AlertRules, FleetReadings};
use crate::decision::{Decision, DecisionSender, EngineEventKind};
use crate::history::{FLEET, History};
use crate::host::{Clock, ResourceProbe, Resources};
use crate::registry::TickTimings;
use crate::{Error, Result};

/// Something that wants every item of the decision stream, on the monitor's thread.
pub trait Observer: Send + 'static {
    /// One item; `log` is the bot it belongs to (or [`FLEET`]).
    fn observe(&mut self, decision: &Decision, log: &str);
}

/// The monitor's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct MonitorConfig {
    /// The alert rules' thresholds, when they differ from the registry's
    /// settings ([`MonitorParts::alerts`]); `None` (the default) keeps those.
    pub alerts: Option<AlertConfig>,
    /// How often the rules are evaluated (5 s).
    pub evaluate_every: Duration,
    /// How often the bots' model registries are read for rollbacks (30 s).
    pub models_every: Duration,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            alerts: None,
            evaluate_every: Duration::from_secs(5),
            models_every: Duration::from_secs(30),
        }
    }
}

/// What the monitor has done, and what it read last, shared with readers.
#[derive(Debug, Default)]
pub struct MonitorStats {
    observed: AtomicU64,
    lagged: AtomicU64,
    history_errors: AtomicU64,
    firing: Mutex<Vec<AlertEvent>>,
    resources: Mutex<Option<Resources>>,
    latency_p99: Mutex<Option<f64>>,
    rules: AlertConfig,
}

impl MonitorStats {
    /// The alert rules' thresholds this monitor evaluates.
    pub fn rules(&self) -> &AlertConfig {
        &self.rules
    }

    /// Items of the stream the monitor handled.
    pub fn observed(&self) -> u64 {
        self.observed.load(Ordering::Relaxed)
    }

    /// Items the monitor missed because it fell behind.
    pub fn lagged(&self) -> u64 {
        self.lagged.load(Ordering::Relaxed)
    }

    /// Items the history refused for a reason other than a full queue.
    pub fn history_errors(&self) -> u64 {
        self.history_errors.load(Ordering::Relaxed)
    }

    /// The alerts firing after the last evaluation.
    pub fn firing(&self) -> Vec<AlertEvent> {
        lock(&self.firing).clone()
    }

    /// The machine's load at the last evaluation.
    pub fn resources(&self) -> Option<Resources> {
        *lock(&self.resources)
    }

    /// The p99 decision latency over the alert window at the last evaluation, seconds.
    pub fn latency_p99(&self) -> Option<f64> {
        *lock(&self.latency_p99)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What the monitor is wired to.
pub struct MonitorParts {
    /// A subscription to the decision stream, taken before the engines
    /// start so no record is missed.
    pub decisions: Receiver<Decision>,
    /// Where alerts are published (the same stream).
    pub publisher: DecisionSender,
    /// The history records are kept in, if any.
    pub history: Option<Arc<History>>,
    /// The registry's timing histograms (decision latency).
    pub timings: Arc<TickTimings>,
    /// The clock alerts are dated by.
    pub clock: Arc<dyn Clock>,
    /// The machine's load.
    pub probe: Box<dyn ResourceProbe>,
    /// The state folder, whose `<bot>/models` registries are read.
    pub state_root: Option<PathBuf>,
    /// The alert rules' thresholds: [`new`](Self::new) takes the
    /// registry's settings ([`RegistryConfig::alerts`](crate::registry::RegistryConfig::alerts));
    /// [`MonitorConfig::alerts`] overrides them.
    pub alerts: AlertConfig,
    /// Who else wants every item.
    pub observers: Vec<Box<dyn Observer>>,
}

impl MonitorParts {
    /// Wired to `registry`'s decision stream and timings, dated by `clock`,
    /// reading `probe`; no history, no models folder, no observers (set
    /// those with struct update syntax).
    pub fn new(
        registry: &crate::registry::RegistryHandle,
        clock: Arc<dyn Clock>,
        probe: Box<dyn ResourceProbe>,
    ) -> Self {
        MonitorParts {
            decisions: registry.subscribe(),
            publisher: registry.publisher(),
            history: None,
            timings: registry.timings(),
            clock,
            probe,
            state_root: None,
            alerts: registry.alert_config().clone(),
            observers: Vec::new(),
        }
    }
}

/// The running monitor. Dropping it (or [`stop`](Monitor::stop)) handles
/// what the stream still holds and ends the thread.
pub struct Monitor {
    stats: Arc<MonitorStats>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor")
            .field("stats", &self.stats)
            .finish()
    }
}

impl Monitor {
    /// Starts the monitor's thread.
    pub fn start(parts: MonitorParts, config: MonitorConfig) -> Result<Self> {
        let alerts = config
            .alerts
            .clone()
            .unwrap_or_else(|| parts.alerts.clone());
        let rules = AlertRules::new(alerts.clone())?;
        if config.evaluate_every.is_zero() {
            return Err(Error::invalid(
                "monitor evaluate_every",
                "0s",
                "a duration above 0",
            ));
        }
        let stats = Arc::new(MonitorStats {
            rules: alerts.clone(),
            ..MonitorStats::default()
        });
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let mut worker = Worker {
            latency: LatencyWindow::new(alerts.latency_window_secs),
            rules,
            config,
            parts,
            stats: stats.clone(),
            engines: HashMap::new(),
            degradations: HashMap::new(),
            models_read: None,
        };
        let thread = std::thread::Builder::new()
            .name("kaizen-monitor".into())
            .spawn(move || worker.run(stopped))
            .map_err(|e| Error::invalid("monitor thread", e, "a thread the OS can start"))?;
        Ok(Monitor {
            stats,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// What the monitor has done and read.
    pub fn stats(&self) -> Arc<MonitorStats> {
        self.stats.clone()
    }

    /// Handles what the stream still holds, then ends the thread.
    pub fn stop(mut self) {
        self.finish();
    }

    fn finish(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the monitor thread panicked");
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.finish();
    }
}

struct Worker {
    config: MonitorConfig,
    parts: MonitorParts,
    rules: AlertRules,
    stats: Arc<MonitorStats>,
    latency: LatencyWindow,
    /// The bot each engine's last cycle named.
    engines: HashMap<Arc<str>, Arc<str>>,
    degradations: HashMap<Arc<str>, crate::alert::Degradation>,
    models_read: Option<std::time::Instant>,
}

impl Worker {
    fn run(&mut self, mut stopped: tokio::sync::oneshot::Receiver<()>) {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
        {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "the monitor cannot start; no history or alerts");
                return;
            }
        };
        runtime.block_on(async {
            let mut every = tokio::time::interval(self.config.evaluate_every);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    biased;
                    item = self.parts.decisions.recv() => match item {
                        Ok(d) => self.handle(&d),
                        Err(RecvError::Lagged(n)) => {
                            self.stats.lagged.fetch_add(n, Ordering::Relaxed);
                            tracing::warn!(missed = n, "the monitor fell behind the decision stream");
                        }
                        Err(RecvError::Closed) => return,
                    },
                    _ = every.tick() => self.evaluate(),
                    _ = &mut stopped => {
                        while let Ok(d) = self.parts.decisions.try_recv() {
                            self.handle(&d);
                        }
                        return;
                    }
                }
            }
        });
    }

    /// The log an item belongs to.
    fn log_of(&mut self, d: &Decision) -> Arc<str> {
        match d {
            Decision::Cycle(r) => {
                if self.engines.get(&r.engine) != Some(&r.bot) {
                    self.engines.insert(r.engine.clone(), r.bot.clone());
                }
                r.bot.clone()
            }
            Decision::Engine(e) => self
                .engines
                .get(&e.engine)
                .cloned()
                .unwrap_or_else(|| e.engine.clone()),
            Decision::Autoscale(_) => Arc::from(FLEET),
            Decision::Alert(a) => a.bot.clone().unwrap_or_else(|| Arc::from(FLEET)),
            Decision::Variant(v) => Arc::from(v.bot.as_str()),
        }
    }

    fn handle(&mut self, d: &Decision) {
        self.stats.observed.fetch_add(1, Ordering::Relaxed);
        let log = self.log_of(d);
        if let Some(history) = &self.parts.history {
            match history.append(&log, d) {
                Ok(()) | Err(crate::history::HistoryError::QueueFull(_)) => {}
                Err(e) => {
                    if self.stats.history_errors.fetch_add(1, Ordering::Relaxed) == 0 {
                        tracing::error!(error = %e, log = %log, "a record was not kept in the history");
                    }
                }
            }
        }
        match d {
            Decision::Cycle(r) => {
                if let Some(o) = &r.outcome {
                    self.rules.observe_cycle(&r.bot, r.time, o.ok);
                }
            }
            Decision::Engine(e) if e.kind == EngineEventKind::Unregistered => {
                self.rules.forget_bot(&log);
                self.engines.remove(&e.engine);
            }
            _ => {}
        }
        for o in &mut self.parts.observers {
            o.observe(d, &log);
        }
    }

    fn evaluate(&mut self) {
        let now = self.parts.clock.now();
        let resources = self.parts.probe.sample();
        let p99 = self
            .latency
            .p99(now, self.parts.timings.decision.snapshot());
        self.read_models();
        let readings = FleetReadings {
            resources: Some(resources),
            latency_p99: p99,
            degradations: self.degradations.values().cloned().collect(),
        };
        for change in self.rules.evaluate(now, &readings) {
            crate::decision::publish(Some(&self.parts.publisher), Decision::Alert(change));
        }
        *lock(&self.stats.firing) = self.rules.firing();
        *lock(&self.stats.resources) = Some(resources);
        *lock(&self.stats.latency_p99) = p99;
    }

    /// Every `models_every`, the last automatic rollback of each known bot
    /// that has a model registry.
    fn read_models(&mut self) {
        let Some(root) = &self.parts.state_root else {
            return;
        };
        if self
            .models_read
            .is_some_and(|t| t.elapsed() < self.config.models_every)
        {
            return;
        }
        self.models_read = Some(std::time::Instant::now());
        let mut bots: Vec<Arc<str>> = self.engines.values().cloned().collect();
        bots.sort();
        bots.dedup();
        for bot in bots {
            match last_degradation(&root.join(&*bot), &bot) {
                Ok(Some(d)) => {
                    self.degradations.insert(bot, d);
                }
                Ok(None) => {
                    self.degradations.remove(&bot);
                }
                Err(e) => tracing::warn!(bot = %bot, error = %e, "cannot read the model registry"),
            }
        }
    }
}

#[cfg(test)]
mod tests;
