//! Crash test for a bot's variants (issue 14): a child process runs cycles
//! of variants whose tests promote often, saving the state after every
//! outcome as `VariantPipeline` does (the fleet's file, then the bot's), and
//! is killed with SIGKILL at seeded moments. After every kill the state file
//! must load, name exactly one serving variant that is a member of the
//! population, and hold every promotion the child acknowledged; once the bot
//! has taken a verdict its file missed (as `VariantPipeline::open` does),
//! the fleet has judged exactly the tests the bot ended.
//!
//! The child is this same test binary, run again with
//! `KAIZEN_VARIANTS_CRASH_DIR` set: the test below then plays the child.

#![cfg(unix)]

use crate::support::parsed_lines;
use kaizen::persist::{Durability, load_json, save_json};
use kaizen::pipeline::SharedFleet;
use kaizen::variants::{Fleet, Variants, VariantsSpec};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHILD_DIR: &str = "KAIZEN_VARIANTS_CRASH_DIR";
const CHILD_SEED: &str = "KAIZEN_VARIANTS_CRASH_SEED";
const TEST_NAME: &str = "variants_crash::killed_during_promotions_one_champion_remains";

const SPEC: &str = "seed = 3\n[evolution]\nsize = 4\n[test]\nmax_outcomes = 200\n[space]\nx = { float = [0.0, 1.0] }\n";

fn child(dir: &Path, seed: u64) {
    let (file, fleet_file) = (dir.join("variants.json"), dir.join("fleet.json"));
    let spec: VariantsSpec = toml::from_str(SPEC).unwrap();
    let mut variants: Variants = load_json(&file)
        .unwrap()
        .unwrap_or_else(|| Variants::new(spec).unwrap());
    let mut fleet = SharedFleet::load(&fleet_file)
        .unwrap()
        .unwrap_or_else(|| Fleet::new(0.05, Some(1_000)).unwrap());
    variants.tick(0.0, "alpha", &mut fleet).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let durability = if seed % 2 == 1 {
        Durability::Fsync
    } else {
        Durability::Atomic
    };
    for i in 0..200_000u64 {
        let a = variants.assign().unwrap();
        let x = a.params["x"].as_f64().unwrap();
        let outcome = 10.0 * x + rng.random_range(-0.01..0.01);
        let before = fleet.clone();
        variants
            .outcome(&a, outcome, 1.0, i as f64, "alpha", &mut fleet)
            .unwrap();
        if fleet != before {
            SharedFleet::save(&fleet_file, &fleet, durability).unwrap();
        }
        save_json(&file, &variants, durability).unwrap();
        println!("ok promotions={}", variants.promotions());
    }
}

/// "ok promotions=3" ⇒ 3.
fn acked(line: &str) -> Option<u64> {
    line.strip_prefix("ok promotions=")?.parse().ok()
}

#[test]
fn killed_during_promotions_one_champion_remains() {
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        let seed = std::env::var(CHILD_SEED).unwrap().parse().unwrap();
        return child(Path::new(&dir), seed);
    }
    let tmp = tempfile::tempdir().unwrap();
    let bot = tmp.path().join("alpha");
    let mut rng = ChaCha8Rng::seed_from_u64(14);
    let mut promotions = 0;
    for round in 1..=12u64 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_DIR, &bot)
            .env(CHILD_SEED, round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (rx, reader) = parsed_lines(&mut child, acked);
        let (_, first) = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the child did not start within 30 s");
        let mut seen = first;
        let stop_at = Instant::now() + Duration::from_millis(rng.random_range(20..200));
        while let Some(left) = stop_at.checked_duration_since(Instant::now()) {
            match rx.recv_timeout(left) {
                Ok((_, n)) => seen = seen.max(n),
                Err(_) => break,
            }
        }
        child.kill().unwrap();
        let status = child.wait().unwrap();
        reader.join().unwrap();
        assert_eq!(
            status.signal(),
            Some(9),
            "round {round}: the child ended on its own"
        );
        seen = rx.try_iter().map(|(_, n)| n).fold(seen, u64::max);
        let mut v: Variants = load_json(&bot.join("variants.json"))
            .unwrap()
            .expect("a state file");
        let mut fleet = SharedFleet::load(&bot.join("fleet.json"))
            .unwrap()
            .unwrap_or_else(|| Fleet::new(0.05, Some(1_000)).unwrap());
        let judged = fleet.clone();
        v.tick(0.0, "alpha", &mut fleet).unwrap();
        assert_eq!(
            fleet, judged,
            "round {round}: taking a verdict judges nothing"
        );
        assert_eq!(
            fleet.counts().0,
            v.tests_ended() as u64,
            "round {round}: the fleet judged each ended test once"
        );
        assert!(
            v.population().get(v.serving()).is_some(),
            "round {round}: serving {} is not a member",
            v.serving()
        );
        if let Some(t) = v.test() {
            assert_eq!(
                t.serving,
                v.serving(),
                "round {round}: the test's serving variant is the champion"
            );
        }
        assert!(
            v.promotions() >= seen,
            "round {round}: {} on disk, {seen} acknowledged",
            v.promotions()
        );
        promotions = v.promotions();
    }
    assert!(promotions >= 2, "only {promotions} promotions in 12 rounds");
}
