//! Alert rules: when a bot or the fleet needs an operator's eyes.
//!
//! Four rules, with defaults from the systems kaizen grew from (error rate
//! over 5%, latency over 1000 ms, resource use over 80%, model degradation):
//!
//! | alert | fires when | per |
//! |---|---|---|
//! | `error_rate` | failed cycles / cycles > `error_rate` (5%) over the cycles of the last `error_window` (5 min), or over the bot's last `error_cycles` (100) cycles when those are more | bot |
//! | `decision_latency` | the p99 of tick (decision) latency over the last `latency_window` (5 min) > `latency_p99` (1 s) | fleet |
//! | `resource_use` | the machine's CPU or memory use > `resource_use` (80%) | fleet |
//! | `model_degradation` | the bot's model registry rolled its champion back because a post-deploy check found it significantly worse, less than `degradation_hold` (1 h) ago | bot |
//!
//! The decision latency is the time an engine took to answer a tick that ran
//! no pipeline (a pipeline's own run time is long by nature and is measured
//! as the cycle duration instead); its p99 comes from a histogram's counts
//! over the window ([`crate::histogram::Snapshot::quantile`]), as
//! Prometheus computes it from the same buckets.
//!
//! [`AlertRules`] is pure: the caller feeds it cycle outcomes
//! ([`observe_cycle`](AlertRules::observe_cycle)) and, now and then, the
//! fleet's readings and the time ([`evaluate`](AlertRules::evaluate)), which
//! returns the alerts that started firing or resolved since the last call.
//! An alert fires once and resolves once: nothing is repeated while its
//! state holds.
//!
//! ```
//! use kaizen::alert::{AlertConfig, AlertKind, AlertRules, AlertState, FleetReadings};
//! use std::sync::Arc;
//! let mut rules = AlertRules::new(AlertConfig::default())?;
//! let bot: Arc<str> = Arc::from("alpha");
//! for i in 0..10 {
//!     rules.observe_cycle(&bot, 100.0 + i as f64, i != 3); // one failure in ten
//! }
//! let changes = rules.evaluate(110.0, &FleetReadings::default());
//! assert_eq!(changes.len(), 1);
//! assert_eq!((changes[0].alert, changes[0].state), (AlertKind::ErrorRate, AlertState::Firing));
//! assert!((changes[0].value - 0.1).abs() < 1e-12);
//! # Ok::<(), kaizen::Error>(())
//! ```

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::host::Resources;

/// Which rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A bot's cycles fail too often.
    ErrorRate,
    /// Engines take too long to answer ticks.
    DecisionLatency,
    /// The machine's CPU or memory is nearly used up.
    ResourceUse,
    /// A bot's new model was worse than the one it replaced and was rolled back.
    ModelDegradation,
}

impl AlertKind {
    /// Every rule, in a fixed order.
    pub const ALL: [AlertKind; 4] = [
        AlertKind::ErrorRate,
        AlertKind::DecisionLatency,
        AlertKind::ResourceUse,
        AlertKind::ModelDegradation,
    ];

    /// The rule's name as written in records and metrics (`error_rate`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::ErrorRate => "error_rate",
            AlertKind::DecisionLatency => "decision_latency",
            AlertKind::ResourceUse => "resource_use",
            AlertKind::ModelDegradation => "model_degradation",
        }
    }
}

impl std::fmt::Display for AlertKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether an alert started or stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// Its condition holds.
    Firing,
    /// Its condition no longer holds.
    Resolved,
}

/// An alert that started firing or resolved (an item of the decision stream).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    /// When (Unix seconds).
    pub time: f64,
    /// Which rule.
    pub alert: AlertKind,
    /// The bot, for a per-bot rule.
    pub bot: Option<Arc<str>>,
    /// Firing or resolved.
    pub state: AlertState,
    /// The value the rule compared (a share, seconds, a share, a relative loss increase).
    pub value: f64,
    /// The threshold it was compared with.
    pub threshold: f64,
    /// What is wrong (or that it is fixed), in words.
    pub message: String,
}

