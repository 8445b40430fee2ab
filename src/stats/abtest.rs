//! An A/B test that may be watched continuously: does the challenger beat
//! the serving variant by more than a minimum effect `δ`, at level `α`?
//!
//! [`AbTest`] is a streaming state — two [`Moments`], O(1) work and memory
//! per outcome, serde-serialisable so it can be persisted between cycles.
//! [`AbTest::observe`] adds one outcome of one arm; [`AbTest::status`] gives
//! - `evidence`: an e-value against "the uplift is at most `δ`" (the
//!   [`super::mixture`] e-process: its expectation is ≤ 1 under that null at
//!   any stopping time, so it can also feed [`super::fdr`] across a fleet);
//! - `confidence_sequence`: `[lo, hi]` for the uplift `μ_challenger −
//!   μ_serving`, covering it at every moment at once with probability
//!   ≥ 1 − α (`null` in JSON for an unbounded end);
//! - `decision`: `promote` once `evidence ≥ 1/α` (the same as `lo > δ`);
//!   `hold` when the deadline (a number of outcomes, or a time) passes
//!   without that, or once `hi < δ` (the data show the uplift is below `δ`:
//!   waiting cannot help); `continue` otherwise.
//!
//! Promote and the two early holds are final: the state records them and
//! refuses further outcomes. The time deadline is judged at each
//! [`status`](AbTest::status) call from the `now` it is handed (seconds on
//! the caller's clock, e.g. [`crate::host::Clock::now`]).
//!
//! **Why watching is safe.** A fixed-sample t-test stopped at the first
//! `p < α` promotes a useless challenger far more often than `α` (see
//! [`mod@super::significance`]); this test's false-promotion rate stays ≤ α
//! however often `status` is read, because its evidence is a nonnegative
//! supermartingale under the null (Ville's inequality). What it assumes is
//! listed in [`super::mixture`]: independent, roughly normal outcomes with
//! equal variances in both arms, and an arm schedule that does not look at
//! outcome levels. Outcomes should be comparable between arms — e.g. ROI per
//! unit of energy, or the energy held fixed for both arms during a test.
//!
//! ```
//! use kaizen::stats::{AbTest, AbTestConfig, Arm, Decision};
//!
//! let config = AbTestConfig { min_effect: 0.0, max_outcomes: Some(400), ..AbTestConfig::default() };
//! let mut test = AbTest::new(config)?;
//! for i in 0..200 {
//!     let noise = ((i * 37) % 11) as f64 / 10.0 - 0.5; // the same for both arms
//!     test.observe(Arm::Serving, 1.0 + noise)?;
//!     test.observe(Arm::Challenger, 1.5 + noise)?;
//!     if test.status(0.0).decision != Decision::Continue {
//!         break;
//!     }
//! }
//! let status = test.status(0.0);
//! assert_eq!(status.decision, Decision::Promote);
//! assert!(status.evidence >= 20.0 && status.confidence_sequence[0] > 0.0);
//! # Ok::<(), kaizen::stats::StatsError>(())
//! ```

use serde::{Deserialize, Serialize};

use super::error::{StatsError, ensure_level};
use super::mixture::{MixtureState, mixture_precision};
use super::moments::Moments;

/// Settings of an [`AbTest`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AbTestConfig {
    /// The level: the probability of ever promoting a challenger whose
    /// uplift is at most `min_effect` (default 0.05).
    pub alpha: f64,
    /// `δ`, the uplift (in the outcome's units, challenger minus serving)
    /// the challenger must be shown to exceed (default 0).
    pub min_effect: f64,
    /// Hold once this many outcomes (both arms) arrived without a decision.
    pub max_outcomes: Option<u64>,
    /// Hold once `now` reaches this time (the caller's clock, seconds).
    pub deadline: Option<f64>,
    /// The number of outcomes (both arms, split evenly) at which the
    /// boundary is tightest; default: `max_outcomes`, else 1,000. Shorter
    /// makes early decisions on large uplifts quicker, longer makes small
    /// uplifts detectable later on.
    pub tuned_for: Option<u64>,
}

impl Default for AbTestConfig {
    fn default() -> Self {
        AbTestConfig {
            alpha: 0.05,
            min_effect: 0.0,
            max_outcomes: None,
            deadline: None,
            tuned_for: None,
        }
    }
}

