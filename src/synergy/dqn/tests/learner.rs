//! The learner's behaviour: weights, replay, batches, target sync, bad input.

use super::*;
use crate::persist::Durability;
use crate::synergy::SynergyKey;

#[test]
fn weights_start_at_one_then_follow_the_online_q_values() {
    let mut l = learner(3);
    assert_eq!(l.weights().as_slice(), &[1.0; 4]);
    let deltas = SynergyDeltas::from_values(SynergyKeys::Core, &[0.5, -0.25, 0.0, 1.0]).unwrap();
    l.update(0.3, &deltas).unwrap();
    let q = q_of(&l.online, &[0.5, -0.25, 0.0, 1.0]);
    for (w, q) in l.weights().as_slice().iter().zip(q) {
        assert_eq!(*w, f64::from(q).clamp(0.0, 10.0));
    }
}

#[test]
fn replay_is_a_fifo_of_capacity_transitions() {
    let mut l = DQNSynergyLearner::new(DqnConfig {
        replay_capacity: 10,
        ..config(1)
    })
    .unwrap();
    let mut inputs = ChaCha8Rng::seed_from_u64(9);
    let mut last = Vec::new();
    for n in 1..=5 {
        let (roi, deltas) = random_input(&mut inputs, SynergyKeys::Core);
        l.update(roi, &deltas).unwrap();
        assert_eq!(l.replay_len(), (4 * n).min(10));
        last.push((roi, deltas));
    }
    // The newest 10: two transitions of update 3, all of updates 4 and 5.
    let items = replay_items(&l);
    let (roi3, d3) = last[2];
    assert_eq!(items[0].1, 2);
    assert_eq!(
        items[0].0,
        d3.as_slice().iter().map(|&v| v as f32).collect::<Vec<_>>()
    );
    assert_eq!(items[0].2, (roi3 * d3.as_slice()[2]) as f32);
    let (roi5, d5) = last[4];
    for (i, item) in items[6..].iter().enumerate() {
        assert_eq!(item.1, i as u8);
        assert_eq!(item.2, (roi5 * d5.as_slice()[i]) as f32);
    }
}

#[test]
fn batch_is_at_most_32_and_at_most_the_replay() {
    let mut l = learner(2);
    let mut inputs = ChaCha8Rng::seed_from_u64(1);
    let mut batches = Vec::new();
    for _ in 0..10 {
        let (roi, deltas) = random_input(&mut inputs, SynergyKeys::Core);
        batches.push(l.update(roi, &deltas).unwrap().batch);
    }
    assert_eq!(batches, [4, 8, 12, 16, 20, 24, 28, 32, 32, 32]);
    let mut small = DQNSynergyLearner::new(DqnConfig {
        batch_size: 5,
        ..config(2)
    })
    .unwrap();
    let (roi, deltas) = random_input(&mut inputs, SynergyKeys::Core);
    assert_eq!(small.update(roi, &deltas).unwrap().batch, 4);
    assert_eq!(small.update(roi, &deltas).unwrap().batch, 5);
}

#[test]
fn target_net_is_copied_every_target_sync_updates() {
    let mut l = learner(4);
    let mut inputs = ChaCha8Rng::seed_from_u64(4);
    let mut synced_at = Vec::new();
    let mut last_copy = l.target.params().to_vec();
    assert_eq!(last_copy, l.online.params());
    for n in 1..=25u64 {
        let (roi, deltas) = random_input(&mut inputs, SynergyKeys::Core);
        let report = l.update(roi, &deltas).unwrap();
        if report.target_synced {
            synced_at.push(n);
            assert_eq!(l.target.params(), l.online.params());
            last_copy = l.target.params().to_vec();
        } else {
            assert_eq!(l.target.params(), &last_copy[..]);
            assert_ne!(l.target.params(), l.online.params());
        }
    }
    assert_eq!(synced_at, [10, 20]);
    let mut every3 = DQNSynergyLearner::new(DqnConfig {
        target_sync: 3,
        ..config(4)
    })
    .unwrap();
    let synced: Vec<bool> = (0..7)
        .map(|_| {
            let (roi, deltas) = random_input(&mut inputs, SynergyKeys::Core);
            every3.update(roi, &deltas).unwrap().target_synced
        })
        .collect();
    assert_eq!(synced, [false, false, true, false, false, true, false]);
}

