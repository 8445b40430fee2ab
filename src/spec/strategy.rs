//! Which policy strategy a spec's engine learns with, when the spec does not
//! say: the reference system's configuration chain.
//!
//! | order | source | example |
//! |---|---|---|
//! | 1 | the spec's `[policy] strategy` | `strategy = "dqn"` |
//! | 2 | the JSON file named by `KAIZEN_POLICY_CONFIG` | `{"strategy": "double_dqn"}` |
//! | 3 | `KAIZEN_POLICY_STRATEGY` | `KAIZEN_POLICY_STRATEGY=sarsa` |
//! | 4 | the default | `q_learning` |
//!
//! Each source may use a name or an alias of the reference
//! ([`Strategy::ALIASES`]). Unlike the reference, which falls back to
//! `q_learning` on a name it does not know, an unknown name is an error
//! naming its source and listing the known strategies; so is a
//! `KAIZEN_POLICY_CONFIG` file that cannot be read or is not a JSON object.
//! A file without a `"strategy"` key (it may configure other things) passes
//! to the next source, and so does a variable that is set but empty. The
//! file's path is taken as it is (relative to the working directory).
//!
//! Only engine specs (`kaizen run`) read the environment: a simulation
//! scenario's `[learned.policy]` does not, so that a scenario and a seed
//! give the same run on every machine. The environment is handed in
//! ([`strategy_from_config`] takes a lookup), so tests and hosts can supply
//! their own.

use serde::Serialize;
use std::ffi::OsString;
use std::path::PathBuf;

use crate::policy::Strategy;
use crate::{Error, Result};

/// The variable naming a JSON file `{"strategy": "…"}`.
pub const POLICY_CONFIG_VAR: &str = "KAIZEN_POLICY_CONFIG";
/// The variable holding a strategy name.
pub const POLICY_STRATEGY_VAR: &str = "KAIZEN_POLICY_STRATEGY";

/// Where an engine's strategy came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "source", content = "file", rename_all = "snake_case")]
pub enum StrategySource {
    /// The spec's `[policy] strategy`.
    Spec,
    /// The file named by `KAIZEN_POLICY_CONFIG`.
    ConfigFile(PathBuf),
    /// `KAIZEN_POLICY_STRATEGY`.
    Environment,
    /// None of them: `q_learning`.
    Default,
}

impl std::fmt::Display for StrategySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StrategySource::Spec => f.write_str("the spec"),
            StrategySource::ConfigFile(p) => write!(f, "{POLICY_CONFIG_VAR} ({})", p.display()),
            StrategySource::Environment => f.write_str(POLICY_STRATEGY_VAR),
            StrategySource::Default => f.write_str("the default"),
        }
    }
}

/// The strategy chosen and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChosenStrategy {
    /// The strategy.
    pub strategy: Strategy,
    /// Its source.
    pub source: StrategySource,
}

/// The process's environment, for [`strategy_from_config`].
pub fn process_env(name: &str) -> Option<OsString> {
    std::env::var_os(name)
}

