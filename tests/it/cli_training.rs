//! Issue 12, end to end through the binary: an engine spec with
//! `[pipeline.training]` on a CSV whose relation drifts (A → B → A). Before
//! each `kaizen run --once` the host appends 50 rows; each run is one cycle
//! of the engine, which reads them, retrains when 50 are buffered, and
//! deploys through the gate.
//!
//! What must hold: the champion's loss on the newest rows (the record's
//! `recent_loss`) tracks the drift — it jumps when the relation changes and
//! comes back down once a retrained version serves — and no degraded version
//! stays champion: every deployment cleared the gate, and at the end of each
//! phase no kept version fits the newest rows clearly better than the
//! champion. Then the faces: `status` shows the champion, `models
//! list|show|compare` read the registry, `models activate|rollback` move the
//! champion with no run live, go through the API of a run that serves one,
//! and are refused while a run without one trains the bot.

use crate::support::{kaizen, stdout_of};
use kaizen::models::{Catalog, MoveAction, VersionId};
use kaizen::training::{Dataset, Model};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};

const SPEC: &str = r#"bot = "sales"

[pipeline.training]
data = "sales.csv"
task = "regression"
seed = 7
learning_threshold = 50
post_deploy_window = 50

[pipeline.training.model]
hidden = [32, 32]
optimizer = { kind = "adamw", lr = 0.005 }

[engine]
energy = "none"
default_energy = 5
interval = "1ms"
"#;

/// The three phases' relations `y = a·x1 + b·x2 + c`.
const PHASES: [(f64, f64, f64); 3] = [(2.0, -1.0, 0.0), (-1.0, 2.0, 1.0), (2.0, -1.0, 0.0)];
const ROWS: usize = 50;
const CYCLES_PER_PHASE: usize = 6;

/// Appends a cycle's rows of relation `(a, b, c)`; returns them.
fn append(path: &Path, rng: &mut ChaCha8Rng, relation: (f64, f64, f64)) -> Vec<[f64; 3]> {
    append_n(path, rng, relation, ROWS)
}

/// Appends `n` rows of relation `(a, b, c)`; returns them.
fn append_n(
    path: &Path,
    rng: &mut ChaCha8Rng,
    (a, b, c): (f64, f64, f64),
    n: usize,
) -> Vec<[f64; 3]> {
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    (0..n)
        .map(|_| {
            let (x1, x2): (f64, f64) = (rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0));
            let y = a * x1 + b * x2 + c + 0.1 * rng.random_range(-1.0..1.0);
            writeln!(f, "{x1},{x2},{y}").unwrap();
            [x1, x2, y]
        })
        .collect()
}

/// The mean loss of every kept version on `rows`, by version.
fn losses(bot_dir: &Path, rows: &[[f64; 3]]) -> Vec<(VersionId, f64)> {
    let catalog = Catalog::read(bot_dir).unwrap();
    let mut data = Dataset::new(2);
    for r in rows {
        data.push(&r[..2], r[2]).unwrap();
    }
    catalog
        .versions()
        .map(|v| {
            let model = Model::from_safetensors(&catalog.weights(v.id).unwrap()).unwrap();
            let l = model.per_sample_losses(&data).unwrap();
            (v.id, l.iter().sum::<f64>() / l.len() as f64)
        })
        .collect()
}

struct Setup {
    _tmp: tempfile::TempDir,
    engines: PathBuf,
    state: PathBuf,
    data: PathBuf,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let engines = tmp.path().join("engines");
    std::fs::create_dir_all(&engines).unwrap();
    std::fs::write(engines.join("sales.toml"), SPEC).unwrap();
    let data = engines.join("sales.csv");
    std::fs::write(&data, "x1,x2,target\n").unwrap();
    Setup {
        state: tmp.path().join("state"),
        engines,
        data,
        _tmp: tmp,
    }
}

