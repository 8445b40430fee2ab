use super::*;
use rand::SeedableRng;

fn line_data(n: usize) -> Dataset {
    let mut d = Dataset::new(2);
    for i in 0..n {
        let a = i as f64 / n as f64;
        let b = ((i * 7) % n) as f64 / n as f64;
        d.push(&[a, b], 3.0 * a - 2.0 * b + 10.0).unwrap();
    }
    d
}

fn spec(task: Task, config: &ModelConfig) -> ModelSpec {
    let labels = match task {
        Task::Regression => vec![],
        Task::Classification => vec!["a".into(), "b".into(), "c".into()],
    };
    ModelSpec::new(task, vec!["x".into(), "y".into()], labels, config)
}

/// No hidden layer: the network is affine, its weights easy to set by hand.
fn affine() -> ModelConfig {
    ModelConfig {
        hidden: vec![],
        ..Default::default()
    }
}

/// Two columns left as they are.
fn identity2() -> Standardizer {
    Standardizer {
        mean: vec![0.0, 0.0],
        std: vec![1.0, 1.0],
    }
}

/// The training loss of `m` on all of `data`, as one batch.
fn batch_loss(m: &Model, data: &Dataset) -> f64 {
    let idx: Vec<usize> = (0..data.len()).collect();
    let (x, y) = m.batch(data, &idx).unwrap();
    let l = m.loss(&m.forward(&x).unwrap(), &y).unwrap();
    f64::from(l.to_scalar::<f32>().unwrap())
}

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

fn train(model: &Model, data: &Dataset, steps: usize) -> f64 {
    let mut opt = Optim::new(
        &OptimizerConfig {
            lr: 1e-2,
            ..Default::default()
        },
        model,
    )
    .unwrap();
    let idx: Vec<usize> = (0..data.len()).collect();
    let (x, y) = model.batch(data, &idx).unwrap();
    let mut last = f64::NAN;
    for _ in 0..steps {
        last = opt.step(model, &x, &y, None).unwrap().loss;
    }
    last
}

#[test]
fn init_is_pytorch_uniform_and_seeded() {
    let cfg = ModelConfig::default();
    let a = Model::fit_new(spec(Task::Regression, &cfg), &line_data(10), &mut rng(1)).unwrap();
    let b = Model::fit_new(spec(Task::Regression, &cfg), &line_data(10), &mut rng(1)).unwrap();
    let c = Model::fit_new(spec(Task::Regression, &cfg), &line_data(10), &mut rng(2)).unwrap();
    assert_eq!(a.to_safetensors().unwrap(), b.to_safetensors().unwrap());
    assert_ne!(a.to_safetensors().unwrap(), c.to_safetensors().unwrap());
    // 2 → 64 → 64 → 1
    assert_eq!(a.param_count(), 2 * 64 + 64 + 64 * 64 + 64 + 64 + 1);
    for (v, fan_in) in a.vars().iter().zip([2.0f32, 2.0, 64.0, 64.0, 64.0, 64.0]) {
        let bound = 1.0 / fan_in.sqrt();
        let vals = v.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert!(vals.iter().all(|w| w.abs() <= bound));
        if vals.len() >= 64 {
            // Uniform: the largest magnitude is near the bound.
            assert!(vals.iter().fold(0f32, |m, w| m.max(w.abs())) > 0.8 * bound);
        }
    }
}

#[test]
fn training_is_bit_reproducible_under_a_seed() {
    let cfg = ModelConfig::default();
    let data = line_data(64);
    let run = || {
        let m = Model::fit_new(spec(Task::Regression, &cfg), &data, &mut rng(5)).unwrap();
        train(&m, &data, 30);
        m.to_safetensors().unwrap()
    };
    assert_eq!(run(), run());
}

#[test]
fn regression_learns_a_line_and_reports_losses_in_target_units() {
    let cfg = ModelConfig::default();
    let data = line_data(64);
    let m = Model::fit_new(spec(Task::Regression, &cfg), &data, &mut rng(3)).unwrap();
    let before: f64 = m.per_sample_losses(&data).unwrap().iter().sum::<f64>() / 64.0;
    train(&m, &data, 300);
    let after = m.per_sample_losses(&data).unwrap();
    let mean = after.iter().sum::<f64>() / 64.0;
    assert!(mean < before / 20.0, "{before} → {mean}");
    // Per-sample loss is the squared error of the de-standardised prediction.
    let pred = m.predict(&data).unwrap();
    for i in 0..64 {
        let e = pred[i] - data.targets()[i];
        assert!((after[i] - e * e).abs() <= 1e-9 * (1.0 + e * e), "{i}");
    }
}

