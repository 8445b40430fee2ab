//! Crash test for the model registry (issue 12): a child process saves,
//! deploys, activates, rolls back and feeds post-deploy checks as fast as it
//! can, and is killed with SIGKILL at seeded random moments. After every
//! kill the champion must point at a version whose files are whole and whose
//! weights are byte for byte the ones saved for it, every acknowledged move
//! must be on disk, and the next open must need no repair.
//!
//! The child is this same test binary, run again with
//! `KAIZEN_MODELS_CRASH_DIR` set: the test below then plays the child.

#![cfg(unix)]

use crate::support::parsed_lines;
use candle_core::{Device, Tensor};
use kaizen::models::{
    Catalog, CheckProgress, ModelRegistry, ModelsError, MoveAction, NewVersion, RegistryConfig,
    VersionId, VersionStatus,
};
use kaizen::persist::Durability;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHILD_DIR: &str = "KAIZEN_MODELS_CRASH_DIR";
const CHILD_SEED: &str = "KAIZEN_MODELS_CRASH_SEED";
const TEST_NAME: &str = "models_crash::killed_at_any_moment_the_champion_is_whole";

/// Odd rounds flush every write to the disk (slow: kills land mostly while
/// the system flushes), even rounds only rename (fast: kills land anywhere
/// in the code). A killed process loses nothing either way; a flush only
/// matters when the machine itself stops.
fn config(round: u64) -> RegistryConfig {
    RegistryConfig {
        keep_last: 3,
        post_deploy_window: 4,
        alpha: 0.05,
        durability: if round % 2 == 1 {
            Durability::Fsync
        } else {
            Durability::Atomic
        },
    }
}

/// The weights saved for `tag`: a 64×64 layer (16 KiB) from a seeded RNG,
/// so a write takes long enough to be interrupted inside.
fn weights_for(tag: u64) -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(tag);
    let values: Vec<f32> = (0..64 * 64).map(|_| rng.random_range(-1.0..1.0)).collect();
    let w = Tensor::from_vec(values, (64, 64), &Device::Cpu).unwrap();
    safetensors::serialize([("l1.weight", w)], None).unwrap()
}

fn tag_of(registry: &Catalog, id: VersionId) -> u64 {
    registry.version(id).unwrap().info.metrics["tag"] as u64
}

/// The child: random operations until killed (or 5,000 of them).
fn child(dir: &Path, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut now = 1_000.0 * seed as f64;
    let mut models = ModelRegistry::open(dir, config(seed), now).unwrap();
    let report = |what: &str, models: &ModelRegistry| {
        let seq = models.catalog().history().last().map_or(0, |m| m.seq);
        println!("ok {what} seq={seq}");
    };
    report("open", &models);
    for i in 0..5_000u64 {
        now += 1.0;
        let catalog = models.catalog();
        let ids: Vec<VersionId> = catalog.versions().map(|m| m.id).collect();
        let others: Vec<VersionId> = ids
            .iter()
            .copied()
            .filter(|&v| Some(v) != catalog.champion())
            .collect();
        let what = match rng.random_range(0..100) {
            0..30 => {
                let tag = seed * 1_000_000 + i;
                let new = NewVersion::new(weights_for(tag))
                    .metric("tag", tag as f64)
                    .metric("val_loss", rng.random_range(0.1..1.0));
                models.save(new, now).unwrap();
                "save"
            }
            30..50 if !others.is_empty() => {
                let newest = *others.last().unwrap();
                models.deploy(newest, "gate passed", now).unwrap();
                "deploy"
            }
            50..60 if !others.is_empty() => {
                let pick = others[rng.random_range(0..others.len())];
                models.activate(pick, "by hand", now).unwrap();
                "activate"
            }
            60..70 => match models.rollback_to_previous("by hand", now) {
                Ok(_) => "rollback",
                Err(ModelsError::NoRollbackTarget { .. }) => "no rollback",
                Err(e) => panic!("{e}"),
            },
            70..95 => {
                let n = rng.random_range(1..4);
                let shift = if rng.random_bool(0.5) { 0.5 } else { -0.05 };
                let previous: Vec<f64> = (0..n).map(|_| rng.random_range(0.5..1.0)).collect();
                let champion: Vec<f64> = previous
                    .iter()
                    .map(|p| p + shift + rng.random_range(-0.02..0.02))
                    .collect();
                match models
                    .observe_post_deploy(&champion, &previous, now)
                    .unwrap()
                {
                    CheckProgress::Finished(done) if done.rollback.is_some() => "auto rollback",
                    _ => "observe",
                }
            }
            _ => {
                models.retain(rng.random_range(1..4)).unwrap();
                "retain"
            }
        };
        report(what, &models);
    }
}

/// "ok deploy seq=12" ⇒ 12.
fn acked_seq(line: &str) -> Option<u64> {
    line.strip_prefix("ok ")?
        .rsplit_once(" seq=")?
        .1
        .parse()
        .ok()
}

