//! The neural strategies against hand-computed inputs and against candle's
//! autograd and optimiser taking the same step.

use super::*;
use crate::synergy::dqn::tests::kernels::candle_tensors;
use candle_core::{Device, Tensor, Var};
use candle_nn::{Linear, Module, Optimizer};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn state(slots: [i16; PolicyState::LEN]) -> PolicyState {
    PolicyState::from_array(slots).unwrap()
}

/// A state with random slots in their ranges.
fn random_state(rng: &mut ChaCha8Rng) -> PolicyState {
    state(std::array::from_fn(|i| match i {
        MODULE_SLOT => rng.random_range(0..1000),
        FLAG_SLOT => rng.random_range(0..2),
        _ => rng.random_range(-50..=50),
    }))
}

#[test]
fn features_undo_the_quantisation() {
    assert_eq!(PolicyState::FIELDS[MODULE_SLOT], "module_index");
    assert_eq!(PolicyState::FIELDS[FLAG_SLOT], "diminishing");
    let mut slots = [0i16; PolicyState::LEN];
    slots[0] = 8; // energy score 0.8
    slots[1] = -25; // trend −2.5
    slots[MODULE_SLOT] = 417;
    slots[FLAG_SLOT] = 1;
    slots[13] = 50;
    let x = features(&state(slots));
    assert_eq!(x[0], 0.8);
    assert_eq!(x[1], -2.5);
    assert_eq!(x[MODULE_SLOT], 0.417);
    assert_eq!(x[FLAG_SLOT], 1.0);
    assert_eq!(x[13], 5.0);
    assert_eq!(x.iter().filter(|v| **v == 0.0).count(), 9);
}

fn forward(ts: &[Tensor], x: &Tensor) -> Tensor {
    let layer = |i: usize| Linear::new(ts[2 * i].clone(), Some(ts[2 * i + 1].clone()));
    let h1 = layer(0).forward(x).unwrap().relu().unwrap();
    let h2 = layer(1).forward(&h1).unwrap().relu().unwrap();
    layer(2).forward(&h2).unwrap()
}

