//! [`LiveState`]: what the handlers read about every bot while the engines
//! update it — counters and the last tick from the decision stream (fed by
//! the monitor's thread, see [`LiveObserver`]), and each engine's snapshot,
//! refreshed from the registry every few seconds ([`refresh`]).
//!
//! Bots live in a [`DashMap`]: the monitor's thread writes one bot's entry
//! while a `/metrics` scrape reads the others, without one lock over all.

use dashmap::DashMap;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::alert::AlertEvent;
use crate::decision::{AutoscaleRecord, Decision, EngineEventKind};
use crate::histogram::{ENERGY_BOUNDS, Histogram};
use crate::monitor::Observer;
use crate::record::{CycleAction, Reason};
use crate::registry::{RegistryHandle, RegistryReport};
use crate::snapshot::{EngineSnapshot, LastTick};

/// How many autoscale records and alert events are kept for the dashboard.
pub const KEPT_EVENTS: usize = 100;

/// One bot, as the server sees it.
#[derive(Clone, Debug, Default)]
pub struct BotLive {
    /// The engine that looks after it.
    pub engine: Option<Arc<str>>,
    /// Cycles (pipeline runs) since this process started.
    pub cycles: u64,
    /// Of those, the failed ones.
    pub failures: u64,
    /// Ticks skipped since this process started.
    pub skips: u64,
    /// The last tick, in brief.
    pub last: Option<LastTick>,
    /// When the last cycle ran.
    pub last_run: Option<f64>,
    /// The last energy score computed.
    pub energy_score: Option<f64>,
    /// Paused: the last tick was skipped as `paused` (or an operator paused it since).
    pub paused: bool,
    /// The engine's snapshot at the last refresh (or action).
    pub snapshot: Option<EngineSnapshot>,
}

/// Everything the handlers read without asking the engines.
#[derive(Debug)]
pub struct LiveState {
    /// Per bot.
    pub bots: DashMap<Arc<str>, BotLive>,
    /// Energy of every cycle since start.
    pub energy: Histogram,
    /// Items of the decision stream, by type: cycle, autoscale, engine, alert, variant.
    pub decisions: [AtomicU64; 5],
    /// Autoscale steps by (action, applied).
    pub autoscale_steps: Mutex<BTreeMap<(&'static str, bool), u64>>,
    /// The last autoscale records, oldest first.
    pub autoscale: Mutex<VecDeque<AutoscaleRecord>>,
    /// The last alert events, oldest first.
    pub alerts: Mutex<VecDeque<AlertEvent>>,
    /// Engines registered, failed, and ticks dropped, at the last refresh.
    pub engines: AtomicUsize,
    /// Engines marked failed at the last refresh.
    pub failed: AtomicUsize,
    /// Ticks the registry's timer dropped, at the last refresh.
    pub dropped_ticks: AtomicU64,
}

impl Default for LiveState {
    fn default() -> Self {
        LiveState {
            bots: DashMap::new(),
            energy: Histogram::new(ENERGY_BOUNDS),
            decisions: Default::default(),
            autoscale_steps: Mutex::default(),
            autoscale: Mutex::default(),
            alerts: Mutex::default(),
            engines: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            dropped_ticks: AtomicU64::new(0),
        }
    }
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn push_kept<T>(q: &Mutex<VecDeque<T>>, item: T) {
    let mut q = lock(q);
    if q.len() == KEPT_EVENTS {
        q.pop_front();
    }
    q.push_back(item);
}

impl LiveState {
    /// Takes in one item of the decision stream.
    pub fn observe(&self, d: &Decision) {
        let kind = match d {
            Decision::Cycle(_) => 0,
            Decision::Autoscale(_) => 1,
            Decision::Engine(_) => 2,
            Decision::Alert(_) => 3,
            Decision::Variant(_) => 4,
        };
        self.decisions[kind].fetch_add(1, Ordering::Relaxed);
        match d {
            Decision::Cycle(r) => {
                let mut bot = self.bots.entry(r.bot.clone()).or_default();
                if bot.engine.as_ref() != Some(&r.engine) {
                    bot.engine = Some(r.engine.clone());
                }
                bot.last = Some(r.into());
                bot.paused = r.reason == Reason::Paused;
                if r.energy_score.is_some() {
                    bot.energy_score = r.energy_score;
                }
                match r.action {
                    CycleAction::Skip => bot.skips += 1,
                    CycleAction::Run => {
                        bot.cycles += 1;
                        bot.last_run = Some(r.time);
                        if !r.succeeded() {
                            bot.failures += 1;
                        }
                        if let Some(e) = r.energy() {
                            self.energy.observe(f64::from(e));
                        }
                    }
                }
            }
            Decision::Autoscale(a) => {
                let action = match a.decision.action {
                    crate::autoscale::AutoscaleAction::Create(_) => "create",
                    crate::autoscale::AutoscaleAction::Remove(_) => "remove",
                    crate::autoscale::AutoscaleAction::Hold => "hold",
                };
                *lock(&self.autoscale_steps)
                    .entry((action, a.applied))
                    .or_default() += 1;
                push_kept(&self.autoscale, a.clone());
            }
            Decision::Engine(e) => match e.kind {
                EngineEventKind::Unregistered => {
                    self.bots
                        .retain(|_, b| b.engine.as_ref() != Some(&e.engine));
                }
                EngineEventKind::Registered => {
                    // Until its first tick, the engine's name stands for its bot.
                    self.bots
                        .entry(e.engine.clone())
                        .or_default()
                        .engine
                        .get_or_insert_with(|| e.engine.clone());
                }
                EngineEventKind::Restarted | EngineEventKind::Failed => {}
            },
            Decision::Alert(a) => push_kept(&self.alerts, a.clone()),
            Decision::Variant(_) => {}
        }
    }

