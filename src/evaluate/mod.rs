//! Off-policy evaluation of candidate engine settings: what a learned
//! engine with other `[decide]` / `force` settings would have earned on the
//! decisions a log holds, before it is deployed (`kaizen evaluate`).
//!
//! **The log.** Cycle records as `kaizen run --json` prints them and the
//! history keeps them ([`CycleRecord`]). A learned decision's record holds
//! the propensity `pᵢ` of the option it took (the exploration floor keeps
//! every option above 0), every option, and what the decider was told
//! (`decision.context`: the ledger's profit, the triggers); with the
//! record's outcome that is enough to replay the decision.
//!
//! **The replay.** Per engine, in log order, a new candidate [`Decider`]
//! (the candidate's settings, its seed mixed with the engine's name as an
//! engine does it) is shown every logged decision's context — with its own
//! `force` list applied to the logged triggers — and gives its probability
//! of each option (its own exploration floor included; nothing is sampled
//! from it). `πᵢ` is its probability of the *logged* option (0 when the
//! candidate has no such energy). Then it is told the *logged* outcome (the
//! cycle's energy and the ledger after it, or the skip), as the logging
//! engine was, so it learns from the same evidence. With the same settings
//! as the logging engine it replays it exactly: `πᵢ = pᵢ` and every weight
//! is 1. An imposed cycle (requested, forced energy) is replayed with
//! [`Decider::impose`] and left out of the estimates.
//!
//! **The reward.** The reward of decision `i` is what the ledger booked
//! from it to the decision `h` later of the same engine (`h` =
//! [`EvaluateOptions::horizon`], default 1): `rᵢ = profitᵢ₊ₕ − profitᵢ`, the
//! revenue of the ticks in between less the cost of the cycles run in them.
//! The estimates ([`crate::stats::offpolicy`]: IPS, self-normalised IPS and
//! doubly robust, each with a normal-approximation interval) estimate
//!
//! ```text
//! V(π) = mean over the logged decisions i of  Σ_a π(a | historyᵢ) · E[rᵢ | a]
//! ```
//!
//! — the mean reward per decision had the candidate made each logged
//! decision, the logged engine making the others. The logged engine's own
//! mean reward is reported beside them (`logged`): the difference is what
//! the candidate's choices add per decision, one decision at a time.
//!
//! **Doubly robust's reward model** is the candidate's own model, as it
//! stands at the decision (before its outcome): with its most likely
//! dynamics (retention `ρ`, level `L`, what a cycle of energy `E` buys, the
//! cost `c` of a unit), `q̂(E) = after(ρL, E) · Σ_{k<h} ρᵏ − c·E` (no further
//! cycle in the window); before the candidate knows its dynamics, `q̂ = 0`
//! and doubly robust equals IPS. `v̂ᵢ = Σ_a π(a)·q̂(a)`.
//!
//! **What it assumes** (besides [`crate::stats::offpolicy`]'s: propensities
//! exact and above 0 wherever the candidate acts, rewards independent given
//! the decisions):
//! - *One decision at a time.* A cycle's effect lasts longer than `h`
//!   decisions (a raised level decays by `ρ` a tick), and a candidate that
//!   acted differently would have reached other levels and made other later
//!   decisions. Neither is in `V`: it values each choice by what the next
//!   `h` decisions' ledger shows, so with `h = 1` a cycle is charged its
//!   whole cost but credited one tick of what it bought. Compare candidates
//!   with each other and with `logged` on the same log and horizon, not with
//!   a whole run's profit. A longer `h` credits more of a cycle's effect, but
//!   neighbouring rewards then overlap, and the intervals (which treat the
//!   decisions as independent) are too narrow.
//! - *The candidate sees what the logging engine saw.* Settings that change
//!   which ticks reach a decision (`energy_threshold`, `interval`, a paused
//!   engine) are not replayed: the candidate decides where the log has a
//!   decision and nowhere else.
//! - *A ledger.* Decisions valued by the pipeline's reported value (an
//!   engine without a `ProfitSource`) are left out: the record does not hold
//!   the value its decider learned from. Decisions written before records
//!   kept their context cannot be replayed and are left out too.
//!
//! **Diagnostics.** The effective sample size `(Σw)²/Σw²` (below
//! [`MIN_EFFECTIVE_SAMPLES`] a few decisions carry the estimates) and the
//! mean weight, 1 in expectation: a mean weight more than 2 standard errors
//! from 1 says the candidate's choices are ones the log almost never made
//! (its greedy energy differs from the logged engine's), so the log holds
//! too few of them and IPS is biased — the simulation test shows it, and
//! shows doubly robust, whose model fills in the options not taken, keeping
//! its coverage there.
//!
//! Everything is counted in [`Excluded`] and said in
//! [`Evaluation::warnings`]. A candidate in `chain` mode is refused: its
//! run/skip policy and energy chain depend on state (the Q-table, the ROI
//! history, the synergy weights) the log does not hold, and chain mode logs
//! no propensities.
//!
//! Pure: records in, estimates out; the CLI reads the files.

mod replay;

use serde::{Deserialize, Serialize};