/// One update of each strategy on a replay of 23 transitions (5 without a
/// next state), all in one batch, against the same step written with
/// candle: the strategy's target, Huber loss, autograd, the clip and
/// candle-nn's AdamW.
#[test]
fn each_strategy_takes_the_step_candle_takes() {
    for (strategy, seed) in [
        (Strategy::Dqn, 1),
        (Strategy::DoubleDqn, 2),
        (Strategy::DeepQ, 3),
    ] {
        let config = NetworkConfig {
            batch_size: 64,
            ..NetworkConfig::default()
        };
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut net = NeuralQ::new(strategy, config.clone(), &mut rng);
        let d = dims(config.hidden);
        if let Some(target) = &mut net.target {
            // A target unlike the online network, so that the strategies differ.
            *target = Mlp::init(d, &mut rng);
        }
        for i in 0..22 {
            let t = Transition {
                state: random_state(&mut rng),
                action: Action::ALL[i % 2],
                reward: rng.random_range(-4.0..4.0),
                next: (i % 5 != 0).then(|| random_state(&mut rng)),
            };
            net.replay.push_back(t);
        }
        let last = Transition {
            state: random_state(&mut rng),
            action: Action::Run,
            reward: 2.5,
            next: Some(random_state(&mut rng)),
        };
        let before = net.clone();
        let gamma = 0.9;
        net.update(
            &last.state,
            last.action,
            f64::from(last.reward),
            last.next.as_ref(),
            gamma,
            &mut rng,
        )
        .unwrap();

        // The same step with candle, on the 23 transitions in replay order.
        let all: Vec<Transition> = before.replay.iter().copied().chain([last]).collect();
        let rows = all.len();
        let flat = |f: &dyn Fn(&Transition) -> [f32; INPUTS]| {
            let v: Vec<f32> = all.iter().flat_map(f).collect();
            Tensor::from_slice(&v, (rows, INPUTS), &Device::Cpu).unwrap()
        };
        let x = flat(&|t| features(&t.state));
        let x_next = flat(&|t| t.next.as_ref().map_or([0.0; INPUTS], features));
        let vars: Vec<Var> = candle_tensors(d, before.online.params())
            .iter()
            .map(|t| Var::from_tensor(t).unwrap())
            .collect();
        let online: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
        let q = forward(&online, &x);
        let next_online = forward(&online, &x_next).detach();
        let next_target = before
            .target
            .as_ref()
            .map(|t| forward(&candle_tensors(d, t.params()), &x_next));
        let next_value = match (strategy, &next_target) {
            (Strategy::Dqn, Some(t)) => t.max_keepdim(1).unwrap(),
            (Strategy::DoubleDqn, Some(t)) => t
                .gather(&next_online.argmax_keepdim(1).unwrap(), 1)
                .unwrap(),
            (Strategy::DeepQ, None) => next_online.max_keepdim(1).unwrap(),
            other => panic!("{other:?}"),
        }
        .squeeze(1)
        .unwrap();
        let alive: Vec<f32> = all
            .iter()
            .map(|t| if t.next.is_some() { 1.0 } else { 0.0 })
            .collect();
        let alive = Tensor::from_slice(&alive, rows, &Device::Cpu).unwrap();
        let rewards: Vec<f32> = all.iter().map(|t| t.reward).collect();
        let rewards = Tensor::from_slice(&rewards, rows, &Device::Cpu).unwrap();
        let y = ((next_value * alive).unwrap() * gamma)
            .unwrap()
            .add(&rewards)
            .unwrap()
            .detach();
        let actions: Vec<u32> = all.iter().map(|t| t.action as u32).collect();
        let actions = Tensor::from_slice(&actions, (rows, 1), &Device::Cpu).unwrap();
        let taken = q.gather(&actions, 1).unwrap().squeeze(1).unwrap();
        let loss = candle_nn::loss::huber(&taken, &y, 1.0).unwrap();
        let mut grads = loss.backward().unwrap();
        // The global-norm clip at 10, then candle-nn's AdamW at lr 1e-3.
        let norm: f32 = vars
            .iter()
            .map(|v| grads.get(v).unwrap().sqr().unwrap().sum_all().unwrap())
            .map(|t| t.to_scalar::<f32>().unwrap())
            .sum::<f32>()
            .sqrt();
        assert!(norm > 1e-3, "{strategy}: a step worth checking");
        let scale = if norm > 10.0 { 10.0 / norm } else { 1.0 };
        for v in &vars {
            let g = (grads.get(v).unwrap() * f64::from(scale)).unwrap();
            grads.insert(v.as_tensor(), g);
        }
        let mut adam = candle_nn::AdamW::new(
            vars.clone(),
            candle_nn::ParamsAdamW {
                lr: 1e-3,
                ..candle_nn::ParamsAdamW::default()
            },
        )
        .unwrap();
        adam.step(&grads).unwrap();

        for (seg, var) in d.segments().iter().zip(&vars) {
            let mut want = var.as_tensor().clone();
            if seg.is_weight {
                want = want.t().unwrap().contiguous().unwrap();
            }
            let want: Vec<f32> = want.flatten_all().unwrap().to_vec1().unwrap();
            let got = &net.online.params()[seg.range.clone()];
            let moved = &before.online.params()[seg.range.clone()];
            for (j, ((g, w), m)) in got.iter().zip(&want).zip(moved).enumerate() {
                assert!(
                    (g - w).abs() < 2e-6,
                    "{strategy} {}[{j}]: {g} vs candle {w} (was {m})",
                    seg.name
                );
            }
        }
        // The step moved the network, and the replay holds the new transition.
        assert_ne!(net.online, before.online);
        assert_eq!(net.replay.back(), Some(&last));
        assert_eq!((net.updates, net.steps()), (1, 1));
    }
}

