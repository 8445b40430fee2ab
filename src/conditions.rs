//! Conditions in the manner of Kubernetes (`kubectl describe`): for the
//! autoscaler, `AbleToScale`, `ScalingActive` and `ScalingLimited` as a
//! HorizontalPodAutoscaler reports them; for an engine, `Ready`, `Paused`
//! and `Healthy`. Each is true or false with a one-word reason and a
//! message, derived purely from records the caller hands in.
//!
//! ```
//! use kaizen::conditions::engine_conditions;
//! use kaizen::cycle::{EngineConfig, EngineCore};
//! use std::sync::Arc;
//! let core = EngineCore::open(Arc::from("a"), Arc::from("a"), EngineConfig::default(), None, None)?;
//! let c = engine_conditions(&core.snapshot(), None, &[]);
//! assert_eq!(c[0].kind, "Ready");
//! assert!(c[0].status);
//! # Ok::<(), kaizen::Error>(())
//! ```

use serde::{Deserialize, Serialize};

use crate::alert::{AlertEvent, AlertKind};
use crate::autoscale::AutoscaleAction;
use crate::decision::AutoscaleRecord;
use crate::snapshot::EngineSnapshot;

/// One condition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    /// Its type: `AbleToScale`, `Ready`, ….
    #[serde(rename = "type")]
    pub kind: String,
    /// True or false.
    pub status: bool,
    /// Why, in one CamelCase word.
    pub reason: String,
    /// Why, in words.
    pub message: String,
}

fn condition(kind: &str, status: bool, reason: &str, message: String) -> Condition {
    Condition {
        kind: kind.into(),
        status,
        reason: reason.into(),
        message,
    }
}

/// The autoscaler's conditions after its last step (`last`), with `engines`
/// registered, at `now`. Without a step yet, the autoscaler has not run.
///
/// - `AbleToScale`: false while the cooldown since the last change runs
///   (`BackoffCooldown`) or when carrying out the last step failed
///   (`FailedScale`); else true (`ReadyForNewScale`).
/// - `ScalingActive`: false in dry-run (`DryRun`: it records what it would
///   do and changes nothing); else true (`ValidMetricFound`).
/// - `ScalingLimited`: true when the engine count sits at `max_engines`
///   (`TooManyEngines`) or `min_engines` (`TooFewEngines`), or CPU or memory
///   is at its limit (`ResourcePressure`); else false (`DesiredWithinRange`).
pub fn autoscale_conditions(
    last: Option<&AutoscaleRecord>,
    engines: usize,
    last_change: Option<f64>,
    now: f64,
) -> Vec<Condition> {
    let Some(r) = last else {
        return vec![condition(
            "ScalingActive",
            false,
            "NoStepYet",
            "the autoscaler has not run yet".into(),
        )];
    };
    let c = &r.config;
    let cooling = last_change.is_some_and(|t| now - t < c.cooldown_secs);
    let able = if let Some(e) = &r.error {
        condition(
            "AbleToScale",
            false,
            "FailedScale",
            format!("the last step failed: {e}"),
        )
    } else if cooling {
        let left = c.cooldown_secs - (now - last_change.unwrap_or(now));
        condition(
            "AbleToScale",
            false,
            "BackoffCooldown",
            format!(
                "the last change was less than {:.0} s ago ({left:.0} s left)",
                c.cooldown_secs
            ),
        )
    } else {
        condition(
            "AbleToScale",
            true,
            "ReadyForNewScale",
            "the autoscaler may create or remove an engine".into(),
        )
    };
    let i = &r.inputs;
    let metrics = format!(
        "energy {:.2}, ROI trend {:+.3}, CPU {:.0}%, memory {:.0}%",
        i.energy,
        i.trend,
        100.0 * i.cpu,
        100.0 * i.memory
    );
    let active = if c.dry_run {
        condition(
            "ScalingActive",
            false,
            "DryRun",
            format!("dry-run: it records what it would do and changes nothing ({metrics})"),
        )
    } else {
        condition(
            "ScalingActive",
            true,
            "ValidMetricFound",
            format!("deciding from {metrics}"),
        )
    };
    let would_create = matches!(r.decision.action, AutoscaleAction::Create(_));
    let limited = if engines >= c.max_engines {
        condition(
            "ScalingLimited",
            true,
            "TooManyEngines",
            format!("{engines} engines: at max_engines {}", c.max_engines),
        )
    } else if engines <= c.min_engines {
        condition(
            "ScalingLimited",
            true,
            "TooFewEngines",
            format!("{engines} engines: at min_engines {}", c.min_engines),
        )
    } else if !would_create && (i.cpu >= c.max_cpu || i.memory >= c.max_memory) {
        condition(
            "ScalingLimited",
            true,
            "ResourcePressure",
            format!(
                "CPU {:.0}% (limit {:.0}%), memory {:.0}% (limit {:.0}%)",
                100.0 * i.cpu,
                100.0 * c.max_cpu,
                100.0 * i.memory,
                100.0 * c.max_memory
            ),
        )
    } else {
        condition(
            "ScalingLimited",
            false,
            "DesiredWithinRange",
            format!(
                "{engines} engines, within {}..={}",
                c.min_engines, c.max_engines
            ),
        )
    };
    vec![able, active, limited]
}

