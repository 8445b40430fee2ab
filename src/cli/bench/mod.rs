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
    /// Run without the cycle history (`kaizen run` keeps one unless --no-history).
    #[arg(long)]
    pub no_history: bool,
    /// Also serve the HTTP API (as `kaizen run --listen`) and scrape /metrics
    /// once a second during the timed rounds.
    #[arg(long)]
    pub server: bool,
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
    /// What ran beside the engines: "history" (as `kaizen run` by default), "server".
    features: Vec<&'static str>,
    learner: Learner,
    persistence: Mode,
    cores: usize,
    /// The machine's load average (1, 5, 15 minutes) when the run ended.
    load_average: Option<[f64; 3]>,
    seconds: f64,
    /// How many timed stretches the figures below are medians of.
    stretches: usize,
    /// Ticks per second: the median of the stretches.
    engine_ticks_per_sec: f64,
    /// The lowest and highest of the stretches.
    engine_ticks_per_sec_range: [f64; 2],
    /// The raw actix round of the same shape and size, each stretch of it
    /// just before one of kaizen's: the median.
    raw_ticks_per_s: f64,
    /// The lowest and highest raw stretch.
    raw_ticks_per_s_range: [f64; 2],
    /// The machine's noise: (highest − lowest) / median of the raw stretches,
    /// the same work timed again and again.
    raw_spread: f64,
    /// The median of the stretches' ratios (kaizen's ticks/s over the raw
    /// stretch's just before).
    ratio_to_raw: f64,
    /// The lowest and highest of the stretches' ratios.
    ratio_to_raw_range: [f64; 2],
    /// All timed cycles over all timed seconds (not a median).
    cycles_per_sec: f64,
    tick_latency: LatencySummary,
    peak_rss_kib: Option<u64>,
    /// RSS of the running registry before the engines were added.
    base_rss_kib: Option<u64>,
    /// What each engine added to the RSS, on average.
    rss_per_engine_kib: Option<f64>,
    /// Bytes written per cycle: the state files and the write-ahead log.
    bytes_written_per_cycle: f64,
    /// Disk flushes per cycle (the state writer's `fdatasync` of its
    /// write-ahead log, and its `syncfs` calls: checkpoints, final flush).
    flushes_per_cycle: f64,
    /// Per-cycle saves only: the same log appends, files, bytes and flushes
    /// per round written by [`RawSaves`](kaizen::limits::RawSaves), each stretch just
    /// after one of kaizen's; cycles per second, the median.
    raw_saves_cycles_per_s: Option<f64>,
    /// The lowest and highest raw saves stretch.
    raw_saves_cycles_per_s_range: Option<[f64; 2]>,
    /// The raw saves' flushes per cycle.
    raw_saves_flushes_per_cycle: Option<f64>,
    /// The median of the stretches' `engine_ticks_per_sec` over
    /// `raw_saves_cycles_per_s` (every tick is a cycle here).
    ratio_to_raw_saves: Option<f64>,
    /// The lowest and highest of those ratios.
    ratio_to_raw_saves_range: Option<[f64; 2]>,
    dqn_update_median_us: f64,
    autoscale_decide_us: f64,
    autoscale_registry_us: f64,
    /// Records the monitor handed to the history, and those the history dropped.
    history_records: u64,
    history_dropped: u64,
    /// /metrics scrapes during the timed rounds, and the slowest, in ms.
    scrapes: u64,
    scrape_max_ms: f64,
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

/// The median of `v` (the mean of the middle two for an even count; 0 for none).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The lowest and highest of `v`.
fn range(v: &[f64]) -> [f64; 2] {
    let lowest = v.iter().copied().fold(f64::INFINITY, f64::min);
    [lowest, v.iter().copied().fold(f64::NEG_INFINITY, f64::max)]
}