/// The thresholds and windows of the rules. Every field has the default of
/// the table above. They are the registry's settings
/// ([`RegistryConfig::alerts`](crate::registry::RegistryConfig::alerts)),
/// which the registry's [`Monitor`](crate::monitor::Monitor) uses unless
/// its own config says otherwise; `kaizen run --alerts FILE` puts the keys
/// the file names over them ([`overridden_by`](AlertConfig::overridden_by)).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertConfig {
    /// The share of failed cycles above which `error_rate` fires (0.05).
    pub error_rate: f64,
    /// The window of cycles `error_rate` looks at, in seconds (300).
    pub error_window_secs: f64,
    /// ...or this many of the bot's last cycles, when they are more (100).
    pub error_cycles: usize,
    /// The p99 decision latency above which `decision_latency` fires, in seconds (1.0).
    pub latency_p99_secs: f64,
    /// The window of the p99, in seconds (300).
    pub latency_window_secs: f64,
    /// CPU or memory use above which `resource_use` fires (0.8).
    pub resource_use: f64,
    /// How long `model_degradation` fires after an automatic rollback, in seconds (3600).
    pub degradation_hold_secs: f64,
}

impl Default for AlertConfig {
    fn default() -> Self {
        AlertConfig {
            error_rate: 0.05,
            error_window_secs: 300.0,
            error_cycles: 100,
            latency_p99_secs: 1.0,
            latency_window_secs: 300.0,
            resource_use: 0.8,
            degradation_hold_secs: 3600.0,
        }
    }
}

impl AlertConfig {
    /// These thresholds with the keys of `overrides` (a TOML table, such as
    /// the file of `kaizen run --alerts`) put over them; the keys it does not
    /// name keep their values. An unknown key, a value of the wrong type or
    /// out of range is an error naming it.
    ///
    /// ```
    /// use kaizen::alert::AlertConfig;
    /// let base = AlertConfig { error_rate: 0.2, ..AlertConfig::default() };
    /// let file: toml::Table = toml::from_str("latency_p99_secs = 2.5")?;
    /// let merged = base.overridden_by(file)?;
    /// assert_eq!((merged.error_rate, merged.latency_p99_secs), (0.2, 2.5));
    /// let typo: toml::Table = toml::from_str("error_rat = 0.1")?;
    /// assert!(base.overridden_by(typo).unwrap_err().to_string().contains("error_rat"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn overridden_by(&self, overrides: toml::Table) -> Result<AlertConfig> {
        let mut table = match toml::Value::try_from(self) {
            Ok(toml::Value::Table(t)) => t,
            Ok(other) => return Err(Error::invalid("alerts", other, "a table")),
            Err(e) => return Err(Error::invalid("alerts", e, "thresholds TOML can hold")),
        };
        table.extend(overrides);
        let merged: AlertConfig = toml::Value::Table(table).try_into().map_err(|e| {
            Error::invalid(
                "alerts",
                e,
                "the keys of the alert thresholds (error_rate, error_window_secs, error_cycles, \
                 latency_p99_secs, latency_window_secs, resource_use, degradation_hold_secs) with numbers",
            )
        })?;
        merged.validate()?;
        Ok(merged)
    }

    /// Checks every field, naming the first that is out of range.
    pub fn validate(&self) -> Result<()> {
        for (what, v) in [
            ("alerts.error_rate", self.error_rate),
            ("alerts.resource_use", self.resource_use),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(Error::invalid(what, v, "a share in [0, 1]"));
            }
        }
        for (what, v) in [
            ("alerts.error_window_secs", self.error_window_secs),
            ("alerts.latency_p99_secs", self.latency_p99_secs),
            ("alerts.latency_window_secs", self.latency_window_secs),
            ("alerts.degradation_hold_secs", self.degradation_hold_secs),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(Error::invalid(
                    what,
                    v,
                    "a finite number of seconds above 0",
                ));
            }
        }
        if self.error_cycles == 0 {
            return Err(Error::invalid("alerts.error_cycles", 0, "at least 1"));
        }
        Ok(())
    }
}

