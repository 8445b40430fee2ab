//! Issue 12: the training loop on real public data shipped inside a package —
//! scikit-learn 1.9.1's copies of Fisher's Iris and of the diabetes data of
//! Efron et al. (`tests/data/training/`, made by
//! `scripts/reference/training_datasets.py`; rows shuffled once).

use kaizen::host::ManualClock;
use kaizen::pipeline::Pipeline;
use kaizen::training::{TrainingConfig, TrainingPipeline, TrainingPool};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn dataset(name: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/training")
        .join(name);
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Writes the header and rows `[0, n)` of `lines` (the header is line 0) to `path`.
fn write_rows(path: &Path, lines: &[String], n: usize) {
    std::fs::write(path, lines[..=n].join("\n") + "\n").unwrap();
}

fn pipeline(dir: &Path, data: PathBuf, spec: &str) -> TrainingPipeline {
    let config: TrainingConfig = toml::from_str(&format!("data = {data:?}\n{spec}")).unwrap();
    TrainingPipeline::open(
        "bot",
        &dir.join("bot"),
        config,
        Arc::new(TrainingPool::new(1)),
        Arc::new(ManualClock::new(0.0)),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn iris_species_are_learned_from_120_flowers() {
    let lines = dataset("iris.csv");
    assert_eq!(lines.len(), 151);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("iris.csv");
    write_rows(&data, &lines, 120);
    let p = pipeline(
        dir.path(),
        data.clone(),
        "task = \"classification\"\ntarget = \"species\"\nseed = 3",
    );
    let r = p.run("bot", 10).await.unwrap();
    assert_eq!(r.metrics["rows"], 120.0);
    assert_eq!(
        r.metrics["deployed"],
        1.0,
        "{:?}",
        p.last_report().unwrap().training.unwrap().gate
    );
    assert!(
        r.metrics["accuracy"] >= 0.9,
        "held-out accuracy {}",
        r.metrics["accuracy"]
    );
    // The naive predictor (class frequencies) costs about ln 3 ≈ 1.1 nats per flower.
    assert!(r.metrics["baseline_loss"] > 1.0);
    assert!(r.metrics["challenger_loss"] < 0.4);
    let labels = p.with_learner(|l| l.champion().unwrap().1.spec().labels.clone());
    assert_eq!(labels, ["setosa", "versicolor", "virginica"]);
    // The last 30 flowers, unseen: the champion's loss on them stays low.
    write_rows(&data, &lines, 150);
    let r = p.run("bot", 1).await.unwrap();
    assert_eq!(r.metrics["rows"], 30.0);
    assert!(
        r.metrics["recent_loss"] < 0.4,
        "{}",
        r.metrics["recent_loss"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn diabetes_progression_beats_the_mean_by_a_wide_margin() {
    let lines = dataset("diabetes.csv");
    assert_eq!(lines.len(), 443);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("diabetes.csv");
    write_rows(&data, &lines, 442);
    let p = pipeline(
        dir.path(),
        data,
        "task = \"regression\"\nseed = 3\nmax_buffer = 1000",
    );
    let r = p.run("bot", 20).await.unwrap();
    assert_eq!(r.metrics["rows"], 442.0);
    assert_eq!(r.metrics["deployed"], 1.0);
    // Linear models explain about half the variance of this target; the MLP
    // must remove at least a third of the mean's squared error.
    assert!(
        r.metrics["improvement"] > 0.33,
        "{}",
        r.metrics["improvement"]
    );
    assert!(r.metrics["p_value"] < 0.05);
}
