//! The kernels (network, TD loss, AdamW) against hand-computed numbers, a
//! dense `f64` reference and candle's autograd and optimiser.

use super::super::adamw::{AdamW, AdamWParams, clip_scale, global_norm};
use super::super::mlp::{Mlp, MlpDims, Scratch, Trace};
use super::super::td::{TdInputs, td_loss};
use super::*;
use candle_core::{Device, Tensor, Var};
use candle_nn::{Linear, Module, Optimizer};

fn dims(inputs: usize, hidden: usize, outputs: usize) -> MlpDims {
    MlpDims {
        inputs,
        hidden,
        outputs,
    }
}

/// A random batch: inputs, actions, and a loss gradient per row.
fn batch(rng: &mut ChaCha8Rng, d: MlpDims, rows: usize) -> (Vec<f32>, Vec<u8>, Vec<f32>) {
    let x = (0..rows * d.inputs)
        .map(|_| rng.random_range(-2.0..2.0))
        .collect();
    let actions = (0..rows)
        .map(|_| rng.random_range(0..d.outputs as u8))
        .collect();
    let dq = (0..rows).map(|_| rng.random_range(-1.0..1.0)).collect();
    (x, actions, dq)
}

/// The network's outputs and gradient computed densely in `f64`, straight
/// from the definitions (no skipping, no blocks).
fn dense_reference(
    net: &Mlp,
    x: &[f32],
    rows: usize,
    actions: &[u8],
    dq: &[f32],
) -> (Vec<f64>, Vec<f64>) {
    let MlpDims {
        inputs: ni,
        hidden: h,
        outputs: no,
    } = net.dims();
    let p: Vec<f64> = net.params().iter().map(|&v| f64::from(v)).collect();
    let [w1, b1, w2, b2, w3, b3] = net.dims().segments().map(|s| s.range.start);
    let mut q = vec![0.0; rows * no];
    let mut g = vec![0.0; p.len()];
    for r in 0..rows {
        let xr: Vec<f64> = x[r * ni..(r + 1) * ni].iter().map(|&v| v.into()).collect();
        let z1: Vec<f64> = (0..h)
            .map(|j| p[b1 + j] + (0..ni).map(|i| xr[i] * p[w1 + i * h + j]).sum::<f64>())
            .collect();
        let h1: Vec<f64> = z1.iter().map(|&z| z.max(0.0)).collect();
        let z2: Vec<f64> = (0..h)
            .map(|j| p[b2 + j] + (0..h).map(|k| h1[k] * p[w2 + k * h + j]).sum::<f64>())
            .collect();
        let h2: Vec<f64> = z2.iter().map(|&z| z.max(0.0)).collect();
        for a in 0..no {
            q[r * no + a] = p[b3 + a] + (0..h).map(|k| h2[k] * p[w3 + k * no + a]).sum::<f64>();
        }
        let (a, d) = (usize::from(actions[r]), f64::from(dq[r]));
        g[b3 + a] += d;
        for k in 0..h {
            g[w3 + k * no + a] += h2[k] * d;
        }
        let dz2: Vec<f64> = (0..h)
            .map(|k| {
                if z2[k] >= 0.0 {
                    d * p[w3 + k * no + a]
                } else {
                    0.0
                }
            })
            .collect();
        for j in 0..h {
            g[b2 + j] += dz2[j];
            for k in 0..h {
                g[w2 + k * h + j] += h1[k] * dz2[j];
            }
        }
        let dz1: Vec<f64> = (0..h)
            .map(|k| {
                let dh: f64 = (0..h).map(|j| dz2[j] * p[w2 + k * h + j]).sum();
                if z1[k] >= 0.0 { dh } else { 0.0 }
            })
            .collect();
        for j in 0..h {
            g[b1 + j] += dz1[j];
            for i in 0..ni {
                g[w1 + i * h + j] += xr[i] * dz1[j];
            }
        }
    }
    (q, g)
}

