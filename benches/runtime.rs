//! The runtime's hot paths: the energy chain, one engine tick through the
//! actor, a registry round against the raw actix round of the same shape,
//! a durable batch against raw saves of the same shape, encoding an
//! engine's state, and writing one state file.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::Arc;

use std::sync::atomic::{AtomicU32, Ordering};

use kaizen::chain::{ChainConfig, ChainInputs, energy_chain};
use kaizen::cycle::{EngineConfig, EngineCore, Persistence};
use kaizen::engine::{EngineBuilder, RunCycle, Shutdown, Tick};
use kaizen::host::{FixedProbe, ManualClock, Resources};
use kaizen::limits::{RawFleet, RawSaves};
use kaizen::persist::{Durability, PendingFile, StateWriter, write_atomic};
use kaizen::pipeline::{AutomationResult, RoiResult, pipeline_fn};
use kaizen::registry::{RegistryConfig, RegistryHandle};

fn chain(c: &mut Criterion) {
    let inputs = ChainInputs {
        requested: 1,
        energy_score: Some(0.7),
        policy_score: 0.5,
        forecast: Some(0.3),
        synergy_adj: 0.25,
        roi_ema: 0.2,
        short_mean: -0.1,
    };
    let config = ChainConfig::default();
    c.bench_function("energy_chain", |b| {
        b.iter(|| energy_chain(black_box(&inputs), &config).unwrap())
    });
}

fn tick_through_the_actor(c: &mut Criterion) {
    let system = actix::System::new();
    let clock = ManualClock::new(0.0);
    let noop = pipeline_fn(|_: &str, _: u32| async { Ok(AutomationResult::default()) });
    let engine = system.block_on(async {
        EngineBuilder::new("bench", noop)
            .clock(Arc::new(clock.clone()))
            .persistence(Persistence::WriteBehind {
                window: std::time::Duration::from_secs(3600),
                durability: Durability::Atomic,
            })
            .start()
            .unwrap()
    });
    let mut now = 0.0;
    c.bench_function("engine tick through the actor (no-op pipeline)", |b| {
        b.iter(|| {
            now += 1.0;
            let tick = Tick {
                now,
                resources: Resources::default(),
            };
            system.block_on(engine.send(tick)).unwrap()
        })
    });
}

/// A round of 1,000 no-op engines through the registry (no state folder),
/// and the raw actix round of the same shape and size: their ratio is what
/// `kaizen bench` reports as `ratio_to_raw`.
fn round_against_raw(c: &mut Criterion) {
    const ENGINES: usize = 1000;
    let system = actix::System::new();
    let (registry, fleet) = system.block_on(async {
        let registry = RegistryHandle::builder(RegistryConfig::default())
            .probe(FixedProbe::default())
            .start()
            .unwrap();
        let noop = Arc::new(pipeline_fn(|_: &str, _: u32| async {
            Ok(AutomationResult::default())
        }));
        for i in 0..ENGINES {
            let b = EngineBuilder::with_pipeline(format!("bot{i:05}"), noop.clone());
            registry.register_engine(b).await.unwrap();
        }
        let fleet = RawFleet::start(ENGINES, RegistryConfig::default().arbiters).unwrap();
        (registry, fleet)
    });
    let mut group = c.benchmark_group("round of 1,000 engines");
    group.bench_function("registry (no-op pipeline, no state folder)", |b| {
        b.iter(|| system.block_on(registry.run_all_cycles()).unwrap())
    });
    group.bench_function("raw actix round", |b| {
        b.iter(|| system.block_on(fleet.round()))
    });
    group.finish();
}

/// An engine core with a full history, as after a long run: 1,000 cycles
/// through the actor, saved, and opened again.
fn warmed_core(dir: &std::path::Path) -> EngineCore {
    let n = Arc::new(AtomicU32::new(0));
    let pipeline = pipeline_fn(move |_: &str, _: u32| {
        let i = n.fetch_add(1, Ordering::Relaxed);
        async move {
            Ok(AutomationResult {
                roi: Some(RoiResult {
                    roi: f64::from(i % 17) * 0.123_456_789,
                    ..Default::default()
                }),
                ..Default::default()
            })
        }
    });
    actix::System::new().block_on(async {
        let engine = EngineBuilder::new("bench", pipeline)
            .clock(Arc::new(ManualClock::new(0.0)))
            .state_root(dir)
            .persistence(Persistence::PerCycle(Durability::Atomic))
            .start()
            .unwrap();
        for _ in 0..1000 {
            engine.send(RunCycle { energy: 1 }).await.unwrap().unwrap();
        }
        let wait = std::time::Duration::from_secs(10);
        engine.send(Shutdown { wait }).await.unwrap().unwrap();
    });
    let core = EngineCore::open(
        Arc::from("bench"),
        Arc::from("bench"),
        EngineConfig::default(),
        Some(dir.join("bench")),
        None,
    )
    .unwrap();
    assert_eq!(core.cycles(), 1000);
    core
}

fn state_save(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut core = warmed_core(dir.path());
    c.bench_function("encode engine.json (1,000 deltas)", |b| {
        b.iter(|| {
            core.set_paused(true);
            core.set_paused(false);
            core.take_files()
        })
    });
    let path = dir.path().join("file.json");
    let bytes = vec![b'x'; 20_000];
    c.bench_function("write_atomic 20 KB (no fsync)", |b| {
        b.iter(|| write_atomic(&path, black_box(&bytes), Durability::Atomic).unwrap())
    });
}

/// A durable batch of 100 engines' three files through the state writer,
/// and the raw saves of the same files, bytes and flushes: their ratio is
/// what `kaizen bench --persistence per-cycle` reports as
/// `ratio_to_raw_saves`.
fn durable_batch_against_raw(c: &mut Criterion) {
    const ENGINES: usize = 100;
    const FILES: usize = 3;
    const BYTES: usize = 1_300;
    let dir = tempfile::tempdir().unwrap();
    let writer = StateWriter::spawn();
    let bytes = vec![b'x'; BYTES];
    let root = dir.path().join("state");
    // As under a registry: the root's saves go through its write-ahead log.
    let _log = writer.attach_log(&root).unwrap();
    let root = root.as_path();
    let batch = || {
        (0..ENGINES)
            .flat_map(|e| (0..FILES).map(move |f| root.join(format!("bot{e}/{f}.json"))))
            .map(|path| PendingFile {
                path,
                bytes: bytes.clone(),
            })
            .collect::<Vec<_>>()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut saves = RawSaves::create(&dir.path().join("raw"), ENGINES, FILES, BYTES).unwrap();
    let mut group = c.benchmark_group("durable batch of 100 engines × 3 files");
    group.sample_size(10);
    group.bench_function("state writer (log, fdatasync, stage, rename)", |b| {
        b.iter(|| {
            let ack = writer.submit(batch(), Durability::Fsync);
            runtime.block_on(ack).unwrap().unwrap()
        })
    });
    group.bench_function("raw saves (same appends, writes and flushes)", |b| {
        b.iter(|| saves.round().unwrap())
    });
    group.finish();
}

criterion_group!(
    benches,
    chain,
    tick_through_the_actor,
    round_against_raw,
    durable_batch_against_raw,
    state_save
);
criterion_main!(benches);
