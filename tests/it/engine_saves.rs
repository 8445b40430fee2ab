//! Write-behind saves: an engine keeps at most one save with the writer, a
//! due save follows as soon as the previous one is written, and a save that
//! failed is made again a window later without another change. The save
//! timer runs on the engine's clock: the tests move it, they do not sleep.

use crate::support::*;
use actix::Addr;
use kaizen::cycle::{ENGINE_FILE, Persistence};
use kaizen::engine::{RunCycle, SelfImprovementEngine, Status};
use kaizen::host::ManualClock;
use kaizen::persist::{Durability, PendingFile, StateWriter};
use kaizen::runtime::Services;
use std::path::Path;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_millis(40);

/// A write-behind engine with a no-op pipeline, saving through `writer`.
fn start(
    writer: &StateWriter,
    name: &str,
    root: &Path,
    clock: &ManualClock,
) -> Addr<SelfImprovementEngine> {
    builder(name, noop(), clock)
        .state_root(root)
        .persistence(Persistence::WriteBehind {
            window: WINDOW,
            durability: Durability::Atomic,
        })
        .services(Services {
            writer: writer.clone(),
            ..Services::default()
        })
        .start()
        .unwrap()
}

/// Waits until `done` holds, polling it, for 10 s at the most (the writer
/// is another thread); whether it held.
async fn eventually(done: impl FnMut() -> bool) -> bool {
    eventually_moving(None, done).await
}

/// As [`eventually`], moving `clock` one window on at each poll (so a save
/// timer set meanwhile comes due).
async fn eventually_moving(clock: Option<&ManualClock>, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        if Instant::now() > deadline {
            return false;
        }
        if let Some(clock) = clock {
            clock.advance(WINDOW.as_secs_f64());
        }
        actix::clock::sleep(Duration::from_millis(5)).await;
    }
    true
}

/// The `cycles` saved in `dir`'s engine file.
fn saved_cycles(dir: &Path) -> Option<u64> {
    std::fs::read_to_string(dir.join(ENGINE_FILE))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["cycles"].as_u64())
}

#[cfg(target_os = "linux")]
#[actix::test]
async fn a_writer_that_falls_behind_holds_one_save_per_engine() {
    let dir = tempfile::tempdir().unwrap();
    // The writer thread blocks on a file whose scratch file is a FIFO: it
    // cannot be opened for writing until someone reads it.
    let fifo = dir.path().join("stuck.json.tmp");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let writer = StateWriter::spawn();
    writer.submit_detached(
        vec![PendingFile {
            path: dir.path().join("stuck.json"),
            bytes: b"{}".to_vec(),
        }],
        Durability::Atomic,
    );
    let clock = ManualClock::new(0.0);
    let engine = start(&writer, "patient", dir.path(), &clock);
    let cycle = |clock: &ManualClock| {
        clock.advance(1.0);
        engine.send(RunCycle { energy: 1 })
    };
    cycle(&clock).await.unwrap().unwrap();
    eventually_moving(Some(&clock), || writer.stats().submitted() > 1).await;
    let first_save = writer.stats().submitted();
    assert!(first_save > 1, "the engine never saved");
    // Many windows of changes while the first save waits: nothing more is
    // encoded or handed over.
    for _ in 0..9 {
        cycle(&clock).await.unwrap().unwrap();
        clock.advance(WINDOW.as_secs_f64());
        engine.send(Status).await.unwrap();
    }
    assert_eq!(writer.stats().submitted(), first_save);
    assert_eq!(writer.stats().files(), 0);
    // Unblock the writer: the first save is written, then the one that
    // became due, with all ten cycles, without another change or a flush.
    let drained = std::thread::spawn(move || std::fs::read(fifo).unwrap());
    assert_eq!(drained.join().unwrap(), b"{}");
    let folder = dir.path().join("patient");
    eventually(|| saved_cycles(&folder) == Some(10)).await;
    assert_eq!(saved_cycles(&folder), Some(10));
    assert!(writer.stats().submitted() > first_save);
}

#[actix::test]
async fn a_failed_write_behind_save_is_made_again_a_window_later() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(0.0);
    let writer = StateWriter::spawn();
    let engine = start(&writer, "retry", dir.path(), &clock);
    // The engine's folder is a plain file: its saves fail.
    let folder = dir.path().join("retry");
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::write(&folder, "in the way").unwrap();
    clock.advance(1.0);
    engine.send(RunCycle { energy: 1 }).await.unwrap().unwrap();
    assert!(
        eventually_moving(Some(&clock), || writer.stats().submitted() > 0).await,
        "the engine never saved"
    );
    // Once the writer has answered everything handed to it so far, the
    // engine's save has been tried, and failed.
    writer.flush().await.unwrap().unwrap();
    assert_eq!(writer.stats().files(), 0);
    // Once the way is clear, a later attempt saves the cycle by itself.
    std::fs::remove_file(&folder).unwrap();
    eventually_moving(Some(&clock), || saved_cycles(&folder) == Some(1)).await;
    assert_eq!(saved_cycles(&folder), Some(1));
}
