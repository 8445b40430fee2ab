use super::*;
use crate::training::{Fit, ModelConfig, ModelSpec, OptimizerKind, Task};
use rand::{Rng, SeedableRng};

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// `n` rows of y = 2a − b + noise.
fn linear(n: usize, noise: f64, seed: u64) -> Dataset {
    let mut r = rng(seed);
    let mut d = Dataset::new(2);
    for _ in 0..n {
        let (a, b): (f64, f64) = (r.random_range(-1.0..1.0), r.random_range(-1.0..1.0));
        d.push(&[a, b], 2.0 * a - b + noise * r.random_range(-1.0..1.0))
            .unwrap();
    }
    d
}

fn model(data: &Dataset, seed: u64) -> Model {
    let spec = ModelSpec::new(
        Task::Regression,
        vec!["a".into(), "b".into()],
        vec![],
        &ModelConfig::default(),
    );
    Model::fit_new(spec, data, &mut rng(seed)).unwrap()
}

fn plan(steps: u64) -> RunPlan {
    RunPlan {
        steps,
        batch_size: 16,
        clip_grad_norm: Some(1.0),
        eval_every: 10,
        optimizer: OptimizerConfig {
            lr: 1e-2,
            ..Default::default()
        },
        monitor: MonitorConfig::default(),
        schedule: ScheduleConfig::default(),
        early_stopping: EarlyStoppingConfig::default(),
        curriculum: CurriculumConfig::default(),
    }
}

fn mean_loss(m: &Model, d: &Dataset) -> f64 {
    let l = m.per_sample_losses(d).unwrap();
    l.iter().sum::<f64>() / l.len() as f64
}

#[test]
fn a_budget_run_learns_and_records_its_curve() {
    let (train, val) = (linear(128, 0.05, 1), linear(32, 0.05, 2));
    let m = model(&train, 3);
    let before = mean_loss(&m, &val);
    let r = plan(205).run(&m, &train, &val, None, &mut rng(4)).unwrap();
    assert_eq!(r.stop, StopReason::Budget);
    assert_eq!(r.steps, 205);
    let steps: Vec<u64> = r.curve.points.iter().map(|p| p.step).collect();
    assert_eq!(steps.len(), 21);
    assert_eq!(steps[..2], [10, 20]);
    assert_eq!(steps[20], 205, "the last step is evaluated too");
    let after = mean_loss(&m, &val);
    assert!(after < before / 20.0, "{before} → {after}");
    assert!(r.alerts.is_empty(), "{:?}", r.alerts);
    assert_eq!(r.curve.analyze(Some(before)).fit, Fit::Good);
}

#[test]
fn runs_are_bit_reproducible_under_a_seed() {
    let (train, val) = (linear(64, 0.1, 1), linear(16, 0.1, 2));
    let go = || {
        let m = model(&train, 3);
        let r = plan(60).run(&m, &train, &val, None, &mut rng(4)).unwrap();
        (
            m.to_safetensors().unwrap(),
            serde_json::to_string(&r).unwrap(),
        )
    };
    assert_eq!(go(), go());
}

#[test]
fn an_explosion_stops_the_run_and_restores_its_last_good_checkpoint() {
    // Easy rows (small targets) first; from step ~40 the curriculum lets in
    // rows whose targets are a thousand times larger: the loss jumps.
    let mut train = Dataset::new(2);
    let mut difficulty = Vec::new();
    for i in 0..64 {
        let a = (i % 8) as f64 / 8.0;
        let hard = i >= 48;
        let y = if hard { 1000.0 * (a + 1.0) } else { a };
        train.push(&[a, (i / 8) as f64], y).unwrap();
        difficulty.push(if hard { 1.0 } else { 0.0 });
    }
    let m = model(&train, 5);
    let mut p = plan(100);
    p.curriculum = CurriculumConfig {
        enabled: true,
        start_fraction: 0.5,
        ramp: 0.8,
    };
    let val = train.subset(&(0..48).collect::<Vec<_>>());
    let r = p
        .run(&m, &train, &val, Some(&difficulty), &mut rng(6))
        .unwrap();
    assert_eq!(r.stop, StopReason::Monitor(AlertKind::LossExplosion));
    assert_eq!(r.alerts[0].kind, AlertKind::LossExplosion);
    let exploded_at = r.alerts[0].step;
    let restored = r.restored_from.unwrap();
    assert_eq!(
        restored,
        (exploded_at - 1) / 10 * 10,
        "the last evaluation before it"
    );
    assert!(restored > 0);
    // The weights are exactly those of that evaluation: same validation loss.
    let point = r.curve.points.iter().find(|p| p.step == restored).unwrap();
    assert_eq!(Some(mean_loss(&m, &val)), point.val_loss);
}

