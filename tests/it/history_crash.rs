//! Crash test for the cycle history: a child process appending large records
//! in batches is killed with SIGKILL mid-append, eight times over (half of them
//! the moment its segment grows, inside a write). After each
//! kill, every record the child saw acknowledged is there, every record read
//! is whole and appears once, in order, and a torn last line is skipped; the
//! next writer cuts it off and goes on.
//!
//! The child is this test binary itself, running the ignored test
//! `history_crash::child_appends_until_killed` with `KAIZEN_HISTORY_CRASH_DIR` set.

#![cfg(unix)]

use crate::support::parsed_lines;
use kaizen::decision::{Decision, EngineEvent, EngineEventKind};
use kaizen::history::{FLEET, History, HistoryConfig, HistoryReader, LogConfig, Query};
use kaizen::host::SystemClock;
use kaizen::persist::Durability;
use rand::{Rng, SeedableRng};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CHILD_DIR: &str = "KAIZEN_HISTORY_CRASH_DIR";
const ROUNDS: u32 = 8;

/// Record `n`: an engine event whose detail (up to 256 KiB, so that a write
/// spans many pages and a kill can land inside it) can be checked.
fn record(n: u64) -> Decision {
    Decision::Engine(EngineEvent {
        time: 1_800_000_000.0 + n as f64,
        engine: Arc::from("engine0"),
        bot: Arc::from("alpha"),
        kind: EngineEventKind::Restarted,
        detail: detail(n),
    })
}

fn detail(n: u64) -> String {
    let len = 1 + (n * 7919 % 262_144) as usize;
    format!("{n}:{}", "x".repeat(len))
}

fn config() -> HistoryConfig {
    HistoryConfig {
        // Kill -9 keeps what reached the OS; small segments so kills land in seals too.
        log: LogConfig {
            durability: Durability::Atomic,
            segment_bytes: 4 << 20,
            ..LogConfig::history()
        },
        ..HistoryConfig::default()
    }
}

#[test]
#[ignore = "the writer process that history_crash kills; runs only as its child"]
fn child_appends_until_killed() {
    let dir =
        std::env::var(CHILD_DIR).expect("run by killed_mid_append_every_whole_record_survives");
    let history = History::open(Path::new(&dir), config(), Arc::new(SystemClock)).unwrap();
    let mut next = match history.last(FLEET, 1).unwrap().first() {
        Some(Decision::Engine(e)) => e.time as u64 - 1_800_000_000 + 1,
        _ => 0,
    };
    let mut out = std::io::stdout().lock();
    loop {
        for _ in 0..20 {
            history.append(FLEET, &record(next)).unwrap();
            next += 1;
        }
        history.flush().blocking_recv().unwrap().unwrap();
        writeln!(out, "acked {next}").unwrap();
        out.flush().unwrap();
    }
}

/// Reads everything and checks it: records 0..n, each whole, once, in order.
fn check(root: &Path) -> u64 {
    let all = HistoryReader::new(root)
        .range(FLEET, &Query::default())
        .unwrap();
    for (i, d) in all.iter().enumerate() {
        let Decision::Engine(e) = d else {
            panic!("record {i} is not an engine event")
        };
        assert_eq!(
            e.time,
            1_800_000_000.0 + i as f64,
            "record {i} out of order"
        );
        assert_eq!(e.detail, detail(i as u64), "record {i} damaged");
    }
    all.len() as u64
}

/// Whether the segment being written ends in a torn line.
fn torn(root: &Path) -> bool {
    let path = root.join(".kaizen/history").join(FLEET).join("history.log");
    std::fs::read(path).is_ok_and(|bytes| bytes.last().is_some_and(|&b| b != b'\n'))
}

#[test]
fn killed_mid_append_every_whole_record_survives() {
    let tmp = tempfile::tempdir().unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(13);
    let mut acked = 0;
    let mut torn_rounds = 0;
    for round in 0..ROUNDS {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "history_crash::child_appends_until_killed",
                "--exact",
                "--ignored",
            ])
            .args(["--nocapture", "--test-threads=1"])
            .env(CHILD_DIR, tmp.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let acked_line = |line: &str| line.strip_prefix("acked ")?.parse::<u64>().ok();
        let (rx, reader) = parsed_lines(&mut child, acked_line);
        // Let it write two batches past what it had, then kill it while it
        // writes the next one (at a moment that varies by round).
        let target = acked + 40;
        loop {
            let (_, n) = rx
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|e| {
                    panic!("round {round}: no acknowledgement from the child: {e}")
                });
            acked = acked.max(n);
            if n >= target {
                break;
            }
        }
        if round % 2 == 0 {
            // As soon as the segment grows: inside a write of a batch.
            let active = tmp
                .path()
                .join(".kaizen/history")
                .join(FLEET)
                .join("history.log");
            let len = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
            let mut seen = len(&active);
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                let now = len(&active);
                if now > seen {
                    break;
                }
                seen = now; // a new segment was started
            }
        } else {
            // At any moment: encoding, sealing, renaming, acknowledging.
            std::thread::sleep(Duration::from_micros(rng.random_range(0..3000)));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        reader.join().unwrap();
        while let Ok((_, n)) = rx.try_recv() {
            acked = acked.max(n);
        }
        torn_rounds += u32::from(torn(tmp.path()));
        let found = check(tmp.path());
        assert!(
            found >= acked,
            "round {round}: {found} records, {acked} acknowledged"
        );
        acked = found;
    }
    // The next writer cuts off a torn line and appends after the last whole record.
    let history = History::open(tmp.path(), config(), Arc::new(SystemClock)).unwrap();
    history.append(FLEET, &record(acked)).unwrap();
    history.flush().blocking_recv().unwrap().unwrap();
    drop(history);
    assert_eq!(check(tmp.path()), acked + 1);
    assert!(!torn(tmp.path()));
    eprintln!(
        "history crash: {acked} records; a torn last line in {torn_rounds} of {ROUNDS} kills"
    );
}
