//! The model registry's operations on a 16-64-64-1 MLP (5,313 parameters,
//! a 21 KB safetensors file): saving a version, moving the champion alias,
//! opening a registry with history behind it.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

use candle_core::{Device, Tensor};
use kaizen::models::{Catalog, ModelRegistry, NewVersion, RegistryConfig, VersionId};
use kaizen::persist::Durability;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The weights of a 16-64-64-1 MLP, seeded.
fn mlp_weights(seed: u64) -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut tensor = |shape: &[usize]| {
        let n = shape.iter().product();
        let values: Vec<f32> = (0..n).map(|_| rng.random_range(-0.5..0.5)).collect();
        Tensor::from_vec(values, shape, &Device::Cpu).unwrap()
    };
    let tensors = [
        ("l1.weight", tensor(&[64, 16])),
        ("l1.bias", tensor(&[64])),
        ("l2.weight", tensor(&[64, 64])),
        ("l2.bias", tensor(&[64])),
        ("l3.weight", tensor(&[1, 64])),
        ("l3.bias", tensor(&[1])),
    ];
    safetensors::serialize(tensors, None).unwrap()
}

fn version(weights: &[u8], loss: f64) -> NewVersion {
    let mut v = NewVersion::new(weights.to_vec()).metric("val_loss", loss);
    v.info.data_window.rows = 10_000;
    v.info
        .hyperparameters
        .insert("layers".into(), serde_json::json!([16, 64, 64, 1]));
    v
}

fn config(durability: Durability) -> RegistryConfig {
    RegistryConfig {
        durability,
        ..RegistryConfig::default()
    }
}

fn save(c: &mut Criterion) {
    let weights = mlp_weights(1);
    for (name, durability) in [
        ("fsync", Durability::Fsync),
        ("no fsync", Durability::Atomic),
    ] {
        let bot = tempfile::tempdir().unwrap();
        // Retention keeps the newest 10, so each save also removes one.
        let mut models = ModelRegistry::open(bot.path(), config(durability), 0.0).unwrap();
        let mut now = 0.0;
        c.bench_function(&format!("ModelRegistry::save 16-64-64-1 ({name})"), |b| {
            b.iter(|| {
                now += 1.0;
                models.save(black_box(version(&weights, 0.5)), now).unwrap()
            })
        });
    }
}

fn activate(c: &mut Criterion) {
    for (name, durability) in [
        ("fsync", Durability::Fsync),
        ("no fsync", Durability::Atomic),
    ] {
        let bot = tempfile::tempdir().unwrap();
        let mut models = ModelRegistry::open(bot.path(), config(durability), 0.0).unwrap();
        let a = models.save(version(&mlp_weights(1), 0.5), 1.0).unwrap();
        let b_ = models.save(version(&mlp_weights(2), 0.4), 2.0).unwrap();
        let mut now = 3.0;
        let mut next = a;
        c.bench_function(
            &format!("ModelRegistry::activate 16-64-64-1 ({name})"),
            |b| {
                b.iter(|| {
                    now += 1.0;
                    models.activate(black_box(next), "bench", now).unwrap();
                    next = if next == a { b_ } else { a };
                })
            },
        );
    }
}

fn open(c: &mut Criterion) {
    // 10 versions and 1,000 alias moves behind it.
    let bot = tempfile::tempdir().unwrap();
    {
        let mut models = ModelRegistry::open(bot.path(), config(Durability::Atomic), 0.0).unwrap();
        let ids: Vec<VersionId> = (0..10)
            .map(|i| {
                models
                    .save(version(&mlp_weights(i), 0.5), i as f64)
                    .unwrap()
            })
            .collect();
        for i in 0..1_000 {
            let id = ids[i % ids.len()];
            models.activate(id, "bench", 100.0 + i as f64).unwrap();
        }
    }
    c.bench_function("ModelRegistry::open (10 versions, 1,000 moves)", |b| {
        b.iter(|| {
            ModelRegistry::open(black_box(bot.path()), config(Durability::Atomic), 1e6).unwrap()
        })
    });
    c.bench_function("Catalog::read (10 versions, 1,000 moves)", |b| {
        b.iter(|| Catalog::read(black_box(bot.path())).unwrap())
    });
}

criterion_group!(benches, save, activate, open);
criterion_main!(benches);