#[test]
fn a_non_finite_loss_stops_at_once_and_restores_the_start() {
    let (train, val) = (linear(32, 0.1, 1), linear(8, 0.1, 2));
    let m = model(&train, 3);
    let start = m.to_safetensors().unwrap();
    let mut p = plan(50);
    p.optimizer = OptimizerConfig {
        kind: OptimizerKind::Sgd,
        lr: 1e30,
        ..Default::default()
    };
    p.clip_grad_norm = None;
    let r = p.run(&m, &train, &val, None, &mut rng(4)).unwrap();
    assert!(
        matches!(
            r.stop,
            StopReason::Monitor(AlertKind::NonFiniteLoss | AlertKind::NonFiniteGradient)
        ),
        "{:?}",
        r.stop
    );
    assert!(r.steps < 10);
    assert_eq!(r.restored_from, Some(0));
    assert_eq!(m.to_safetensors().unwrap(), start);
}

#[test]
fn early_stopping_and_the_plateau_scheduler_act_on_the_validation_loss() {
    let (train, val) = (linear(32, 0.1, 1), linear(8, 0.1, 2));
    let m = model(&train, 3);
    let mut p = plan(1000);
    // A rate so small nothing improves by the relative threshold.
    p.optimizer = OptimizerConfig {
        kind: OptimizerKind::Sgd,
        lr: 1e-6,
        ..Default::default()
    };
    p.schedule.patience = 1;
    p.early_stopping.patience = 5;
    let r = p.run(&m, &train, &val, None, &mut rng(4)).unwrap();
    assert_eq!(r.stop, StopReason::EarlyStopping);
    // Evaluation 1 sets the best; 2..6 are five without improvement.
    assert_eq!(r.steps, 60);
    // PyTorch semantics with patience 1: evaluations 3 and 5 cut the rate
    // (1e-6 → 1e-7 → 1e-8; a third cut would change it by less than eps 1e-8).
    let lrs: Vec<f64> = r.curve.points.iter().map(|p| p.lr).collect();
    let want = [1e-6, 1e-6, 1e-6, 1e-7, 1e-7, 1e-8];
    assert_eq!(lrs.len(), 6);
    for (got, want) in lrs.iter().zip(want) {
        assert!((got - want).abs() < 1e-12 * want, "{lrs:?}");
    }
}

#[test]
fn a_run_that_overfits_ends_on_its_best_weights() {
    // Eight training rows of pure noise: the network memorises them and the
    // validation loss (other noise) rises after its best.
    let mut r = rng(11);
    let mut noise = |n| {
        let mut d = Dataset::new(2);
        for _ in 0..n {
            let row = [r.random_range(-1.0..1.0), r.random_range(-1.0..1.0)];
            d.push(&row, r.random_range(-1.0..1.0)).unwrap();
        }
        d
    };
    let (train, val) = (noise(8), noise(32));
    let m = model(&train, 3);
    let mut p = plan(400);
    p.early_stopping.enabled = false;
    let rep = p.run(&m, &train, &val, None, &mut rng(4)).unwrap();
    let a = rep.curve.analyze(None);
    assert_eq!(a.fit, Fit::Overfitting);
    assert_eq!(rep.restored_from, a.best_step);
    assert_eq!(Some(mean_loss(&m, &val)), a.best_val_loss);
}
