//! Crash test for write-behind persistence: `kaizen run` is killed with
//! SIGKILL at arbitrary moments; every state file must load cleanly, and the
//! state on disk must lose at most the write-behind window (plus the state
//! writer's queue) of cycles.

#![cfg(unix)]

use crate::support::parsed_lines;
use kaizen::cycle::inspect_engine;
use kaizen::persist::{Inspected, inspect_json};
use kaizen::policy::SelfImprovementPolicy;
use kaizen::roi::RoiConfig;
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_millis(200);
/// Room for the writer's queue and scheduling on a busy 2-core machine.
const SLACK: Duration = Duration::from_millis(300);

fn spec(bot: &str, skill: f64) -> String {
    format!(
        r#"bot = "{bot}"
[pipeline]
seed = 11
[pipeline.simulated]
skill = {skill}
[engine]
interval = 0
energy = "none"
persistence = "write_behind"
write_behind_window = "200ms"
"#
    )
}

/// "alpha cycle 12 (interval): …" ⇒ ("alpha", 12).
fn parse(line: &str) -> Option<(String, u64)> {
    let mut words = line.split_whitespace();
    let engine = words.next()?.to_string();
    (words.next()? == "cycle").then_some(())?;
    Some((engine, words.next()?.parse().ok()?))
}

#[test]
fn killed_at_any_moment_the_state_is_whole_and_recent() {
    let tmp = tempfile::tempdir().unwrap();
    let engines = tmp.path().join("engines");
    std::fs::create_dir_all(&engines).unwrap();
    let bots = ["alpha", "beta", "gamma"];
    for (i, bot) in bots.iter().enumerate() {
        std::fs::write(
            engines.join(format!("{bot}.toml")),
            spec(bot, 0.3 + 0.2 * i as f64),
        )
        .unwrap();
    }
    let state = tmp.path().join("state");
    // Kill after these times: before the first save, around a save, later.
    for (round, run_for) in [120u64, 450, 700, 333, 910].into_iter().enumerate() {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("kaizen"))
            .args(["run", "--period", "0.01", "--engines"])
            .arg(&engines)
            .arg("--state")
            .arg(&state)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (rx, reader) = parsed_lines(&mut child, parse);
        // Run until the first cycle is reported, then for `run_for` more.
        let first = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("no cycle in 30 s");
        let stop_at = first.0 + Duration::from_millis(run_for);
        let mut seen = vec![first];
        while let Some(left) = stop_at.checked_duration_since(Instant::now()) {
            match rx.recv_timeout(left) {
                Ok(s) => seen.push(s),
                Err(_) => break,
            }
        }
        let killed = Instant::now();
        child.kill().unwrap(); // SIGKILL: no chance to save anything
        child.wait().unwrap();
        reader.join().unwrap();
        seen.extend(rx.try_iter().filter(|(t, _)| *t <= killed));

        // The highest cycle each engine reported, overall and long enough
        // before the kill that write-behind must have saved it.
        let mut reported: BTreeMap<String, u64> = BTreeMap::new();
        let mut must_be_saved: BTreeMap<String, u64> = BTreeMap::new();
        for (t, (engine, cycle)) in &seen {
            let r = reported.entry(engine.clone()).or_default();
            *r = (*r).max(*cycle);
            if *t + WINDOW + SLACK <= killed {
                let m = must_be_saved.entry(engine.clone()).or_default();
                *m = (*m).max(*cycle);
            }
        }
        for bot in bots {
            let dir = state.join(bot);
            let on_disk = match inspect_engine(&dir, bot, bot, RoiConfig::default()) {
                Inspected::Good { value, from_backup } => {
                    assert!(!from_backup, "round {round}: {bot}/engine.json unusable");
                    value.cycles
                }
                Inspected::Missing => 0,
                other => panic!("round {round}: {bot}/engine.json is {other:?}"),
            };
            let want = must_be_saved.get(bot).copied().unwrap_or(0);
            let ran = reported.get(bot).copied().unwrap_or(0);
            assert!(
                on_disk >= want,
                "round {round}: {bot} saved {on_disk} cycles, but cycle {want} ran more than the window before the kill"
            );
            assert!(
                on_disk <= ran,
                "round {round}: {bot} saved {on_disk} > {ran} cycles run"
            );
            // Each file as its reader sees it (policy.json is at version 2).
            let policy = found(SelfImprovementPolicy::inspect(&dir.join("policy.json")));
            let meta = found(inspect_json::<serde_json::Value>(&dir.join("meta.json")));
            for (file, seen) in [("policy.json", policy), ("meta.json", meta)] {
                match seen {
                    Inspected::Good { from_backup, .. } => {
                        assert!(!from_backup, "round {round}: {bot}/{file} unusable")
                    }
                    Inspected::Missing => assert_eq!(on_disk, 0, "{bot}/{file} missing"),
                    other => panic!("round {round}: {bot}/{file} is {other:?}"),
                }
            }
            // (No folder yet when the kill came before the first save.)
            let aside = std::fs::read_dir(&dir)
                .into_iter()
                .flatten()
                .flatten()
                .any(|e| e.file_name().to_string_lossy().contains(".corrupt-"));
            assert!(
                !aside,
                "round {round}: a corrupt file was moved aside in {}",
                dir.display()
            );
        }
    }
}

/// What `inspect` found, without the value.
fn found<T>(seen: Inspected<T>) -> Inspected<()> {
    match seen {
        Inspected::Missing => Inspected::Missing,
        Inspected::Good { from_backup, .. } => Inspected::Good {
            value: (),
            from_backup,
        },
        Inspected::Corrupt(why) => Inspected::Corrupt(why),
        Inspected::Newer(v) => Inspected::Newer(v),
    }
}
