//! [`Optim`]: one optimizer step of a [`Model`], with gradient-norm clipping.

use candle_core::Tensor;
use candle_nn::{AdamW, Optimizer, ParamsAdamW, SGD};

use super::{Model, OptimizerConfig, OptimizerKind};
use crate::error::Result;

/// The optimizer of one training run (its moments start at 0 each run).
#[derive(Debug)]
pub struct Optim {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    AdamW(AdamW),
    Sgd(SGD),
}

/// What one step saw.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepStats {
    /// The batch's loss before the step (standardised scale).
    pub loss: f64,
    /// The global L2 norm of the gradient, before clipping.
    pub grad_norm: f64,
    /// Whether the gradient was scaled down to the clipping norm.
    pub clipped: bool,
    /// Whether the weights changed: `false` when the loss or the gradient was
    /// not finite (the step is refused and the monitor told).
    pub applied: bool,
}

impl Optim {
    /// An optimizer over `model`'s variables.
    ///
    /// ```
    /// use kaizen::training::{Dataset, Model, ModelConfig, ModelSpec, Optim, Task};
    /// use rand::SeedableRng;
    /// let mut data = Dataset::new(1);
    /// for i in 0..8 {
    ///     data.push(&[i as f64], 2.0 * i as f64).unwrap();
    /// }
    /// let spec = ModelSpec::new(Task::Regression, vec!["x".into()], vec![], &ModelConfig::default());
    /// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    /// let model = Model::fit_new(spec, &data, &mut rng).unwrap();
    /// let mut opt = Optim::new(&Default::default(), &model).unwrap();
    /// let (x, y) = model.batch(&data, &[0, 1, 2, 3]).unwrap();
    /// let first = opt.step(&model, &x, &y, Some(1.0)).unwrap();
    /// let mut last = first;
    /// for _ in 0..50 {
    ///     last = opt.step(&model, &x, &y, Some(1.0)).unwrap();
    /// }
    /// assert!(last.loss < first.loss);
    /// ```
    pub fn new(config: &OptimizerConfig, model: &Model) -> Result<Self> {
        let vars = model.vars().to_vec();
        let inner = match config.kind {
            OptimizerKind::Adamw => Inner::AdamW(AdamW::new(
                vars,
                ParamsAdamW {
                    lr: config.lr,
                    beta1: config.beta1,
                    beta2: config.beta2,
                    eps: config.eps,
                    weight_decay: config.weight_decay,
                },
            )?),
            OptimizerKind::Sgd => Inner::Sgd(SGD::new(vars, config.lr)?),
        };
        Ok(Optim { inner })
    }

    /// The learning rate now.
    pub fn lr(&self) -> f64 {
        match &self.inner {
            Inner::AdamW(o) => o.learning_rate(),
            Inner::Sgd(o) => o.learning_rate(),
        }
    }

    /// Sets the learning rate of the next steps.
    pub fn set_lr(&mut self, lr: f64) {
        match &mut self.inner {
            Inner::AdamW(o) => o.set_learning_rate(lr),
            Inner::Sgd(o) => o.set_learning_rate(lr),
        }
    }

    /// One step of `model` on the batch `(x, y)` (from [`Model::batch`]):
    /// forward, loss, backward, clip the gradient's global norm to `clip`
    /// (if any), update. A non-finite loss or gradient changes nothing.
    pub fn step(
        &mut self,
        model: &Model,
        x: &Tensor,
        y: &Tensor,
        clip: Option<f64>,
    ) -> Result<StepStats> {
        let out = model.forward(x)?;
        let loss_t = model.loss(&out, y)?;
        let loss = f64::from(loss_t.to_scalar::<f32>()?);
        let mut stats = StepStats {
            loss,
            grad_norm: f64::NAN,
            clipped: false,
            applied: false,
        };
        if !loss.is_finite() {
            return Ok(stats);
        }
        let mut grads = loss_t.backward()?;
        let mut sq = 0.0;
        for v in model.vars() {
            if let Some(g) = grads.get(v) {
                sq += f64::from(g.sqr()?.sum_all()?.to_scalar::<f32>()?);
            }
        }
        stats.grad_norm = sq.sqrt();
        if !stats.grad_norm.is_finite() {
            return Ok(stats);
        }
        if let Some(max) = clip
            && stats.grad_norm > max
        {
            let scale = max / stats.grad_norm;
            for v in model.vars() {
                if let Some(g) = grads.remove(v) {
                    grads.insert(v, (g * scale)?);
                }
            }
            stats.clipped = true;
        }
        match &mut self.inner {
            Inner::AdamW(o) => o.step(&grads)?,
            Inner::Sgd(o) => o.step(&grads)?,
        }
        stats.applied = true;
        Ok(stats)
    }
}