/// An engine's conditions from its snapshot, the registry's failure note
/// (`failed`), and the alerts firing now.
///
/// - `Ready`: false when the registry marked the engine failed (`Failed`);
///   else true (`Running`).
/// - `Paused`: true while an operator has paused it.
/// - `Healthy`: false while one of its bot's alerts fires (the alert's
///   name as the reason); else true (`NoAlerts`).
pub fn engine_conditions(
    snapshot: &EngineSnapshot,
    failed: Option<&str>,
    firing: &[AlertEvent],
) -> Vec<Condition> {
    let ready = match failed {
        Some(why) => condition("Ready", false, "Failed", why.into()),
        None => condition(
            "Ready",
            true,
            "Running",
            format!(
                "{} cycles, {} failed, {:.0}% of the last 50 succeeded",
                snapshot.cycles,
                snapshot.failures,
                100.0 * snapshot.success_rate
            ),
        ),
    };
    let paused = if snapshot.paused {
        condition(
            "Paused",
            true,
            "PausedByOperator",
            "ticks are skipped until resumed".into(),
        )
    } else {
        condition("Paused", false, "NotPaused", "ticks are decided".into())
    };
    let mine: Vec<&AlertEvent> = firing
        .iter()
        .filter(|a| a.bot.as_deref() == Some(&*snapshot.bot))
        .collect();
    let healthy = match mine.first() {
        Some(a) => condition(
            "Healthy",
            false,
            match a.alert {
                AlertKind::ErrorRate => "HighErrorRate",
                AlertKind::ModelDegradation => "ModelDegraded",
                AlertKind::DecisionLatency => "SlowDecisions",
                AlertKind::ResourceUse => "ResourcePressure",
            },
            mine.iter()
                .map(|a| a.message.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        ),
        None => condition(
            "Healthy",
            true,
            "NoAlerts",
            "no alert fires for this bot".into(),
        ),
    };
    vec![ready, paused, healthy]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autoscale::{AutoscaleConfig, AutoscaleDecision, AutoscaleInputs};

    fn record(action: AutoscaleAction, dry_run: bool, cpu: f64) -> AutoscaleRecord {
        AutoscaleRecord {
            time: 100.0,
            inputs: AutoscaleInputs {
                energy: 0.9,
                trend: 0.2,
                cpu,
                memory: 0.1,
                now: 100.0,
                last_change: None,
                engines: vec![],
                taken: vec![],
            },
            config: AutoscaleConfig {
                min_engines: 1,
                max_engines: 3,
                cooldown_secs: 60.0,
                dry_run,
                ..AutoscaleConfig::default()
            },
            decision: AutoscaleDecision {
                action,
                projected: 0.2,
                reason: "test".into(),
            },
            applied: !dry_run,
            error: None,
            adaptive: None,
        }
    }

    fn by_type<'a>(c: &'a [Condition], kind: &str) -> &'a Condition {
        c.iter().find(|c| c.kind == kind).unwrap()
    }

    #[test]
    fn autoscale_conditions_follow_the_last_step() {
        let r = record(AutoscaleAction::Create("engine2".into()), false, 0.1);
        let c = autoscale_conditions(Some(&r), 2, Some(90.0), 100.0);
        assert_eq!(by_type(&c, "AbleToScale").reason, "BackoffCooldown");
        assert!(by_type(&c, "ScalingActive").status);
        assert!(!by_type(&c, "ScalingLimited").status);
        let c = autoscale_conditions(Some(&r), 3, Some(0.0), 100.0);
        assert_eq!(by_type(&c, "AbleToScale").reason, "ReadyForNewScale");
        assert_eq!(by_type(&c, "ScalingLimited").reason, "TooManyEngines");
        let dry = record(AutoscaleAction::Hold, true, 0.85);
        let c = autoscale_conditions(Some(&dry), 2, None, 100.0);
        assert_eq!(by_type(&c, "ScalingActive").reason, "DryRun");
        assert_eq!(by_type(&c, "ScalingLimited").reason, "ResourcePressure");
        let c = autoscale_conditions(None, 2, None, 100.0);
        assert_eq!(c[0].reason, "NoStepYet");
    }

    #[test]
    fn engine_conditions_show_failure_pause_and_alerts() {
        let core = crate::cycle::EngineCore::open(
            "a".into(),
            "a".into(),
            crate::cycle::EngineConfig::default(),
            None,
            None,
        )
        .unwrap();
        let mut s = core.snapshot();
        s.paused = true;
        let alert = AlertEvent {
            time: 1.0,
            alert: AlertKind::ErrorRate,
            bot: Some("a".into()),
            state: crate::alert::AlertState::Firing,
            value: 0.2,
            threshold: 0.05,
            message: "20% failed".into(),
        };
        let c = engine_conditions(&s, Some("6 restarts"), &[alert]);
        assert_eq!((c[0].status, c[0].reason.as_str()), (false, "Failed"));
        assert!(c[1].status);
        assert_eq!(
            (c[2].status, c[2].reason.as_str()),
            (false, "HighErrorRate")
        );
        assert_eq!(c[2].message, "20% failed");
    }
}
