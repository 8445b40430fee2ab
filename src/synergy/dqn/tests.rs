use super::adamw::{AdamW, AdamWParams, clip_scale, global_norm};
use super::files::{nets_file, state_file};
use super::net::{Mlp, flat_from, param_count, segments, td_loss};
use super::*;
use crate::persist::{self, Durability, PersistError, backup_path};
use crate::synergy::{SynergyKey, WEIGHTS_FILE};
use candle_core::Var;
use candle_nn::{Linear, Module, Optimizer};
use rand::Rng;
use std::fs;

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
    assert_eq!(a.online.params(), b.online.params());
    assert_eq!(a.target.params(), b.target.params());
    assert_eq!(a.adam, b.adam);
    assert_eq!(a.updates, b.updates);
    assert_eq!(a.rng, b.rng);
    assert_eq!(replay_items(a), replay_items(b));
    assert_same_weights(a, b);
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

fn q_of(mlp: &Mlp, state: &[f32]) -> Vec<f32> {
    let x = Tensor::from_slice(state, (1, state.len()), &Device::Cpu).unwrap();
    mlp.forward(&x)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap()
}

// ---- the formulas, by hand and against candle ----

#[test]
fn td_loss_by_hand() {
    // d = 2, batch 2, γ = 0.5.
    let q = [1.0, 3.0, 0.5, 0.2];
    let q_target = [10.0, 2.0, 4.0, 6.0];
    let mut dq = [9.0; 4];
    // Row 0: argmax q = 1 ⇒ y = 0.5 + 0.5·2 = 1.5, diff = 1 − 1.5 = −0.5, huber 0.125.
    // Row 1: argmax q = 0 ⇒ y = −1 + 0.5·4 = 1, diff = 0.2 − 1 = −0.8, huber 0.32.
    let loss = td_loss(&q, &q_target, &[0, 1], &[0.5, -1.0], 0.5, &mut dq);
    assert!((loss - 0.2225).abs() < 1e-7, "{loss}");
    let want = [-0.25, 0.0, 0.0, -0.4];
    assert!(
        dq.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-7),
        "{dq:?}"
    );
    // Linear region: row 1 reward −3 ⇒ y = −1, diff = 1.2, huber 1.2 − 0.5 = 0.7,
    // gradient clamped to 1 / batch.
    let loss = td_loss(&q, &q_target, &[0, 1], &[0.5, -3.0], 0.5, &mut dq);
    assert!((loss - 0.4125).abs() < 1e-7, "{loss}");
    assert!((dq[3] - 0.5).abs() < 1e-7);
    // A tie in the argmax goes to the lowest action: y = 0 + 1·7.
    let loss = td_loss(&[2.0, 2.0], &[7.0, 100.0], &[1], &[0.0], 1.0, &mut dq[..2]);
    assert!((loss - 4.5).abs() < 1e-7, "{loss}");
    assert_eq!(&dq[..2], &[0.0, -1.0]);
    // NaN in, NaN loss out (the learner then skips the step).
    assert!(
        td_loss(
            &[f32::NAN, 0.0],
            &[0.0, 0.0],
            &[0],
            &[0.0],
            0.9,
            &mut dq[..2]
        )
        .is_nan()
    );
}