/// A bot's model was rolled back automatically (from its model registry's history).
#[derive(Clone, Debug, PartialEq)]
pub struct Degradation {
    /// The bot.
    pub bot: Arc<str>,
    /// When the rollback happened.
    pub at: f64,
    /// How much worse the rolled-back champion's loss was: `champion / previous − 1`.
    pub loss_increase: f64,
    /// What happened, in words.
    pub detail: String,
}

/// What the fleet-wide rules look at, read by the caller at evaluation time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FleetReadings {
    /// The machine's CPU and memory use, when read.
    pub resources: Option<Resources>,
    /// The p99 tick (decision) latency over the latency window, in seconds;
    /// none when no tick was answered in it.
    pub latency_p99: Option<f64>,
    /// The last automatic rollback of each bot that has a model registry.
    pub degradations: Vec<Degradation>,
}

/// One bot's recent cycles: (time, ok), oldest first.
#[derive(Debug, Default)]
struct Cycles(VecDeque<(f64, bool)>);

impl Cycles {
    /// Keeps the cycles of the window, or the last `keep`, whichever are more.
    fn prune(&mut self, now: f64, window: f64, keep: usize) {
        while self.0.len() > keep && self.0.front().is_some_and(|&(t, _)| t < now - window) {
            self.0.pop_front();
        }
    }

    fn failure_rate(&self) -> Option<f64> {
        let failed = self.0.iter().filter(|(_, ok)| !ok).count();
        (!self.0.is_empty()).then(|| failed as f64 / self.0.len() as f64)
    }
}

/// A firing alert: since when, and its last value.
#[derive(Clone, Debug, PartialEq)]
struct Firing {
    since: f64,
    value: f64,
    threshold: f64,
    message: String,
}

/// The rules' state: recent cycles per bot, and which alerts fire.
#[derive(Debug)]
pub struct AlertRules {
    config: AlertConfig,
    cycles: HashMap<Arc<str>, Cycles>,
    firing: BTreeMap<(AlertKind, Option<Arc<str>>), Firing>,
}

/// A rule's verdict for one subject: the value, and the message when it fires.
struct Verdict {
    value: f64,
    threshold: f64,
    fires: bool,
    message: String,
}

impl AlertRules {
    /// Rules with `config` (checked).
    pub fn new(config: AlertConfig) -> Result<Self> {
        config.validate()?;
        Ok(AlertRules {
            config,
            cycles: HashMap::new(),
            firing: BTreeMap::new(),
        })
    }

    /// The thresholds in force.
    pub fn config(&self) -> &AlertConfig {
        &self.config
    }

    /// A cycle of `bot` ran at `time` and its pipeline succeeded (`ok`) or not.
    pub fn observe_cycle(&mut self, bot: &Arc<str>, time: f64, ok: bool) {
        let c = self.cycles.entry(bot.clone()).or_default();
        c.0.push_back((time, ok));
        c.prune(
            time,
            self.config.error_window_secs,
            self.config.error_cycles,
        );
    }

    /// The alerts firing now, by rule then bot.
    pub fn firing(&self) -> Vec<AlertEvent> {
        self.firing
            .iter()
            .map(|((alert, bot), f)| AlertEvent {
                time: f.since,
                alert: *alert,
                bot: bot.clone(),
                state: AlertState::Firing,
                value: f.value,
                threshold: f.threshold,
                message: f.message.clone(),
            })
            .collect()
    }

