//! Search spaces: the parameters a variant may set, with their bounds.
//!
//! Written in a spec as `[variants.space]`, one entry per parameter:
//!
//! ```toml
//! [variants.space]
//! lr = { float = [1e-4, 0.1], log = true }  # a float in [1e-4, 0.1], searched on a log scale
//! layers = { int = [1, 8] }                  # an integer in [1, 8]
//! optimizer = { choice = ["sgd", "adam", "adamw"] } # one of these, in this order (neighbours)
//! ```
//!
//! A set of values, one per parameter, is [`Params`]: handed to a command as
//! JSON (`KAIZEN_PARAMS`) and to training as its hyperparameters.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::{Error, Result};

/// One parameter as written in `[variants.space]`: exactly one of `float`,
/// `int` or `choice`, and `log` for a number searched on a log scale.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamSpec {
    /// `[min, max]` of a float.
    pub float: Option<[f64; 2]>,
    /// `[min, max]` of an integer.
    pub int: Option<[i64; 2]>,
    /// The values of a categorical parameter, in neighbour order.
    pub choice: Option<Vec<String>>,
    /// Search on a log scale (numbers only; `min` must be above 0).
    #[serde(default)]
    pub log: bool,
}

/// A checked parameter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Param {
    /// A float in `[min, max]`.
    Float {
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
        /// Log scale.
        log: bool,
    },
    /// An integer in `[min, max]`.
    Int {
        /// Lower bound.
        min: i64,
        /// Upper bound.
        max: i64,
        /// Log scale.
        log: bool,
    },
    /// One of these values; neighbours are adjacent entries.
    Choice(Vec<String>),
}

/// One parameter's value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// An integer parameter's value.
    Int(i64),
    /// A float parameter's value.
    Float(f64),
    /// A choice.
    Text(String),
}

/// The values of every parameter of a space, by name.
pub type Params = BTreeMap<String, Value>;

/// The parameters a variant may set, by name (sorted).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Space {
    params: BTreeMap<String, Param>,
}

impl ParamSpec {
    /// The checked parameter; errors name `variants.space.<name>`.
    pub fn check(&self, name: &str) -> Result<Param> {
        let what = || format!("variants.space.{name}");
        let bad =
            |value: String, expected: &'static str| Err(Error::invalid(what(), value, expected));
        let one_of = |expected| bad(format!("{self:?}"), expected);
        match (&self.float, &self.int, &self.choice) {
            (Some([min, max]), None, None) => {
                self.bounds(name, *min, *max, "float")?;
                Ok(Param::Float {
                    min: *min,
                    max: *max,
                    log: self.log,
                })
            }
            (None, Some([min, max]), None) => {
                self.bounds(name, *min as f64, *max as f64, "int")?;
                Ok(Param::Int {
                    min: *min,
                    max: *max,
                    log: self.log,
                })
            }
            (None, None, Some(options)) => {
                if options.is_empty() {
                    return bad(
                        "[]".into(),
                        "choice = [\"a\", \"b\", …] with at least one value",
                    );
                }
                if self.log {
                    return bad("log = true".into(), "no log scale on a choice");
                }
                for (i, o) in options.iter().enumerate() {
                    if options[..i].contains(o) {
                        return bad(format!("{o:?} twice"), "each choice once");
                    }
                }
                Ok(Param::Choice(options.clone()))
            }
            _ => one_of("exactly one of float = [min, max], int = [min, max] or choice = [...]"),
        }
    }
}

impl ParamSpec {
    /// Checks the bounds of a number (`kind` is `float` or `int`).
    fn bounds(&self, name: &str, min: f64, max: f64, kind: &str) -> Result<()> {
        let bad = |value: String, expected: String| {
            Err(Error::invalid(
                format!("variants.space.{name}"),
                value,
                expected,
            ))
        };
        if !(min.is_finite() && max.is_finite() && min < max) {
            return bad(
                format!("[{min}, {max}]"),
                format!("{kind} = [min, max] with finite min < max"),
            );
        }
        if self.log && min <= 0.0 {
            return bad(
                format!("[{min}, {max}] with log"),
                "min > 0 on a log scale".into(),
            );
        }
        Ok(())
    }
}

impl Space {
    /// The checked space of `[variants.space]`; errors name the key.
    pub fn from_specs(specs: &BTreeMap<String, ParamSpec>) -> Result<Self> {
        let params = specs
            .iter()
            .map(|(name, spec)| Ok((name.clone(), spec.check(name)?)))
            .collect::<Result<_>>()?;
        Ok(Space { params })
    }