/// The hand-written backward pass against candle's autograd on the same
/// network, batch and Huber loss.
#[test]
fn hand_gradients_match_candle_autograd() {
    for (d, batch, seed) in [(4, 32, 1), (7, 32, 2), (4, 5, 3)] {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let online = Mlp::init(d, &mut rng).unwrap();
        let target = Mlp::init(d, &mut rng).unwrap();
        let states: Vec<f32> = (0..batch * d)
            .map(|_| rng.random_range(-2.0..2.0))
            .collect();
        let actions: Vec<u8> = (0..batch).map(|_| rng.random_range(0..d as u8)).collect();
        let rewards: Vec<f32> = (0..batch).map(|_| rng.random_range(-3.0..3.0)).collect();
        let gamma = 0.9f32;
        let x = Tensor::from_slice(&states, (batch, d), &Device::Cpu).unwrap();

        // By hand.
        let trace = online.forward_trace(&x).unwrap();
        let q: Vec<f32> = trace.q.flatten_all().unwrap().to_vec1().unwrap();
        let qt: Vec<f32> = target
            .forward(&x)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let mut dq = vec![0.0; batch * d];
        let loss = td_loss(&q, &qt, &actions, &rewards, gamma, &mut dq);
        let dq = Tensor::from_slice(&dq, (batch, d), &Device::Cpu).unwrap();
        let mut grad = vec![0.0; param_count(d)];
        online.backward(&x, &trace, &dq, &mut grad).unwrap();

        // With candle's autograd: Vars, Linear layers, gathered Q, candle's huber.
        let vars: Vec<Var> = super::net::tensors_of(d, online.params())
            .unwrap()
            .iter()
            .map(|t| Var::from_tensor(t).unwrap())
            .collect();
        let layer = |i: usize| {
            Linear::new(
                vars[2 * i].as_tensor().clone(),
                Some(vars[2 * i + 1].as_tensor().clone()),
            )
        };
        let q = layer(2)
            .forward(
                &layer(1)
                    .forward(&layer(0).forward(&x).unwrap().relu().unwrap())
                    .unwrap()
                    .relu()
                    .unwrap(),
            )
            .unwrap();
        let best = q.detach().argmax_keepdim(1).unwrap();
        let qt = target.forward(&x).unwrap();
        let rewards_t = Tensor::from_slice(&rewards, batch, &Device::Cpu).unwrap();
        let y = ((qt.gather(&best, 1).unwrap().squeeze(1).unwrap() * f64::from(gamma)).unwrap()
            + rewards_t)
            .unwrap()
            .detach();
        let a: Vec<u32> = actions.iter().map(|&a| u32::from(a)).collect();
        let a = Tensor::from_slice(&a, (batch, 1), &Device::Cpu).unwrap();
        let taken = q.gather(&a, 1).unwrap().squeeze(1).unwrap();
        let auto_loss = candle_nn::loss::huber(&taken, &y, 1.0).unwrap();
        let grads = auto_loss.backward().unwrap();

        let auto_loss = f64::from(auto_loss.to_scalar::<f32>().unwrap());
        assert!(
            (loss - auto_loss).abs() < 1e-5,
            "loss {loss} vs {auto_loss}"
        );
        for (seg, var) in segments(d).iter().zip(&vars) {
            let auto: Vec<f32> = grads
                .get(var)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            let mine = &grad[seg.range.clone()];
            for (j, (m, a)) in mine.iter().zip(&auto).enumerate() {
                assert!((m - a).abs() < 1e-5, "d {d} {}[{j}]: {m} vs {a}", seg.name);
            }
        }
        // The gradient is not trivially zero.
        assert!(global_norm(&grad) > 1e-3);
    }
}

fn params_adamw() -> AdamWParams {
    DqnConfig::default().adamw()
}

#[test]
fn adamw_first_step_by_hand() {
    let mut opt = AdamW::new(params_adamw(), 2);
    let mut theta = [1.0f32, -2.0];
    opt.step(&mut theta, &[0.5, -4.0], 1.0);
    // m̂ = g, v̂ = g² ⇒ θ ← θ·(1 − lr·λ) − lr·g/(|g| + ε)
    let want = [1.0 * (1.0 - 1e-5) - 1e-3, -2.0 * (1.0 - 1e-5) + 1e-3];
    assert!(
        (theta[0] - want[0]).abs() < 1e-7 && (theta[1] - want[1]).abs() < 1e-7,
        "{theta:?}"
    );
    assert_eq!(opt.steps, 1);
    assert!(
        (opt.m[0] - 0.05).abs() < 1e-8 && (opt.v[1] - 0.016).abs() < 1e-9,
        "{opt:?}"
    );
    // The gradient scale (clipping) applies before the moments.
    let mut a = AdamW::new(params_adamw(), 1);
    let mut b = AdamW::new(params_adamw(), 1);
    let (mut ta, mut tb) = ([0.3f32], [0.3f32]);
    a.step(&mut ta, &[2.0], 0.25);
    b.step(&mut tb, &[0.5], 1.0);
    assert_eq!(
        (a.m.clone(), a.v.clone(), ta),
        (b.m.clone(), b.v.clone(), tb)
    );
}

