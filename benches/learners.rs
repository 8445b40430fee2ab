//! The learners' hot paths: one update of each, a DQN save, and the FLOP
//! bound a DQN update is measured against.
//!
//! `RAYON_NUM_THREADS=1` comes from `.cargo/config.toml` (candle re-reads the
//! CPU mask on every matmul without it).

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use std::hint::black_box;

use kaizen::policy::{Action, PolicyConfig, PolicyState, SelfImprovementPolicy, StateInputs};
use kaizen::synergy::{
    DQNSynergyLearner, DqnConfig, SynergyDeltas, SynergyKeys, SynergyLearner, SynergyWeightLearner,
    WeightLearnerConfig,
};

fn deltas(i: usize) -> SynergyDeltas {
    let v = [(i % 7) as f64 * 0.1 - 0.3, 0.05, -0.02, 0.01];
    SynergyDeltas::from_values(SynergyKeys::Core, &v).unwrap()
}

fn weight_learner(c: &mut Criterion) {
    let mut l = SynergyWeightLearner::new(WeightLearnerConfig::default()).unwrap();
    let d = deltas(3);
    c.bench_function("SynergyWeightLearner::update", |b| {
        b.iter(|| l.update(black_box(0.01), black_box(&d)).unwrap())
    });
}

/// A learner with a full replay, as after 250 cycles (4 transitions each).
fn trained_dqn() -> DQNSynergyLearner {
    let mut l = DQNSynergyLearner::new(DqnConfig::default()).unwrap();
    for i in 0..250 {
        l.update(0.1 * ((i % 5) as f64 - 2.0), &deltas(i)).unwrap();
    }
    l
}

fn dqn_learner(c: &mut Criterion) {
    let mut l = trained_dqn();
    let mut i = 0;
    c.bench_function("DQNSynergyLearner::update (4 keys, batch 32)", |b| {
        b.iter(|| {
            i += 1;
            l.update(black_box(0.05), black_box(&deltas(i))).unwrap()
        })
    });
    // An update and the files a save after it would write (encoded, not
    // written), as an engine saving every cycle does.
    let mut l = trained_dqn();
    let dir = std::env::temp_dir().join("kaizen-bench-dqn-save");
    c.bench_function("DQNSynergyLearner::update + state_files", |b| {
        b.iter(|| {
            i += 1;
            l.update(black_box(0.05), black_box(&deltas(i))).unwrap();
            l.state_files(&dir).unwrap()
        })
    });
}

/// `a·b + c`, fused when the build enables FMA at compile time (as the DQN
/// kernels do).
#[inline(always)]
fn madd(a: f32, b: f32, c: f32) -> f32 {
    if cfg!(target_feature = "fma") {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// The FLOP bound of a DQN update: the 161,024 multiply-adds of its dense
/// form (4 keys, hidden 32, batch 32: two forward passes over the batch
/// 2 × 40,960, the backward pass 77,824, the weights' forward pass 1,280) done
/// as independent multiply-adds on 64 accumulators, which the compiler
/// vectorises with this build's instruction set (SSE2 mul + add by default,
/// FMA with `-C target-cpu=x86-64-v3`). Nothing a real update does can go
/// faster than this; its ratio to this time is how far it is from the bound.
fn flop_bound(c: &mut Criterion) {
    const LANES: usize = 64;
    const MACS: usize = 161_024;
    c.bench_function(
        "FLOP bound: 161,024 multiply-adds (a dense DQN update)",
        |b| {
            b.iter(|| {
                let mut acc = black_box([1.0f32; LANES]);
                let (x, y) = (black_box(0.999f32), black_box([1e-3f32; LANES]));
                for _ in 0..MACS / LANES {
                    for j in 0..LANES {
                        acc[j] = madd(acc[j], x, y[j]);
                    }
                }
                acc
            })
        },
    );
}

fn policy(c: &mut Criterion) {
    let states: Vec<PolicyState> = (0..64)
        .map(|i| {
            PolicyState::new(&StateInputs {
                energy_score: (i % 10) as f64 / 10.0,
                short_mean: (i / 10) as f64 / 10.0,
                ..StateInputs::default()
            })
            .unwrap()
        })
        .collect();
    let mut p = SelfImprovementPolicy::new(PolicyConfig::default()).unwrap();
    let mut i = 0;
    c.bench_function("SelfImprovementPolicy::update (q_learning)", |b| {
        b.iter_batched(
            || {
                i += 1;
                (states[i % 64], states[(i + 1) % 64])
            },
            |(s, next)| {
                p.update(&s, Action::Run, black_box(0.5), Some(&next))
                    .unwrap()
            },
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, weight_learner, dqn_learner, flop_bound, policy);
criterion_main!(benches);
