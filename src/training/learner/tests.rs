use super::*;
use crate::models::Catalog;
use crate::training::testing::append_csv;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Appends `n` rows of `y = a·x1 + b·x2 + noise` (times from `t0`).
fn append_rows(path: &Path, n: usize, (a, b): (f64, f64), noise: f64, t0: usize, seed: u64) {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let rows = (0..n).map(|i| {
        let (x1, x2): (f64, f64) = (r.random_range(-1.0..1.0), r.random_range(-1.0..1.0));
        let y = a * x1 + b * x2 + noise * r.random_range(-1.0..1.0);
        format!("{x1},{x2},{y},{}", t0 + i)
    });
    append_csv(path, "x1,x2,target,time", rows.collect::<Vec<_>>());
}

fn config(data: &Path) -> TrainingConfig {
    TrainingConfig {
        steps_per_energy: 40,
        model: crate::training::ModelConfig {
            hidden: vec![16],
            optimizer: crate::training::OptimizerConfig {
                lr: 1e-2,
                ..Default::default()
            },
            ..Default::default()
        },
        ..TrainingConfig::new(data, Task::Regression)
    }
}

fn open(dir: &Path, config: TrainingConfig) -> ContinuousLearner {
    let source = open_source(&config);
    ContinuousLearner::open_with(
        "bot",
        &dir.join("bot"),
        config,
        source,
        Durability::Atomic,
        0.0,
    )
    .unwrap()
}

#[test]
fn buffers_until_the_threshold_and_reads_each_row_once_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.csv");
    append_rows(&data, 60, (2.0, -1.0), 0.05, 0, 1);
    let mut l = open(dir.path(), config(&data));
    let r = l.cycle(5, 1.0).unwrap();
    assert_eq!((r.rows, r.buffered), (60, 60));
    assert_eq!(r.waiting.as_deref(), Some("60 of 100 samples buffered"));
    assert!(r.training.is_none());
    assert_eq!(r.to_result().roi.unwrap().roi, 0.0);
    drop(l);
    // A restart: the 60 stay buffered, nothing is read twice.
    append_rows(&data, 30, (2.0, -1.0), 0.05, 60, 2);
    let mut l = open(dir.path(), config(&data));
    let r = l.cycle(5, 2.0).unwrap();
    assert_eq!((r.rows, r.buffered), (30, 90));
    assert_eq!(l.state().counters.rows, 90);
}

#[test]
fn the_first_version_must_beat_the_naive_predictor() {
    // A clear relation: the first model beats the training mean and serves.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.csv");
    append_rows(&data, 120, (2.0, -1.0), 0.05, 0, 1);
    let mut l = open(dir.path(), config(&data));
    let r = l.cycle(10, 1.0).unwrap();
    let t = r.training.as_ref().expect("trained");
    assert_eq!(t.baseline, None);
    assert_eq!(t.samples, [77, 19, 24]);
    assert!(t.gate.deploy, "{}", t.gate.reason);
    assert_eq!(r.champion, Some(t.version));
    assert!((r.value - (t.gate.baseline_loss - t.gate.challenger_loss)).abs() < 1e-12);
    assert!(r.value > 0.0);
    assert_eq!(r.buffered, 0);
    let res = r.to_result();
    assert_eq!(res.metrics["deployed"], 1.0);
    assert_eq!(res.package.as_deref(), Some("model v1"));
    let meta = l.registry().catalog().version(t.version).unwrap();
    assert_eq!(meta.info.status, VersionStatus::Champion);
    assert!(meta.info.significance.is_some());
    assert!(meta.info.extra.contains_key("learning_curve"));
    assert_eq!(meta.info.data_window.rows, 120);
    assert_eq!(meta.info.data_window.times, Some([0.0, 119.0]));
    // The weights saved are the champion's, standardisation included.
    let saved = l.registry().catalog().weights(t.version).unwrap();
    assert_eq!(saved, l.champion().unwrap().1.to_safetensors().unwrap());

    // Pure noise: nothing beats the mean significantly; the version is kept as rejected.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.csv");
    append_rows(&data, 120, (0.0, 0.0), 1.0, 0, 3);
    let mut l = open(dir.path(), config(&data));
    let r = l.cycle(10, 1.0).unwrap();
    let t = r.training.as_ref().unwrap();
    assert!(!t.gate.deploy, "{}", t.gate.reason);
    assert_eq!(r.champion, None);
    assert_eq!(r.value, 0.0);
    let meta = l.registry().catalog().version(t.version).unwrap();
    assert_eq!(meta.info.status, VersionStatus::Rejected);
}

