//! What a model is: [`Task`], [`ModelConfig`] and its parts.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, ensure_positive};

/// What the model predicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// A number.
    Regression,
    /// One of the target's distinct values (numbers or text).
    Classification,
}

/// The non-linearity between hidden layers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// `max(0, x)`.
    #[default]
    Relu,
    /// `tanh(x)`.
    Tanh,
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// `x·Φ(x)` (the exact, erf-based form).
    Gelu,
    /// `x·sigmoid(x)`.
    Silu,
}

/// The loss the model is trained on and judged by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    /// Mean squared error (regression's default).
    Mse,
    /// Mean absolute error.
    Mae,
    /// Huber loss with [`ModelConfig::huber_delta`].
    Huber,
    /// Cross-entropy of the softmax (classification's only loss).
    CrossEntropy,
}

/// Which optimizer takes the steps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    /// AdamW (decoupled weight decay), candle-nn's.
    #[default]
    Adamw,
    /// Plain stochastic gradient descent (no momentum), candle-nn's.
    Sgd,
}

/// The optimizer and its settings; defaults are PyTorch's `AdamW` defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OptimizerConfig {
    /// `adamw` (default) or `sgd`.
    pub kind: OptimizerKind,
    /// The base learning rate (default 1e-3).
    pub lr: f64,
    /// Decoupled weight decay (AdamW only; default 0.01).
    pub weight_decay: f64,
    /// First-moment decay (default 0.9).
    pub beta1: f64,
    /// Second-moment decay (default 0.999).
    pub beta2: f64,
    /// Denominator guard (default 1e-8).
    pub eps: f64,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        OptimizerConfig {
            kind: OptimizerKind::Adamw,
            lr: 1e-3,
            weight_decay: 0.01,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

impl OptimizerConfig {
    /// Checks every setting and names the first that is wrong.
    pub fn validate(&self) -> Result<()> {
        ensure_positive("model.optimizer.lr", self.lr)?;
        ensure_positive("model.optimizer.eps", self.eps)?;
        for (what, v) in [
            ("model.optimizer.beta1", self.beta1),
            ("model.optimizer.beta2", self.beta2),
        ] {
            if !(0.0..1.0).contains(&v) {
                return Err(Error::invalid(what, v, "a number in [0, 1)"));
            }
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(Error::invalid(
                "model.optimizer.weight_decay",
                self.weight_decay,
                "a number ≥ 0",
            ));
        }
        Ok(())
    }
}

/// The shape of the network and how it learns. `Default` gives two hidden
/// layers of 64 with ReLU, the task's default loss, AdamW at 1e-3 and
/// batches of 32.
///
/// ```
/// use kaizen::training::{LossKind, ModelConfig, Task};
/// let c: ModelConfig = toml::from_str("hidden = [16]\nloss = \"mae\"").unwrap();
/// assert_eq!(c.hidden, [16]);
/// assert_eq!(c.loss_for(Task::Regression), LossKind::Mae);
/// assert!(c.validate(Task::Classification).is_err()); // MAE cannot train a classifier
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// The widths of the hidden layers, input side first (default `[64, 64]`).
    pub hidden: Vec<usize>,
    /// The activation after each hidden layer (default `relu`).
    pub activation: Activation,
    /// The loss; when unset, `mse` for regression and `cross_entropy` for classification.
    pub loss: Option<LossKind>,
    /// Huber's threshold, in the target's units (default 1.0).
    pub huber_delta: f64,
    /// The optimizer.
    pub optimizer: OptimizerConfig,
    /// Samples per optimizer step (default 32; a smaller training set is used whole).
    pub batch_size: usize,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            hidden: vec![64, 64],
            activation: Activation::Relu,
            loss: None,
            huber_delta: 1.0,
            optimizer: OptimizerConfig::default(),
            batch_size: 32,
        }
    }
}

/// Widest hidden layer accepted.
pub const MAX_WIDTH: usize = 1 << 16;

impl ModelConfig {
    /// The loss used for `task`.
    pub fn loss_for(&self, task: Task) -> LossKind {
        self.loss.unwrap_or(match task {
            Task::Regression => LossKind::Mse,
            Task::Classification => LossKind::CrossEntropy,
        })
    }

    /// Checks every setting for `task` and names the first that is wrong.
    pub fn validate(&self, task: Task) -> Result<()> {
        if self.hidden.len() > 16 {
            return Err(Error::invalid(
                "model.hidden",
                format!("{} layers", self.hidden.len()),
                "at most 16 hidden layers",
            ));
        }
        if let Some(w) = self.hidden.iter().find(|w| !(1..=MAX_WIDTH).contains(*w)) {
            return Err(Error::invalid(
                "model.hidden",
                w,
                "layer widths in 1..=65536",
            ));
        }
        match (task, self.loss_for(task)) {
            (Task::Classification, LossKind::CrossEntropy) => {}
            (Task::Classification, other) => {
                return Err(Error::invalid(
                    "model.loss",
                    format!("{other:?}").to_lowercase(),
                    "cross_entropy for classification",
                ));
            }
            (Task::Regression, LossKind::CrossEntropy) => {
                return Err(Error::invalid(
                    "model.loss",
                    "cross_entropy",
                    "mse, mae or huber for regression",
                ));
            }
            (Task::Regression, _) => {}
        }
        ensure_positive("model.huber_delta", self.huber_delta)?;
        if self.batch_size == 0 {
            return Err(Error::invalid("model.batch_size", 0, "a whole number ≥ 1"));
        }
        self.optimizer.validate()
    }
}
