//! The `learned` policy: the real engines and registry, driven tick by tick.
//!
//! Nothing here decides anything. The driver builds one
//! [`EngineBuilder`] per bot — the [`SimulatedPipeline`], the scenario's
//! `[learned]` engine settings, a [`ManualClock`], the energy source (the
//! world's free capacity, or the engine's own), and the world's ledger as
//! profit source when `deltas = "ledger"` — and registers them with a
//! [`RegistryHandle`] whose probe is the simulated machine ([`SimProbe`]).
//! Then, each tick: the clock is set to `tick · tick_seconds`, the registry
//! runs `run_all_cycles()` once (each engine decides as it would in
//! production: low energy, interval, policy), the autoscaler runs every
//! `every_ticks` ticks when the scenario enables it, and the world ends the
//! tick. Engines and registry use `arbiters: 0` and no state folder, so they
//! all live on the calling thread and events happen in one order.
//!
//! Each engine's policy seed is drawn from the run's seed and the bot's
//! index (its own stream), so runs with the same seed are identical and
//! engines do not share random numbers.
//!
//! With autoscaling, engines are named `engine{i}` and a new one takes the
//! first bot that has no engine — bots never looked after first, then the
//! one dropped longest ago; a removed engine's bot goes unattended. Which
//! engine looks after which bot is not kept beside the registry: the driver
//! keeps only the queue of unattended bots, and reads the engines' arrivals
//! and removals (each naming its bot) from the decision stream.
//!
//! With `capacity_energy`, the world's fair slot sharing is the engines'
//! admission hook ([`SlotGate`]) and a bot's energy score is whether it was
//! granted a slot ([`CapacityEnergy`]).
//!
//! ```
//! use kaizen::sim::{Scenario, run_learned};
//!
//! let scenario = Scenario::from_toml("[[bots]]\nname = \"a\"\n[[bots]]\nname = \"b\"")?;
//! let (world, tally) = actix::System::new().block_on(run_learned(&scenario, 1, 30, &mut |_| {}))?;
//! assert_eq!(world.ticks(), 30);
//! // The first tick of each engine is forced: it has never run a cycle.
//! assert!(tally.runs["interval"] >= 2);
//! # Ok::<(), kaizen::Error>(())
//! ```

use rand::RngCore;
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

use super::capacity::{CapacityEnergy, SimProbe, SlotGate};
use super::pipeline::SimulatedPipeline;
use super::scenario::{DeltaSource, Scenario};
use super::world::{Purpose, SharedWorld, World, lock, stream};
use crate::Result;
use crate::autoscale::AutoscaleAction;
use crate::autoscale::AutoscaleRequest;
use crate::cycle::EngineConfig;
use crate::decision::{Decision, EngineEventKind};
use crate::engine::EngineBuilder;
use crate::host::{ManualClock, ProfitSource};
use crate::pipeline::Pipeline;
use crate::record::{CycleAction, CycleRecord};
use crate::registry::{EngineFactory, RegistryConfig, RegistryHandle};
use crate::runtime::{BotLocks, Services};
use crate::spec::EnergyKind;

/// What the learned policy's engines did, counted over the run.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct EngineTally {
    /// Cycles run, by reason (`interval`, `policy`, …).
    pub runs: BTreeMap<String, u64>,
    /// Ticks skipped, by reason (`policy`, `low_energy`, …).
    pub skips: BTreeMap<String, u64>,
    /// Runs whose pipeline failed.
    pub failed: u64,
    /// Autoscale steps that created or removed an engine: `(tick, action)`.
    pub autoscale: Vec<(u64, String)>,
}

impl EngineTally {
    fn count(&mut self, record: &CycleRecord) {
        let map = match record.action {
            CycleAction::Run => &mut self.runs,
            CycleAction::Skip => &mut self.skips,
        };
        *map.entry(record.reason.as_str().to_string()).or_default() += 1;
        if record.action == CycleAction::Run && !record.succeeded() {
            self.failed += 1;
        }
    }
}

/// Bots without an engine, the next to get one first: the autoscaler's
/// factory gives a new engine the first, and the driver takes it off the
/// queue once the decision stream says the engine was registered.
type Waiting = Arc<Mutex<VecDeque<usize>>>;

/// Everything one engine needs, shared by the first engines and the factory.
#[derive(Clone)]
struct Wiring {
    names: Arc<[String]>,
    pipeline: Arc<dyn Pipeline>,
    ledger: Option<Arc<dyn ProfitSource>>,
    world: SharedWorld,
    gate: Arc<SlotGate>,
    config: EngineConfig,
    capacity_energy: bool,
    engine_energy: EnergyKind,
    clock: ManualClock,
    seed: u64,
}

impl Wiring {
    fn builder(&self, engine: &str, bot: usize) -> EngineBuilder {
        let mut config = self.config.clone();
        config.policy.seed = stream(self.seed, Purpose::Policy, bot).next_u64();
        // The `learned` policy is SPEC's reference engine; the learned
        // decision is the `core` policy (unless a scenario asks for it here).
        config
            .decision
            .get_or_insert(crate::cycle::DecisionMode::Chain);
        let mut b = EngineBuilder::with_pipeline(engine, self.pipeline.clone())
            .bot(self.names[bot].clone())
            .config_all(config)
            .clock(Arc::new(self.clock.clone()));
        if let Some(ledger) = &self.ledger {
            b = b.profit_source(ledger.clone());
        }
        if self.capacity_energy {
            let world = self.world.clone();
            b.admission(self.gate.clone())
                .energy_source(move |_| Ok(Box::new(CapacityEnergy::new(world.clone(), bot))))
        } else {
            self.engine_energy.apply(b)
        }
    }
}