#[test]
fn adamw_matches_candle_nn() {
    let init = [0.5f32, -1.5, 2.0, 0.0, 3.0];
    let grads = [
        [0.1f32, -0.2, 3.0, 0.0, -1.0],
        [1.0, 0.5, -2.0, 0.25, -1.0],
        [-0.3, 0.0, 0.1, 4.0, 2.0],
    ];
    let var = Var::from_slice(&init, 5, &Device::Cpu).unwrap();
    let mut candle =
        candle_nn::AdamW::new(vec![var.clone()], candle_nn::ParamsAdamW::default()).unwrap();
    let mut mine = AdamW::new(params_adamw(), 5);
    let mut theta = init;
    for g in grads {
        // loss = Σ g·θ has gradient g.
        let g_t = Tensor::from_slice(&g, 5, &Device::Cpu).unwrap();
        let loss = var.as_tensor().mul(&g_t).unwrap().sum_all().unwrap();
        candle.step(&loss.backward().unwrap()).unwrap();
        mine.step(&mut theta, &g, 1.0);
        let want: Vec<f32> = var.as_tensor().to_vec1().unwrap();
        for (a, b) in theta.iter().zip(&want) {
            assert!((a - b).abs() < 1e-6, "{theta:?} vs {want:?}");
        }
    }
}

#[test]
fn defaults_are_specs_and_candles() {
    let c = DqnConfig::default();
    let p = candle_nn::ParamsAdamW::default();
    assert_eq!(
        (c.lr, c.beta1, c.beta2, c.eps, c.weight_decay),
        (p.lr, p.beta1, p.beta2, p.eps, p.weight_decay)
    );
    assert_eq!(
        (
            c.gamma,
            c.batch_size,
            c.replay_capacity,
            c.target_sync,
            c.grad_clip
        ),
        (0.9, 32, 1000, 10, 10.0)
    );
    assert_eq!(c.keys, SynergyKeys::Core);
}

#[test]
fn tiny_moments_are_flushed_instead_of_going_subnormal() {
    let mut opt = AdamW::new(params_adamw(), 1);
    opt.m[0] = 1e-29;
    opt.v[0] = 1e-29;
    let mut theta = [0.0f32];
    // Unflushed, m would be subnormal after ~220 steps (1e-29·0.9ⁿ) and v
    // after ~23,000 (1e-29·0.999ⁿ), and both still non-zero at the end.
    for _ in 0..30_000 {
        opt.step(&mut theta, &[0.0], 1.0);
        assert!(!opt.m[0].is_subnormal() && !opt.v[0].is_subnormal());
    }
    assert_eq!((opt.m[0], opt.v[0]), (0.0, 0.0));
    assert!(theta[0].is_finite());
}

#[test]
fn gradient_clip_by_global_norm() {
    assert_eq!(global_norm(&[3.0, 4.0]), 5.0);
    assert_eq!(global_norm(&[]), 0.0);
    assert_eq!(clip_scale(5.0, 10.0), 1.0);
    assert_eq!(clip_scale(10.0, 10.0), 1.0);
    assert_eq!(clip_scale(40.0, 10.0), 0.25);
}

#[test]
fn init_is_uniform_within_one_over_sqrt_fan_in_and_seeded() {
    let a = Mlp::init(4, &mut ChaCha8Rng::seed_from_u64(5)).unwrap();
    let b = Mlp::init(4, &mut ChaCha8Rng::seed_from_u64(5)).unwrap();
    let c = Mlp::init(4, &mut ChaCha8Rng::seed_from_u64(6)).unwrap();
    assert_eq!(a.params(), b.params());
    assert_ne!(a.params(), c.params());
    assert_eq!(a.params().len(), 32 * 4 + 32 + 32 * 32 + 32 + 4 * 32 + 4);
    for seg in segments(4) {
        let bound = 1.0 / (seg.fan_in as f32).sqrt();
        let values = &a.params()[seg.range.clone()];
        assert!(values.iter().all(|v| v.abs() <= bound), "{}", seg.name);
        // Spread over the range, not bunched at 0.
        let max = values.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(max > 0.5 * bound, "{}", seg.name);
    }
}

