//! `kaizen bench`: N engines with a no-op pipeline under one registry; how
//! fast they tick, how much memory they take, how much they write.
//!
//! Resident memory comes from `sysinfo`; its peak (VmHWM), which `sysinfo`
//! does not report, from `/proc/self/status` on Linux.

use anyhow::{Context, Result};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::table::Table;
use kaizen::autoscale::AutoscaleRequest;
use kaizen::autoscale::{AutoscaleConfig, AutoscaleInputs, EngineSummary, decide};
use kaizen::cycle::Persistence;
use kaizen::engine::EngineBuilder;
use kaizen::host::FixedProbe;
use kaizen::persist::{Durability, StateWriter};
use kaizen::pipeline::{AutomationResult, pipeline_fn};
use kaizen::record::CycleAction;
use kaizen::registry::{LatencySummary, RegistryConfig, RegistryHandle};
use kaizen::runtime::Services;
use kaizen::spec::SpecDuration;
use kaizen::synergy::{
    DQNSynergyLearner, DqnConfig, LearnerConfig, SynergyDeltas, SynergyKeys, SynergyLearner,
};

/// Which synergy learner the engines use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Learner {
    /// `SynergyWeightLearner`.
    Weights,
    /// `DQNSynergyLearner`.
    Dqn,
}

/// When state is written during the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// At most once per --window per engine, group-committed (two syncfs per batch).
    WriteBehind,
    /// After every cycle, each cycle waiting for its save (group-committed).
    PerCycle,
    /// No state folder at all.
    None,
}

/// Arguments of `kaizen bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Engines under the registry.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub engines: usize,
    /// Rounds: every engine ticks once per round.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub ticks: usize,
    /// The engines' synergy learner.
    #[arg(long, value_enum, default_value_t = Learner::Weights)]
    pub learner: Learner,
    /// When state is written.
    #[arg(long, value_enum, default_value_t = Mode::WriteBehind)]
    pub persistence: Mode,
    /// The write-behind window.
    #[arg(long, default_value = "1s", value_name = "DURATION", value_parser = |s: &str| SpecDuration::parse(s).map(|d| d.0))]
    pub window: Duration,
    /// Where the engines keep state during the run (default: a temporary
    /// folder, removed afterwards).
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// Also write the results as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

/// What `kaizen bench` measured.
#[derive(Debug, Serialize)]
struct Report {
    engines: usize,
    ticks: usize,
    learner: Learner,
    persistence: Mode,
    cores: usize,
    seconds: f64,
    engine_ticks_per_sec: f64,
    cycles_per_sec: f64,
    tick_latency: LatencySummary,
    peak_rss_kib: Option<u64>,
    /// RSS of the running registry before the engines were added.
    base_rss_kib: Option<u64>,
    /// What each engine added to the RSS, on average.
    rss_per_engine_kib: Option<f64>,
    bytes_written_per_cycle: f64,
    dqn_update_median_us: f64,
    autoscale_decide_us: f64,
    autoscale_registry_us: f64,
}

/// This process's resident memory now, in KiB (from `sysinfo`).
fn rss_kib() -> Option<u64> {
    use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System};
    let pid = sysinfo::get_current_pid().ok()?;
    let mut system = System::new().ok()?;
    system.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[pid]),
        false,
        ProcessRefreshKind::nothing().with_memory(),
    );
    Some(system.process(pid)?.memory() / 1024)
}

/// This process's peak resident memory (VmHWM), in KiB, on Linux. `sysinfo`
/// reports the current RSS but not its peak, so the peak is read from
/// `/proc/self/status`.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// The median of one DQN update (4 keys, batch 32, full replay), in µs.
fn dqn_update_median() -> Result<f64> {
    let mut l = DQNSynergyLearner::new(DqnConfig::default())?;
    let deltas = |i: usize| {
        let v = [(i % 7) as f64 * 0.1 - 0.3, 0.05, -0.02, 0.01];
        SynergyDeltas::from_values(SynergyKeys::Core, &v)
    };
    for i in 0..250 {
        l.update(0.1 * ((i % 5) as f64 - 2.0), &deltas(i)?)?;
    }
    let mut times = Vec::with_capacity(500);
    for i in 0..500 {
        let d = deltas(i)?;
        let t = Instant::now();
        l.update(0.05, &d)?;
        times.push(t.elapsed().as_secs_f64() * 1e6);
    }
    Ok(median(times))
}

