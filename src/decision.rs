//! The decision stream: every cycle, every autoscale step, every change to
//! the set of engines and every event of a bot's variants (issue 14), as it
//! happens.
//!
//! Engines and the registry publish [`Decision`]s on a
//! `tokio::sync::broadcast` channel; a host subscribes with
//! [`RegistryHandle::subscribe`](crate::registry::RegistryHandle::subscribe).
//! A subscriber that falls more than the channel's capacity behind skips the
//! oldest decisions (it is told how many, by `RecvError::Lagged`); nothing
//! waits on a slow subscriber. Every decision is also logged with `tracing`
//! (runs and autoscale steps at `info`, skips at `debug`).

use serde::{Deserialize, Serialize};
use std::sync::Arc;

use crate::alert::AlertEvent;
use crate::autoscale::{AdaptiveStats, AutoscaleConfig, AutoscaleDecision, AutoscaleInputs};
use crate::record::CycleRecord;
use crate::variants::VariantEvent;

/// How many decisions a subscriber may fall behind before it skips some.
pub const DECISION_CAPACITY: usize = 4096;

/// One autoscale step: what it saw, what it decided, and whether it was applied.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AutoscaleRecord {
    /// When (the registry's clock).
    pub time: f64,
    /// What the decision saw.
    pub inputs: AutoscaleInputs,
    /// The options it was made with.
    pub config: AutoscaleConfig,
    /// The action and its reason.
    pub decision: AutoscaleDecision,
    /// Whether the action was carried out (false in `dry_run`, for `hold`, or on error).
    pub applied: bool,
    /// Why carrying it out failed, if it did.
    pub error: Option<String>,
    /// In adaptive mode: every mean, standard deviation and z the decision
    /// used (and a lag-rule warning, if any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adaptive: Option<AdaptiveStats>,
}

/// What happened to an engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EngineEventKind {
    /// It was registered.
    Registered,
    /// It was unregistered (or removed by autoscale), after saving.
    Unregistered,
    /// It stopped unexpectedly and was restarted from its saved state.
    Restarted,
    /// It stopped too often and is no longer restarted.
    Failed,
}

/// In words: `registered`, `unregistered`, `restarted`, `failed`.
impl std::fmt::Display for EngineEventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EngineEventKind::Registered => "registered",
            EngineEventKind::Unregistered => "unregistered",
            EngineEventKind::Restarted => "restarted",
            EngineEventKind::Failed => "failed",
        })
    }
}

/// A change to the set of engines.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EngineEvent {
    /// When (the registry's clock).
    pub time: f64,
    /// The engine.
    pub engine: Arc<str>,
    /// The bot it looks after (empty in a record written before kaizen
    /// named it).
    #[serde(default)]
    pub bot: Arc<str>,
    /// What happened.
    pub kind: EngineEventKind,
    /// Details, in words.
    pub detail: String,
}

/// Something that happened to a bot's variants: a generation that proposed
/// new variants, a test started or judged (its verdict: promote, hold or
/// reject), an operator's promotion or retirement, a population-based-training
/// copy. In JSON the event's fields sit next to `time` and `bot`:
/// `{"type":"variant","time":…,"bot":"b","event":"test_started",…}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VariantDecision {
    /// When (the bot's clock).
    pub time: f64,
    /// The bot.
    pub bot: String,
    /// What happened.
    #[serde(flatten)]
    pub event: VariantEvent,
}

/// One item of the decision stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Decision {
    /// An engine's tick or cycle.
    Cycle(CycleRecord),
    /// An autoscale step.
    Autoscale(AutoscaleRecord),
    /// An engine was registered, removed, restarted or marked failed.
    Engine(EngineEvent),
    /// An alert started firing or resolved ([`crate::alert`]).
    Alert(AlertEvent),
    /// A bot's variants changed ([`crate::variants`]).
    Variant(VariantDecision),
}