// ---- the learner ----

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
fn a_non_finite_loss_skips_the_step_and_is_reported() {
    let mut l = learner(6);
    let huge = SynergyDeltas::from_values(SynergyKeys::Core, &[f64::from(f32::MAX); 4]).unwrap();
    let before = l.clone();
    let report = l.update(1e-38, &huge).unwrap();
    assert!(
        matches!(
            report.skipped,
            Some(Skip::NonFiniteLoss | Skip::NonFiniteGradient)
        ),
        "{report:?}"
    );
    assert_eq!((report.loss, report.grad_norm), (None, None));
    assert_eq!(l.steps(), 0);
    assert_eq!(l.updates(), 1);
    assert_eq!(l.online.params(), before.online.params());
    // Weights stay finite and in range whatever Q did.
    assert!(l.weights().iter().all(|(_, w)| (0.0..=10.0).contains(&w)));
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

// ---- persistence ----

#[test]
fn resume_exactly() {
    for (keys, n, k) in [
        (SynergyKeys::Core, 260, 40),
        (SynergyKeys::Extended, 30, 25),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let config = DqnConfig { keys, ..config(21) };
        let mut never_stopped = DQNSynergyLearner::new(config.clone()).unwrap();
        let mut inputs = ChaCha8Rng::seed_from_u64(22);
        train(&mut never_stopped, &mut inputs, n);
        let written = never_stopped.save(dir.path(), Durability::Atomic).unwrap();
        let on_disk: u64 = [DQN_NETS_FILE, DQN_STATE_FILE, WEIGHTS_FILE]
            .iter()
            .map(|f| fs::metadata(dir.path().join(f)).unwrap().len())
            .sum();
        assert_eq!(written, on_disk);
        let mut reloaded = DQNSynergyLearner::load(dir.path(), config).unwrap();
        assert_same_state(&reloaded, &never_stopped);
        let mut inputs2 = inputs.clone();
        train(&mut never_stopped, &mut inputs, k);
        train(&mut reloaded, &mut inputs2, k);
        assert_same_weights(&reloaded, &never_stopped);
        assert_same_state(&reloaded, &never_stopped);
    }
}

#[test]
fn missing_files_give_a_fresh_learner() {
    let dir = tempfile::tempdir().unwrap();
    let loaded = DQNSynergyLearner::load(dir.path(), config(8)).unwrap();
    assert_same_state(&loaded, &learner(8));
    assert!(
        DQNSynergyLearner::load(
            dir.path(),
            DqnConfig {
                gamma: 2.0,
                ..config(8)
            }
        )
        .is_err()
    );
}

#[test]
fn saving_twice_gives_the_same_bytes() {
    let mut l = learner(9);
    train(&mut l, &mut ChaCha8Rng::seed_from_u64(9), 12);
    let first = tempfile::tempdir().unwrap();
    l.save(first.path(), Durability::Atomic).unwrap();
    for _ in 0..8 {
        let again = tempfile::tempdir().unwrap();
        l.save(again.path(), Durability::Atomic).unwrap();
        for file in [DQN_NETS_FILE, DQN_STATE_FILE, WEIGHTS_FILE] {
            let a = fs::read(first.path().join(file)).unwrap();
            let b = fs::read(again.path().join(file)).unwrap();
            assert!(a == b, "{file} differs between saves");
        }
    }
}

#[test]
fn safetensors_file_layout() {
    let dir = tempfile::tempdir().unwrap();
    let mut l = learner(10);
    train(&mut l, &mut ChaCha8Rng::seed_from_u64(10), 3);
    l.save(dir.path(), Durability::Atomic).unwrap();
    let bytes = fs::read(dir.path().join(DQN_NETS_FILE)).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let meta = header.metadata().as_ref().unwrap();
    assert_eq!(meta["version"], "1");
    assert_eq!(meta["updates"], "3");
    assert_eq!(meta["steps"], "3");
    let mut names = st.names();
    names.sort();
    assert_eq!(names.len(), 24);
    assert_eq!(names[0], "adam_m.l1.bias");
    let tensors = candle_core::safetensors::load_buffer(&bytes, &Device::Cpu).unwrap();
    assert_eq!(tensors["online.l1.weight"].dims(), &[32, 4]);
    assert_eq!(tensors["target.l3.bias"].dims(), &[4]);
    assert_eq!(flat_from(&tensors, "online", 4).unwrap(), l.online.params());
    assert_eq!(flat_from(&tensors, "adam_v", 4).unwrap(), l.adam.v);
    let json: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.path().join(DQN_STATE_FILE)).unwrap()).unwrap();
    assert_eq!(json["version"], 1);
    assert_eq!(json["keys"], "core");
    assert_eq!(json["updates"], 3);
    assert_eq!(json["replay"]["actions"].as_array().unwrap().len(), 12);
    assert_eq!(json["replay"]["states"].as_array().unwrap().len(), 48);
}