use crate::Result;
use crate::cycle::{DecisionMode, EngineConfig, ForceTrigger};
use crate::decide::DecideConfig;
use crate::error::Error;
use crate::record::CycleRecord;
use crate::stats::offpolicy::{LoggedDecision, OffPolicyEstimate, doubly_robust, ips, snips};

/// Below this effective sample size, the intervals are not to be trusted.
pub const MIN_EFFECTIVE_SAMPLES: f64 = 30.0;

/// The candidate settings: what a learned engine's decisions depend on.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Candidate {
    /// `[decide]`: energies, epsilon, draws, horizon, seed.
    pub decide: DecideConfig,
    /// `[engine] force`: triggers that force a cycle.
    pub force: Vec<ForceTrigger>,
    /// `[engine] pre_roi_bias`: a forecast above it fires `forecast`.
    pub pre_roi_bias: f64,
}

impl Candidate {
    /// The candidate of an engine configuration (a spec's). A configuration
    /// in `chain` mode is refused (see the [module docs](self)); one with no
    /// mode is taken as learned.
    pub fn from_config(config: &EngineConfig) -> Result<Candidate> {
        if config.decision == Some(DecisionMode::Chain) {
            return Err(Error::invalid(
                "engine.decision",
                "\"chain\"",
                "\"learned\": only learned decisions can be replayed (chain mode's run/skip \
                 policy and energy chain keep state the log does not hold, and log no \
                 propensities)",
            ));
        }
        config.decide.validate()?;
        Ok(Candidate {
            decide: config.decide.clone(),
            force: config.force.clone(),
            pre_roi_bias: config.pre_roi_bias,
        })
    }

    /// Whether the candidate's `force` list fires on `triggers`.
    fn forces(&self, triggers: &crate::decide::Triggers) -> bool {
        self.force
            .iter()
            .any(|t| t.fires(triggers, self.pre_roi_bias))
    }
}

/// How to evaluate.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvaluateOptions {
    /// The intervals' level: `1 − alpha` coverage (default 0.05).
    pub alpha: f64,
    /// Decisions of the same engine a reward runs to (default 1: to the
    /// next decision).
    pub horizon: usize,
}

impl Default for EvaluateOptions {
    fn default() -> Self {
        EvaluateOptions {
            alpha: 0.05,
            horizon: 1,
        }
    }
}

/// Logged decisions left out of the estimates, by why.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Excluded {
    /// Records without a learned decision: chain mode, or a tick skipped
    /// before deciding (paused, busy, low energy, an unreadable ledger).
    pub undecided: usize,
    /// Imposed cycles (requested, forced energy): propensity 1, not chosen.
    pub imposed: usize,
    /// Decisions of engines without a ledger (reported values).
    pub reported: usize,
    /// Decisions written before records kept their context.
    pub no_context: usize,
    /// The last decisions of each engine, with fewer than `horizon`
    /// decisions after them.
    pub end_of_log: usize,
}

/// The logging policy's own mean reward per decision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoggedValue {
    /// The mean reward of the evaluated decisions.
    pub value: f64,
    /// Its standard error.
    pub std_error: f64,
    /// `value ± z(1 − α/2)·std_error`.
    pub confidence_interval: [f64; 2],
}

/// What the candidate would have earned per decision, three ways. See the
/// [module docs](self) for what it estimates and assumes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Decisions evaluated.
    pub decisions: usize,
    /// The reward's horizon in decisions.
    pub horizon: usize,
    /// The intervals' `alpha`.
    pub alpha: f64,
    /// The logging engines' own mean reward per decision.
    pub logged: LoggedValue,
    /// Inverse propensity scoring.
    pub ips: OffPolicyEstimate,
    /// Self-normalised IPS.
    pub snips: OffPolicyEstimate,
    /// Doubly robust, with the candidate's model as reward model.
    pub doubly_robust: OffPolicyEstimate,
    /// `(Σw)²/Σw²`: how many decisions the estimates effectively rest on.
    pub effective_sample_size: f64,
    /// The mean importance weight `mean(πᵢ/pᵢ)` (1 in expectation) and its
    /// standard error: far from 1, the candidate often does what the
    /// logged engine almost never did, and the log lacks those decisions.
    pub mean_weight: [f64; 2],
    /// Evaluated decisions whose logged option the candidate never takes.
    pub zero_probability: usize,
    /// Energies the candidate may choose that no logged decision offered
    /// (their value is missing from the estimates).
    pub unlogged_energies: Vec<u32>,
    /// What was left out.
    pub excluded: Excluded,
    /// Everything the reader should know before trusting the numbers.
    pub warnings: Vec<String>,
}

