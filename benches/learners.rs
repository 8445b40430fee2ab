//! The learners' hot paths: one update of each.
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

fn dqn_learner(c: &mut Criterion) {
    // A learner with a full replay, as after 250 cycles (4 transitions each).
    let mut l = DQNSynergyLearner::new(DqnConfig::default()).unwrap();
    for i in 0..250 {
        l.update(0.1 * ((i % 5) as f64 - 2.0), &deltas(i)).unwrap();
    }
    let mut i = 0;
    c.bench_function("DQNSynergyLearner::update (4 keys, batch 32)", |b| {
        b.iter(|| {
            i += 1;
            l.update(black_box(0.05), black_box(&deltas(i))).unwrap()
        })
    });
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

criterion_group!(benches, weight_learner, dqn_learner, policy);
criterion_main!(benches);
