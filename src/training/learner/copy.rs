//! A population-based-training copy entering the learner's registry
//! ([`ContinuousLearner::adopt`]): a challenger like any other.
//!
//! The donor's weights are saved as a new version of this bot (its
//! metadata names the donor and its version under `extra.pbt`) and judged
//! by the same deploy gate as a trained challenger: the champion's and the
//! copy's per-sample losses on the samples buffered this cycle — rows that
//! neither model was trained on (with no champion, the naive predictor of
//! those samples is the baseline). With `bypass_gate` (a spec's
//! `pbt_bypass_gate = true`) the copy serves at once and the alias history
//! says so. A copy whose inputs or labels are not this bot's is refused.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{ContinuousLearner, CycleReport, into_map, mean};
use crate::models::{NewVersion, VersionId, VersionInfo, VersionStatus};
use crate::training::{GateDecision, Model, NaivePredictor, TrainingError, judge};
use crate::variants::ModelCopy;

/// What became of a copy this cycle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CopySummary {
    /// The bot copied.
    pub from: String,
    /// Its version that was copied.
    pub from_version: u64,
    /// The version it was saved as in this bot's registry.
    pub version: VersionId,
    /// It serves now.
    pub deployed: bool,
    /// It serves without the gate (`pbt_bypass_gate`).
    pub bypassed: bool,
    /// The gate's reason, or the bypass.
    pub reason: String,
}

impl ContinuousLearner {
    /// Takes `copy` as a challenger (see the module docs); call it after
    /// [`read`](Self::read), so this cycle's new samples are buffered.
    ///
    /// # Errors
    /// Weights that are not a model, a model of other inputs or labels, or
    /// a registry that cannot save or deploy.
    pub fn adopt(
        &mut self,
        copy: &ModelCopy,
        report: &mut CycleReport,
        now: f64,
    ) -> Result<(), TrainingError> {
        self.sync_champion()?;
        let origin = format!("{} v{}", copy.from, copy.version);
        let model =
            Model::from_safetensors(&copy.weights).map_err(|e| TrainingError::Champion {
                version: format!("copied from {origin}"),
                reason: e.to_string(),
            })?;
        self.check_schema(model.spec())?;
        if let Some(labels) = self.labels()
            && !labels.is_empty()
            && labels != model.spec().labels
        {
            return Err(TrainingError::Champion {
                version: format!("copied from {origin}"),
                reason: format!(
                    "its labels {:?} are not this bot's {labels:?}",
                    model.spec().labels
                ),
            });
        }
        let samples = self.quality_buffer();
        let spec = model.spec().clone();
        let data = self.encode(&spec, &samples)?;
        let losses = model.per_sample_losses(&data)?;
        let baseline = match &self.champion {
            Some((_, m)) => m.per_sample_losses(&data)?,
            None => NaivePredictor::fit(
                spec.task,
                spec.loss,
                spec.huber_delta,
                spec.labels.len(),
                &data,
            )
            .per_sample_losses(&data),
        };
        let gate: GateDecision = judge(&self.config.gate, &baseline, &losses);
        let deployed = copy.bypass_gate || gate.deploy;
        let reason = if copy.bypass_gate {
            format!(
                "population-based training: copy of {origin}, deploy gate bypassed (pbt_bypass_gate; the gate said: {})",
                gate.reason
            )
        } else {
            format!(
                "population-based training: copy of {origin}; {}",
                gate.reason
            )
        };
        let mut info = VersionInfo {
            status: if deployed {
                VersionStatus::Candidate
            } else {
                VersionStatus::Rejected
            },
            significance: gate.significance.clone(),
            ..VersionInfo::default()
        };
        if !losses.is_empty() {
            info.metrics.insert("holdout_loss".into(), mean(&losses));
            info.metrics
                .insert("baseline_loss".into(), gate.baseline_loss);
        }
        info.extra = into_map(json!({
            "pbt": {"from": copy.from, "version": copy.version, "bypass_gate": copy.bypass_gate},
            "gate": gate.reason,
            "samples": {"holdout": data.len()},
        }));
        let id = self.registry.save(
            NewVersion {
                weights: copy.weights.clone(),
                info,
            },
            now,
        )?;
        if deployed {
            self.registry.deploy(id, &reason, now)?;
            self.previous = self.champion.take();
            self.champion = Some((id, model));
            self.state.counters.deployments += 1;
        }
        report.champion = self.registry.catalog().champion();
        report.pbt = Some(CopySummary {
            from: copy.from.clone(),
            from_version: copy.version,
            version: id,
            deployed,
            bypassed: copy.bypass_gate,
            reason,
        });
        self.save_state()
    }
}
