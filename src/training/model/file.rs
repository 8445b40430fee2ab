//! A model as safetensors bytes: weights plus, in the header's metadata, what
//! the model is and its standardisation — a version is whole in one file.
//!
//! Tensors `layers.{i}.weight` (`[out, in]`) and `layers.{i}.bias` (`[out]`),
//! `f32`; metadata key `kaizen.model` holds
//! `{"format":1,"spec":{…},"input":{"mean":[…],"std":[…]},"target":{…}}`.
//! The same model always gives the same bytes.

use candle_core::{Device, Tensor, Var};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

use super::{Model, ModelSpec, Standardizer, check_spec};
use crate::error::{Error, Result};

/// The model file format this build writes, and the newest it reads.
pub const MODEL_FORMAT: u64 = 1;

/// The metadata key.
const KEY: &str = "kaizen.model";

#[derive(Serialize, Deserialize)]
struct Meta {
    format: u64,
    spec: ModelSpec,
    input: Standardizer,
    target: Standardizer,
}

fn bad(reason: impl std::fmt::Display) -> Error {
    Error::invalid("model file", reason, "a kaizen model in safetensors format")
}

impl Model {
    /// The model as safetensors bytes.
    ///
    /// ```
    /// use kaizen::training::{Dataset, Model, ModelConfig, ModelSpec, Task};
    /// use rand::SeedableRng;
    /// let mut data = Dataset::new(1);
    /// data.push(&[1.0], 0.0).unwrap();
    /// data.push(&[2.0], 1.0).unwrap();
    /// let spec = ModelSpec::new(Task::Classification, vec!["x".into()],
    ///     vec!["no".into(), "yes".into()], &ModelConfig::default());
    /// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    /// let model = Model::fit_new(spec, &data, &mut rng).unwrap();
    /// let bytes = model.to_safetensors().unwrap();
    /// let back = Model::from_safetensors(&bytes).unwrap();
    /// assert_eq!(back.spec().labels, ["no", "yes"]);
    /// assert_eq!(back.to_safetensors().unwrap(), bytes);
    /// ```
    pub fn to_safetensors(&self) -> Result<Vec<u8>> {
        let meta = Meta {
            format: MODEL_FORMAT,
            spec: self.spec.clone(),
            input: self.input.clone(),
            target: self.target.clone(),
        };
        let meta = serde_json::to_string(&meta).map_err(bad)?;
        let tensors: Vec<(String, Tensor)> = self
            .vars
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let kind = if i % 2 == 0 { "weight" } else { "bias" };
                (format!("layers.{}.{kind}", i / 2), v.as_tensor().clone())
            })
            .collect();
        safetensors::serialize(tensors, Some(HashMap::from([(KEY.to_string(), meta)]))).map_err(bad)
    }

    /// A model from bytes written by [`to_safetensors`](Self::to_safetensors).
    /// A file of a newer format, a missing tensor or one of the wrong shape is
    /// an error naming what is wrong.
    pub fn from_safetensors(bytes: &[u8]) -> Result<Model> {
        let (_, header) = safetensors::SafeTensors::read_metadata(bytes).map_err(bad)?;
        let text = header
            .metadata()
            .as_ref()
            .and_then(|m| m.get(KEY))
            .ok_or_else(|| bad(format!("no {KEY:?} metadata")))?;
        let format: serde_json::Value = serde_json::from_str(text).map_err(bad)?;
        match format.get("format").and_then(|f| f.as_u64()) {
            Some(f) if f > MODEL_FORMAT => {
                return Err(Error::invalid(
                    "model file format",
                    f,
                    "a format this build reads (1); the file was written by a newer kaizen",
                ));
            }
            Some(1) => {}
            other => return Err(bad(format!("unknown format {other:?}"))),
        }
        let meta: Meta = serde_json::from_value(format).map_err(bad)?;
        check_spec(&meta.spec, &meta.input, &meta.target)?;
        let mut tensors = candle_core::safetensors::load_buffer(bytes, &Device::Cpu)?;
        let mut vars = Vec::new();
        for (i, (out, fan_in)) in meta.spec.layer_shapes().into_iter().enumerate() {
            for (kind, dims) in [("weight", vec![out, fan_in]), ("bias", vec![out])] {
                let name = format!("layers.{i}.{kind}");
                let t = tensors
                    .remove(&name)
                    .ok_or_else(|| bad(format!("no tensor {name}")))?;
                if t.dims() != dims.as_slice() || t.dtype() != candle_core::DType::F32 {
                    return Err(bad(format!(
                        "tensor {name} is {:?} {:?}, expected F32 {dims:?}",
                        t.dtype(),
                        t.dims()
                    )));
                }
                vars.push(Var::from_tensor(&t)?);
            }
        }
        if let Some(extra) = tensors.keys().next() {
            return Err(bad(format!("unexpected tensor {extra}")));
        }
        Ok(Model {
            spec: meta.spec,
            input: meta.input,
            target: meta.target,
            vars,
        })
    }
}