fn assert_close(what: &str, mine: &[f32], reference: &[f64], tol: f64) {
    assert_eq!(mine.len(), reference.len(), "{what}");
    for (i, (&m, &r)) in mine.iter().zip(reference).enumerate() {
        let err = (f64::from(m) - r).abs();
        assert!(err <= tol * (1.0 + r.abs()), "{what}[{i}]: {m} vs {r}");
    }
}

/// Odd sizes exercise every block width (32, 8, 4, 1) and masks of several
/// words, in rows and (for the weight gradient) in columns.
#[test]
fn kernel_matches_a_dense_f64_reference_at_any_size() {
    for (d, rows, seed) in [
        (dims(4, 32, 4), 32, 1),
        (dims(14, 37, 3), 5, 2),
        (dims(7, 70, 7), 33, 3),
        (dims(1, 1, 1), 1, 4),
        (dims(14, 32, 3), 32, 5),
    ] {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let net = Mlp::init(d, &mut rng);
        let (x, actions, dq) = batch(&mut rng, d, rows);
        let mut trace = Trace::default();
        net.forward(&x, rows, &mut trace);
        let mut grad = vec![f32::NAN; d.param_count()];
        net.backward(
            &x,
            &trace,
            &actions,
            &dq,
            &mut grad,
            &mut Scratch::default(),
        );
        let (q, g) = dense_reference(&net, &x, rows, &actions, &dq);
        assert_close(&format!("{d:?} q"), trace.q(), &q, 1e-5);
        assert_close(&format!("{d:?} grad"), &grad, &g, 1e-5);
        // Something was learned from every tensor (with enough units that
        // some are on).
        for seg in d.segments().iter().filter(|_| d.hidden > 1) {
            assert!(
                grad[seg.range.clone()].iter().any(|&v| v != 0.0),
                "{d:?} {}",
                seg.name
            );
        }
    }
}

#[test]
fn a_row_gives_the_same_bits_alone_and_in_a_batch() {
    let d = dims(4, 32, 4);
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let net = Mlp::init(d, &mut rng);
    let (x, _, _) = batch(&mut rng, d, 32);
    let mut all = Trace::default();
    net.forward(&x, 32, &mut all);
    for r in [0, 17, 31] {
        let one = q_of(&net, &x[r * 4..(r + 1) * 4]);
        let bits = |v: &[f32]| v.iter().map(|q| q.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&one), bits(&all.q()[r * 4..(r + 1) * 4]));
    }
}

#[test]
fn relu_derivative_at_zero_is_one_and_nan_flows_through() {
    // One hidden unit per layer; l1 weight and bias 0 make z1 = 0 exactly.
    let d = dims(1, 1, 1);
    let net = Mlp::from_params(d, vec![0.0, 0.0, 1.0, 0.5, 2.0, 0.0]).unwrap();
    let mut trace = Trace::default();
    net.forward(&[3.0], 1, &mut trace);
    assert_eq!(trace.q()[0], 1.0); // relu(relu(0)·1 + 0.5)·2
    let mut grad = vec![0.0; 6];
    net.backward(
        &[3.0],
        &trace,
        &[0],
        &[1.0],
        &mut grad,
        &mut Scratch::default(),
    );
    // dz2 = 2; dz1 = 2·1 (the unit at z1 = 0 counts as on); dW1 = 3·2.
    assert_eq!(grad, [6.0, 2.0, 0.0, 2.0, 0.5, 1.0]);
    let nan = Mlp::from_params(d, vec![f32::NAN, 0.0, 1.0, 0.0, 1.0, 0.0]).unwrap();
    nan.forward(&[1.0], 1, &mut trace);
    assert!(trace.q()[0].is_nan());
}

#[test]
fn wrong_parameter_counts_are_refused() {
    let err = Mlp::from_params(dims(4, 32, 4), vec![0.0; 10]).unwrap_err();
    assert_eq!(err, "10 parameters, expected 1348 for a 4→32→32→4 network");
}