fn run_once(s: &Setup) -> Value {
    let out = stdout_of(
        kaizen()
            .args(["run", "--once", "--json", "--training-jobs", "1"])
            .arg("--engines")
            .arg(&s.engines)
            .arg("--state")
            .arg(&s.state),
    );
    let line = out.lines().next().expect("one record");
    serde_json::from_str(line).unwrap()
}

/// `kaizen models ARGS --bot sales --state …` (and `--engines …` for the
/// commands that change the champion).
fn models(s: &Setup, args: &[&str]) -> assert_cmd::Command {
    let mut c = kaizen();
    c.arg("models")
        .args(args)
        .args(["--bot", "sales", "--state"])
        .arg(&s.state);
    if matches!(args[0], "activate" | "rollback") {
        c.arg("--engines").arg(&s.engines);
    }
    c
}

#[test]
fn kaizen_run_retrains_on_a_drifting_csv_and_no_degraded_version_stays_champion() {
    let s = setup();
    let bot_dir = s.state.join("sales");
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    // (phase, recent_loss, champion, deployed, improvement) per cycle.
    let mut cycles = Vec::new();
    for (phase, relation) in PHASES.iter().enumerate() {
        let mut rows = Vec::new();
        for _ in 0..CYCLES_PER_PHASE {
            rows = append(&s.data, &mut rng, *relation);
            let record = run_once(&s);
            assert_eq!(record["type"], "cycle", "{record}");
            let o = &record["outcome"];
            assert_eq!(o["ok"], true, "{record}");
            let m = &o["metrics"];
            cycles.push((
                phase,
                m["recent_loss"].as_f64(),
                m["champion_version"].as_f64(),
                m["deployed"] == 1.0,
                m["improvement"].as_f64(),
            ));
        }
        // At the phase's end the champion fits the newest rows, and no kept
        // version fits them clearly better (the last phase's champions cost
        // ~8.7 on them; the noise alone 0.0033).
        let all = losses(&bot_dir, &rows);
        let champion = Catalog::read(&bot_dir).unwrap().champion().unwrap();
        let serving = all.iter().find(|(v, _)| *v == champion).unwrap().1;
        let best = all.iter().map(|(_, l)| *l).fold(f64::INFINITY, f64::min);
        eprintln!("phase {phase}: champion {champion} loss {serving:.5}, best {best:.5}, {all:?}");
        assert!(
            serving < best + 0.02,
            "phase {phase}: {champion} serves at {serving}, a kept version fits at {best}"
        );
    }
    for (i, c) in cycles.iter().enumerate() {
        eprintln!("cycle {i:2}: {c:?}");
    }
    // Every deployment cleared the gate's 5%.
    for c in cycles.iter().filter(|c| c.3) {
        assert!(c.4.unwrap() > 0.05, "{c:?}");
    }
    let recent = |i: usize| cycles[i].1.unwrap();
    let end = |p: usize| recent((p + 1) * CYCLES_PER_PHASE - 1);
    for p in 0..PHASES.len() {
        // Fitted: the noise alone costs 0.1²/3 ≈ 0.0033 per row.
        assert!(end(p) < 0.05, "phase {p} ends at {}", end(p));
    }
    for p in 1..PHASES.len() {
        // The drift shows on the first rows of the new relation…
        let first = recent(p * CYCLES_PER_PHASE);
        assert!(
            first > 20.0 * end(p - 1),
            "phase {p}: {first} vs {}",
            end(p - 1)
        );
        // …and another version serves by the phase's end.
        let before = cycles[p * CYCLES_PER_PHASE - 1].2;
        let after = cycles[(p + 1) * CYCLES_PER_PHASE - 1].2;
        assert_ne!(before, after, "phase {p} kept its degraded champion");
    }
    // Every move of the champion is in the history, deploys with their gate.
    let catalog = Catalog::read(&bot_dir).unwrap();
    assert!(catalog.history().len() >= 3);
    assert!(
        catalog
            .history()
            .iter()
            .all(|m| matches!(m.action, MoveAction::Deploy | MoveAction::AutoRollback))
    );

    // `status` shows the champion and its metrics.
    let champion = catalog.champion().unwrap();
    let status: Value = serde_json::from_str(&stdout_of(
        kaizen().args(["status", "--json", "--state"]).arg(&s.state),
    ))
    .unwrap();
    let training = &status["engines"][0]["training"];
    assert_eq!(training["champion"]["version"], champion.0, "{training}");
    assert!(
        training["champion"]["metrics"]["holdout_loss"]
            .as_f64()
            .unwrap()
            < 0.05
    );
    let text = stdout_of(kaizen().args(["status", "--state"]).arg(&s.state));
    assert!(text.contains(&format!("champion {champion}")), "{text}");

    // `models list|show|compare`.
    let list = stdout_of(&mut models(&s, &["list"]));
    assert!(
        list.contains(&format!("bot sales — champion {champion}")),
        "{list}"
    );
    assert!(list.contains("last moves of the champion"), "{list}");
    let listed: Value =
        serde_json::from_str(&stdout_of(&mut models(&s, &["list", "--json"]))).unwrap();
    assert_eq!(listed["champion"], champion.0);
    let shown: Value =
        serde_json::from_str(&stdout_of(&mut models(&s, &["show", "--json"]))).unwrap();
    assert_eq!(shown["id"], champion.0);
    assert_eq!(shown["status"], "champion");
    let compared: Value = serde_json::from_str(&stdout_of(&mut models(
        &s,
        &["compare", "--json", "v1", &champion.to_string()],
    )))
    .unwrap();
    assert!(
        compared["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "holdout_loss")
    );

    // With no run live, `activate` and `rollback` move the champion.
    let moved: Value = serde_json::from_str(&stdout_of(&mut models(
        &s,
        &["activate", "--json", "v1", "--reason", "test"],
    )))
    .unwrap();
    assert_eq!(
        (moved["from"].clone(), moved["to"].clone()),
        (champion.0.into(), 1.into())
    );
    assert_eq!(moved["action"], "activate");
    let back = stdout_of(&mut models(&s, &["rollback"]));
    assert!(back.contains("rollback: v1 →"), "{back}");
    let catalog = Catalog::read(&bot_dir).unwrap();
    assert_ne!(catalog.champion(), Some(VersionId(1)));
    // The activation started a post-deploy check with the spec's window.
    assert!(
        catalog
            .history()
            .iter()
            .any(|m| m.action == MoveAction::Activate)
    );
    models(&s, &["activate", "v999"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("no model version v999"));
    kaizen()
        .args(["models", "list", "--bot", "nobody", "--state"])
        .arg(&s.state)
        .assert()
        .failure()
        .stderr(predicates::str::contains("bot \"nobody\" has no models"));
}

#[test]
fn models_activate_is_refused_while_kaizen_run_trains_the_bot() {
    let s = setup();
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    append(&s.data, &mut rng, PHASES[0]);
    run_once(&s); // v1
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kaizen"))
        .args(["run", "--period", "1h", "--engines"])
        .arg(&s.engines)
        .arg("--state")
        .arg(&s.state)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The run names itself in the jobs file once it has opened the bot's
    // registry (bounded polling).
    let jobs = s.state.join(".kaizen/training-jobs.json");
    let writer = || {
        std::fs::read_to_string(&jobs)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|v| v["pid"].as_u64())
    };
    let mut started = false;
    for _ in 0..600 {
        started = writer() == Some(u64::from(child.id()));
        if started {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let refused = models(&s, &["activate", "v1"]).assert().failure();
    let _ = child.kill();
    let _ = child.wait();
    assert!(started, "kaizen run never started");
    let stderr = String::from_utf8_lossy(&refused.get_output().stderr).into_owned();
    assert!(
        stderr.contains(&format!(
            "refused: kaizen (pid {}) holds the state folder",
            child.id()
        )) && stderr.contains("serves no control API"),
        "{stderr}"
    );
    // Reading works meanwhile and afterwards; with the run gone, the change goes through.
    stdout_of(&mut models(&s, &["list"]));
    models(&s, &["rollback"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("no version to roll back to"));
}

#[test]
fn models_activate_and_rollback_go_through_the_api_of_the_run_that_trains_the_bot() {
    let s = setup();
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    append(&s.data, &mut rng, PHASES[0]);
    run_once(&s); // v1
    append(&s.data, &mut rng, PHASES[1]);
    append(&s.data, &mut rng, PHASES[1]);
    let second = run_once(&s);
    assert_eq!(
        second["outcome"]["metrics"]["champion_version"], 2.0,
        "{second}"
    );
    let (child, listening) = crate::support::listening_run(&s.engines, &s.state);
    let record = s.state.join(".kaizen/server.json");
    // The CLI finds the run's address and its token in the state folder.
    let activated = models(&s, &["activate", "v1", "--reason", "v2 misbehaves"])
        .env_remove("KAIZEN_TOKEN")
        .output()
        .unwrap();
    let listed = models(&s, &["list", "--json"]).output().unwrap();
    // v2 has passed no post-deploy check: the run refuses a rollback to it
    // (409) and the command says why; activating it by name works.
    let refused = models(&s, &["rollback"])
        .env_remove("KAIZEN_TOKEN")
        .output()
        .unwrap();
    let again = models(&s, &["activate", "v2", "--json"])
        .env_remove("KAIZEN_TOKEN")
        .output()
        .unwrap();
    let stopped = crate::support::stop_run(child);
    assert!(listening, "kaizen run never recorded its address");
    let text = crate::support::output_text;
    assert!(activated.status.success(), "{}", text(&activated));
    let out = String::from_utf8_lossy(&activated.stdout);
    assert!(
        out.contains("v2 → v1 — v2 misbehaves") && out.contains("through its API"),
        "{out}"
    );
    let listing: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listing["champion"], 1, "{listing}");
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("refused the change (409): no version to roll back to"),
        "{}",
        text(&refused)
    );
    assert!(again.status.success(), "{}", text(&again));
    let back: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(
        (back["from"].clone(), back["to"].clone()),
        (1.into(), 2.into())
    );
    // The run stopped cleanly and took its record with it.
    assert!(stopped.success(), "{stopped:?}");
    assert!(!record.exists());
    let catalog = Catalog::read(&s.state.join("sales")).unwrap();
    assert_eq!(catalog.champion(), Some(VersionId(2)));
    let moves = catalog.history();
    assert_eq!(moves[moves.len() - 2].reason, "v2 misbehaves");
    assert_eq!(
        moves.len(),
        4,
        "deploy v1, deploy v2, activate v1, activate v2"
    );
}

#[test]
fn the_monitors_alerts_reach_the_cycle_record_and_status() {
    // With a learning rate of 50 the first training run diverges: the
    // monitor sees a step's loss above twice the mean of the 10 before it
    // (confirmed on all the training data), stops the run before its budget
    // of 5 × 50 steps, and raises an explosion.
    let s = setup();
    std::fs::write(
        s.engines.join("sales.toml"),
        // The budget of 5 × 50 steps is the chain's `default_energy`.
        SPEC.replace("lr = 0.005", "lr = 50.0")
            .replace("[engine]\n", "[engine]\ndecision = \"chain\"\n"),
    )
    .unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    append(&s.data, &mut rng, PHASES[0]);
    let record = run_once(&s);
    let o = &record["outcome"];
    assert_eq!(o["alerts"][0]["kind"], "loss_explosion", "{record}");
    assert!(
        o["alerts"][0]["message"]
            .as_str()
            .unwrap()
            .contains("is more than 2× the mean"),
        "{record}"
    );
    assert_eq!(o["metrics"]["alerts_new"], 1.0, "{record}");
    assert!(o["metrics"]["steps"].as_f64().unwrap() < 250.0, "{record}");
    // The diverged challenger did not deploy: no version serves.
    assert_eq!(o["metrics"]["deployed"], 0.0, "{record}");
    // `status` shows the open alert, as JSON and as text.
    let status: Value = serde_json::from_str(&stdout_of(
        kaizen().args(["status", "--json", "--state"]).arg(&s.state),
    ))
    .unwrap();
    let training = &status["engines"][0]["training"];
    assert_eq!(
        training["alerts"][0]["kind"], "loss_explosion",
        "{training}"
    );
    assert_eq!(training["alerts"][0]["runs"], 1, "{training}");
    assert!(training["champion"].is_null(), "{training}");
    let text = stdout_of(kaizen().args(["status", "--state"]).arg(&s.state));
    assert!(text.contains("no champion yet"), "{text}");
    assert!(text.contains("alert loss_explosion since"), "{text}");
}

#[test]
fn kaizen_run_trains_gates_deploys_and_rolls_back_a_champion_that_degrades_live() {
    // Three runs of one cycle each, with 100 rows needed for a training:
    // 100 rows of A train v1 (it beats the mean); 100 rows of B train v2,
    // which beats v1 on B and serves, watched over its next 40 live rows;
    // 40 rows of A again (too few to train) make that check fail: v2 fits
    // them far worse than v1 did, so the champion goes back to v1.
    let s = setup();
    std::fs::write(
        s.engines.join("sales.toml"),
        SPEC.replace("learning_threshold = 50", "learning_threshold = 100")
            .replace("post_deploy_window = 50", "post_deploy_window = 40"),
    )
    .unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let mut outcome = |rows: usize, relation| {
        append_n(&s.data, &mut rng, relation, rows);
        run_once(&s)["outcome"].clone()
    };
    let first = outcome(100, PHASES[0]);
    assert_eq!(first["metrics"]["deployed"], 1.0, "{first}");
    assert_eq!(first["metrics"]["champion_version"], 1.0, "{first}");
    let second = outcome(100, PHASES[1]);
    assert_eq!(second["metrics"]["deployed"], 1.0, "{second}");
    assert_eq!(second["metrics"]["champion_version"], 2.0, "{second}");
    assert!(
        second["metrics"]["p_value"].as_f64().unwrap() < 0.05,
        "{second}"
    );
    let third = outcome(40, PHASES[0]);
    assert_eq!(third["metrics"]["trained"], 0.0, "{third}");
    assert_eq!(third["metrics"]["rolled_back"], 1.0, "{third}");
    assert_eq!(third["metrics"]["champion_version"], 1.0, "{third}");
    assert!(
        third["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["kind"] == "model_rollback"),
        "{third}"
    );
    // The alias history tells it: deploy v1, deploy v2, automatic rollback to v1.
    let catalog = Catalog::read(&s.state.join("sales")).unwrap();
    let moves: Vec<_> = catalog
        .history()
        .iter()
        .map(|m| (m.action, m.from, m.to))
        .collect();
    let (v1, v2) = (Some(VersionId(1)), Some(VersionId(2)));
    assert_eq!(
        moves,
        [
            (MoveAction::Deploy, None, v1),
            (MoveAction::Deploy, v1, v2),
            (MoveAction::AutoRollback, v2, v1),
        ]
    );
    let shown: Value =
        serde_json::from_str(&stdout_of(&mut models(&s, &["show", "--json", "v2"]))).unwrap();
    assert_eq!(shown["post_deploy"]["result"], "failed", "{shown}");
    let text = stdout_of(kaizen().args(["status", "--state"]).arg(&s.state));
    assert!(text.contains("champion v1"), "{text}");
    assert!(text.contains("last move: auto_rollback v1"), "{text}");
}
