//! A variant's parameters as a training pipeline's hyperparameters: a bot
//! with `[pipeline.training]` and `[variants]` trains each cycle with its
//! variant's values in place of the table's.
//!
//! | name               | sets                                   | kind            |
//! |--------------------|----------------------------------------|-----------------|
//! | `lr`               | `model.optimizer.lr`                   | float > 0       |
//! | `weight_decay`     | `model.optimizer.weight_decay`         | float ≥ 0       |
//! | `batch_size`       | `model.batch_size`                     | int ≥ 1         |
//! | `hidden`           | the width of every hidden layer        | int ≥ 1         |
//! | `layers`           | the number of hidden layers            | int ≥ 0         |
//! | `steps_per_energy` | `steps_per_energy`                     | int ≥ 1         |
//! | `clip_grad_norm`   | `clip_grad_norm`                       | float ≥ 0       |
//! | `activation`       | `model.activation`                     | a choice: `relu`, `tanh`, … |
//!
//! Any other name is an error naming it and listing these. A changed
//! `hidden`, `layers` or `activation` gives the challenger a new shape,
//! which then starts from fresh weights (a warm start needs the champion's
//! shape).
//!
//! ```
//! use kaizen::training::{Task, TrainingConfig};
//! use kaizen::variants::{Params, Value};
//! let base = TrainingConfig::new("d.csv", Task::Regression);
//! let params = Params::from([
//!     ("lr".to_string(), Value::Float(0.01)),
//!     ("hidden".to_string(), Value::Int(16)),
//! ]);
//! let c = base.with_hyperparameters(&params).unwrap();
//! assert_eq!((c.model.optimizer.lr, c.model.hidden.clone()), (0.01, vec![16, 16]));
//! let bad = Params::from([("momentum".to_string(), Value::Float(0.9))]);
//! assert!(base.with_hyperparameters(&bad).unwrap_err().to_string().contains("momentum"));
//! ```

use super::{Activation, TrainingConfig};
use crate::error::{Error, Result};
use crate::variants::{Params, Value};

/// The names a variant may set (see the module docs).
pub const HYPERPARAMETERS: [&str; 8] = [
    "lr",
    "weight_decay",
    "batch_size",
    "hidden",
    "layers",
    "steps_per_energy",
    "clip_grad_norm",
    "activation",
];

/// Refuses a name that is not one of [`HYPERPARAMETERS`]; the error names
/// `variants.space.<name>`.
pub fn check_hyperparameter(name: &str) -> Result<()> {
    if HYPERPARAMETERS.contains(&name) {
        return Ok(());
    }
    Err(Error::invalid(
        format!("variants.space.{name}"),
        name,
        format!(
            "a training hyperparameter: one of {}",
            HYPERPARAMETERS.join(", ")
        ),
    ))
}

fn number(name: &str, value: &Value) -> Result<f64> {
    value.as_f64().ok_or_else(|| {
        Error::invalid(
            format!("variants.space.{name}"),
            format!("{value:?}"),
            "a number",
        )
    })
}

fn count(name: &str, value: &Value, least: i64) -> Result<usize> {
    match value {
        Value::Int(v) if *v >= least => usize::try_from(*v)
            .map_err(|_| Error::invalid(format!("variants.space.{name}"), v, "a smaller integer")),
        other => Err(Error::invalid(
            format!("variants.space.{name}"),
            format!("{other:?}"),
            format!("an integer ≥ {least}"),
        )),
    }
}

impl TrainingConfig {
    /// This configuration with `params` (a variant's) as its
    /// hyperparameters; the result is validated.
    ///
    /// # Errors
    /// A name that is not a hyperparameter, a value of the wrong kind, or a
    /// configuration [`validate`](Self::validate) refuses; each names the key.
    pub fn with_hyperparameters(&self, params: &Params) -> Result<TrainingConfig> {
        let mut c = self.clone();
        let width = c.model.hidden.first().copied().unwrap_or(64);
        let (mut width, mut layers) = (width, c.model.hidden.len());
        for (name, value) in params {
            check_hyperparameter(name)?;
            match name.as_str() {
                "lr" => c.model.optimizer.lr = number(name, value)?,
                "weight_decay" => c.model.optimizer.weight_decay = number(name, value)?,
                "clip_grad_norm" => c.clip_grad_norm = number(name, value)?,
                "batch_size" => c.model.batch_size = count(name, value, 1)?,
                "steps_per_energy" => c.steps_per_energy = count(name, value, 1)? as u64,
                "hidden" => width = count(name, value, 1)?,
                "layers" => layers = count(name, value, 0)?,
                _ => {
                    let Value::Text(text) = value else {
                        return Err(Error::invalid(
                            "variants.space.activation",
                            format!("{value:?}"),
                            "a choice of activation names",
                        ));
                    };
                    c.model.activation =
                        serde_json::from_value::<Activation>(serde_json::json!(text)).map_err(
                            |e| Error::invalid("variants.space.activation", text, e.to_string()),
                        )?;
                }
            }
        }
        if params.contains_key("hidden") || params.contains_key("layers") {
            c.model.hidden = vec![width; layers];
        }
        c.validate().map_err(|e| {
            Error::invalid(
                "variants.space",
                e.to_string(),
                "hyperparameters the training pipeline accepts",
            )
        })?;
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::training::Task;

    fn params(pairs: &[(&str, Value)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn every_name_reaches_its_field() {
        let base = TrainingConfig::new("d.csv", Task::Regression);
        let c = base
            .with_hyperparameters(&params(&[
                ("lr", Value::Float(0.02)),
                ("weight_decay", Value::Float(0.0)),
                ("batch_size", Value::Int(8)),
                ("layers", Value::Int(3)),
                ("steps_per_energy", Value::Int(7)),
                ("clip_grad_norm", Value::Float(0.5)),
                ("activation", Value::Text("tanh".into())),
            ]))
            .unwrap();
        assert_eq!(c.model.optimizer.lr, 0.02);
        assert_eq!(c.model.optimizer.weight_decay, 0.0);
        assert_eq!(c.model.batch_size, 8);
        assert_eq!(c.model.hidden, vec![64, 64, 64]);
        assert_eq!(c.steps_per_energy, 7);
        assert_eq!(c.clip_grad_norm, 0.5);
        assert_eq!(c.model.activation, Activation::Tanh);
        // No parameter: the table's own values.
        assert_eq!(base.with_hyperparameters(&Params::new()).unwrap(), base);
    }

    #[test]
    fn bad_names_and_values_are_named() {
        let base = TrainingConfig::new("d.csv", Task::Regression);
        for (pairs, key) in [
            (
                vec![("momentum", Value::Float(0.9))],
                "variants.space.momentum",
            ),
            (
                vec![("batch_size", Value::Float(2.5))],
                "variants.space.batch_size",
            ),
            (vec![("hidden", Value::Int(0))], "variants.space.hidden"),
            (vec![("lr", Value::Text("big".into()))], "variants.space.lr"),
            (
                vec![("activation", Value::Text("nope".into()))],
                "variants.space.activation",
            ),
            (vec![("lr", Value::Float(-1.0))], "variants.space"),
        ] {
            let err = base.with_hyperparameters(&params(&pairs)).unwrap_err();
            assert!(
                matches!(&err, Error::Invalid { what, .. } if what == key),
                "{pairs:?}: {err}"
            );
        }
    }
}
