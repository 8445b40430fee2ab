//! The bot's model: a multi-layer perceptron on candle-nn.
//!
//! A [`Model`] is `input → hidden… → output` with [`candle_nn::Linear`]
//! layers and the configured activation between them; the output is one
//! number (regression) or one logit per class (classification). Inputs are
//! standardised with the [`Standardizer`] fitted when the model was first
//! created; a regression target is standardised the same way, and every
//! prediction and per-sample loss is given back in the target's own units.
//!
//! **Initialisation** follows PyTorch's `nn.Linear`: every weight and bias
//! uniform in `±1/√fan_in`, drawn layer by layer from the caller's seeded
//! `ChaCha8Rng` (candle's own `Device::Cpu.set_seed` is not available), so a
//! seed gives bit-identical weights, and — with one rayon thread, as
//! `.cargo/config.toml` sets — bit-identical training.

mod config;
mod file;
mod optim;
mod standardize;

pub use config::{
    Activation, LossKind, MAX_WIDTH, ModelConfig, OptimizerConfig, OptimizerKind, Task,
};
pub use file::MODEL_FORMAT;
pub use optim::{Optim, StepStats};
pub use standardize::Standardizer;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{Linear, Module};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::Dataset;
use crate::error::{Error, Result};

/// What a model is, apart from its weights: saved with every version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// Regression or classification.
    pub task: Task,
    /// The input features' names, in order.
    pub features: Vec<String>,
    /// The class labels, in output order (classification only; fixed when the model was created).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// The hidden layers' widths.
    pub hidden: Vec<usize>,
    /// The activation between layers.
    pub activation: Activation,
    /// The loss.
    pub loss: LossKind,
    /// Huber's threshold in the target's units.
    pub huber_delta: f64,
}

impl ModelSpec {
    /// The spec of a model for `task` on `features` (and `labels`) shaped by `config`.
    pub fn new(
        task: Task,
        features: Vec<String>,
        labels: Vec<String>,
        config: &ModelConfig,
    ) -> Self {
        ModelSpec {
            task,
            features,
            labels,
            hidden: config.hidden.clone(),
            activation: config.activation,
            loss: config.loss_for(task),
            huber_delta: config.huber_delta,
        }
    }

    /// Outputs of the network: 1, or the number of classes.
    pub fn outputs(&self) -> usize {
        match self.task {
            Task::Regression => 1,
            Task::Classification => self.labels.len(),
        }
    }

    /// `(out, in)` of each layer.
    fn layer_shapes(&self) -> Vec<(usize, usize)> {
        let mut widths = vec![self.features.len()];
        widths.extend(&self.hidden);
        widths.push(self.outputs());
        widths.windows(2).map(|w| (w[1], w[0])).collect()
    }
}

/// A trained or freshly initialised network with its standardisation.
#[derive(Debug)]
pub struct Model {
    spec: ModelSpec,
    input: Standardizer,
    target: Standardizer,
    /// Weight then bias of each layer, input side first.
    vars: Vec<Var>,
}

/// A copy of a model's weights, to go back to.
#[derive(Clone, Debug)]
pub struct Checkpoint(Vec<Tensor>);

impl Model {
    /// A new network for `spec` with seeded random weights and the given
    /// standardisation (`target` has one column; for classification use
    /// [`Standardizer::fit`] on no data: mean 0, std 1).
    pub fn new(
        spec: ModelSpec,
        input: Standardizer,
        target: Standardizer,
        rng: &mut ChaCha8Rng,
    ) -> Result<Self> {
        check_spec(&spec, &input, &target)?;
        let mut vars = Vec::new();
        for (out, fan_in) in spec.layer_shapes() {
            let bound = 1.0 / (fan_in as f32).sqrt();
            let mut draw = |n: usize| -> Vec<f32> {
                (0..n).map(|_| rng.random_range(-bound..=bound)).collect()
            };
            let w = draw(out * fan_in);
            let b = draw(out);
            vars.push(Var::from_vec(w, (out, fan_in), &Device::Cpu)?);
            vars.push(Var::from_vec(b, out, &Device::Cpu)?);
        }
        Ok(Model {
            spec,
            input,
            target,
            vars,
        })
    }

    /// A new network whose standardisation is fitted on `data` (the targets
    /// too, for regression).
    pub fn fit_new(spec: ModelSpec, data: &Dataset, rng: &mut ChaCha8Rng) -> Result<Self> {
        let width = spec.features.len();
        let mut x = Vec::with_capacity(data.len() * width);
        for i in 0..data.len() {
            x.extend_from_slice(data.row(i));
        }
        let input = Standardizer::fit(width, &x);
        let target = match spec.task {
            Task::Regression => Standardizer::fit(1, data.targets()),
            Task::Classification => Standardizer::fit(1, &[]),
        };
        Self::new(spec, input, target, rng)
    }

