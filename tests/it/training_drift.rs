//! Issue 12: the training pipeline end to end, as a library, on a CSV whose
//! relation drifts twice (A → B → A). The host appends 50 rows before each
//! cycle and the pipeline runs as an engine would run it.
//!
//! What must hold: the champion's loss on the newest rows (`recent_loss`)
//! tracks the drift — it jumps when the relation changes and comes back down
//! once a retrained version serves — and no degraded version stays champion:
//! every deployment lowered the held-out loss, and at the end of each phase
//! the serving model fits the current relation.

use kaizen::host::ManualClock;
use kaizen::pipeline::Pipeline;
use kaizen::training::{TrainingConfig, TrainingPipeline, TrainingPool};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

/// The three phases' relations `y = a·x1 + b·x2 + c`.
const PHASES: [(f64, f64, f64); 3] = [(2.0, -1.0, 0.0), (-1.0, 2.0, 1.0), (2.0, -1.0, 0.0)];
const ROWS_PER_CYCLE: usize = 50;
const CYCLES_PER_PHASE: usize = 8;

/// Appends a cycle's rows of relation `(a, b, c)`, numbered from `start`.
fn append(path: &Path, rng: &mut ChaCha8Rng, (a, b, c): (f64, f64, f64), start: usize) {
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    for i in start..start + ROWS_PER_CYCLE {
        let (x1, x2): (f64, f64) = (rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0));
        let y = a * x1 + b * x2 + c + 0.1 * rng.random_range(-1.0..1.0);
        // RFC 3339 times, one minute apart.
        let (h, m) = (i / 60, i % 60);
        writeln!(
            f,
            "2024-03-{:02}T{:02}:{m:02}:00Z,{x1},{x2},{y}",
            1 + h / 24,
            h % 24
        )
        .unwrap();
    }
}

struct Cycle {
    phase: usize,
    recent_loss: Option<f64>,
    champion: Option<f64>,
    deployed: bool,
    improvement: Option<f64>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn the_champion_tracks_a_drifting_relation() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("sales.csv");
    std::fs::write(&data, "time,x1,x2,target\n").unwrap();
    let config: TrainingConfig = toml::from_str(&format!(
        "data = {:?}\ntask = \"regression\"\nseed = 7\n[model]\nhidden = [32, 32]\n[model.optimizer]\nlr = 0.005",
        data
    ))
    .unwrap();
    let clock = ManualClock::new(1_700_000_000.0);
    let pool = Arc::new(TrainingPool::new(1));
    let bot_dir = dir.path().join("state/sales-bot");
    let pipeline =
        TrainingPipeline::open("sales-bot", &bot_dir, config, pool, Arc::new(clock.clone()))
            .unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut cycles = Vec::new();
    for (phase, relation) in PHASES.iter().enumerate() {
        for k in 0..CYCLES_PER_PHASE {
            append(
                &data,
                &mut rng,
                *relation,
                (phase * CYCLES_PER_PHASE + k) * ROWS_PER_CYCLE,
            );
            clock.advance(3600.0);
            let r = pipeline.run("sales-bot", 5).await.unwrap();
            assert!(r.check_numbers().is_ok());
            cycles.push(Cycle {
                phase,
                recent_loss: r.metrics.get("recent_loss").copied(),
                champion: r.metrics.get("champion_version").copied(),
                deployed: r.metrics.get("deployed") == Some(&1.0),
                improvement: r.metrics.get("improvement").copied(),
            });
        }
    }
    for (i, c) in cycles.iter().enumerate() {
        eprintln!(
            "cycle {i:2} phase {} recent_loss {:>10.5?} champion {:?} deployed {} improvement {:?}",
            c.phase, c.recent_loss, c.champion, c.deployed, c.improvement
        );
    }
    // Every deployment lowered the held-out loss by more than the gate's 5%.
    for c in cycles.iter().filter(|c| c.deployed) {
        assert!(c.improvement.unwrap() > 0.05);
    }
    let phase_end = |p: usize| cycles[(p + 1) * CYCLES_PER_PHASE - 1].recent_loss.unwrap();
    let first_of = |p: usize| cycles[p * CYCLES_PER_PHASE].recent_loss.unwrap();
    // Fitted: the noise alone costs 0.1²/3 ≈ 0.0033 per row.
    for p in 0..PHASES.len() {
        assert!(phase_end(p) < 0.05, "phase {p} ends at {}", phase_end(p));
    }
    // The drift shows: the first rows of B and of A again cost the old champion dearly…
    for p in 1..PHASES.len() {
        assert!(
            first_of(p) > 20.0 * phase_end(p - 1),
            "phase {p}: {} vs {}",
            first_of(p),
            phase_end(p - 1)
        );
        // …and a retrained version took over within the phase.
        let before = cycles[p * CYCLES_PER_PHASE - 1].champion;
        let after = cycles[(p + 1) * CYCLES_PER_PHASE - 1].champion;
        assert_ne!(before, after, "phase {p} kept its degraded champion");
    }
    let serving = pipeline
        .with_learner(|l| l.registry().catalog().champion())
        .unwrap();
    let versions = pipeline.with_learner(|l| l.registry().catalog().versions().count());
    assert!(versions >= 4, "{versions} versions kept");
    assert_eq!(Some(serving.0 as f64), cycles.last().unwrap().champion);
}