#[test]
fn low_quality_rows_are_dropped_and_ten_must_remain() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("q.csv");
    let mut text = String::from("x,target,quality\n");
    for i in 0..100 {
        // 95 rows at quality 0.5, 5 at 0.9.
        let q = if i % 20 == 0 { 0.9 } else { 0.5 };
        text.push_str(&format!("{i},{},{q}\n", 2 * i));
    }
    std::fs::write(&data, text).unwrap();
    let mut l = open(dir.path(), config(&data));
    let r = l.cycle(5, 1.0).unwrap();
    assert!(r.training.is_none());
    assert_eq!(
        r.waiting.as_deref(),
        Some("5 of 100 buffered samples have quality ≥ 0.7; at least 10 are needed")
    );
    assert_eq!(r.buffered, 100, "the buffer is kept for the next cycle");
}

#[test]
fn classification_fixes_its_labels_with_the_first_model() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("c.csv");
    let mut text = String::from("x,y,target\n");
    let mut r = ChaCha8Rng::seed_from_u64(4);
    for i in 0..120 {
        let c = ["red", "green", "blue"][i % 3];
        let (cx, cy) = [(0.0, 0.0), (4.0, 0.0), (0.0, 4.0)][i % 3];
        let (dx, dy): (f64, f64) = (r.random_range(-1.0..1.0), r.random_range(-1.0..1.0));
        text.push_str(&format!("{},{},{c}\n", cx + dx, cy + dy));
    }
    std::fs::write(&data, &text).unwrap();
    let mut c = config(&data);
    c.task = Task::Classification;
    let mut l = open(dir.path(), c);
    let rep = l.cycle(10, 1.0).unwrap();
    let t = rep.training.as_ref().unwrap();
    assert!(t.gate.deploy, "{}", t.gate.reason);
    assert!(t.accuracy.unwrap() > 0.95, "{:?}", t.accuracy);
    assert_eq!(
        l.champion().unwrap().1.spec().labels,
        ["blue", "green", "red"]
    );
    assert_eq!(
        l.state().labels.as_deref(),
        Some(&["blue".to_string(), "green".into(), "red".into()][..])
    );
    // A new label later is a bad row, not a crash.
    std::fs::write(&data, format!("{text}1,1,purple\n0.1,0.2,red\n")).unwrap();
    let rep = l.cycle(1, 2.0).unwrap();
    assert_eq!(rep.rows, 1);
    assert_eq!(rep.bad_rows.by_kind["unseen_label"], 1);
    assert!(rep.recent_loss.is_some());
}

#[test]
fn a_regression_target_that_is_text_is_a_bad_row() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.csv");
    std::fs::write(&data, "x,target\n1,2\n2,oops\n").unwrap();
    let mut l = open(dir.path(), config(&data));
    let r = l.cycle(1, 1.0).unwrap();
    assert_eq!(r.rows, 1);
    assert_eq!(r.bad_rows.by_kind["non_numeric"], 1);
    assert_eq!(l.state().counters.bad_rows, 1);
}

#[test]
fn cycles_are_reproducible_under_a_seed() {
    let go = || {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("d.csv");
        append_rows(&data, 120, (1.0, 1.0), 0.1, 0, 9);
        let mut l = open(dir.path(), config(&data));
        let r = l.cycle(3, 1.0).unwrap();
        let v = r.training.unwrap().version;
        l.registry().catalog().weights(v).unwrap()
    };
    assert_eq!(go(), go());
}

#[test]
fn a_worse_champion_is_rolled_back_by_the_post_deploy_check() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.csv");
    let mut c = config(&data);
    c.post_deploy_window = 40;
    // Relation A, then B: v1 learns A, v2 (warm-started) learns B and serves.
    append_rows(&data, 100, (2.0, -1.0), 0.05, 0, 1);
    let mut l = open(dir.path(), c);
    let v1 = l.cycle(10, 1.0).unwrap().champion.unwrap();
    append_rows(&data, 100, (-2.0, 1.0), 0.05, 100, 2);
    let r = l.cycle(10, 2.0).unwrap();
    let v2 = r.champion.unwrap();
    assert_ne!(v1, v2, "{:?}", r.training.map(|t| t.gate.reason));
    // Back to A: on the next 40 live samples v2 is far worse than v1.
    append_rows(&data, 40, (2.0, -1.0), 0.05, 200, 3);
    let r = l.cycle(1, 3.0).unwrap();
    let check = r.check.clone().expect("the check ran");
    assert_eq!(check.finished.as_deref(), Some("failed"));
    assert_eq!(check.rolled_back_to, Some(v1));
    assert_eq!(r.champion, Some(v1));
    assert_eq!(l.champion().unwrap().0, v1);
    assert_eq!(r.to_result().metrics["rolled_back"], 1.0);
    let history = Catalog::read(&dir.path().join("bot")).unwrap();
    assert!(
        history
            .history()
            .iter()
            .any(|m| m.to == Some(v1) && m.from == Some(v2))
    );
}
