//! The cycle history: a query for the last day of one bot out of 1,000
//! (one record a minute per bot, 30 days kept), and appends — what a caller
//! pays to queue a record, and how many records a second the writer thread
//! puts on disk for 10,000 bots.
//!
//! The month of records is written through `History` for one bot; the other
//! 999 bots' segments are hard links to its files (the same bytes, at no disk
//! cost): a query opens only its own bot's folder, and the reader's index
//! cache is filled with all 1,000 bots before the timing. The page cache is
//! warm, as it is for a running server. A quarter of the records are run
//! cycles (inputs, energy chain, outcome), the rest policy skips.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kaizen::decision::Decision;
use kaizen::history::{History, HistoryConfig, HistoryReader, LogConfig, Query};
use kaizen::host::ManualClock;
use kaizen::persist::Durability;

const DAY: f64 = 86_400.0;
const NOW: f64 = 1_800_000_000.0;
const BOTS: usize = 1000;

/// A run cycle and a policy skip, as `kaizen run --json` prints them.
const RUN: &str = r#"{"type":"cycle","engine":"bot","bot":"bot","time":0,"cycle":1,"action":"run","reason":"policy","energy_score":0.5251655460824979,"inputs":{"state":[5,0,0,10,0,0,0,0,0,0,0,0,0,0],"policy_score":0.4213,"forecast":null,"synergy_adj":0.0,"roi_ema":0.0312,"short_mean":0.0871,"trend":0.0},"chain":{"e0":3.0,"e1":4.0,"e2":null,"e3":null,"e4":4.0,"e5":4.0,"energy":4},"outcome":{"ok":true,"delta":0.3115,"reward":0.4615,"profit_before":null,"profit_after":null,"error":null,"modules":["bot-model"],"learner":null}}"#;
const SKIP: &str = r#"{"type":"cycle","engine":"bot","bot":"bot","time":0,"cycle":1,"action":"skip","reason":"policy","energy_score":0.5251655460824979,"inputs":null,"chain":null,"outcome":null}"#;

/// Record `i` of `bot` at `time`: every fourth a run.
fn record(bot: &Arc<str>, i: u64, time: f64) -> Decision {
    let mut d: Decision =
        serde_json::from_str(if i.is_multiple_of(4) { RUN } else { SKIP }).unwrap();
    if let Decision::Cycle(r) = &mut d {
        r.engine = bot.clone();
        r.bot = bot.clone();
        r.time = time;
        r.cycle = i;
    }
    d
}

fn config(durability: Durability) -> HistoryConfig {
    HistoryConfig {
        log: LogConfig {
            durability,
            ..LogConfig::history()
        },
        ..HistoryConfig::default()
    }
}