/// Evaluates `candidate` on the learned decisions in `records` (any order
/// of engines; each engine's records in the order they happened). See the
/// [module docs](self).
///
/// # Errors
/// An invalid `options.alpha` or a zero horizon; fewer than 2 decisions to
/// evaluate (the error counts what was left out and why); a candidate that
/// gives every logged option probability 0 (self-normalised IPS).
pub fn evaluate(
    records: &[CycleRecord],
    candidate: &Candidate,
    options: &EvaluateOptions,
) -> Result<Evaluation> {
    if options.horizon == 0 {
        return Err(Error::invalid("horizon", 0, "at least 1 decision"));
    }
    let replayed = replay::replay(records, candidate, options.horizon)?;
    let (log, predictions) = (&replayed.log, &replayed.predictions);
    if log.len() < 2 {
        return Err(Error::invalid(
            "the decision log",
            format!(
                "{} learned decisions to evaluate (left out: {})",
                log.len(),
                describe(&replayed.excluded)
            ),
            "at least 2 learned decisions with a ledger, each followed by the horizon's \
             decisions",
        ));
    }
    let alpha = options.alpha;
    let own: Vec<LoggedDecision> = log
        .iter()
        .map(|d| LoggedDecision {
            target_probability: d.propensity,
            ..*d
        })
        .collect();
    let logged = ips(&own, alpha)?;
    let ips = ips(log, alpha)?;
    let snips = snips(log, alpha)?;
    let doubly_robust = doubly_robust(log, predictions, alpha)?;
    let mut evaluation = Evaluation {
        decisions: log.len(),
        horizon: options.horizon,
        alpha,
        logged: LoggedValue {
            value: logged.value,
            std_error: logged.std_error,
            confidence_interval: logged.confidence_interval,
        },
        effective_sample_size: ips.effective_sample_size,
        mean_weight: mean_weight(log),
        ips,
        snips,
        doubly_robust,
        zero_probability: log.iter().filter(|d| d.target_probability == 0.0).count(),
        unlogged_energies: replayed.unlogged_energies,
        excluded: replayed.excluded,
        warnings: Vec::new(),
    };
    evaluation.warnings = warnings(&evaluation);
    Ok(evaluation)
}

/// `[mean, standard error]` of the importance weights.
fn mean_weight(log: &[LoggedDecision]) -> [f64; 2] {
    let n = log.len() as f64;
    let w = || log.iter().map(|d| d.target_probability / d.propensity);
    let mean = w().sum::<f64>() / n;
    let variance = w().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    [mean, (variance / n).sqrt()]
}

/// The exclusions in words, for an error.
fn describe(e: &Excluded) -> String {
    format!(
        "{} without a learned decision, {} imposed, {} without a ledger, {} without context, \
         {} at the end of the log",
        e.undecided, e.imposed, e.reported, e.no_context, e.end_of_log
    )
}

/// What the reader should know, in words.
fn warnings(e: &Evaluation) -> Vec<String> {
    let x = &e.excluded;
    let mut out = Vec::new();
    let mut say = |n: usize, text: String| {
        if n > 0 {
            out.push(text);
        }
    };
    say(
        x.undecided,
        format!(
            "{} records without a learned decision left out (chain mode, or a tick skipped \
             before deciding: paused, busy, low energy, an unreadable ledger)",
            x.undecided
        ),
    );
    say(
        x.imposed,
        format!(
            "{} imposed cycles left out (requested or forced-energy: not the decider's choice, \
             propensity 1)",
            x.imposed
        ),
    );
    say(
        x.reported,
        format!(
            "{} decisions of engines without a ledger left out (the record does not hold the \
             reported value their decider learned from)",
            x.reported
        ),
    );
    say(
        x.no_context,
        format!(
            "{} decisions written before records kept what the decider saw left out (they \
             cannot be replayed)",
            x.no_context
        ),
    );
    say(
        x.end_of_log,
        format!(
            "{} last decisions left out: fewer than {} decisions follow them in the log",
            x.end_of_log, e.horizon
        ),
    );
    say(
        e.zero_probability,
        format!(
            "the candidate never takes the logged option at {} of {} decisions (weight 0)",
            e.zero_probability, e.decisions
        ),
    );
    say(
        e.unlogged_energies.len(),
        format!(
            "the candidate may choose energies {:?} that no logged decision offered: what \
             they would earn is missing from the estimates",
            e.unlogged_energies
        ),
    );
    if e.effective_sample_size < MIN_EFFECTIVE_SAMPLES {
        out.push(format!(
            "effective sample size {:.1} < {MIN_EFFECTIVE_SAMPLES}: a few decisions carry the \
             estimates, and their intervals are not to be trusted",
            e.effective_sample_size
        ));
    }
    let [m, se] = e.mean_weight;
    if (m - 1.0).abs() > 2.0 * se && (m - 1.0).abs() > 1e-9 {
        out.push(format!(
            "mean importance weight {m:.3} ± {se:.3}, not 1: the candidate often chooses what \
             the logged engine almost never did, and the log lacks those choices; IPS is \
             biased (self-normalised IPS and doubly robust less so)"
        ));
    }
    if e.horizon > 1 {
        out.push(format!(
            "with a horizon of {} decisions neighbouring rewards overlap: the intervals treat \
             them as independent and are too narrow",
            e.horizon
        ));
    }
    out.push(format!(
        "one decision at a time: each reward is the ledger over the next {} decision(s), so a \
         cycle's lasting effect beyond them, and the other states the candidate would have \
         reached, are not in the estimates; compare with `logged`, not with a whole run",
        e.horizon
    ));
    out
}

#[cfg(test)]
mod tests;