    /// An independent copy (new variables with the same values): a challenger
    /// warm-started from this model.
    pub fn deep_clone(&self) -> Result<Self> {
        let vars = self
            .vars
            .iter()
            .map(|v| Var::from_tensor(&v.as_tensor().copy()?))
            .collect::<candle_core::Result<_>>()?;
        Ok(Model {
            spec: self.spec.clone(),
            input: self.input.clone(),
            target: self.target.clone(),
            vars,
        })
    }

    /// What the model is.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// The input standardisation.
    pub fn input_scale(&self) -> &Standardizer {
        &self.input
    }

    /// The target standardisation (mean 0, std 1 for classification).
    pub fn target_scale(&self) -> &Standardizer {
        &self.target
    }

    /// The trainable variables: weight then bias of each layer.
    pub fn vars(&self) -> &[Var] {
        &self.vars
    }

    /// Number of trainable numbers.
    pub fn param_count(&self) -> usize {
        self.vars.iter().map(|v| v.elem_count()).sum()
    }

    /// A copy of the current weights.
    pub fn checkpoint(&self) -> Result<Checkpoint> {
        Ok(Checkpoint(
            self.vars
                .iter()
                .map(|v| v.as_tensor().copy())
                .collect::<candle_core::Result<_>>()?,
        ))
    }

    /// Puts back the weights of `checkpoint` (taken from this model).
    pub fn restore(&self, checkpoint: &Checkpoint) -> Result<()> {
        for (v, t) in self.vars.iter().zip(&checkpoint.0) {
            v.set(t)?;
        }
        Ok(())
    }

    /// The raw outputs for standardised inputs `x` (`[batch, features]`):
    /// the standardised prediction, or the logits.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let layers = self.vars.len() / 2;
        let mut h = x.clone();
        for (i, wb) in self.vars.chunks(2).enumerate() {
            let linear = Linear::new(wb[0].as_tensor().clone(), Some(wb[1].as_tensor().clone()));
            h = linear.forward(&h)?;
            if i + 1 < layers {
                h = activate(self.spec.activation, &h)?;
            }
        }
        Ok(h)
    }

    /// The standardised inputs and training targets of the rows `idx` of
    /// `data`: `x` as `f32 [n, features]`; `y` as `f32 [n, 1]` (standardised
    /// value) or `u32 [n]` (class).
    pub fn batch(&self, data: &Dataset, idx: &[usize]) -> Result<(Tensor, Tensor)> {
        let width = self.spec.features.len();
        let mut x = Vec::with_capacity(idx.len() * width);
        for &i in idx {
            for (j, &v) in data.row(i).iter().enumerate() {
                x.push(self.input.apply(j, v) as f32);
            }
        }
        let x = Tensor::from_vec(x, (idx.len(), width), &Device::Cpu)?;
        let y = data.targets();
        let y = match self.spec.task {
            Task::Regression => {
                let y: Vec<f32> = idx
                    .iter()
                    .map(|&i| self.target.apply(0, y[i]) as f32)
                    .collect();
                Tensor::from_vec(y, (idx.len(), 1), &Device::Cpu)?
            }
            Task::Classification => {
                let y: Vec<u32> = idx.iter().map(|&i| y[i] as u32).collect();
                Tensor::from_vec(y, idx.len(), &Device::Cpu)?
            }
        };
        Ok((x, y))
    }

    /// The training loss (a scalar tensor, on the standardised scale) of
    /// outputs `out` against targets `y` from [`batch`](Self::batch).
    pub fn loss(&self, out: &Tensor, y: &Tensor) -> Result<Tensor> {
        let loss = match self.spec.loss {
            LossKind::CrossEntropy => candle_nn::loss::cross_entropy(out, y)?,
            LossKind::Mse => candle_nn::loss::mse(out, y)?,
            LossKind::Mae => (out - y)?.abs()?.mean_all()?,
            LossKind::Huber => {
                // 0.5·q² + δ·(r − q) with r = |e|, q = min(r, δ): Huber without a branch.
                let delta = self.spec.huber_delta / self.target.std[0];
                let r = (out - y)?.abs()?;
                let q = r.minimum(delta)?;
                ((q.sqr()? * 0.5)? + ((r - &q)? * delta)?)?.mean_all()?
            }
        };
        Ok(loss)
    }

    /// The factor that turns a training loss (standardised scale) into the
    /// target's units: σ² for MSE and Huber, σ for MAE, 1 for cross-entropy.
    pub fn loss_unit(&self) -> f64 {
        let sd = self.target.std[0];
        match self.spec.loss {
            LossKind::Mse | LossKind::Huber => sd * sd,
            LossKind::Mae => sd,
            LossKind::CrossEntropy => 1.0,
        }
    }

    /// Each row's loss on `data`, in the target's own units (the squared
    /// error for MSE, the cross-entropy in nats for classification).
    pub fn per_sample_losses(&self, data: &Dataset) -> Result<Vec<f64>> {
        let outputs = self.outputs(data)?;
        let y = data.targets();
        Ok(outputs
            .iter()
            .zip(y)
            .map(|(out, &y)| self.sample_loss(out, y))
            .collect())
    }

    /// The prediction of each row of `data`: the value (regression) or the
    /// class index (classification).
    pub fn predict(&self, data: &Dataset) -> Result<Vec<f64>> {
        Ok(self
            .outputs(data)?
            .iter()
            .map(|out| match self.spec.task {
                Task::Regression => self.target.invert(0, out[0]),
                Task::Classification => argmax(out) as f64,
            })
            .collect())
    }

    /// The raw outputs of every row of `data`, as `f64`.
    fn outputs(&self, data: &Dataset) -> Result<Vec<Vec<f64>>> {
        if data.is_empty() {
            return Ok(Vec::new());
        }
        let idx: Vec<usize> = (0..data.len()).collect();
        let (x, _) = self.batch(data, &idx)?;
        let out = self.forward(&x)?.to_dtype(DType::F64)?.to_vec2::<f64>()?;
        Ok(out)
    }

    fn sample_loss(&self, out: &[f64], y: f64) -> f64 {
        match self.spec.loss {
            LossKind::CrossEntropy => {
                let max = out.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let log_sum = out.iter().map(|o| (o - max).exp()).sum::<f64>().ln() + max;
                log_sum - out[y as usize]
            }
            kind => {
                let e = (self.target.invert(0, out[0]) - y).abs();
                match kind {
                    LossKind::Mae => e,
                    LossKind::Huber if e > self.spec.huber_delta => {
                        self.spec.huber_delta * (e - 0.5 * self.spec.huber_delta)
                    }
                    LossKind::Huber => 0.5 * e * e,
                    _ => e * e,
                }
            }
        }
    }
}