/// Deletes the files moved aside as corrupt; returns how many there were.
fn remove_corrupt(dir: &Path) -> usize {
    let mut n = 0;
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().contains(".corrupt-") {
            fs::remove_file(path).unwrap();
            n += 1;
        }
    }
    n
}

/// Rewrites one metadata entry of a safetensors file.
fn set_metadata(path: &Path, key: &str, value: &str) {
    let bytes = fs::read(path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    header["__metadata__"][key] = value.into();
    let mut json = serde_json::to_vec(&header).unwrap();
    json.resize(json.len().next_multiple_of(8), b' ');
    let mut out = (json.len() as u64).to_le_bytes().to_vec();
    out.extend(json);
    out.extend(&bytes[8 + n..]);
    fs::write(path, out).unwrap();
}

fn saved(seed: u64, n: usize) -> (tempfile::TempDir, DQNSynergyLearner) {
    let dir = tempfile::tempdir().unwrap();
    let mut l = learner(seed);
    train(&mut l, &mut ChaCha8Rng::seed_from_u64(seed), n);
    l.save(dir.path(), Durability::Atomic).unwrap();
    (dir, l)
}

#[test]
fn newer_files_are_refused_and_left_untouched() {
    let (dir, _) = saved(12, 2);
    let nets = dir.path().join(DQN_NETS_FILE);
    set_metadata(&nets, "version", "2");
    let before = fs::read(&nets).unwrap();
    let err = DQNSynergyLearner::load(dir.path(), config(12)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Persist(PersistError::NewerVersion { found: 2, .. })
        ),
        "{err}"
    );
    assert_eq!(fs::read(&nets).unwrap(), before);

    let (dir, _) = saved(12, 2);
    let state = dir.path().join(DQN_STATE_FILE);
    let text = fs::read_to_string(&state)
        .unwrap()
        .replacen("\"version\":1", "\"version\":3", 1);
    fs::write(&state, &text).unwrap();
    let err = DQNSynergyLearner::load(dir.path(), config(12)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Persist(PersistError::NewerVersion { found: 3, .. })
        ),
        "{err}"
    );
    assert_eq!(fs::read_to_string(&state).unwrap(), text);
}

#[test]
fn damaged_networks_file_gives_a_fresh_learner() {
    let (dir, _) = saved(13, 4);
    let nets = dir.path().join(DQN_NETS_FILE);
    let good = fs::read(&nets).unwrap();
    let fresh = learner(13);
    let header_end = 8 + u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
    let cuts = (0..header_end + 16).chain((header_end..good.len()).step_by(101));
    for cut in cuts {
        fs::write(&nets, &good[..cut]).unwrap();
        let l = DQNSynergyLearner::load(dir.path(), config(13)).unwrap();
        assert_eq!(l.online.params(), fresh.online.params(), "cut at {cut}");
        assert_eq!(l.updates(), 0);
        assert!(!nets.exists());
        remove_corrupt(dir.path());
    }
    for (key, value) in [("version", "0"), ("version", "x"), ("updates", "-1")] {
        fs::write(&nets, &good).unwrap();
        set_metadata(&nets, key, value);
        let l = DQNSynergyLearner::load(dir.path(), config(13)).unwrap();
        assert_eq!(l.updates(), 0, "{key} = {value}");
    }
}

#[test]
fn bit_flips_never_panic() {
    let (dir, _) = saved(14, 4);
    let nets = dir.path().join(DQN_NETS_FILE);
    let state = dir.path().join(DQN_STATE_FILE);
    let (good_nets, good_state) = (fs::read(&nets).unwrap(), fs::read(&state).unwrap());
    let mut rng = ChaCha8Rng::seed_from_u64(14);
    for i in 0..300 {
        let (path, good) = if i % 2 == 0 {
            (&nets, &good_nets)
        } else {
            (&state, &good_state)
        };
        let mut bytes = good.clone();
        let at = rng.random_range(0..bytes.len());
        bytes[at] ^= 1 << rng.random_range(0..8);
        fs::write(path, &bytes).unwrap();
        if let Ok(l) = DQNSynergyLearner::load(dir.path(), config(14)) {
            assert!(l.weights().iter().all(|(_, w)| (0.0..=10.0).contains(&w)));
        }
        fs::write(&nets, &good_nets).unwrap();
        fs::write(&state, &good_state).unwrap();
        remove_corrupt(dir.path());
    }
}