impl Decision {
    /// When it happened (Unix seconds).
    pub fn time(&self) -> f64 {
        match self {
            Decision::Cycle(r) => r.time,
            Decision::Autoscale(a) => a.time,
            Decision::Engine(e) => e.time,
            Decision::Alert(a) => a.time,
            Decision::Variant(v) => v.time,
        }
    }
}

/// The sending side of the decision stream.
pub type DecisionSender = tokio::sync::broadcast::Sender<Decision>;

/// A new decision stream.
pub fn channel() -> DecisionSender {
    tokio::sync::broadcast::channel(DECISION_CAPACITY).0
}

/// Logs a cycle record and sends it to the subscribers, if there are any
/// (the record is copied only then).
pub fn publish_cycle(sender: Option<&DecisionSender>, r: &CycleRecord) {
    match &r.outcome {
        Some(o) => {
            tracing::info!(
                engine = %r.engine, bot = %r.bot, cycle = r.cycle, reason = %r.reason,
                energy = r.energy(), ok = o.ok, delta = o.delta, reward = o.reward,
                error = o.error.as_deref(), "cycle ran"
            );
            for a in &o.alerts {
                tracing::warn!(
                    engine = %r.engine, bot = %r.bot, cycle = r.cycle, kind = %a.kind,
                    "pipeline alert: {}", a.message
                );
            }
        }
        None => tracing::debug!(
            engine = %r.engine, reason = %r.reason, energy_score = r.energy_score,
            "tick skipped"
        ),
    }
    if let Some(s) = sender
        && s.receiver_count() > 0
    {
        let _ = s.send(Decision::Cycle(r.clone()));
    }
}

/// Logs an autoscale step or an engine event and sends it to the subscribers.
pub fn publish(sender: Option<&DecisionSender>, decision: Decision) {
    match &decision {
        Decision::Cycle(r) => return publish_cycle(sender, r),
        Decision::Autoscale(a) => tracing::info!(
            action = ?a.decision.action, applied = a.applied, energy = a.inputs.energy,
            trend = a.inputs.trend, cpu = a.inputs.cpu, memory = a.inputs.memory,
            engines = a.inputs.engines.len(), reason = %a.decision.reason, "autoscale"
        ),
        Decision::Engine(e) => tracing::info!(
            engine = %e.engine, kind = ?e.kind, detail = %e.detail, "engine"
        ),
        Decision::Alert(a) => tracing::warn!(
            alert = %a.alert, bot = a.bot.as_deref(), state = ?a.state, value = a.value,
            message = %a.message, "alert"
        ),
        Decision::Variant(v) => tracing::info!(
            bot = %v.bot, event = %serde_json::to_string(&v.event).unwrap_or_default(), "variants"
        ),
    }
    if let Some(s) = sender {
        let _ = s.send(decision);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::variants::Generation;

    /// A variant event is tagged twice: `"type":"variant"` and its `"event"`,
    /// whose fields sit next to `time` and `bot`; it reads back as written.
    #[test]
    fn variant_events_are_tagged_and_read_back() {
        let events = [
            VariantEvent::Generation(Generation {
                number: 2,
                retired: vec![3],
                born: vec![9],
            }),
            VariantEvent::TestStarted {
                serving: 1,
                challenger: 9,
                alpha: 0.05,
            },
            VariantEvent::PbtCopied {
                from: "alpha".into(),
                version: 4,
                variant: 12,
                replaced: 1,
                cancelled_test: Some(9),
            },
        ];
        for (event, name) in events
            .into_iter()
            .zip(["generation", "test_started", "pbt_copied"])
        {
            let d = Decision::Variant(VariantDecision {
                time: 10.0,
                bot: "beta".into(),
                event,
            });
            let json = serde_json::to_value(&d).unwrap();
            assert_eq!(json["type"], "variant");
            assert_eq!(json["bot"], "beta");
            assert_eq!(json["event"], name);
            let back: Decision = serde_json::from_value(json).unwrap();
            assert_eq!(back, d);
            assert_eq!(back.time(), 10.0);
        }
    }
}