/// Index of the largest value (the first of ties).
pub(crate) fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

fn activate(a: Activation, h: &Tensor) -> Result<Tensor> {
    Ok(match a {
        Activation::Relu => h.relu()?,
        Activation::Tanh => h.tanh()?,
        Activation::Sigmoid => candle_nn::ops::sigmoid(h)?,
        Activation::Gelu => h.gelu_erf()?,
        Activation::Silu => h.silu()?,
    })
}

fn check_spec(spec: &ModelSpec, input: &Standardizer, target: &Standardizer) -> Result<()> {
    if spec.features.is_empty() {
        return Err(Error::invalid(
            "model features",
            "none",
            "at least one feature",
        ));
    }
    if spec.task == Task::Classification && spec.labels.len() < 2 {
        return Err(Error::invalid(
            "model labels",
            format!("{:?}", spec.labels),
            "at least two distinct target values for classification",
        ));
    }
    if spec.hidden.iter().any(|w| !(1..=MAX_WIDTH).contains(w)) {
        return Err(Error::invalid(
            "model.hidden",
            format!("{:?}", spec.hidden),
            "layer widths in 1..=65536",
        ));
    }
    if input.width() != spec.features.len() || input.std.len() != input.width() {
        return Err(Error::invalid(
            "model input standardisation",
            format!("{} columns", input.width()),
            format!("{} columns", spec.features.len()),
        ));
    }
    if target.width() != 1 || target.std.len() != 1 {
        return Err(Error::invalid(
            "model target standardisation",
            format!("{} columns", target.width()),
            "1 column",
        ));
    }
    let scales = input
        .mean
        .iter()
        .chain(&input.std)
        .chain(&target.mean)
        .chain(&target.std);
    if scales.clone().any(|v| !v.is_finite())
        || input.std.iter().chain(&target.std).any(|s| *s <= 0.0)
    {
        return Err(Error::invalid(
            "model standardisation",
            "a non-finite mean or a std ≤ 0",
            "finite means and positive standard deviations",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