impl AbTestConfig {
    fn validate(&self) -> Result<(), StatsError> {
        ensure_level("abtest.alpha", self.alpha)?;
        if !self.min_effect.is_finite() {
            return Err(StatsError::invalid(
                "abtest.min_effect",
                self.min_effect,
                "a finite number",
            ));
        }
        if let Some(deadline) = self.deadline.filter(|d| !d.is_finite()) {
            return Err(StatsError::invalid(
                "abtest.deadline",
                deadline,
                "a finite time",
            ));
        }
        match self.tuned_for.or(self.max_outcomes) {
            Some(n) if n < 4 => Err(StatsError::invalid(
                if self.tuned_for.is_some() {
                    "abtest.tuned_for"
                } else {
                    "abtest.max_outcomes"
                },
                n,
                "at least 4 outcomes",
            )),
            _ => Ok(()),
        }
    }
}

/// One of the two variants under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arm {
    /// The variant serving now.
    Serving,
    /// The variant that may replace it.
    Challenger,
}

/// What to do with the challenger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Keep collecting outcomes.
    Continue,
    /// The challenger beats the serving variant by more than `δ` at level `α`.
    Promote,
    /// Keep the serving variant: see the [`HoldReason`].
    Hold,
}

/// Why a test holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldReason {
    /// `max_outcomes` arrived without evidence.
    MaxOutcomes,
    /// The `deadline` time passed without evidence.
    Deadline,
    /// The confidence sequence lies wholly below `δ`: the uplift is shown to
    /// be smaller than the minimum effect.
    BelowMinEffect,
}

/// A decision that ends the test, kept in the state.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// `promote` or `hold`.
    pub decision: Decision,
    /// Why it holds (`None` for a promotion).
    pub reason: Option<HoldReason>,
    /// The number of outcomes (both arms) when it was reached.
    pub at_outcomes: u64,
}

/// What [`AbTest::status`] reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AbStatus {
    /// `continue`, `promote` or `hold`.
    pub decision: Decision,
    /// Why it holds, if it does.
    pub reason: Option<HoldReason>,
    /// The e-value against "the uplift is at most `δ`" (1 before any data).
    pub evidence: f64,
    /// `1/α`: the evidence that promotes.
    pub threshold: f64,
    /// The estimated uplift `mean(challenger) − mean(serving)`, once both
    /// arms have an outcome.
    pub uplift: Option<f64>,
    /// The uplift's confidence sequence at level `α`, `[lo, hi]`; an
    /// unbounded end is ±∞ (`null` in JSON).
    #[serde(with = "unbounded_interval")]
    pub confidence_sequence: [f64; 2],
    /// Outcomes seen from the serving arm.
    pub serving_outcomes: u64,
    /// Outcomes seen from the challenger.
    pub challenger_outcomes: u64,
}

/// The streaming state of one A/B test (see the module docs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "AbTestFields")]
pub struct AbTest {
    config: AbTestConfig,
    /// The mixture prior's precision, fixed when the test starts.
    g: f64,
    serving: Moments,
    challenger: Moments,
    verdict: Option<Verdict>,
}

/// The serialised form, validated into an [`AbTest`] on load.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AbTestFields {
    config: AbTestConfig,
    g: f64,
    serving: Moments,
    challenger: Moments,
    verdict: Option<Verdict>,
}

impl TryFrom<AbTestFields> for AbTest {
    type Error = StatsError;

    fn try_from(f: AbTestFields) -> Result<Self, StatsError> {
        f.config.validate()?;
        if !(f.g.is_finite() && f.g > 0.0) {
            return Err(StatsError::invalid(
                "abtest.g",
                f.g,
                "a finite number greater than 0",
            ));
        }
        for (what, m) in [
            ("abtest.serving", f.serving),
            ("abtest.challenger", f.challenger),
        ] {
            if !(m.mean.is_finite() && m.m2.is_finite() && m.m2 >= 0.0) {
                return Err(StatsError::invalid(
                    what,
                    format!("mean {} m2 {}", m.mean, m.m2),
                    "a finite mean and a finite m2 ≥ 0",
                ));
            }
        }
        Ok(AbTest {
            config: f.config,
            g: f.g,
            serving: f.serving,
            challenger: f.challenger,
            verdict: f.verdict,
        })
    }
}

impl AbTest {
    /// A test with no outcomes yet.
    ///
    /// # Errors
    /// `alpha` outside (0, 1), a non-finite `min_effect` or `deadline`, or
    /// fewer than 4 outcomes to tune for.
    pub fn new(config: AbTestConfig) -> Result<Self, StatsError> {
        config.validate()?;
        let tuned_for = config.tuned_for.or(config.max_outcomes).unwrap_or(1_000);
        Ok(AbTest {
            g: mixture_precision(config.alpha, tuned_for),
            config,
            serving: Moments::default(),
            challenger: Moments::default(),
            verdict: None,
        })
    }

