//! Tests of the DQN learner: the kernels against references, the learner's
//! behaviour, and its files.

mod files;
mod inspect;
pub(crate) mod kernels;
mod learner;

use super::*;
use rand::Rng;

fn config(seed: u64) -> DqnConfig {
    DqnConfig {
        seed,
        ..DqnConfig::default()
    }
}

fn learner(seed: u64) -> DQNSynergyLearner {
    DQNSynergyLearner::new(config(seed)).unwrap()
}

/// A random ROI delta and deltas, each uniform in [−1, 1].
fn random_input(rng: &mut ChaCha8Rng, keys: SynergyKeys) -> (f64, SynergyDeltas) {
    let values: Vec<f64> = keys
        .keys()
        .iter()
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    (
        rng.random_range(-1.0..1.0),
        SynergyDeltas::from_values(keys, &values).unwrap(),
    )
}

fn train(l: &mut DQNSynergyLearner, inputs: &mut ChaCha8Rng, n: usize) {
    for _ in 0..n {
        let (roi, deltas) = random_input(inputs, l.config.keys);
        l.update(roi, &deltas).unwrap();
    }
}

fn replay_items(l: &DQNSynergyLearner) -> Vec<(Vec<f32>, u8, f32)> {
    (0..l.replay.len())
        .map(|i| {
            let (s, a, r) = l.replay.get(i);
            (s.to_vec(), a, r)
        })
        .collect()
}

/// Every piece of learning state is equal, bit for bit.
fn assert_same_state(a: &DQNSynergyLearner, b: &DQNSynergyLearner) {
    assert_same_dqn(a, b);
    assert_same_weights(a, b);
}

/// The networks, optimiser, counters, RNG and replay are equal, bit for bit
/// (the reported weights may differ).
fn assert_same_dqn(a: &DQNSynergyLearner, b: &DQNSynergyLearner) {
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(a.online.params()), bits(b.online.params()));
    assert_eq!(bits(a.target.params()), bits(b.target.params()));
    assert_eq!(bits(&a.adam.m), bits(&b.adam.m));
    assert_eq!(bits(&a.adam.v), bits(&b.adam.v));
    assert_eq!(a.adam, b.adam);
    assert_eq!(a.updates, b.updates);
    assert_eq!(a.rng, b.rng);
    assert_eq!(replay_items(a), replay_items(b));
}

fn assert_same_weights(a: &DQNSynergyLearner, b: &DQNSynergyLearner) {
    let bits = |l: &DQNSynergyLearner| {
        l.weights
            .as_slice()
            .iter()
            .map(|w| w.to_bits())
            .collect::<Vec<_>>()
    };
    assert_eq!(bits(a), bits(b));
}

/// The online network's Q-values for one state.
fn q_of(mlp: &Mlp, state: &[f32]) -> Vec<f32> {
    let mut trace = Trace::default();
    mlp.forward(state, 1, &mut trace);
    trace.q().to_vec()
}