/// The median time of the pure autoscale decision over `n` engines, in µs.
fn decide_median(n: usize) -> Result<f64> {
    let inputs = AutoscaleInputs {
        energy: 0.5,
        trend: 0.1,
        cpu: 0.2,
        memory: 0.2,
        now: 0.0,
        last_change: None,
        engines: (0..n)
            .map(|i| EngineSummary {
                name: format!("bot{i}"),
                roi_ema: (i % 17) as f64 * 0.01,
                created: i as u64,
            })
            .collect(),
        taken: Vec::new(),
    };
    let config = AutoscaleConfig {
        max_engines: n + 1,
        ..AutoscaleConfig::default()
    };
    let mut times = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        std::hint::black_box(decide(&inputs, &config, None)?);
        times.push(t.elapsed().as_secs_f64() * 1e6);
    }
    Ok(median(times))
}

/// Runs `kaizen bench`.
pub fn run(args: BenchArgs) -> Result<()> {
    anyhow::ensure!(args.engines > 0, "--engines must be at least 1");
    anyhow::ensure!(args.ticks > 0, "--ticks must be at least 1");
    let dqn_update_median_us = dqn_update_median()?;
    let autoscale_decide_us = decide_median(args.engines)?;
    let (state, temporary) = match (&args.state, args.persistence) {
        (_, Mode::None) => (None, false),
        (Some(dir), _) => (Some(dir.clone()), false),
        (None, _) => (
            Some(std::env::temp_dir().join(format!("kaizen-bench-{}", std::process::id()))),
            true,
        ),
    };
    let measured = actix::System::new().block_on(measure(&args, state.clone()));
    if temporary && let Some(dir) = &state {
        let _ = std::fs::remove_dir_all(dir);
    }
    let m = measured?;
    let report = Report {
        engines: args.engines,
        ticks: args.ticks,
        learner: args.learner,
        persistence: args.persistence,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        seconds: m.seconds,
        engine_ticks_per_sec: (args.engines * args.ticks) as f64 / m.seconds,
        cycles_per_sec: m.timed_cycles as f64 / m.seconds,
        tick_latency: m.latency,
        peak_rss_kib: peak_rss_kib(),
        base_rss_kib: m.rss_without_engines,
        rss_per_engine_kib: m
            .rss_with_engines
            .zip(m.rss_without_engines)
            .map(|(with, without)| with.saturating_sub(without) as f64 / args.engines as f64),
        bytes_written_per_cycle: m.bytes as f64 / m.timed_cycles.max(1) as f64,
        dqn_update_median_us,
        autoscale_decide_us,
        autoscale_registry_us: m.autoscale_us,
    };
    print!("{}", render(&report));
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

struct Measured {
    seconds: f64,
    timed_cycles: u64,
    latency: LatencySummary,
    rss_without_engines: Option<u64>,
    rss_with_engines: Option<u64>,
    bytes: u64,
    autoscale_us: f64,
}

async fn measure(args: &BenchArgs, state: Option<PathBuf>) -> Result<Measured> {
    // The system clock: write-behind saves wait on the engines' clock, so
    // the window is real time here, as for a long-running host.
    let writer = StateWriter::spawn();
    let registry = RegistryHandle::builder(RegistryConfig {
        state_root: state,
        ..RegistryConfig::default()
    })
    .probe(FixedProbe::default())
    .services(Services {
        writer: writer.clone(),
        ..Services::default()
    })
    .start()?;
    // The runtime (registry, worker threads, writer) before any engine: what
    // the engines add on top of it is their own.
    let rss_without_engines = rss_kib();
    let noop = Arc::new(pipeline_fn(|_: &str, _: u32| async {
        Ok(AutomationResult::default())
    }));
    let learner = match args.learner {
        Learner::Weights => LearnerConfig::default(),
        Learner::Dqn => LearnerConfig::Dqn(DqnConfig::default()),
    };
    let persistence = match args.persistence {
        Mode::PerCycle => Persistence::PerCycle(Durability::Fsync),
        Mode::WriteBehind | Mode::None => Persistence::WriteBehind {
            window: args.window,
            durability: Durability::Fsync,
        },
    };
    for i in 0..args.engines {
        let b = EngineBuilder::with_pipeline(format!("bot{i:05}"), noop.clone())
            .learner(learner.clone())
            .persistence(persistence);
        registry.register_engine(b).await?;
    }
    let cycles = |records: &std::collections::BTreeMap<String, kaizen::record::CycleRecord>| {
        records
            .values()
            .filter(|r| r.action == CycleAction::Run)
            .count() as u64
    };
    // Warm up to the steady state: with write-behind, until every engine has
    // saved three times (a file, its backup and its scratch file each exist,
    // so no save creates a file any more: three saves of engine.json,
    // policy.json and meta.json each), then let the writer drain: the timed
    // rounds see what a long-running host sees.
    let (warm_up, settled) = match args.persistence {
        Mode::WriteBehind => (args.window.mul_f64(3.5), 9 * args.engines as u64),
        Mode::PerCycle | Mode::None => (Duration::ZERO, 0),
    };
    let warming = Instant::now();
    let mut rounds = 0;
    while rounds < 3 || warming.elapsed() < warm_up || writer.stats().files() < settled {
        registry.run_all_cycles().await?;
        rounds += 1;
    }
    writer.flush().await.ok();
    registry.tick_latency(true).await?;
    let bytes_before = writer.stats().bytes();
    let started = Instant::now();
    let mut timed_cycles = 0;
    for _ in 0..args.ticks {
        timed_cycles += cycles(&registry.run_all_cycles().await?);
    }
    let seconds = started.elapsed().as_secs_f64();
    let latency = registry.tick_latency(false).await?;
    let rss_with_engines = rss_kib();
    let mut autoscale = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        registry
            .autoscale(AutoscaleRequest {
                config: Some(AutoscaleConfig {
                    dry_run: true,
                    ..AutoscaleConfig::default()
                }),
                ..AutoscaleRequest::default()
            })
            .await?;
        autoscale.push(t.elapsed().as_secs_f64() * 1e6);
    }
    registry.shutdown().await?;
    writer.flush().await.ok();
    Ok(Measured {
        seconds,
        timed_cycles,
        latency,
        rss_without_engines,
        rss_with_engines,
        bytes: writer.stats().bytes() - bytes_before,
        autoscale_us: median(autoscale),
    })
}