    /// The parameters, by name.
    pub fn params(&self) -> &BTreeMap<String, Param> {
        &self.params
    }

    /// Whether it has no parameter (only code variants are searched).
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// Checks that `params` sets every parameter of this space, within its
    /// bounds, and nothing else; errors name `params.<name>`.
    pub fn check(&self, params: &Params) -> Result<()> {
        if let Some(extra) = params.keys().find(|k| !self.params.contains_key(*k)) {
            return Err(Error::invalid(
                format!("params.{extra}"),
                "a value",
                "only parameters of the search space",
            ));
        }
        for (name, param) in &self.params {
            let what = || format!("params.{name}");
            let value = params
                .get(name)
                .ok_or_else(|| Error::invalid(what(), "nothing", "a value"))?;
            let ok = match (param, value) {
                (Param::Float { min, max, .. }, Value::Float(v)) => (*min..=*max).contains(v),
                (Param::Float { min, max, .. }, Value::Int(v)) => {
                    (*min..=*max).contains(&(*v as f64))
                }
                (Param::Int { min, max, .. }, Value::Int(v)) => (*min..=*max).contains(v),
                (Param::Choice(options), Value::Text(v)) => options.contains(v),
                _ => false,
            };
            if !ok {
                return Err(Error::invalid(
                    what(),
                    format!("{value:?}"),
                    "a value within the parameter's bounds",
                ));
            }
        }
        Ok(())
    }
}

impl Value {
    /// The value as a float (a choice has none).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(v) => Some(*v as f64),
            Value::Float(v) => Some(*v),
            Value::Text(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> BTreeMap<String, ParamSpec> {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn parses_floats_ints_and_choices() {
        let space = Space::from_specs(&spec(
            "lr = { float = [1e-4, 0.1], log = true }\nlayers = { int = [1, 8] }\nopt = { choice = [\"sgd\", \"adam\"] }",
        ))
        .unwrap();
        assert_eq!(
            space.params()["lr"],
            Param::Float {
                min: 1e-4,
                max: 0.1,
                log: true
            }
        );
        assert_eq!(
            space.params()["layers"],
            Param::Int {
                min: 1,
                max: 8,
                log: false
            }
        );
        assert_eq!(
            space.params()["opt"],
            Param::Choice(vec!["sgd".into(), "adam".into()])
        );
    }

    #[test]
    fn bad_entries_name_the_key() {
        for (text, key) in [
            ("lr = { float = [0.1, 0.01] }", "variants.space.lr"),
            (
                "lr = { float = [0.0, 1.0], log = true }",
                "variants.space.lr",
            ),
            ("n = { int = [3, 3] }", "variants.space.n"),
            (
                "n = { int = [1, 3], float = [1.0, 2.0] }",
                "variants.space.n",
            ),
            ("n = {}", "variants.space.n"),
            ("c = { choice = [] }", "variants.space.c"),
            ("c = { choice = [\"a\", \"a\"] }", "variants.space.c"),
            ("c = { choice = [\"a\"], log = true }", "variants.space.c"),
        ] {
            let err = Space::from_specs(&spec(text)).unwrap_err();
            assert!(
                matches!(&err, Error::Invalid { what, .. } if what == key),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn check_refuses_missing_extra_and_out_of_bounds_values() {
        let space =
            Space::from_specs(&spec("n = { int = [1, 3] }\nc = { choice = [\"a\"] }")).unwrap();
        let mut p = Params::new();
        p.insert("n".into(), Value::Int(2));
        p.insert("c".into(), Value::Text("a".into()));
        space.check(&p).unwrap();
        p.insert("n".into(), Value::Int(4));
        assert!(
            space
                .check(&p)
                .unwrap_err()
                .to_string()
                .contains("params.n")
        );
        p.insert("n".into(), Value::Int(1));
        p.insert("x".into(), Value::Int(1));
        assert!(
            space
                .check(&p)
                .unwrap_err()
                .to_string()
                .contains("params.x")
        );
        p.remove("x");
        p.remove("c");
        assert!(
            space
                .check(&p)
                .unwrap_err()
                .to_string()
                .contains("params.c")
        );
    }

    #[test]
    fn values_are_plain_json() {
        let mut p = Params::new();
        p.insert("a".into(), Value::Float(0.5));
        p.insert("b".into(), Value::Int(3));
        p.insert("c".into(), Value::Text("adam".into()));
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, r#"{"a":0.5,"b":3,"c":"adam"}"#);
        assert_eq!(serde_json::from_str::<Params>(&json).unwrap(), p);
    }
}