#[test]
fn sample_losses_follow_the_formulas() {
    let cfg = affine();
    let target = Standardizer {
        mean: vec![10.0],
        std: vec![2.0],
    };
    let input = identity2();
    let mut data = Dataset::new(2);
    data.push(&[1.0, 0.0], 10.0).unwrap(); // prediction 10 + 2·1 = 12: error 2
    data.push(&[0.0, 0.0], 10.5).unwrap(); // prediction 10: error 0.5
    let model_with = |loss: LossKind| {
        let cfg = ModelConfig {
            loss: Some(loss),
            huber_delta: 1.0,
            ..cfg.clone()
        };
        let m = Model::new(
            spec(Task::Regression, &cfg),
            input.clone(),
            target.clone(),
            &mut rng(0),
        )
        .unwrap();
        m.vars()[0]
            .set(&Tensor::new(&[[1f32, 0.0]], &Device::Cpu).unwrap())
            .unwrap();
        m.vars()[1]
            .set(&Tensor::new(&[0f32], &Device::Cpu).unwrap())
            .unwrap();
        m
    };
    let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12);
    let mse = model_with(LossKind::Mse).per_sample_losses(&data).unwrap();
    assert!(close(&mse, &[4.0, 0.25]), "{mse:?}");
    let mae = model_with(LossKind::Mae).per_sample_losses(&data).unwrap();
    assert!(close(&mae, &[2.0, 0.5]), "{mae:?}");
    // Huber δ = 1: 1·(2 − 0.5) = 1.5 and 0.5·0.5² = 0.125.
    let hub = model_with(LossKind::Huber)
        .per_sample_losses(&data)
        .unwrap();
    assert!(close(&hub, &[1.5, 0.125]), "{hub:?}");
    // The training loss is the same Huber on the standardised scale:
    // errors 1 and 0.25 with δ/σ = 0.5 → (0.5·(1 − 0.25) + 0.5·0.25²)/2.
    let l = batch_loss(&model_with(LossKind::Huber), &data);
    assert!((l - (0.375 + 0.03125) / 2.0).abs() < 1e-6, "{l}");
}

#[test]
fn classification_cross_entropy_per_sample() {
    let cfg = affine();
    let input = identity2();
    let m = Model::new(
        spec(Task::Classification, &cfg),
        input,
        Standardizer::fit(1, &[]),
        &mut rng(0),
    )
    .unwrap();
    // Logits = [x, y, 0].
    m.vars()[0]
        .set(&Tensor::new(&[[1f32, 0.0], [0.0, 1.0], [0.0, 0.0]], &Device::Cpu).unwrap())
        .unwrap();
    m.vars()[1]
        .set(&Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap())
        .unwrap();
    let mut data = Dataset::new(2);
    data.push(&[2.0, 0.0], 0.0).unwrap();
    data.push(&[0.0, 0.0], 2.0).unwrap();
    let losses = m.per_sample_losses(&data).unwrap();
    let lse = (2f64.exp() + 2.0).ln();
    assert!((losses[0] - (lse - 2.0)).abs() < 1e-12);
    assert!((losses[1] - 3f64.ln()).abs() < 1e-12);
    assert_eq!(m.predict(&data).unwrap(), [0.0, 0.0]);
    // candle's batch cross-entropy is the mean of the same numbers.
    let l = batch_loss(&m, &data);
    assert!((l - (losses[0] + losses[1]) / 2.0).abs() < 1e-6);
}

#[test]
fn classifier_learns_three_clusters() {
    let cfg = ModelConfig::default();
    let mut data = Dataset::new(2);
    for i in 0..90 {
        let c = i % 3;
        let jitter = (i / 3) as f64 * 0.01;
        let centre = [(0.0, 0.0), (3.0, 0.0), (0.0, 3.0)][c];
        data.push(&[centre.0 + jitter, centre.1 - jitter], c as f64)
            .unwrap();
    }
    let m = Model::fit_new(spec(Task::Classification, &cfg), &data, &mut rng(9)).unwrap();
    train(&m, &data, 100);
    let pred = m.predict(&data).unwrap();
    assert_eq!(pred, data.targets());
}