#[test]
fn bad_input_is_refused_and_nothing_changes() {
    let mut l = learner(5);
    train(&mut l, &mut ChaCha8Rng::seed_from_u64(5), 3);
    let before = l.clone();
    let ok = SynergyDeltas::from_values(SynergyKeys::Core, &[0.1, 0.2, 0.3, 0.4]).unwrap();
    for roi in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        assert!(matches!(l.update(roi, &ok), Err(Error::NonFinite { .. })));
    }
    let too_big = SynergyDeltas::from_values(SynergyKeys::Core, &[0.0, 1e39, 0.0, 0.0]).unwrap();
    let err = l.update(1.0, &too_big).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid synergy delta efficiency = 1000000000000000000000000000000000000000: \
         expected a number within ±3.4e38 (the DQN computes in f32)"
    );
    let big = SynergyDeltas::from_values(SynergyKeys::Core, &[1e20, 0.0, 0.0, 0.0]).unwrap();
    let err = l.update(1e20, &big).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid synergy DQN reward roi_delta·Δ_roi"),
        "{err}"
    );
    let ext = SynergyDeltas::zeros(SynergyKeys::Extended);
    assert!(matches!(l.update(1.0, &ext), Err(Error::Invalid { .. })));
    assert_same_state(&l, &before);
}

#[test]
fn a_non_finite_loss_or_gradient_skips_the_step_and_is_reported() {
    let dims = DqnConfig::default().dims();
    let [w1, b1, w2, b2, w3, b3] = dims.segments().map(|s| s.range);
    let huge = SynergyDeltas::from_values(SynergyKeys::Core, &[f64::from(f32::MAX); 4]).unwrap();
    // An infinite Q-value (as after an overflow) makes the loss infinite.
    let mut l = learner(6);
    l.online.params_mut()[b3.start] = f32::INFINITY;
    // A finite forward pass whose gradient w.r.t. l1.weight overflows:
    // l1.weight = 0 keeps the huge inputs out of the forward pass, but
    // dL/dW1 = x·dz1 with x ≈ 3.4e38.
    let mut g = learner(6);
    let p = g.online.params_mut();
    p[w1].fill(0.0);
    p[b1].fill(1.0);
    p[w2].fill(100.0);
    p[b2].fill(0.0);
    p[w3].fill(100.0);
    p[b3].fill(0.0);
    for (l, skip) in [
        (&mut l, Skip::NonFiniteLoss),
        (&mut g, Skip::NonFiniteGradient),
    ] {
        let before = l.clone();
        let report = l.update(1e-38, &huge).unwrap();
        assert_eq!(report.skipped, Some(skip), "{report:?}");
        assert_eq!((report.loss, report.grad_norm), (None, None));
        assert_eq!(l.steps(), 0);
        assert_eq!(l.updates(), 1);
        assert_eq!(l.online.params(), before.online.params());
        // Weights stay finite and in range whatever Q did.
        assert!(l.weights().iter().all(|(_, w)| (0.0..=10.0).contains(&w)));
    }
}

#[test]
fn it_learns_which_metric_drives_roi() {
    // roi_delta = 2·Δ_roi + small noise; every delta uniform in [−1, 1].
    let mut l = learner(11);
    let mut inputs = ChaCha8Rng::seed_from_u64(12);
    let mut sums = [0.0; 4];
    let (n, last) = (400, 100);
    for i in 0..n {
        let values: [f64; 4] = std::array::from_fn(|_| inputs.random_range(-1.0..1.0));
        let roi = 2.0 * values[0] + inputs.random_range(-0.05..0.05);
        let deltas = SynergyDeltas::from_values(SynergyKeys::Core, &values).unwrap();
        let report = l.update(roi, &deltas).unwrap();
        assert!(report.loss.unwrap().is_finite());
        if i >= n - last {
            for (s, w) in sums.iter_mut().zip(l.weights().as_slice()) {
                *s += w / last as f64;
            }
        }
    }
    let roi = sums[0];
    assert!(sums[1..].iter().all(|&other| roi > other + 0.1), "{sums:?}");
}

