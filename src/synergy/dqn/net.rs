//! The Q-network `d → 32 → ReLU → 32 → ReLU → d` and its hand-written backprop.
//!
//! The parameters live in one flat `Vec<f32>` in the order
//! `l1.weight [32, d]`, `l1.bias [32]`, `l2.weight [32, 32]`, `l2.bias [32]`,
//! `l3.weight [d, 32]`, `l3.bias [d]` — the layout of the optimiser moments
//! and of the gradient as well. The forward pass runs through three
//! `candle_nn::Linear` layers built from that vector; after the optimiser
//! changes the vector, [`Mlp::rebuild`] makes new layers from it.
//!
//! The backward pass is written out with candle ops instead of candle's
//! autograd, whose bookkeeping dominates for a network this small. `tests.rs` checks it against candle's autograd. The ReLU derivative
//! at exactly 0 is taken as 1, as candle's autograd does.

use candle_core::{DType, Device, Tensor};
use candle_nn::{Linear, Module};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use std::ops::Range;

use crate::Result;

/// Width of the two hidden layers.
pub(super) const HIDDEN: usize = 32;

/// One tensor of a network: its name, shape and place in the flat vector.
pub(super) struct Segment {
    /// `l1.weight`, `l1.bias`, ….
    pub name: &'static str,
    /// Input width of the tensor's layer.
    pub fan_in: usize,
    shape: [usize; 2],
    rank: usize,
    /// Range in the flat vector.
    pub range: Range<usize>,
}

impl Segment {
    /// `[out, in]` for a weight, `[out]` for a bias.
    pub fn dims(&self) -> &[usize] {
        &self.shape[..self.rank]
    }
}

/// The six tensors of a network with `d` inputs and outputs, in vector order.
pub(super) fn segments(d: usize) -> [Segment; 6] {
    const NAMES: [&str; 6] = [
        "l1.weight",
        "l1.bias",
        "l2.weight",
        "l2.bias",
        "l3.weight",
        "l3.bias",
    ];
    // (out, in) of each layer.
    let layers = [(HIDDEN, d), (HIDDEN, HIDDEN), (d, HIDDEN)];
    let mut at = 0;
    std::array::from_fn(|i| {
        let (out, fan_in) = layers[i / 2];
        let is_bias = i % 2 == 1;
        let (rank, len) = if is_bias { (1, out) } else { (2, out * fan_in) };
        at += len;
        Segment {
            name: NAMES[i],
            fan_in,
            shape: [out, fan_in],
            rank,
            range: at - len..at,
        }
    })
}

/// Number of parameters of a network with `d` inputs and outputs.
pub(super) fn param_count(d: usize) -> usize {
    segments(d)[5].range.end
}

/// Intermediate values of a forward pass, kept for the backward pass.
pub(super) struct Trace {
    z1: Tensor,
    h1: Tensor,
    z2: Tensor,
    h2: Tensor,
    /// The Q-values, `[batch, d]`.
    pub q: Tensor,
}

/// A Q-network: flat parameters and the candle layers built from them.
#[derive(Clone, Debug)]
pub(super) struct Mlp {
    d: usize,
    params: Vec<f32>,
    layers: [Linear; 3],
}

impl Mlp {
    /// A network with weights and biases drawn uniformly from `±1/√fan_in`
    /// (candle-nn's default initialisation), layer by layer, from `rng`.
    pub fn init(d: usize, rng: &mut ChaCha8Rng) -> Result<Self> {
        let mut params = Vec::with_capacity(param_count(d));
        for seg in segments(d) {
            let bound = 1.0 / (seg.fan_in as f32).sqrt();
            params.extend((0..seg.range.len()).map(|_| rng.random_range(-bound..bound)));
        }
        Self::from_params(d, params)
    }

    /// A network from its flat parameters (length [`param_count`]`(d)`).
    pub fn from_params(d: usize, params: Vec<f32>) -> Result<Self> {
        let layers = build_layers(d, &params)?;
        Ok(Self { d, params, layers })
    }

    /// The flat parameters.
    pub fn params(&self) -> &[f32] {
        &self.params
    }

    /// The flat parameters, to be changed in place; call [`rebuild`](Self::rebuild) after.
    pub fn params_mut(&mut self) -> &mut [f32] {
        &mut self.params
    }

    /// Makes the layers match the flat parameters again.
    pub fn rebuild(&mut self) -> Result<()> {
        self.layers = build_layers(self.d, &self.params)?;
        Ok(())
    }