    /// The settings it runs with.
    pub fn config(&self) -> &AbTestConfig {
        &self.config
    }

    /// The final decision, once reached.
    pub fn verdict(&self) -> Option<Verdict> {
        self.verdict
    }

    /// Adds one outcome of `arm`, and records a promotion, or a hold for
    /// `max_outcomes` or an uplift shown below `δ`, if this outcome brings one.
    ///
    /// # Errors
    /// A non-finite `value` (nothing changes), or a test that has already
    /// decided.
    pub fn observe(&mut self, arm: Arm, value: f64) -> Result<(), StatsError> {
        if let Some(v) = self.verdict {
            return Err(StatsError::AlreadyDecided {
                decision: format!("{:?}", v.decision).to_lowercase(),
            });
        }
        if !value.is_finite() {
            return Err(StatsError::NonFinite {
                what: format!("{arm:?} outcome").to_lowercase().into(),
                index: self.arm(arm).count as usize,
                value,
            });
        }
        match arm {
            Arm::Serving => self.serving.push(value),
            Arm::Challenger => self.challenger.push(value),
        }
        let (decision, reason) = self.judge(None);
        if decision != Decision::Continue {
            self.verdict = Some(Verdict {
                decision,
                reason,
                at_outcomes: self.outcomes(),
            });
        }
        Ok(())
    }

    /// Where the test stands at time `now` (the caller's clock, seconds).
    pub fn status(&self, now: f64) -> AbStatus {
        let (decision, reason) = match self.verdict {
            Some(v) => (v.decision, v.reason),
            None => self.judge(Some(now)),
        };
        let mixture = self.mixture();
        AbStatus {
            decision,
            reason,
            evidence: mixture.map_or(1.0, |m| m.evidence_above(self.config.min_effect)),
            threshold: 1.0 / self.config.alpha,
            uplift: (self.serving.count > 0 && self.challenger.count > 0)
                .then_some(self.challenger.mean - self.serving.mean),
            confidence_sequence: mixture.map_or([f64::NEG_INFINITY, f64::INFINITY], |m| {
                m.confidence_sequence(self.config.alpha)
            }),
            serving_outcomes: self.serving.count,
            challenger_outcomes: self.challenger.count,
        }
    }

    fn arm(&self, arm: Arm) -> &Moments {
        match arm {
            Arm::Serving => &self.serving,
            Arm::Challenger => &self.challenger,
        }
    }

    fn outcomes(&self) -> u64 {
        self.serving.count + self.challenger.count
    }

    /// The mixture's statistics, once there are ≥ 3 outcomes with both arms
    /// represented.
    fn mixture(&self) -> Option<MixtureState> {
        let (ns, nc) = (self.serving.count, self.challenger.count);
        if ns == 0 || nc == 0 || ns + nc < 3 {
            return None;
        }
        let n = (ns + nc) as f64;
        Some(MixtureState {
            n,
            uplift: self.challenger.mean - self.serving.mean,
            scale: ((self.serving.m2 + self.challenger.m2) / (n - 2.0)).sqrt(),
            information: ns as f64 * nc as f64 / n,
            g: self.g,
        })
    }

    /// The decision the data support now; the time deadline only when
    /// `now` is given.
    fn judge(&self, now: Option<f64>) -> (Decision, Option<HoldReason>) {
        let delta = self.config.min_effect;
        if let Some(m) = self.mixture() {
            if m.evidence_above(delta) >= 1.0 / self.config.alpha {
                return (Decision::Promote, None);
            }
            if m.confidence_sequence(self.config.alpha)[1] < delta {
                return (Decision::Hold, Some(HoldReason::BelowMinEffect));
            }
        }
        if self
            .config
            .max_outcomes
            .is_some_and(|max| self.outcomes() >= max)
        {
            return (Decision::Hold, Some(HoldReason::MaxOutcomes));
        }
        if let (Some(now), Some(deadline)) = (now, self.config.deadline)
            && now >= deadline
        {
            return (Decision::Hold, Some(HoldReason::Deadline));
        }
        (Decision::Continue, None)
    }
}

/// `[lo, hi]` with ±∞ ends written as `null` (JSON has no infinity) and read
/// back as −∞ / +∞.
mod unbounded_interval {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &[f64; 2], s: S) -> Result<S::Ok, S::Error> {
        v.map(|x| x.is_finite().then_some(x)).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[f64; 2], D::Error> {
        let [lo, hi] = <[Option<f64>; 2]>::deserialize(d)?;
        Ok([lo.unwrap_or(f64::NEG_INFINITY), hi.unwrap_or(f64::INFINITY)])
    }
}

#[cfg(test)]
mod tests;