fn render(r: &Report) -> String {
    let mut t = Table::new(["figure", "value"]);
    let mut row = |k: &str, v: String| t.row([k.to_string(), v]);
    row("engine-ticks/s", format!("{:.0}", r.engine_ticks_per_sec));
    row("cycles/s", format!("{:.0}", r.cycles_per_sec));
    row(
        "tick latency p50",
        format!("{:.1} µs", r.tick_latency.p50_us),
    );
    row(
        "tick latency p99",
        format!("{:.1} µs", r.tick_latency.p99_us),
    );
    row(
        "peak RSS",
        r.peak_rss_kib
            .map_or("n/a".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0)),
    );
    row(
        "RSS before the engines",
        r.base_rss_kib
            .map_or("n/a".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0)),
    );
    row(
        "RSS per engine",
        r.rss_per_engine_kib
            .map_or("n/a".into(), |k| format!("{k:.1} KiB")),
    );
    row(
        "bytes written per cycle",
        format!("{:.0}", r.bytes_written_per_cycle),
    );
    row(
        "DQN update (median)",
        format!("{:.1} µs", r.dqn_update_median_us),
    );
    row(
        "autoscale decision (pure / via registry)",
        format!(
            "{:.1} µs / {:.0} µs",
            r.autoscale_decide_us, r.autoscale_registry_us
        ),
    );
    format!(
        "{} engines × {} ticks, {:?} learner, {:?} persistence, {} cores, {:.2} s\n{}",
        r.engines,
        r.ticks,
        r.learner,
        r.persistence,
        r.cores,
        r.seconds,
        t.render()
    )
}