/// Double DQN with the state as next state, as the synergy DQN uses it.
fn double<'a>(q: &'a [f32], target: &'a [f32]) -> TdInputs<'a> {
    TdInputs {
        q,
        next_choose: q,
        next_value: target,
    }
}

#[test]
fn td_loss_by_hand() {
    // d = 2, batch 2, γ = 0.5.
    let q = [1.0, 3.0, 0.5, 0.2];
    let q_target = [10.0, 2.0, 4.0, 6.0];
    let mut dq = [9.0; 2];
    // Row 0: argmax q = 1 ⇒ y = 0.5 + 0.5·2 = 1.5, diff = 1 − 1.5 = −0.5, huber 0.125.
    // Row 1: argmax q = 0 ⇒ y = −1 + 0.5·4 = 1, diff = 0.2 − 1 = −0.8, huber 0.32.
    let loss = td_loss(&double(&q, &q_target), &[0, 1], &[0.5, -1.0], 0.5, &mut dq);
    assert!((loss - 0.2225).abs() < 1e-7, "{loss}");
    assert!(
        (dq[0] + 0.25).abs() < 1e-7 && (dq[1] + 0.4).abs() < 1e-7,
        "{dq:?}"
    );
    // Linear region: row 1 reward −3 ⇒ y = −1, diff = 1.2, huber 1.2 − 0.5 = 0.7,
    // gradient clamped to 1 / batch.
    let loss = td_loss(&double(&q, &q_target), &[0, 1], &[0.5, -3.0], 0.5, &mut dq);
    assert!((loss - 0.4125).abs() < 1e-7, "{loss}");
    assert!((dq[1] - 0.5).abs() < 1e-7);
    // A tie in the argmax goes to the lowest action: y = 0 + 1·7.
    let loss = td_loss(
        &double(&[2.0, 2.0], &[7.0, 100.0]),
        &[1],
        &[0.0],
        1.0,
        &mut dq[..1],
    );
    assert!((loss - 4.5).abs() < 1e-7, "{loss}");
    assert_eq!(dq[0], -1.0);
    // NaN in, NaN loss out (the learner then skips the step).
    let nan = td_loss(
        &double(&[f32::NAN, 0.0], &[0.0, 0.0]),
        &[0],
        &[0.0],
        0.9,
        &mut dq[..1],
    );
    assert!(nan.is_nan());
    // Plain DQN (the target chooses and values) and separate next states.
    let next = TdInputs {
        q: &[1.0, 3.0],
        next_choose: &[5.0, 4.0],
        next_value: &[5.0, 4.0],
    };
    // argmax next = 0 ⇒ y = 1 + 0.5·5 = 3.5, diff = q[1] − 3.5 = −0.5.
    let loss = td_loss(&next, &[1], &[1.0], 0.5, &mut dq[..1]);
    assert!(
        (loss - 0.125).abs() < 1e-7 && dq[0] == -0.5,
        "{loss} {dq:?}"
    );
}

/// The six tensors of a flat vector in candle's layout (weights `[out, in]`);
/// the policy network's tests use it too.
pub(crate) fn candle_tensors(d: MlpDims, flat: &[f32]) -> Vec<Tensor> {
    d.segments()
        .iter()
        .map(|seg| {
            let v = &flat[seg.range.clone()];
            if seg.is_weight {
                Tensor::from_slice(v, (seg.fan_in, seg.fan_out), &Device::Cpu)
                    .and_then(|t| t.t())
                    .and_then(|t| t.contiguous())
            } else {
                Tensor::from_slice(v, seg.fan_out, &Device::Cpu)
            }
            .unwrap()
        })
        .collect()
}