    /// Evaluates every rule at `now`; returns the alerts that started
    /// firing or resolved since the last evaluation, by rule then bot.
    pub fn evaluate(&mut self, now: f64, fleet: &FleetReadings) -> Vec<AlertEvent> {
        let c = self.config.clone();
        let mut verdicts: Vec<(AlertKind, Option<Arc<str>>, Verdict)> = Vec::new();
        for (bot, cycles) in &mut self.cycles {
            cycles.prune(now, c.error_window_secs, c.error_cycles);
            if let Some(rate) = cycles.failure_rate() {
                let n = cycles.0.len();
                verdicts.push((
                    AlertKind::ErrorRate,
                    Some(bot.clone()),
                    Verdict {
                        value: rate,
                        threshold: c.error_rate,
                        fires: rate > c.error_rate,
                        message: format!(
                            "{:.1}% of the last {n} cycles failed (limit {:.1}%)",
                            100.0 * rate,
                            100.0 * c.error_rate
                        ),
                    },
                ));
            }
        }
        if let Some(p99) = fleet.latency_p99 {
            verdicts.push((
                AlertKind::DecisionLatency,
                None,
                Verdict {
                    value: p99,
                    threshold: c.latency_p99_secs,
                    fires: p99 > c.latency_p99_secs,
                    message: format!(
                        "p99 decision latency {:.0} ms over the last {:.0} s (limit {:.0} ms)",
                        p99 * 1000.0,
                        c.latency_window_secs,
                        c.latency_p99_secs * 1000.0
                    ),
                },
            ));
        }
        if let Some(r) = fleet.resources {
            let (what, use_) = if r.cpu >= r.memory {
                ("CPU", r.cpu)
            } else {
                ("memory", r.memory)
            };
            verdicts.push((
                AlertKind::ResourceUse,
                None,
                Verdict {
                    value: use_,
                    threshold: c.resource_use,
                    fires: use_ > c.resource_use,
                    message: format!(
                        "{what} use {:.0}% (limit {:.0}%)",
                        100.0 * use_,
                        100.0 * c.resource_use
                    ),
                },
            ));
        }
        for d in &fleet.degradations {
            let recent = now - d.at < c.degradation_hold_secs;
            verdicts.push((
                AlertKind::ModelDegradation,
                Some(d.bot.clone()),
                Verdict {
                    value: d.loss_increase,
                    threshold: 0.0,
                    fires: recent,
                    message: d.detail.clone(),
                },
            ));
        }
        let mut changes = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for (alert, bot, v) in verdicts {
            let key = (alert, bot);
            seen.insert(key.clone());
            self.apply(now, key, Some(v), &mut changes);
        }
        // A firing alert whose subject is no longer measured (its bot has no
        // cycles left in the window, a reading is gone) resolves.
        let stale: Vec<_> = self
            .firing
            .keys()
            .filter(|k| !seen.contains(*k))
            .cloned()
            .collect();
        for key in stale {
            self.apply(now, key, None, &mut changes);
        }
        changes.sort_by(|a, b| (a.alert, &a.bot).cmp(&(b.alert, &b.bot)));
        changes
    }

    /// Forgets a bot (its engine was removed): its alerts resolve at the next evaluation.
    pub fn forget_bot(&mut self, bot: &str) {
        self.cycles.remove(bot);
    }

    fn apply(
        &mut self,
        now: f64,
        key: (AlertKind, Option<Arc<str>>),
        verdict: Option<Verdict>,
        changes: &mut Vec<AlertEvent>,
    ) {
        let event = |state, value, threshold, message| AlertEvent {
            time: now,
            alert: key.0,
            bot: key.1.clone(),
            state,
            value,
            threshold,
            message,
        };
        match (verdict, self.firing.get_mut(&key)) {
            (Some(v), Some(f)) if v.fires => {
                f.value = v.value;
                f.message = v.message;
            }
            (Some(v), None) if v.fires => {
                changes.push(event(
                    AlertState::Firing,
                    v.value,
                    v.threshold,
                    v.message.clone(),
                ));
                self.firing.insert(
                    key.clone(),
                    Firing {
                        since: now,
                        value: v.value,
                        threshold: v.threshold,
                        message: v.message,
                    },
                );
            }
            (Some(v), Some(_)) => {
                changes.push(event(
                    AlertState::Resolved,
                    v.value,
                    v.threshold,
                    format!("resolved: {}", v.message),
                ));
                self.firing.remove(&key);
            }
            (None, Some(f)) => {
                let (value, threshold) = (f.value, f.threshold);
                changes.push(event(
                    AlertState::Resolved,
                    value,
                    threshold,
                    "resolved: no longer measured".into(),
                ));
                self.firing.remove(&key);
            }
            (_, None) => {}
        }
    }
}

#[cfg(test)]
mod tests;