#[test]
fn set_weights_holds_until_the_next_update_and_is_saved() {
    let dir = tempfile::tempdir().unwrap();
    let mut l = learner(7);
    let imported = SynergyWeights::from_values(SynergyKeys::Core, &[2.0, 3.0, 4.0, 5.0]).unwrap();
    l.set_weights(imported).unwrap();
    assert_eq!(l.weights(), &imported);
    assert!(
        l.set_weights(SynergyWeights::new(SynergyKeys::Extended))
            .is_err()
    );
    l.save(dir.path(), Durability::Atomic).unwrap();
    let back = DQNSynergyLearner::load(dir.path(), config(7)).unwrap();
    assert_eq!(back.weights(), &imported);
    let before = l.online.params().to_vec();
    let (roi, deltas) = random_input(&mut ChaCha8Rng::seed_from_u64(7), SynergyKeys::Core);
    l.update(roi, &deltas).unwrap();
    assert_ne!(l.weights(), &imported);
    assert_ne!(l.online.params(), &before[..]);
}

#[test]
fn config_is_validated_naming_the_field() {
    let cases: [(&str, DqnConfig); 12] = [
        (
            "synergy.dqn.lr",
            DqnConfig {
                lr: 0.0,
                ..DqnConfig::default()
            },
        ),
        (
            "synergy.dqn.lr",
            DqnConfig {
                lr: f64::NAN,
                ..DqnConfig::default()
            },
        ),
        (
            "synergy.dqn.beta1",
            DqnConfig {
                beta1: 1.0,
                ..DqnConfig::default()
            },
        ),
        (
            "synergy.dqn.beta2",
            DqnConfig {
                beta2: -0.1,
                ..DqnConfig::default()
            },
        ),
        (
            "synergy.dqn.eps",
            DqnConfig {
                eps: 0.0,
                ..DqnConfig::default()
            },
        ),
        (
            "synergy.dqn.weight_decay",
            DqnConfig {
                weight_decay: -0.01,
                ..DqnConfig::default()
            },
        ),
        (
            "synergy.dqn.gamma",
            DqnConfig {
                gamma: 1.0,
                ..DqnConfig::default()
            },
        ),
        (
            "synergy.dqn.gamma",
            DqnConfig {
                gamma: f64::INFINITY,
                ..DqnConfig::default()
            },
        ),
        (
            "synergy.dqn.batch_size",
            DqnConfig {
                batch_size: 0,
                ..DqnConfig::default()
            },
        ),
        (
            "synergy.dqn.replay_capacity",
            DqnConfig {
                replay_capacity: 0,
                ..DqnConfig::default()
            },
        ),
        (
            "synergy.dqn.target_sync",
            DqnConfig {
                target_sync: 0,
                ..DqnConfig::default()
            },
        ),
        (
            "synergy.dqn.grad_clip",
            DqnConfig {
                grad_clip: -1.0,
                ..DqnConfig::default()
            },
        ),
    ];
    for (field, config) in cases {
        let err = DQNSynergyLearner::new(config).unwrap_err();
        let what = match &err {
            Error::Invalid { what, .. } | Error::NonFinite { what, .. } => what.to_string(),
            other => panic!("{other}"),
        };
        assert_eq!(what, field, "{err}");
    }
    let err = DqnConfig {
        replay_capacity: 2_000_000,
        ..DqnConfig::default()
    }
    .validate()
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid synergy.dqn.replay_capacity = 2000000: expected a whole number in 1..=1000000"
    );
}

#[test]
fn heap_bytes_is_a_few_tens_of_kilobytes() {
    let mut l = learner(19);
    train(&mut l, &mut ChaCha8Rng::seed_from_u64(19), 300);
    // 1348 parameters × 4 bytes × 4 copies + 1000 × 21-byte transitions;
    // the working buffers of an update belong to the thread.
    assert_eq!(l.heap_bytes(), 4 * 4 * 1348 + 1000 * 21);
    assert!(l.weights().get(SynergyKey::Roi).is_some());
}

#[test]
fn the_same_seed_and_inputs_give_the_same_bits() {
    let (mut a, mut b) = (learner(23), learner(23));
    train(&mut a, &mut ChaCha8Rng::seed_from_u64(24), 60);
    // Interleaved with another learner on the same thread: the per-thread
    // buffers carry nothing from one update to the next.
    let mut other = learner(99);
    let mut inputs = ChaCha8Rng::seed_from_u64(24);
    for _ in 0..60 {
        train(&mut other, &mut ChaCha8Rng::seed_from_u64(7), 1);
        train(&mut b, &mut inputs, 1);
    }
    assert_same_state(&a, &b);
    // And on another thread.
    let c = std::thread::spawn(|| {
        let mut c = learner(23);
        train(&mut c, &mut ChaCha8Rng::seed_from_u64(24), 60);
        c
    })
    .join()
    .unwrap();
    assert_same_state(&a, &c);
}