/// The hand-written backward pass and TD loss against candle's autograd on
/// the same network, batch and Huber loss.
#[test]
fn hand_gradients_match_candle_autograd() {
    for (d, batch, seed) in [(4, 32, 1), (7, 32, 2), (4, 5, 3)] {
        let dm = dims(d, 32, d);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let online = Mlp::init(dm, &mut rng);
        let target = Mlp::init(dm, &mut rng);
        let states: Vec<f32> = (0..batch * d)
            .map(|_| rng.random_range(-2.0..2.0))
            .collect();
        let actions: Vec<u8> = (0..batch).map(|_| rng.random_range(0..d as u8)).collect();
        let rewards: Vec<f32> = (0..batch).map(|_| rng.random_range(-3.0..3.0)).collect();
        let gamma = 0.9f32;

        // By hand.
        let (mut on, mut tg) = (Trace::default(), Trace::default());
        online.forward(&states, batch, &mut on);
        target.forward(&states, batch, &mut tg);
        let mut dq = vec![0.0; batch];
        let inputs = TdInputs {
            q: on.q(),
            next_choose: on.q(),
            next_value: tg.q(),
        };
        let loss = td_loss(&inputs, &actions, &rewards, gamma, &mut dq);
        let mut grad = vec![0.0; dm.param_count()];
        online.backward(
            &states,
            &on,
            &actions,
            &dq,
            &mut grad,
            &mut Scratch::default(),
        );

        // With candle's autograd: Vars, Linear layers, gathered Q, candle's huber.
        let x = Tensor::from_slice(&states, (batch, d), &Device::Cpu).unwrap();
        let vars: Vec<Var> = candle_tensors(dm, online.params())
            .iter()
            .map(|t| Var::from_tensor(t).unwrap())
            .collect();
        let layer =
            |i: usize, ts: &[Tensor]| Linear::new(ts[2 * i].clone(), Some(ts[2 * i + 1].clone()));
        let forward = |ts: &[Tensor]| {
            let h1 = layer(0, ts).forward(&x).unwrap().relu().unwrap();
            let h2 = layer(1, ts).forward(&h1).unwrap().relu().unwrap();
            layer(2, ts).forward(&h2).unwrap()
        };
        let var_tensors: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
        let q = forward(&var_tensors);
        let best = q.detach().argmax_keepdim(1).unwrap();
        let qt = forward(&candle_tensors(dm, target.params()));
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
        for (seg, var) in dm.segments().iter().zip(&vars) {
            let mut auto = grads.get(var).unwrap().clone();
            if seg.is_weight {
                auto = auto.t().unwrap().contiguous().unwrap();
            }
            let auto: Vec<f32> = auto.flatten_all().unwrap().to_vec1().unwrap();
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
    // Partial sums in a fixed order, as exact as a plain f64 sum here.
    let g: Vec<f32> = (0..1349).map(|i| (i as f32 * 0.37).sin()).collect();
    let plain = g
        .iter()
        .map(|&v| f64::from(v) * f64::from(v))
        .sum::<f64>()
        .sqrt();
    assert!((global_norm(&g) - plain).abs() < 1e-12 * plain);
    assert_eq!(clip_scale(5.0, 10.0), 1.0);
    assert_eq!(clip_scale(10.0, 10.0), 1.0);
    assert_eq!(clip_scale(40.0, 10.0), 0.25);
}

#[test]
fn init_is_uniform_within_one_over_sqrt_fan_in_and_seeded() {
    let d = dims(4, 32, 4);
    let a = Mlp::init(d, &mut ChaCha8Rng::seed_from_u64(5));
    let b = Mlp::init(d, &mut ChaCha8Rng::seed_from_u64(5));
    let c = Mlp::init(d, &mut ChaCha8Rng::seed_from_u64(6));
    assert_eq!(a.params(), b.params());
    assert_ne!(a.params(), c.params());
    assert_eq!(a.params().len(), 32 * 4 + 32 + 32 * 32 + 32 + 4 * 32 + 4);
    for seg in d.segments() {
        let bound = 1.0 / (seg.fan_in as f32).sqrt();
        let values = &a.params()[seg.range.clone()];
        assert!(values.iter().all(|v| v.abs() <= bound), "{}", seg.name);
        // Spread over the range, not bunched at 0.
        let max = values.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(max > 0.5 * bound, "{}", seg.name);
    }
}