/// The strategy of the configuration chain (module docs): `spec` is what
/// the spec named, if anything; `env` looks a variable up.
///
/// ```
/// use kaizen::policy::Strategy;
/// use kaizen::spec::{StrategySource, strategy_from_config};
///
/// let env = |name: &str| (name == "KAIZEN_POLICY_STRATEGY").then(|| "ddqn".into());
/// let chosen = strategy_from_config(None, &env)?;
/// assert_eq!((chosen.strategy, chosen.source), (Strategy::DoubleDqn, StrategySource::Environment));
/// // The spec comes first; nothing set at all gives q_learning.
/// assert_eq!(strategy_from_config(Some(Strategy::Sarsa), &env)?.strategy, Strategy::Sarsa);
/// assert_eq!(strategy_from_config(None, &|_| None)?.source, StrategySource::Default);
/// let bad = |name: &str| (name == "KAIZEN_POLICY_STRATEGY").then(|| "ppo".into());
/// assert!(strategy_from_config(None, &bad).unwrap_err().to_string().contains("double_dqn"));
/// # Ok::<(), kaizen::Error>(())
/// ```
pub fn strategy_from_config(
    spec: Option<Strategy>,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Result<ChosenStrategy> {
    if let Some(strategy) = spec {
        return Ok(ChosenStrategy {
            strategy,
            source: StrategySource::Spec,
        });
    }
    let set = |name: &str| env(name).filter(|v| !v.is_empty());
    if let Some(path) = set(POLICY_CONFIG_VAR) {
        let path = PathBuf::from(path);
        if let Some(name) = strategy_in_file(&path)? {
            let what = format!("strategy in {} ({POLICY_CONFIG_VAR})", path.display());
            return Ok(ChosenStrategy {
                strategy: named(what, &name)?,
                source: StrategySource::ConfigFile(path),
            });
        }
    }
    if let Some(value) = set(POLICY_STRATEGY_VAR) {
        let name = value.to_string_lossy();
        return Ok(ChosenStrategy {
            strategy: named(POLICY_STRATEGY_VAR.to_string(), name.trim())?,
            source: StrategySource::Environment,
        });
    }
    Ok(ChosenStrategy {
        strategy: Strategy::default(),
        source: StrategySource::Default,
    })
}

/// `name` as a strategy, or an error naming `what` and the known ones.
fn named(what: String, name: &str) -> Result<Strategy> {
    Strategy::from_name(name).map_err(|e| match e {
        Error::UnknownName { known, .. } => {
            Error::invalid(what, format!("{name:?}"), format!("a strategy: {known}"))
        }
        other => other,
    })
}

/// The `"strategy"` of the JSON object in `path`; `None` without one.
fn strategy_in_file(path: &std::path::Path) -> Result<Option<String>> {
    let what = || format!("{POLICY_CONFIG_VAR} file {}", path.display());
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::invalid(
            what(),
            format!("unreadable ({e})"),
            "a JSON file like {\"strategy\": \"dqn\"}",
        )
    })?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        Error::invalid(
            what(),
            format!("not JSON ({e})"),
            "a JSON object like {\"strategy\": \"dqn\"}",
        )
    })?;
    let Some(object) = value.as_object() else {
        return Err(Error::invalid(
            what(),
            "not an object",
            "a JSON object like {\"strategy\": \"dqn\"}",
        ));
    };
    match object.get("strategy") {
        None => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(Error::invalid(
            format!("strategy in {}", what()),
            other,
            "a strategy name (a string)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of<'a>(vars: &'a [(&'static str, String)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.into())
    }

    #[test]
    fn each_source_in_its_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("policy.json");
        std::fs::write(&file, r#"{"strategy": "actor-critic", "epsilon": 0.2}"#).unwrap();
        let path = file.display().to_string();
        let both = [
            (POLICY_CONFIG_VAR, path.clone()),
            (POLICY_STRATEGY_VAR, "deep_q".to_string()),
        ];
        let chosen = strategy_from_config(None, &env_of(&both)).unwrap();
        assert_eq!(chosen.strategy, Strategy::ActorCritic);
        assert_eq!(chosen.source, StrategySource::ConfigFile(file.clone()));
        assert_eq!(
            chosen.source.to_string(),
            format!("KAIZEN_POLICY_CONFIG ({path})")
        );
        // The spec wins over both.
        let spec = strategy_from_config(Some(Strategy::QLambda), &env_of(&both)).unwrap();
        assert_eq!(
            (spec.strategy, spec.source),
            (Strategy::QLambda, StrategySource::Spec)
        );
        // A file without "strategy", and an empty file variable, pass on.
        std::fs::write(&file, r#"{"epsilon": 0.2}"#).unwrap();
        for vars in [
            both.clone(),
            [
                (POLICY_CONFIG_VAR, String::new()),
                (POLICY_STRATEGY_VAR, " deep_q ".to_string()),
            ],
        ] {
            let chosen = strategy_from_config(None, &env_of(&vars)).unwrap();
            assert_eq!(
                (chosen.strategy, chosen.source),
                (Strategy::DeepQ, StrategySource::Environment)
            );
        }
        let none = strategy_from_config(None, &env_of(&[])).unwrap();
        assert_eq!(
            (none.strategy, none.source),
            (Strategy::QLearning, StrategySource::Default)
        );
    }

    #[test]
    fn unknown_names_and_bad_files_are_errors_naming_the_source() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("policy.json");
        let err = |vars: &[(&'static str, String)]| {
            strategy_from_config(None, &env_of(vars))
                .unwrap_err()
                .to_string()
        };
        let known = "q_learning, sarsa, q_lambda, actor_critic, dqn, double_dqn, deep_q \
                     (also: q-learning, qlambda, actor-critic, ddqn, double-dqn)";
        assert_eq!(
            err(&[(POLICY_STRATEGY_VAR, "ppo".into())]),
            format!("invalid KAIZEN_POLICY_STRATEGY = \"ppo\": expected a strategy: {known}")
        );
        let path = file.display().to_string();
        std::fs::write(&file, r#"{"strategy": "Q_learning"}"#).unwrap();
        assert_eq!(
            err(&[(POLICY_CONFIG_VAR, path.clone())]),
            format!(
                "invalid strategy in {path} (KAIZEN_POLICY_CONFIG) = \"Q_learning\": expected a strategy: {known}"
            )
        );
        std::fs::write(&file, r#"{"strategy": 3}"#).unwrap();
        assert!(err(&[(POLICY_CONFIG_VAR, path.clone())]).contains("a strategy name"));
        std::fs::write(&file, "strategy = dqn").unwrap();
        assert!(err(&[(POLICY_CONFIG_VAR, path.clone())]).contains("not JSON"));
        std::fs::write(&file, "[\"dqn\"]").unwrap();
        assert!(err(&[(POLICY_CONFIG_VAR, path.clone())]).contains("not an object"));
        let missing = dir.path().join("missing.json").display().to_string();
        let e = err(&[(POLICY_CONFIG_VAR, missing.clone())]);
        assert!(e.contains("unreadable") && e.contains(&missing), "{e}");
    }
}