#[test]
fn checkpoints_restore_and_deep_clones_are_independent() {
    let cfg = ModelConfig::default();
    let data = line_data(32);
    let m = Model::fit_new(spec(Task::Regression, &cfg), &data, &mut rng(4)).unwrap();
    let original = m.to_safetensors().unwrap();
    let cp = m.checkpoint().unwrap();
    let twin = m.deep_clone().unwrap();
    train(&m, &data, 5);
    assert_ne!(m.to_safetensors().unwrap(), original);
    assert_eq!(
        twin.to_safetensors().unwrap(),
        original,
        "the clone did not move"
    );
    m.restore(&cp).unwrap();
    assert_eq!(m.to_safetensors().unwrap(), original);
}

#[test]
fn clipping_caps_the_gradient_norm_and_non_finite_steps_change_nothing() {
    let cfg = ModelConfig::default();
    let data = line_data(16);
    let m = Model::fit_new(spec(Task::Regression, &cfg), &data, &mut rng(4)).unwrap();
    let mut opt = Optim::new(
        &OptimizerConfig {
            kind: OptimizerKind::Sgd,
            lr: 1.0,
            ..Default::default()
        },
        &m,
    )
    .unwrap();
    let idx: Vec<usize> = (0..16).collect();
    let (x, y) = m.batch(&data, &idx).unwrap();
    let before = m.checkpoint().unwrap();
    let s = opt.step(&m, &x, &y, Some(1e-3)).unwrap();
    assert!(s.clipped && s.applied && s.grad_norm > 1e-3);
    // With SGD at lr 1 the weights moved by exactly the clipped gradient: norm 1e-3.
    let moved: f64 = m
        .vars()
        .iter()
        .zip(&before.0)
        .map(|(v, b)| {
            let d = (v.as_tensor() - b)
                .unwrap()
                .sqr()
                .unwrap()
                .sum_all()
                .unwrap();
            f64::from(d.to_scalar::<f32>().unwrap())
        })
        .sum::<f64>()
        .sqrt();
    assert!((moved - 1e-3).abs() < 1e-6, "{moved}");
    let snapshot = m.to_safetensors().unwrap();
    let y_nan = Tensor::full(f32::NAN, (16, 1), &Device::Cpu).unwrap();
    let s = opt.step(&m, &x, &y_nan, None).unwrap();
    assert!(!s.applied && s.loss.is_nan());
    assert_eq!(m.to_safetensors().unwrap(), snapshot);
}

#[test]
fn model_files_refuse_damage_and_newer_formats() {
    let cfg = ModelConfig::default();
    let m = Model::fit_new(spec(Task::Regression, &cfg), &line_data(8), &mut rng(1)).unwrap();
    let bytes = m.to_safetensors().unwrap();
    let back = Model::from_safetensors(&bytes).unwrap();
    assert_eq!(
        back.predict(&line_data(8)).unwrap(),
        m.predict(&line_data(8)).unwrap()
    );
    assert!(Model::from_safetensors(&bytes[..bytes.len() / 2]).is_err());
    assert!(Model::from_safetensors(b"not a model").is_err());
    let pattern = br#"\"format\":1"#;
    let at = bytes
        .windows(pattern.len())
        .position(|w| w == pattern)
        .unwrap();
    let mut newer = bytes.clone();
    newer[at + pattern.len() - 1] = b'9';
    let err = Model::from_safetensors(&newer).unwrap_err().to_string();
    assert!(err.contains("newer kaizen"), "{err}");
}

#[test]
fn specs_that_cannot_train_are_refused() {
    let cfg = ModelConfig::default();
    let one_label = ModelSpec::new(
        Task::Classification,
        vec!["x".into()],
        vec!["a".into()],
        &cfg,
    );
    let err = Model::fit_new(one_label, &Dataset::new(1), &mut rng(0)).unwrap_err();
    assert!(
        err.to_string()
            .contains("at least two distinct target values"),
        "{err}"
    );
    let no_features = ModelSpec::new(Task::Regression, vec![], vec![], &cfg);
    assert!(Model::fit_new(no_features, &Dataset::new(0), &mut rng(0)).is_err());
    assert!(
        ModelConfig {
            batch_size: 0,
            ..cfg.clone()
        }
        .validate(Task::Regression)
        .is_err()
    );
    assert!(
        ModelConfig {
            hidden: vec![0],
            ..cfg.clone()
        }
        .validate(Task::Regression)
        .is_err()
    );
    let err = ModelConfig {
        loss: Some(LossKind::CrossEntropy),
        ..cfg
    }
    .validate(Task::Regression)
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid model.loss = cross_entropy: expected mse, mae or huber for regression"
    );
}
