//! The ROI forecaster's costs: choosing the order (all 18 ARIMA candidates)
//! on 200 and 1,000 points, one cheap update, and the cached forecast an
//! engine reads on every tick.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use std::hint::black_box;

use kaizen::forecast::{ArimaModel, Forecaster, ForecasterConfig};

/// A deterministic ROI-delta-like series: an ARMA(1,1) driven by a
/// scrambled sequence (no RNG needed), mean 0.02.
fn series(n: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(n);
    let (mut prev, mut prev_e) = (0.0, 0.0);
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..n {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let e = ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 0.2;
        let x = 0.5 * prev + e + 0.3 * prev_e;
        (prev, prev_e) = (x, e);
        out.push(0.02 + x);
    }
    out
}

fn select(c: &mut Criterion) {
    let mut group = c.benchmark_group("forecast");
    group.sample_size(10);
    for n in [200, 1000] {
        let h = series(n);
        group.bench_function(
            format!("ArimaModel::select ({n} points, 18 candidates)"),
            |b| b.iter(|| ArimaModel::select(black_box(&h)).unwrap()),
        );
    }
    group.finish();
}

fn cached(c: &mut Criterion) {
    let h = series(1000);
    let config = ForecasterConfig {
        refit_every: usize::MAX,
        ..ForecasterConfig::default()
    };
    let mut f = Forecaster::new(config).unwrap();
    for &x in &h {
        f.observe(x).unwrap();
    }
    f.refit();
    c.bench_function("Forecaster::forecast (cached)", |b| {
        b.iter(|| black_box(&f).forecast())
    });
    c.bench_function("Forecaster::observe (no refit, 1,000 points kept)", |b| {
        b.iter_batched_ref(
            || f.clone(),
            |f| f.observe(black_box(0.01)).unwrap(),
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, select, cached);
criterion_main!(benches);