    /// Q-values of the rows of `x` (`[batch, d]`).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.forward_trace(x)?.q)
    }

    /// Q-values of the rows of `x`, keeping what the backward pass needs.
    pub fn forward_trace(&self, x: &Tensor) -> Result<Trace> {
        let [l1, l2, l3] = &self.layers;
        let z1 = l1.forward(x)?;
        let h1 = z1.relu()?;
        let z2 = l2.forward(&h1)?;
        let h2 = z2.relu()?;
        let q = l3.forward(&h2)?;
        Ok(Trace { z1, h1, z2, h2, q })
    }

    /// Writes `dL/dθ` into `grad` (flat layout) for the loss gradient `dq =
    /// dL/dQ` (`[batch, d]`) of the forward pass `trace` over `x`.
    pub fn backward(&self, x: &Tensor, trace: &Trace, dq: &Tensor, grad: &mut [f32]) -> Result<()> {
        let [_, l2, l3] = &self.layers;
        let dw3 = dq.t()?.matmul(&trace.h2)?;
        let db3 = dq.sum(0)?;
        let dh2 = dq.matmul(l3.weight())?.mul(&relu_grad(&trace.z2)?)?;
        let dw2 = dh2.t()?.matmul(&trace.h1)?;
        let db2 = dh2.sum(0)?;
        let dh1 = dh2.matmul(l2.weight())?.mul(&relu_grad(&trace.z1)?)?;
        let dw1 = dh1.t()?.matmul(x)?;
        let db1 = dh1.sum(0)?;
        for (seg, g) in segments(self.d).iter().zip([dw1, db1, dw2, db2, dw3, db3]) {
            grad[seg.range.clone()].copy_from_slice(&g.flatten_all()?.to_vec1::<f32>()?);
        }
        Ok(())
    }
}

/// 1 where `z ≥ 0`, else 0.
fn relu_grad(z: &Tensor) -> Result<Tensor> {
    Ok(z.ge(0f32)?.to_dtype(DType::F32)?)
}

fn build_layers(d: usize, params: &[f32]) -> Result<[Linear; 3]> {
    let [w1, b1, w2, b2, w3, b3] = tensors_of(d, params)?;
    Ok([
        Linear::new(w1, Some(b1)),
        Linear::new(w2, Some(b2)),
        Linear::new(w3, Some(b3)),
    ])
}

/// The six tensors of the flat vector `flat` (parameters or moments).
pub(super) fn tensors_of(d: usize, flat: &[f32]) -> Result<[Tensor; 6]> {
    if flat.len() != param_count(d) {
        return Err(crate::Error::invalid(
            "q-network parameters",
            format!("{} values", flat.len()),
            format!("{} values for {d} keys", param_count(d)),
        ));
    }
    let segs = segments(d);
    let tensor = |i: usize| {
        let seg: &Segment = &segs[i];
        Tensor::from_slice(&flat[seg.range.clone()], seg.dims(), &Device::Cpu)
    };
    Ok([
        tensor(0)?,
        tensor(1)?,
        tensor(2)?,
        tensor(3)?,
        tensor(4)?,
        tensor(5)?,
    ])
}

/// The flat vector stored as tensors `<prefix>.l1.weight`, … in `tensors`;
/// `Err` names what is missing, misshapen or not finite.
pub(super) fn flat_from(
    tensors: &HashMap<String, Tensor>,
    prefix: &str,
    d: usize,
) -> std::result::Result<Vec<f32>, String> {
    let mut flat = Vec::with_capacity(param_count(d));
    for seg in segments(d) {
        let name = format!("{prefix}.{}", seg.name);
        let t = tensors
            .get(&name)
            .ok_or_else(|| format!("tensor {name} is missing"))?;
        if t.dtype() != DType::F32 || t.dims() != seg.dims() {
            return Err(format!(
                "tensor {name} is {:?} {:?}, expected F32 {:?}",
                t.dtype(),
                t.dims(),
                seg.dims()
            ));
        }
        let values = t
            .flatten_all()
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(|e| format!("tensor {name}: {e}"))?;
        if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
            return Err(format!("tensor {name} holds {bad}"));
        }
        flat.extend(values);
    }
    Ok(flat)
}

/// One double-DQN step's loss and `dL/dQ`, in plain Rust.
///
/// `q` and `q_target` are the online and target Q-values of the batch
/// (`[batch, d]`, row-major). The next state of every transition is its
/// state (SPEC §5 stores `(s, i, r, s)`), so `argmax_a Q_online(s', a)` is
/// read from `q` itself. Per row: `y = r + γ·q_target[argmax q]`,
/// `diff = q[a] − y`; the loss is the mean Huber loss (δ = 1) of the diffs and
/// `dq[a] = clamp(diff, −1, 1) / batch`, 0 elsewhere. Ties in the argmax go to
/// the lowest action.
pub(super) fn td_loss(
    q: &[f32],
    q_target: &[f32],
    actions: &[u8],
    rewards: &[f32],
    gamma: f32,
    dq: &mut [f32],
) -> f64 {
    let batch = actions.len();
    let d = q.len() / batch.max(1);
    dq.fill(0.0);
    let mut loss = 0.0;
    for (row, (&a, &r)) in actions.iter().zip(rewards).enumerate() {
        let qs = &q[row * d..(row + 1) * d];
        let best = (1..d).fold(0, |best, j| if qs[j] > qs[best] { j } else { best });
        let y = r + gamma * q_target[row * d + best];
        let diff = qs[usize::from(a)] - y;
        let abs = f64::from(diff.abs());
        loss += if abs <= 1.0 {
            0.5 * abs * abs
        } else {
            abs - 0.5
        };
        dq[row * d + usize::from(a)] = diff.clamp(-1.0, 1.0) / batch as f32;
    }
    loss / batch as f64
}