#[test]
fn the_target_network_is_refreshed_every_target_sync_updates() {
    let config = NetworkConfig {
        target_sync: 3,
        ..NetworkConfig::default()
    };
    for strategy in [Strategy::Dqn, Strategy::DoubleDqn] {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut net = NeuralQ::new(strategy, config.clone(), &mut rng);
        let first = net.online.clone();
        let s = random_state(&mut rng);
        for n in 1..=7u64 {
            net.update(&s, Action::Run, 1.0, Some(&s), 0.9, &mut rng)
                .unwrap();
            let target = net.target.as_ref().unwrap();
            match n {
                1 | 2 => assert_eq!(target, &first, "{strategy} after {n}"),
                3 | 6 => assert_eq!(target, &net.online, "{strategy} after {n}"),
                _ => assert_ne!(target, &net.online, "{strategy} after {n}"),
            }
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    assert!(
        NeuralQ::new(Strategy::DeepQ, config, &mut rng)
            .target
            .is_none()
    );
}

#[test]
fn the_replay_keeps_the_newest_transitions() {
    let config = NetworkConfig {
        replay_capacity: 4,
        batch_size: 2,
        ..NetworkConfig::default()
    };
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let mut net = NeuralQ::new(Strategy::DeepQ, config.clone(), &mut rng);
    let s = random_state(&mut rng);
    for r in 0..6 {
        net.update(&s, Action::Skip, f64::from(r), None, 0.9, &mut rng)
            .unwrap();
    }
    let rewards: Vec<f32> = net.replay.iter().map(|t| t.reward).collect();
    assert_eq!(rewards, [2.0, 3.0, 4.0, 5.0]);
    // A smaller capacity from a config drops the oldest.
    net.set_config(NetworkConfig {
        replay_capacity: 2,
        ..config
    })
    .unwrap();
    assert_eq!(net.replay_len(), 2);
    assert_eq!(net.replay.front().unwrap().reward, 4.0);
}

#[test]
fn a_file_round_trips_bit_for_bit_and_bad_ones_are_refused() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let config = NetworkConfig::default();
    let mut net = NeuralQ::new(Strategy::Dqn, config.clone(), &mut rng);
    for i in 0..40 {
        let s = random_state(&mut rng);
        let next = (i % 7 != 0).then(|| random_state(&mut rng));
        net.update(
            &s,
            Action::ALL[i % 2],
            0.3 * i as f64,
            next.as_ref(),
            0.9,
            &mut rng,
        )
        .unwrap();
    }
    let file = net.to_file();
    let json = serde_json::to_string(&file).unwrap();
    let back: NeuralFile = serde_json::from_str(&json).unwrap();
    let again = NeuralQ::from_file(Strategy::Dqn, config.clone(), back).unwrap();
    assert_eq!(again, net);

    let spoiled = |f: &dyn Fn(&mut NeuralFile)| {
        let mut bad = file.clone();
        f(&mut bad);
        NeuralQ::from_file(Strategy::Dqn, config.clone(), bad).unwrap_err()
    };
    assert!(
        spoiled(&|f| {
            f.online.pop();
        })
        .contains("parameters")
    );
    assert!(spoiled(&|f| f.target = None).contains("needs a target network"));
    assert!(spoiled(&|f| f.adam_v[3] = (-1.0f32).to_bits()).contains("negative"));
    assert!(spoiled(&|f| f.online[0] = f32::NAN.to_bits()).contains("NaN"));
    assert!(spoiled(&|f| f.steps = 41).contains("optimiser steps"));
    assert!(
        spoiled(&|f| {
            f.replay.rewards.pop();
        })
        .contains("replay columns")
    );
    let err = NeuralQ::from_file(Strategy::DeepQ, config, file).unwrap_err();
    assert!(err.contains("has no target network"), "{err}");
}

#[test]
fn a_reward_beyond_f32_is_refused_and_changes_nothing() {
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let mut net = NeuralQ::new(Strategy::DoubleDqn, NetworkConfig::default(), &mut rng);
    let before = net.clone();
    let s = random_state(&mut rng);
    let err = net
        .update(&s, Action::Run, 1e39, None, 0.9, &mut rng)
        .unwrap_err();
    assert!(err.to_string().contains("f32"), "{err}");
    assert_eq!(net, before);
}