#[test]
fn damaged_state_file_keeps_the_networks_and_empties_the_replay() {
    let (dir, l) = saved(15, 6);
    let state = dir.path().join(DQN_STATE_FILE);
    let text = fs::read_to_string(&state).unwrap();
    fs::write(&state, &text[..text.len() / 2]).unwrap();
    let back = DQNSynergyLearner::load(dir.path(), config(15)).unwrap();
    assert_eq!(back.online.params(), l.online.params());
    assert_eq!(back.adam, l.adam);
    assert_eq!((back.updates(), back.replay_len()), (6, 0));
    assert_eq!(back.rng, ChaCha8Rng::seed_from_u64(15 + 6));
    // A replay action out of range is damage too.
    let (dir, _) = saved(15, 2);
    let state = dir.path().join(DQN_STATE_FILE);
    let text = fs::read_to_string(&state)
        .unwrap()
        .replacen("\"actions\":[0", "\"actions\":[4", 1);
    fs::write(&state, text).unwrap();
    assert_eq!(
        DQNSynergyLearner::load(dir.path(), config(15))
            .unwrap()
            .replay_len(),
        0
    );
}

#[test]
fn files_of_another_key_set_are_moved_aside() {
    let (dir, _) = saved(16, 3);
    let ext = DqnConfig {
        keys: SynergyKeys::Extended,
        ..config(16)
    };
    let l = DQNSynergyLearner::load(dir.path(), ext.clone()).unwrap();
    assert_same_state(&l, &DQNSynergyLearner::new(ext).unwrap());
    for file in [DQN_NETS_FILE, DQN_STATE_FILE, WEIGHTS_FILE] {
        assert!(!dir.path().join(file).exists(), "{file}");
    }
}

#[test]
fn files_that_disagree_are_never_mixed() {
    // A crash after the networks were written, before the state file: the
    // networks' backup matches the state file, and that moment is resumed.
    let (dir, mut l) = saved(17, 20);
    let at_20 = l.clone();
    let mut inputs = ChaCha8Rng::seed_from_u64(170);
    train(&mut l, &mut inputs, 5);
    persist::write_all(&[nets_file(&l, dir.path()).unwrap()], Durability::Atomic).unwrap();
    let mut back = DQNSynergyLearner::load(dir.path(), config(17)).unwrap();
    assert_same_state(&back, &at_20);
    let mut expected = at_20.clone();
    let mut inputs2 = inputs.clone();
    train(&mut back, &mut inputs, 5);
    train(&mut expected, &mut inputs2, 5);
    assert_same_state(&back, &expected);

    // The same without a backup: the newer networks are kept, the replay is emptied.
    fs::remove_file(backup_path(&dir.path().join(DQN_NETS_FILE))).unwrap();
    let back = DQNSynergyLearner::load(dir.path(), config(17)).unwrap();
    assert_eq!(back.online.params(), l.online.params());
    assert_eq!(
        (back.updates(), back.steps(), back.replay_len()),
        (25, 25, 0)
    );

    // The state file ahead of the networks: its backup is the partner.
    let (dir, mut l) = saved(18, 20);
    let at_20 = l.clone();
    train(&mut l, &mut ChaCha8Rng::seed_from_u64(180), 5);
    persist::write_all(&[state_file(&l, dir.path()).unwrap()], Durability::Atomic).unwrap();
    let back = DQNSynergyLearner::load(dir.path(), config(18)).unwrap();
    assert_same_state(&back, &at_20);

    // No usable networks: fresh, whatever the state file says.
    fs::remove_file(dir.path().join(DQN_NETS_FILE)).unwrap();
    let back = DQNSynergyLearner::load(dir.path(), config(18)).unwrap();
    assert_eq!(back.online.params(), learner(18).online.params());
    assert_eq!((back.updates(), back.replay_len()), (0, 0));
    assert_eq!(back.weights(), at_20.weights());
}

#[test]
fn heap_bytes_is_a_few_tens_of_kilobytes() {
    let mut l = learner(19);
    train(&mut l, &mut ChaCha8Rng::seed_from_u64(19), 300);
    let bytes = l.heap_bytes();
    // 1348 parameters × 4 bytes × 6 copies + 1000 × 21-byte transitions + scratch.
    assert!((50_000..70_000).contains(&bytes), "{bytes}");
    assert!(l.weights().get(SynergyKey::Roi).is_some());
}