/// Every line of the history but a torn last one is whole JSON.
fn assert_history_lines_whole(models: &Path, round: u64) {
    let Ok(text) = std::fs::read(models.join("history.jsonl")) else {
        return;
    };
    let whole = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    for line in text[..whole]
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
    {
        serde_json::from_slice::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("round {round}: a damaged history line: {e}"));
    }
}

fn files_named(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.contains(needle) {
                found.push(entry.path().display().to_string());
            }
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(entry.path());
            }
        }
    }
    found
}

/// What must hold after a kill, before and after the next open.
fn check_after_kill(bot: &Path, round: u64, acked: u64) {
    let models_dir = bot.join("models");
    assert_history_lines_whole(&models_dir, round);
    // A read-only look, exactly as the crash left it.
    let look = Catalog::read(bot).unwrap();
    let seq = look.history().last().map_or(0, |m| m.seq);
    assert!(
        (acked..=acked + 2).contains(&seq),
        "round {round}: {seq} moves on disk, {acked} acknowledged"
    );
    if let Some(champion) = look.champion() {
        let bytes = look
            .weights(champion)
            .unwrap_or_else(|e| panic!("round {round}: the champion is not whole: {e}"));
        assert_eq!(bytes, weights_for(tag_of(&look, champion)), "round {round}");
    }
    for m in look.history() {
        if let Some(to) = m.to {
            look.version(to)
                .unwrap_or_else(|e| panic!("round {round}: a served version is gone: {e}"));
        }
    }
    assert_eq!(look.damaged().count(), 0, "round {round}");

    // The next open finishes what the crash left and needs no repair: at
    // most a post-deploy check whose window had filled is judged.
    let models = ModelRegistry::open(bot, config(round), 1e9).unwrap();
    let catalog = models.catalog();
    let (before, added) = catalog.history().split_at(look.history().len());
    assert_eq!(before, look.history(), "round {round}");
    assert!(
        added.iter().all(|m| m.action == MoveAction::AutoRollback),
        "round {round}: the open moved the alias: {added:?}"
    );
    if added.is_empty() {
        assert_eq!(catalog.champion(), look.champion(), "round {round}");
    }
    assert!(
        catalog
            .history()
            .iter()
            .all(|m| m.action != MoveAction::Repair),
        "round {round}: a repair was needed"
    );
    let seqs: Vec<u64> = catalog.history().iter().map(|m| m.seq).collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "round {round}"
    );
    let champions: Vec<VersionId> = catalog
        .versions()
        .filter(|m| m.status() == VersionStatus::Champion)
        .map(|m| m.id)
        .collect();
    assert_eq!(
        champions,
        catalog.champion().into_iter().collect::<Vec<_>>()
    );
    for leftover in [".saving-", ".removing-", ".corrupt-"] {
        assert_eq!(
            files_named(&models_dir, leftover),
            Vec::<String>::new(),
            "round {round}"
        );
    }
}

#[test]
fn killed_at_any_moment_the_champion_is_whole() {
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        let seed = std::env::var(CHILD_SEED).unwrap().parse().unwrap();
        return child(Path::new(&dir), seed);
    }
    let tmp = tempfile::tempdir().unwrap();
    let bot = tmp.path().join("alpha");
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let mut moves_seen = 0;
    for round in 1..=24u64 {
        let stderr_path = tmp.path().join(format!("child-{round}.stderr"));
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_DIR, &bot)
            .env(CHILD_SEED, round.to_string())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path).unwrap())
            .spawn()
            .unwrap();
        let (rx, reader) = parsed_lines(&mut child, acked_seq);
        // Every fourth round is killed while it starts (and repairs what the
        // last kill left); the others some time after their first operation.
        let run_for = Duration::from_millis(rng.random_range(0..100));
        let mut acked = moves_seen;
        let stop_at = if round % 4 == 0 {
            Instant::now() + run_for / 2
        } else {
            let (_, first) = rx
                .recv_timeout(Duration::from_secs(30))
                .expect("the child did not start within 30 s");
            acked = acked.max(first);
            Instant::now() + run_for
        };
        while let Some(left) = stop_at.checked_duration_since(Instant::now()) {
            match rx.recv_timeout(left) {
                Ok((_, seq)) => acked = acked.max(seq),
                Err(_) => break,
            }
        }
        child.kill().unwrap(); // SIGKILL: no chance to finish anything
        let status = child.wait().unwrap();
        reader.join().unwrap();
        assert_eq!(
            status.signal(),
            Some(9),
            "round {round}: the child ended on its own ({status}): {}",
            std::fs::read_to_string(&stderr_path).unwrap_or_default()
        );
        // Everything the child printed, it printed before it died.
        acked = rx.try_iter().map(|(_, seq)| seq).fold(acked, u64::max);
        check_after_kill(&bot, round, acked);
        moves_seen = Catalog::read(&bot)
            .unwrap()
            .history()
            .last()
            .map_or(0, |m| m.seq);
    }
    assert!(
        moves_seen > 10,
        "only {moves_seen} alias moves in 16 rounds"
    );
}
