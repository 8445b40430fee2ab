//! `kaizen bench`: N engines with a no-op pipeline under one registry; how
//! fast they tick, how much memory they take, how much they write — and, in
//! the same run, how fast the same round goes with nothing of kaizen in it
//! ([`RawFleet`](kaizen::limits::RawFleet)), so the figure that travels
//! between machines is the ratio.
//!
//! Resident memory comes from `sysinfo`; its peak (VmHWM), which `sysinfo`
//! does not report, from `/proc/self/status` on Linux.

mod count;
mod measure;

use anyhow::{Context, Result};
use serde::Serialize;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::table::Table;
use kaizen::autoscale::{AutoscaleConfig, AutoscaleInputs, EngineSummary, decide};
use kaizen::registry::LatencySummary;
use kaizen::spec::SpecDuration;
use kaizen::synergy::{DQNSynergyLearner, DqnConfig, SynergyDeltas, SynergyKeys, SynergyLearner};

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
    /// At most once per --window per engine, group-committed.
    WriteBehind,
    /// After every cycle, each cycle waiting for its save (group-committed).
    PerCycle,
    /// No state folder at all.
    None,
}

/// Which rounds a `--part` run times (for counting instructions).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Part {
    /// The registry's rounds.
    Kaizen,
    /// The raw actix rounds.
    Raw,
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
    /// Also count the instructions of a tick and of a raw tick (with `perf
    /// stat`, or callgrind when the machine has no hardware counters; in
    /// child processes, which takes a while under callgrind).
    #[arg(long)]
    pub instructions: bool,
    /// Time only these rounds after a fixed warm-up, and report nothing
    /// (what `--instructions` runs in its child processes).
    #[arg(long, value_enum, hide = true)]
    pub part: Option<Part>,
}