    /// Takes in the registry's report: every engine's snapshot and the counts.
    pub fn refreshed(&self, report: &RegistryReport) {
        self.engines.store(report.engines.len(), Ordering::Relaxed);
        let failed = report.engines.iter().filter(|e| e.entry.failed.is_some());
        self.failed.store(failed.count(), Ordering::Relaxed);
        self.dropped_ticks
            .store(report.dropped_ticks, Ordering::Relaxed);
        for e in &report.engines {
            let mut bot = self
                .bots
                .entry(Arc::from(e.entry.bot.as_str()))
                .or_default();
            bot.engine = Some(Arc::from(e.entry.name.as_str()));
            if let Some(s) = &e.status {
                bot.paused = s.paused;
                bot.snapshot = Some(s.clone());
            }
        }
    }

    /// The engine that looks after `bot` (or the engine named `bot`).
    pub fn engine_of(&self, bot: &str) -> Option<Arc<str>> {
        self.bots.get(bot).and_then(|b| b.engine.clone())
    }

    /// Marks `bot` paused or not (an operator's action, before the next refresh).
    pub fn set_paused(&self, bot: &str, paused: bool) {
        if let Some(mut b) = self.bots.get_mut(bot) {
            b.paused = paused;
            if let Some(s) = &mut b.snapshot {
                s.paused = paused;
            }
        }
    }
}

/// Feeds a [`LiveState`] from the monitor's thread.
#[derive(Debug)]
pub struct LiveObserver(pub Arc<LiveState>);

impl Observer for LiveObserver {
    fn observe(&mut self, decision: &Decision, _log: &str) {
        self.0.observe(decision);
    }
}

/// Refreshes `live` from the registry's report now, then every `every`,
/// until the registry stops answering. Run it on the actix system.
pub async fn refresh(live: Arc<LiveState>, registry: RegistryHandle, every: Duration) {
    loop {
        match registry.status().await {
            Ok(report) => live.refreshed(&report),
            Err(_) => return,
        }
        tokio::time::sleep(every).await;
    }
}
