//! The training pipeline's hot paths: one optimizer step of a 16-64-64-1 MLP
//! at batch 64 (compare `scripts/reference/torch_training_step.py`, the same
//! step in PyTorch), and rows read per second from a CSV.
//!
//! `RAYON_NUM_THREADS=1` comes from `.cargo/config.toml`.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;
use std::io::Write;

use kaizen::training::{
    CsvOptions, CsvSource, DataSource, Dataset, Model, ModelConfig, ModelSpec, Optim, Task,
};

fn data(rows: usize, rng: &mut ChaCha8Rng) -> Dataset {
    let mut d = Dataset::new(16);
    for _ in 0..rows {
        let x: Vec<f64> = (0..16).map(|_| rng.random_range(-1.0..1.0)).collect();
        let y = x
            .iter()
            .enumerate()
            .map(|(i, v)| v * (i as f64 - 7.5))
            .sum();
        d.push(&x, y).unwrap();
    }
    d
}

fn training_step(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let d = data(64, &mut rng);
    let features = (0..16).map(|i| format!("x{i}")).collect();
    let spec = ModelSpec::new(Task::Regression, features, vec![], &ModelConfig::default());
    let model = Model::fit_new(spec, &d, &mut rng).unwrap();
    let idx: Vec<usize> = (0..64).collect();
    let (x, y) = model.batch(&d, &idx).unwrap();
    let mut opt = Optim::new(&Default::default(), &model).unwrap();
    c.bench_function("training step 16-64-64-1, batch 64, AdamW", |b| {
        b.iter(|| opt.step(black_box(&model), &x, &y, None).unwrap())
    });
    c.bench_function("training step 16-64-64-1, batch 64, AdamW, clip 1.0", |b| {
        b.iter(|| opt.step(black_box(&model), &x, &y, Some(1.0)).unwrap())
    });
}

fn csv_rows(c: &mut Criterion) {
    const ROWS: usize = 20_000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rows.csv");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let header: Vec<String> = (0..16).map(|i| format!("x{i}")).collect();
    writeln!(f, "time,{},target,quality", header.join(",")).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    for i in 0..ROWS {
        let x: Vec<String> = (0..16)
            .map(|_| format!("{:.6}", rng.random_range(-10.0..10.0)))
            .collect();
        writeln!(
            f,
            "{i},{},{:.4},0.9",
            x.join(","),
            rng.random_range(0.0..100.0)
        )
        .unwrap();
    }
    drop(f);
    let mut group = c.benchmark_group("csv");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.bench_function("read 20k rows × 16 features", |b| {
        b.iter_batched(
            || CsvSource::new(&path, CsvOptions::default()),
            |mut src| {
                let batch = src.read_new(usize::MAX).unwrap();
                assert_eq!(batch.samples.len(), ROWS);
                batch
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, training_step, csv_rows);
criterion_main!(benches);