/// Runs the learned policy over `scenario` for `ticks` ticks with `seed`;
/// `on_tick` is called after every tick. Returns the final world and the
/// engines' tally. Must run inside an actix system.
pub async fn run_learned(
    scenario: &Scenario,
    seed: u64,
    ticks: u64,
    on_tick: &mut dyn FnMut(u64),
) -> Result<(World, EngineTally)> {
    scenario.validate()?;
    let names: Arc<[String]> = scenario.bot_names().into();
    let world = scenario.world(seed)?.shared();
    let pipeline = SimulatedPipeline::new(world.clone(), &names, scenario.learned.report.clone())?;
    let ledger: Option<Arc<dyn ProfitSource>> = match scenario.learned.deltas {
        DeltaSource::Ledger => Some(Arc::new(pipeline.ledger())),
        DeltaSource::Projected => None,
    };
    let clock = ManualClock::new(0.0);
    let wiring = Wiring {
        names: names.clone(),
        pipeline: Arc::new(pipeline),
        ledger,
        world: world.clone(),
        gate: Arc::new(SlotGate::new(world.clone(), &names)),
        config: scenario.learned.engine_config()?,
        capacity_energy: scenario.learned.capacity_energy,
        engine_energy: scenario.learned.engine.energy,
        clock: clock.clone(),
        seed,
    };
    let autoscale = scenario.autoscale.enabled.then_some(&scenario.autoscale);
    let waiting = Waiting::default();
    let mut registry = RegistryHandle::builder(RegistryConfig {
        arbiters: 0,
        state_root: None,
        ..RegistryConfig::default()
    })
    .clock(Arc::new(clock.clone()))
    .probe(SimProbe::new(world.clone(), scenario.capacity.clone()))
    .services(Services {
        locks: BotLocks::new(),
        ..Services::default()
    });
    if autoscale.is_some() {
        let (wiring, waiting) = (wiring.clone(), waiting.clone());
        let factory: EngineFactory = Arc::new(move |engine: &str| {
            let bot = *lock_waiting(&waiting).front().ok_or_else(|| {
                crate::Error::invalid("autoscale", "a new engine", "a bot without an engine")
            })?;
            Ok(wiring.builder(engine, bot))
        });
        registry = registry.factory(factory);
    }
    let registry = registry.start()?;
    let first = autoscale
        .and_then(|a| a.initial_engines)
        .unwrap_or(names.len());
    for bot in 0..names.len() {
        if bot < first {
            let engine = match autoscale {
                Some(_) => format!("engine{bot}"),
                None => names[bot].clone(),
            };
            registry
                .register_engine(wiring.builder(&engine, bot))
                .await?;
        } else {
            lock_waiting(&waiting).push_back(bot);
        }
    }
    // From here on: the engines that come and go.
    let mut decisions = registry.subscribe();
    let bot_index: BTreeMap<&str, usize> = names.iter().map(String::as_str).zip(0..).collect();
    let mut tally = EngineTally::default();
    for t in 0..ticks {
        clock.set(t as f64 * scenario.tick_seconds);
        for record in registry.run_all_cycles().await?.values() {
            tally.count(record);
        }
        if let Some(a) = autoscale
            && (t + 1) % a.every_ticks == 0
        {
            let record = registry
                .autoscale(AutoscaleRequest {
                    config: Some(a.options.clone()),
                    ..AutoscaleRequest::default()
                })
                .await?;
            match (&record.decision.action, record.applied) {
                (AutoscaleAction::Create(name), true) => {
                    tally.autoscale.push((t, format!("create {name}")));
                }
                (AutoscaleAction::Remove(name), true) => {
                    // Wait until it has saved and stopped: until then its name
                    // is taken, and the next engine's name (and the run) would
                    // depend on how fast that happened.
                    registry.retire_engine(name).await?;
                    tally.autoscale.push((t, format!("remove {name}")));
                }
                _ => {}
            }
        }
        follow_engines(&mut decisions, &bot_index, &waiting);
        lock(&world).end_tick();
        on_tick(t);
    }
    registry.shutdown().await?;
    let world = lock(&world).clone();
    Ok((world, tally))
}

fn lock_waiting(w: &Mutex<VecDeque<usize>>) -> std::sync::MutexGuard<'_, VecDeque<usize>> {
    w.lock().unwrap_or_else(|p| p.into_inner())
}

/// Reads the engine events published so far: a registered engine's bot
/// leaves the queue of unattended bots, a removed engine's bot joins its
/// end. Falling behind the stream skips only cycle records: a subscriber
/// that lags loses the oldest decisions, and a tick's engine events come
/// after its cycle records (far fewer than
/// [`DECISION_CAPACITY`](crate::decision::DECISION_CAPACITY) of them).
fn follow_engines(
    decisions: &mut broadcast::Receiver<Decision>,
    bot_index: &BTreeMap<&str, usize>,
    waiting: &Mutex<VecDeque<usize>>,
) {
    let mut waiting = lock_waiting(waiting);
    loop {
        let event = match decisions.try_recv() {
            Ok(Decision::Engine(event)) => event,
            Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_)) => continue,
            Err(_) => return,
        };
        let Some(&bot) = bot_index.get(&*event.bot) else {
            continue;
        };
        match event.kind {
            EngineEventKind::Registered => waiting.retain(|&b| b != bot),
            EngineEventKind::Unregistered => waiting.push_back(bot),
            EngineEventKind::Restarted | EngineEventKind::Failed => {}
        }
    }
}
