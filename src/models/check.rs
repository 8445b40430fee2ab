//! The post-deploy check: is the new champion worse than the one it replaced
//! on the live samples that came after the deploy?
//!
//! After a deploy, the caller scores every live sample with both the new
//! champion and the previous one and hands the two per-sample losses in
//! ([`PostDeployCheck::observe`]). Once `window` samples are in, the check
//! runs the paired significance test of the champion's losses against the
//! previous champion's ([`crate::stats::significance`]) at `alpha`:
//!
//! - the champion is **degraded** when the test is significant *and* its mean
//!   loss is the higher one (a two-sided test alone would also flag a
//!   significantly *better* model);
//! - otherwise the check **passes**.
//!
//! When every sample's difference of losses is the same number (to
//! rounding) the test has no variance to work with, and none is needed: the
//! champion is degraded when its mean loss is the higher (it lost on every
//! sample by the same amount), and passes otherwise; no significance is
//! recorded.
//!
//! The window is fixed when the check starts and the test runs once, at its
//! end, so there is no peeking: looking at the p-value after every sample and
//! stopping at the first small one would raise the false-alarm rate far above
//! `alpha`.

use serde::{Deserialize, Serialize};

use super::Significance;
use super::error::{ModelsError, finite};
use super::meta::VersionId;
use crate::stats::{self, StatsError};

/// How a post-deploy check ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckResult {
    /// Not significantly worse than the previous champion.
    Passed,
    /// Significantly worse than the previous champion; rolled back.
    Failed,
    /// Deployed with no champion before it, so there was nothing to check
    /// against; it counts as passed for [`rollback_to_previous`].
    ///
    /// [`rollback_to_previous`]: super::ModelRegistry::rollback_to_previous
    Unopposed,
}

/// A finished post-deploy check, kept in the version's metadata (and, for a
/// failed one, in the alias history entry of the rollback).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckOutcome {
    /// How it ended.
    pub result: CheckResult,
    /// The previous champion it was compared with (none when unopposed).
    pub against: Option<VersionId>,
    /// Live samples compared.
    pub samples: u64,
    /// The champion's mean loss on them.
    pub champion_loss: Option<f64>,
    /// The previous champion's mean loss on the same samples.
    pub previous_loss: Option<f64>,
    /// The paired test of the champion's losses (`new`) against the previous
    /// champion's (`baseline`); none when the differences had no variance.
    pub significance: Option<Significance>,
    /// When it ended, in seconds since the Unix epoch.
    pub at: f64,
}

impl CheckOutcome {
    /// The outcome of a deploy with no champion before it.
    pub fn unopposed(at: f64) -> Self {
        CheckOutcome {
            result: CheckResult::Unopposed,
            against: None,
            samples: 0,
            champion_loss: None,
            previous_loss: None,
            significance: None,
            at,
        }
    }

    /// Whether this version may be rolled back to: it passed, or had nothing to pass.
    pub fn counts_as_passed(&self) -> bool {
        matches!(self.result, CheckResult::Passed | CheckResult::Unopposed)
    }
}

/// A post-deploy check under way: the champion `version` against the
/// champion it replaced, `against`, over the next `window` live samples.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PostDeployCheck {
    /// The champion being checked.
    pub version: VersionId,
    /// The champion it replaced.
    pub against: VersionId,
    /// How many live samples the check compares.
    pub window: usize,
    /// When it started, in seconds since the Unix epoch.
    pub started: f64,
    champion_losses: Vec<f64>,
    previous_losses: Vec<f64>,
}

impl PostDeployCheck {
    /// A check of `version` against `against` over the next `window` samples
    /// (at least 2, for the test to have a variance).
    pub fn new(
        version: VersionId,
        against: VersionId,
        window: usize,
        started: f64,
    ) -> Result<Self, ModelsError> {
        if window < 2 {
            return Err(ModelsError::invalid(
                "post_deploy_window",
                window,
                "at least 2 samples",
            ));
        }
        Ok(PostDeployCheck {
            version,
            against,
            window,
            started: finite("check start time", started)?,
            champion_losses: Vec::new(),
            previous_losses: Vec::new(),
        })
    }

    /// Samples compared so far.
    pub fn samples(&self) -> usize {
        self.champion_losses.len()
    }

    /// Whether all `window` samples are in.
    pub fn is_complete(&self) -> bool {
        self.samples() >= self.window
    }

    /// Adds live samples: `champion[i]` and `previous[i]` are the two models'
    /// losses on the same sample. Samples past the window are not used.
    /// Returns how many were taken. Mismatched lengths or a non-finite loss
    /// are refused and nothing is added.
    pub fn observe(&mut self, champion: &[f64], previous: &[f64]) -> Result<usize, ModelsError> {
        if champion.len() != previous.len() {
            return Err(ModelsError::invalid(
                "post-deploy losses",
                format!(
                    "{} of the champion and {} of the previous champion",
                    champion.len(),
                    previous.len()
                ),
                "one loss of each model per live sample",
            ));
        }
        for (i, (&c, &p)) in champion.iter().zip(previous).enumerate() {
            finite(format!("champion loss [{i}]"), c)?;
            finite(format!("previous champion loss [{i}]"), p)?;
        }
        let take = champion.len().min(self.window - self.samples());
        self.champion_losses.extend_from_slice(&champion[..take]);
        self.previous_losses.extend_from_slice(&previous[..take]);
        Ok(take)
    }

    /// The outcome once the window is full (`None` before), judged at
    /// `alpha` as the module docs say. Fails only if the test refuses its
    /// inputs for a reason other than a lack of variance, which the checks
    /// on the way in rule out.
    pub fn verdict(&self, alpha: f64, at: f64) -> Result<Option<CheckOutcome>, ModelsError> {
        if !self.is_complete() {
            return Ok(None);
        }
        let n = self.samples() as f64;
        let champion_loss = self.champion_losses.iter().sum::<f64>() / n;
        let previous_loss = self.previous_losses.iter().sum::<f64>() / n;
        let worse = champion_loss > previous_loss;
        let (degraded, significance) =
            match stats::significance(&self.previous_losses, &self.champion_losses, alpha) {
                Ok(sig) => (sig.significant && worse, Some(sig)),
                Err(StatsError::ZeroVariance { .. }) => (worse, None),
                Err(e) => return Err(e.into()),
            };
        Ok(Some(CheckOutcome {
            result: if degraded {
                CheckResult::Failed
            } else {
                CheckResult::Passed
            },
            against: Some(self.against),
            samples: self.samples() as u64,
            champion_loss: Some(champion_loss),
            previous_loss: Some(previous_loss),
            significance,
            at,
        }))
    }

    /// Checks a check read back from a file: the two loss lists agree and
    /// hold at most `window` samples.
    pub(super) fn validate(&self) -> Result<(), String> {
        if self.window < 2 {
            return Err(format!("post-deploy window {} is below 2", self.window));
        }
        if self.champion_losses.len() != self.previous_losses.len() || self.samples() > self.window
        {
            return Err(format!(
                "post-deploy check holds {} and {} losses for a window of {}",
                self.champion_losses.len(),
                self.previous_losses.len(),
                self.window
            ));
        }
        Ok(())
    }
}
