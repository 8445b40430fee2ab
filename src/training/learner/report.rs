//! [`CycleReport`]: what one cycle of the continuous-learning loop did, and
//! the [`AutomationResult`] the engine gets from it.
//!
//! The result's ROI is the value of the improvement: when a challenger is
//! deployed, `value_per_unit × (L_baseline − L_challenger)` on the held-out
//! samples (`income` and `roi`; `cost` 0); otherwise 0 — a cycle that
//! trained but kept the champion produced no value, and the engine learns
//! when retraining pays. Its metrics (all numbers; absent when not measured):
//!
//! | metric | meaning |
//! |---|---|
//! | `rows`, `bad_rows`, `bad_rows.<kind>` | rows read this cycle, good and skipped |
//! | `buffered` | samples waiting for the next training |
//! | `recent_loss` | the champion's mean loss on this cycle's new samples |
//! | `trained`, `deployed` | 1 or 0 |
//! | `steps`, `train_samples`, `holdout_samples` | the run's size |
//! | `baseline_loss`, `challenger_loss`, `improvement`, `p_value` | the gate's numbers |
//! | `accuracy` | the challenger's held-out accuracy (classification) |
//! | `final_lr`, `train_loss`, `val_loss` | the run's end |
//! | `version`, `champion_version` | the version trained, the one serving after the cycle |
//! | `alerts`, `alerts_new`, `alert.<kind>` | the monitor's alerts (new = not seen in the previous run) |
//! | `rolled_back` | 1 when a post-deploy check rolled the champion back this cycle |
//! | `pbt_version`, `pbt_deployed` | a PBT copy taken this cycle: the version it was saved as, 1 when it serves |

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::samples::BadRowTally;
use crate::models::VersionId;
use crate::pipeline::{AutomationResult, PipelineAlert, RoiResult};
use crate::training::{Alert, CurveAnalysis, GateDecision, RunReport};

/// The training part of a cycle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainingSummary {
    /// The version saved for the challenger.
    pub version: VersionId,
    /// The champion it was judged against and warm-started from (none: the naive predictor).
    pub baseline: Option<VersionId>,
    /// Samples trained on, validating, held out.
    pub samples: [usize; 3],
    /// The run.
    pub run: RunReport,
    /// Its learning curve, analysed.
    pub analysis: CurveAnalysis,
    /// The gate.
    pub gate: GateDecision,
    /// Held-out accuracy (classification).
    pub accuracy: Option<f64>,
}

/// The post-deploy check's part of a cycle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckSummary {
    /// The champion under check.
    pub version: VersionId,
    /// Samples compared so far.
    pub samples: usize,
    /// Samples the check needs.
    pub window: usize,
    /// How it ended, when it did this cycle: `passed`, `failed`, ….
    pub finished: Option<String>,
    /// Where a failed check moved the champion.
    pub rolled_back_to: Option<VersionId>,
}

/// What one cycle did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CycleReport {
    /// Good rows read.
    pub rows: u64,
    /// Bad rows skipped.
    pub bad_rows: BadRowTally,
    /// Samples waiting for the next training after the cycle.
    pub buffered: usize,
    /// The champion's mean loss on this cycle's new samples.
    pub recent_loss: Option<f64>,
    /// The post-deploy check, when one ran.
    pub check: Option<CheckSummary>,
    /// The training, when one ran.
    pub training: Option<TrainingSummary>,
    /// Why no training ran, when none did.
    pub waiting: Option<String>,
    /// Alerts not open before this cycle.
    pub new_alerts: Vec<Alert>,
    /// The champion after the cycle.
    pub champion: Option<VersionId>,
    /// The value of the cycle's improvement.
    pub value: f64,
    /// A population-based-training copy this cycle took, if any.
    #[serde(default)]
    pub pbt: Option<super::CopySummary>,
}