/// The median of `v` and its range.
fn spread(v: Vec<f64>) -> (f64, [f64; 2]) {
    let r = range(&v);
    (median(v), r)
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
                pinned: false,
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
    let mut features = Vec::new();
    if !args.no_history {
        features.push("history");
    }
    if args.server {
        features.push("server");
    }
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
    let (engine_ticks_per_sec, engine_ticks_per_sec_range) =
        spread(m.stretches.iter().map(|s| s.ticks_per_s).collect());
    let (raw_ticks_per_s, raw_ticks_per_s_range) =
        spread(m.stretches.iter().map(|s| s.raw_ticks_per_s).collect());
    let (ratio_to_raw, ratio_to_raw_range) =
        spread(m.stretches.iter().map(measure::Stretch::ratio).collect());
    let raw_saves = m
        .stretches
        .iter()
        .map(|s| s.raw_saves_per_s)
        .collect::<Option<Vec<_>>>()
        .map(spread);
    let to_raw_saves = m
        .stretches
        .iter()
        .map(measure::Stretch::ratio_to_raw_saves)
        .collect::<Option<Vec<_>>>()
        .map(spread);
    let report = Report {
        engines: args.engines,
        ticks: args.ticks,
        features,
        learner: args.learner,
        persistence: args.persistence,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        load_average: load_average(),
        seconds: m.seconds,
        stretches: m.stretches.len(),
        engine_ticks_per_sec,
        engine_ticks_per_sec_range,
        raw_ticks_per_s,
        raw_ticks_per_s_range,
        raw_spread: (raw_ticks_per_s_range[1] - raw_ticks_per_s_range[0]) / raw_ticks_per_s,
        ratio_to_raw,
        ratio_to_raw_range,
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
        raw_saves_cycles_per_s: raw_saves.map(|s| s.0),
        raw_saves_cycles_per_s_range: raw_saves.map(|s| s.1),
        raw_saves_flushes_per_cycle: m.raw_saves_flushes.map(|f| f as f64 / args.engines as f64),
        ratio_to_raw_saves: to_raw_saves.map(|s| s.0),
        ratio_to_raw_saves_range: to_raw_saves.map(|s| s.1),
        dqn_update_median_us,
        autoscale_decide_us,
        autoscale_registry_us: m.autoscale_us,
        history_records: m.observed.history_records,
        history_dropped: m.observed.history_dropped,
        scrapes: m.observed.scrapes,
        scrape_max_ms: m.observed.scrape_max_ms,
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
    let with_range = |median: f64, [lo, hi]: [f64; 2], digits: usize| {
        format!("{median:.digits$} ({lo:.digits$}–{hi:.digits$})")
    };
    row(
        "engine-ticks/s (range)",
        with_range(r.engine_ticks_per_sec, r.engine_ticks_per_sec_range, 0),
    );
    row(
        "raw actix round ticks/s (range)",
        with_range(r.raw_ticks_per_s, r.raw_ticks_per_s_range, 0),
    );
    row(
        "ratio to raw (range)",
        with_range(r.ratio_to_raw, r.ratio_to_raw_range, 2),
    );
    row(
        "machine noise (raw spread)",
        format!("{:.0}%", 100.0 * r.raw_spread),
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
    if let (Some(saves), Some(range), Some(ratio), Some(ratio_range), Some(flushes)) = (
        r.raw_saves_cycles_per_s,
        r.raw_saves_cycles_per_s_range,
        r.ratio_to_raw_saves,
        r.ratio_to_raw_saves_range,
        r.raw_saves_flushes_per_cycle,
    ) {
        row("raw saves cycles/s (range)", with_range(saves, range, 0));
        row("raw saves flushes per cycle", format!("{flushes:.4}"));
        row(
            "ratio to raw saves (range)",
            with_range(ratio, ratio_range, 2),
        );
    }
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
    if r.features.contains(&"history") {
        row(
            "history records (dropped)",
            format!("{} ({})", r.history_records, r.history_dropped),
        );
    }
    if r.features.contains(&"server") {
        row(
            "/metrics scrapes (slowest)",
            format!("{} ({:.1} ms)", r.scrapes, r.scrape_max_ms),
        );
    }
    let features = if r.features.is_empty() {
        "no history, no server".to_string()
    } else {
        r.features.join(" + ")
    };
    let load = r
        .load_average
        .map_or("n/a".into(), |[a, b, c]| format!("{a:.2} {b:.2} {c:.2}"));
    format!(
        "{} engines × {} ticks, {features}, {:?} learner, {:?} persistence, {} cores, load {load}, {:.2} s; medians of {} stretches, each after a raw one\n{}",
        r.engines,
        r.ticks,
        r.learner,
        r.persistence,
        r.cores,
        r.seconds,
        r.stretches,
        t.render()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_ranges() {
        assert_eq!(spread(vec![3.0, 1.0, 2.0]), (2.0, [1.0, 3.0]));
        assert_eq!(spread(vec![4.0, 1.0, 2.0, 10.0]), (3.0, [1.0, 10.0]));
        assert_eq!(median(Vec::new()), 0.0);
    }
}