/// What `kaizen bench` measured.
#[derive(Debug, Serialize)]
struct Report {
    engines: usize,
    ticks: usize,
    learner: Learner,
    persistence: Mode,
    cores: usize,
    /// The machine's load average (1, 5, 15 minutes) when the run ended.
    load_average: Option<[f64; 3]>,
    seconds: f64,
    engine_ticks_per_sec: f64,
    /// The raw actix round of the same shape and size, measured in
    /// alternation with kaizen's rounds.
    raw_ticks_per_s: f64,
    /// `engine_ticks_per_sec / raw_ticks_per_s`.
    ratio_to_raw: f64,
    /// The lowest and highest ratio of one kaizen stretch to the raw
    /// stretch before it.
    ratio_to_raw_range: [f64; 2],
    cycles_per_sec: f64,
    tick_latency: LatencySummary,
    peak_rss_kib: Option<u64>,
    /// RSS of the running registry before the engines were added.
    base_rss_kib: Option<u64>,
    /// What each engine added to the RSS, on average.
    rss_per_engine_kib: Option<f64>,
    bytes_written_per_cycle: f64,
    /// Disk flushes per cycle (syncs and fdatasyncs of the state writer).
    flushes_per_cycle: f64,
    dqn_update_median_us: f64,
    autoscale_decide_us: f64,
    autoscale_registry_us: f64,
    /// What counted the instructions (`--instructions`).
    instruction_counter: Option<count::Counter>,
    /// Instructions per engine tick (write-behind: the tick path alone).
    instructions_per_tick: Option<f64>,
    /// Instructions per tick of the raw round.
    raw_instructions_per_tick: Option<f64>,
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

fn load_average() -> Option<[f64; 3]> {
    let l = sysinfo::System::load_average().ok()?;
    Some([l.one, l.five, l.fifteen])
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
    let (state, temporary) = match (&args.state, args.persistence) {
        (_, Mode::None) => (None, false),
        (Some(dir), _) => (Some(dir.clone()), false),
        (None, _) => (
            Some(std::env::temp_dir().join(format!("kaizen-bench-{}", std::process::id()))),
            true,
        ),
    };
    if let Some(part) = args.part {
        let done = actix::System::new().block_on(measure::part(&args, part, state.clone()));
        if temporary && let Some(dir) = &state {
            let _ = std::fs::remove_dir_all(dir);
        }
        return done;
    }
    let dqn_update_median_us = dqn_update_median()?;
    let autoscale_decide_us = decide_median(args.engines)?;
    let measured = actix::System::new().block_on(measure::run(&args, state.clone()));
    if temporary && let Some(dir) = &state {
        let _ = std::fs::remove_dir_all(dir);
    }
    let m = measured?;
    let counter = if args.instructions {
        count::Counter::find()
    } else {
        None
    };
    if args.instructions && counter.is_none() {
        eprintln!("note: neither `perf stat` nor valgrind can count instructions here");
    }
    let counted = |part| counter.map(|c| count::per_tick(c, &args, part)).transpose();
    let instructions_per_tick = counted(Part::Kaizen)?;
    let raw_instructions_per_tick = counted(Part::Raw)?;
    let ticks = (args.engines * args.ticks) as f64;
    let engine_ticks_per_sec = ticks / m.seconds;
    let raw_ticks_per_s = ticks / m.raw_seconds;
    let report = Report {
        engines: args.engines,
        ticks: args.ticks,
        learner: args.learner,
        persistence: args.persistence,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        load_average: load_average(),
        seconds: m.seconds,
        engine_ticks_per_sec,
        raw_ticks_per_s,
        ratio_to_raw: engine_ticks_per_sec / raw_ticks_per_s,
        ratio_to_raw_range: m.ratio_range,
        cycles_per_sec: m.timed_cycles as f64 / m.seconds,
        tick_latency: m.latency,
        peak_rss_kib: peak_rss_kib(),
        base_rss_kib: m.rss_without_engines,
        rss_per_engine_kib: m
            .rss_with_engines
            .zip(m.rss_without_engines)
            .map(|(with, without)| with.saturating_sub(without) as f64 / args.engines as f64),
        bytes_written_per_cycle: m.bytes as f64 / m.timed_cycles.max(1) as f64,
        flushes_per_cycle: m.flushes as f64 / m.timed_cycles.max(1) as f64,
        dqn_update_median_us,
        autoscale_decide_us,
        autoscale_registry_us: m.autoscale_us,
        instruction_counter: counter,
        instructions_per_tick,
        raw_instructions_per_tick,
    };
    print!("{}", render(&report));
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

fn render(r: &Report) -> String {
    let mut t = Table::new(["figure", "value"]);
    let mut row = |k: &str, v: String| t.row([k.to_string(), v]);
    row("engine-ticks/s", format!("{:.0}", r.engine_ticks_per_sec));
    row(
        "raw actix round ticks/s",
        format!("{:.0}", r.raw_ticks_per_s),
    );
    row(
        "ratio to raw (range)",
        format!(
            "{:.2} ({:.2}–{:.2})",
            r.ratio_to_raw, r.ratio_to_raw_range[0], r.ratio_to_raw_range[1]
        ),
    );
    row("cycles/s", format!("{:.0}", r.cycles_per_sec));
    row(
        "tick latency p50",
        format!("{:.1} µs", r.tick_latency.p50_us),
    );
    row(
        "tick latency p99",
        format!("{:.1} µs", r.tick_latency.p99_us),
    );
    let mib = |k: Option<u64>| k.map_or("n/a".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
    row("peak RSS", mib(r.peak_rss_kib));
    row("RSS before the engines", mib(r.base_rss_kib));
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
        "disk flushes per cycle",
        format!("{:.4}", r.flushes_per_cycle),
    );
    if let (Some(k), Some(raw)) = (r.instructions_per_tick, r.raw_instructions_per_tick) {
        row("instructions per tick (raw)", format!("{k:.0} ({raw:.0})"));
    }
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
    let load = r
        .load_average
        .map_or("n/a".into(), |[a, b, c]| format!("{a:.2} {b:.2} {c:.2}"));
    format!(
        "{} engines × {} ticks, {:?} learner, {:?} persistence, {} cores, load {load}, {:.2} s\n{}",
        r.engines,
        r.ticks,
        r.learner,
        r.persistence,
        r.cores,
        r.seconds,
        t.render()
    )
}