impl CycleReport {
    /// The engine's view of the cycle.
    pub fn to_result(&self) -> AutomationResult {
        let mut m: BTreeMap<String, f64> = BTreeMap::new();
        m.insert("rows".into(), self.rows as f64);
        m.insert("bad_rows".into(), self.bad_rows.total as f64);
        for (kind, n) in &self.bad_rows.by_kind {
            m.insert(format!("bad_rows.{kind}"), *n as f64);
        }
        m.insert("buffered".into(), self.buffered as f64);
        if let Some(l) = self.recent_loss {
            m.insert("recent_loss".into(), l);
        }
        if let Some(c) = self.champion {
            m.insert("champion_version".into(), c.0 as f64);
        }
        if let Some(c) = &self.check {
            m.insert(
                "rolled_back".into(),
                f64::from(u8::from(c.rolled_back_to.is_some())),
            );
        }
        if let Some(c) = &self.pbt {
            m.insert("pbt_version".into(), c.version.0 as f64);
            m.insert("pbt_deployed".into(), f64::from(u8::from(c.deployed)));
        }
        m.insert(
            "trained".into(),
            f64::from(u8::from(self.training.is_some())),
        );
        let mut package = None;
        if let Some(t) = &self.training {
            let deployed = t.gate.deploy;
            m.insert("deployed".into(), f64::from(u8::from(deployed)));
            m.insert("version".into(), t.version.0 as f64);
            m.insert("steps".into(), t.run.steps as f64);
            m.insert("train_samples".into(), t.samples[0] as f64);
            m.insert("holdout_samples".into(), t.samples[2] as f64);
            m.insert("baseline_loss".into(), t.gate.baseline_loss);
            m.insert("challenger_loss".into(), t.gate.challenger_loss);
            m.insert("improvement".into(), t.gate.improvement);
            if let Some(p) = t.gate.p_value() {
                m.insert("p_value".into(), p);
            }
            if let Some(a) = t.accuracy {
                m.insert("accuracy".into(), a);
            }
            m.insert("final_lr".into(), t.run.final_lr);
            if let Some(l) = t.analysis.final_train_loss {
                m.insert("train_loss".into(), l);
            }
            if let Some(l) = t.analysis.final_val_loss {
                m.insert("val_loss".into(), l);
            }
            m.insert("alerts".into(), t.run.alerts.len() as f64);
            for a in &t.run.alerts {
                m.insert(format!("alert.{}", a.kind), a.count as f64);
            }
            if deployed {
                package = Some(format!("model {}", t.version));
            }
        }
        m.insert("alerts_new".into(), self.new_alerts.len() as f64);
        // Non-finite numbers never leave: the engine would fail the cycle.
        m.retain(|_, v| v.is_finite());
        let value = if self.value.is_finite() {
            self.value
        } else {
            0.0
        };
        AutomationResult {
            roi: Some(RoiResult {
                income: value,
                roi: value,
                ..RoiResult::default()
            }),
            package,
            metrics: m,
            modules: Vec::new(),
            alerts: self.alerts(),
        }
    }

    /// The cycle's news for the record and the decision stream: the
    /// monitor's new alerts, and an automatic rollback.
    fn alerts(&self) -> Vec<PipelineAlert> {
        let mut alerts: Vec<PipelineAlert> = self
            .new_alerts
            .iter()
            .map(|a| PipelineAlert {
                kind: a.kind.name().to_string(),
                message: format!("step {}: {}", a.step, a.message),
            })
            .collect();
        if let Some(c) = &self.check
            && let Some(to) = c.rolled_back_to
        {
            alerts.push(PipelineAlert {
                kind: "model_rollback".into(),
                message: format!(
                    "{} was significantly worse than {to} on {} live samples; {to} serves again",
                    c.version, c.samples
                ),
            });
        }
        alerts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_waiting_cycle_reports_its_rows_and_no_value() {
        let mut r = CycleReport {
            rows: 40,
            buffered: 40,
            recent_loss: Some(f64::NAN),
            waiting: Some("40 of 100 samples".into()),
            ..Default::default()
        };
        r.bad_rows.add(&crate::training::BadRow {
            at: "d.csv:3".into(),
            reason: crate::training::BadReason::MissingTarget,
        });
        let res = r.to_result();
        assert_eq!(res.metrics["rows"], 40.0);
        assert_eq!(res.metrics["bad_rows"], 1.0);
        assert_eq!(res.metrics["bad_rows.missing_target"], 1.0);
        assert_eq!(res.metrics["trained"], 0.0);
        assert!(!res.metrics.contains_key("recent_loss"), "NaN is dropped");
        assert_eq!(res.roi.as_ref().unwrap().roi, 0.0);
        assert!(res.check_numbers().is_ok());
        assert_eq!(res.package, None);
        assert!(res.alerts.is_empty());
    }

    #[test]
    fn new_alerts_and_an_automatic_rollback_become_the_results_alerts() {
        let r = CycleReport {
            new_alerts: vec![Alert {
                kind: crate::training::AlertKind::LossExplosion,
                step: 12,
                count: 1,
                message: "loss 9.1 > 2 × 3.2".into(),
            }],
            check: Some(CheckSummary {
                version: VersionId(3),
                samples: 200,
                window: 200,
                finished: Some("failed".into()),
                rolled_back_to: Some(VersionId(2)),
            }),
            ..Default::default()
        };
        let alerts = r.to_result().alerts;
        assert_eq!(alerts.len(), 2);
        assert_eq!(alerts[0].kind, "loss_explosion");
        assert_eq!(alerts[0].message, "step 12: loss 9.1 > 2 × 3.2");
        assert_eq!(alerts[1].kind, "model_rollback");
        assert_eq!(
            alerts[1].message,
            "v3 was significantly worse than v2 on 200 live samples; v2 serves again"
        );
    }
}