/// 30 days of one record a minute for `bot0000`, hard-linked for 999 more.
fn month_of_1000_bots(root: &Path) {
    let clock = ManualClock::new(NOW);
    let history = History::open(root, config(Durability::Atomic), Arc::new(clock)).unwrap();
    let bot: Arc<str> = Arc::from("bot0000");
    let n = 30 * 24 * 60;
    for i in 0..n {
        let time = NOW - 30.0 * DAY + i as f64 * 60.0 + 30.0;
        while history.append(&bot, &record(&bot, i, time)).is_err() {
            history.flush().blocking_recv().unwrap().unwrap();
        }
    }
    history.flush().blocking_recv().unwrap().unwrap();
    let stats = history.stats();
    let first = root.join(".kaizen/history/bot0000");
    let files: Vec<_> = std::fs::read_dir(&first)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let on_disk: u64 = files.iter().map(|f| f.metadata().unwrap().len()).sum();
    eprintln!(
        "history: {n} records of one bot in {} segments, {} bytes of records ({:.0} per record), {on_disk} bytes on disk",
        files.len(),
        stats.bytes(),
        stats.bytes() as f64 / stats.written() as f64,
    );
    drop(history);
    for b in 1..BOTS {
        let dir = root.join(format!(".kaizen/history/bot{b:04}"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in &files {
            std::fs::hard_link(f, dir.join(f.file_name().unwrap())).unwrap();
        }
    }
}

fn query(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    month_of_1000_bots(tmp.path());
    let reader = HistoryReader::new(tmp.path());
    let last_day = Query::between(Some(NOW - DAY), None);
    for b in 0..BOTS {
        let got = reader.range(&format!("bot{b:04}"), &last_day).unwrap();
        assert_eq!(got.len(), 1440);
    }
    c.bench_function(
        "history: last day of 1 bot of 1,000 (30 days, 1 record/min)",
        |b| b.iter(|| reader.range(black_box("bot0000"), &last_day).unwrap()),
    );
    c.bench_function(
        "history: the same from a new reader (as `kaizen history` runs)",
        |b| {
            b.iter(|| {
                HistoryReader::new(tmp.path())
                    .range("bot0000", &last_day)
                    .unwrap()
            })
        },
    );
    c.bench_function("history: last 100 records of 1 bot of 1,000", |b| {
        b.iter(|| reader.last(black_box("bot0000"), 100).unwrap())
    });
}

/// 100,000 records for 10,000 bots: one each, ten rounds.
struct Workload {
    names: Vec<Arc<str>>,
    records: Vec<Decision>,
}

impl Workload {
    fn new(bots: usize, n: usize) -> Self {
        let names: Vec<Arc<str>> = (0..bots).map(|b| Arc::from(format!("bot{b:05}"))).collect();
        let records = (0..n)
            .map(|i| record(&names[i % bots], i as u64, NOW + (i / bots) as f64))
            .collect();
        Workload { names, records }
    }

    /// Queues every record; returns the time spent queueing and the time
    /// until the writer had written them all (and flushed them, with `Fsync`).
    fn run(&self, history: &History) -> (Duration, Duration) {
        let written = history.stats().written();
        let start = Instant::now();
        let mut queueing = Duration::ZERO;
        for (i, r) in self.records.iter().enumerate() {
            let t = Instant::now();
            let queued = history.append(&self.names[i % self.names.len()], r);
            queueing += t.elapsed();
            if queued.is_err() {
                // The queue is full: wait for the writer, as a slower caller would.
                history.flush().blocking_recv().unwrap().unwrap();
            }
        }
        history.flush().blocking_recv().unwrap().unwrap();
        let total = start.elapsed();
        assert_eq!(
            history.stats().written() - written,
            self.records.len() as u64
        );
        (queueing, total)
    }
}

/// The CPU time the threads listed in `tasks` have used so far (Linux).
fn cpu_time(tasks: &str) -> Duration {
    let nanos: u64 = std::fs::read_dir(tasks)
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(nanos)
}

/// The CPU time the calling thread has used so far (Linux).
fn caller_cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
    Duration::from_nanos(stat.split_whitespace().next().unwrap().parse().unwrap())
}

fn append(c: &mut Criterion) {
    let work = Workload::new(10_000, 100_000);
    let mut group = c.benchmark_group("history append");
    group
        .sample_size(10)
        .throughput(Throughput::Elements(work.records.len() as u64));
    for (name, durability) in [("atomic", Durability::Atomic), ("fsync", Durability::Fsync)] {
        let tmp = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(NOW));
        let history = History::open(tmp.path(), config(durability), clock).unwrap();
        work.run(&history); // every bot's folder and segment exist from here on
        // On a shared machine wall time measures the neighbours too: the CPU
        // time of this process (caller and writer) per record does not.
        let (before, caller_before) = (cpu_time("/proc/self/task"), caller_cpu_time());
        for _ in 0..3 {
            work.run(&history);
        }
        let records = (3 * work.records.len()) as u32;
        let per_record = (cpu_time("/proc/self/task") - before) / records;
        let caller = (caller_cpu_time() - caller_before) / records;
        eprintln!(
            "history append ({name}): {per_record:?} of CPU per record (caller and writer; the caller {caller:?}), {} bytes per record",
            history.stats().bytes() / history.stats().written()
        );
        group.bench_function(
            format!("100,000 records of 10,000 bots, written ({name})"),
            |b| b.iter_custom(|iters| (0..iters).map(|_| work.run(&history).1).sum()),
        );
        if durability == Durability::Atomic {
            group.bench_function(
                "100,000 records of 10,000 bots, queued (the caller's cost)",
                |b| b.iter_custom(|iters| (0..iters).map(|_| work.run(&history).0).sum()),
            );
        }
    }
    group.finish();
}

criterion_group!(benches, query, append);
criterion_main!(benches);
