//! The replay of a candidate decider through a log (see the
//! [parent](super)): per engine, the candidate's probability of each logged
//! option, its reward model's predictions, and each decision's reward.

use std::collections::{BTreeMap, BTreeSet};

use super::{Candidate, Excluded};
use crate::Result;
use crate::cycle::decider_seed;
use crate::decide::{DecideConfig, Decider, Decision, Outcome, Source, Why};
use crate::record::{CycleAction, CycleRecord};
use crate::stats::offpolicy::{LoggedDecision, RewardPrediction};

/// The replay's result: one entry per evaluated decision, in the order of
/// the engines' names and then of the log.
pub(super) struct Replayed {
    pub log: Vec<LoggedDecision>,
    pub predictions: Vec<RewardPrediction>,
    pub excluded: Excluded,
    pub unlogged_energies: Vec<u32>,
}

/// A decision point of one engine: the ledger's profit there and, for a
/// decision the decider chose, what the estimates need but the reward.
struct Point {
    profit: f64,
    chosen: Option<(f64, f64, RewardPrediction)>,
}

/// Replays `candidate` through `records` with rewards over `horizon`
/// decisions.
pub(super) fn replay(
    records: &[CycleRecord],
    candidate: &Candidate,
    horizon: usize,
) -> Result<Replayed> {
    let mut engines: BTreeMap<&str, Vec<&CycleRecord>> = BTreeMap::new();
    let mut excluded = Excluded::default();
    for r in records {
        if r.decision.is_some() {
            engines.entry(&r.engine).or_default().push(r);
        } else {
            excluded.undecided += 1;
        }
    }
    let mut out = Replayed {
        log: Vec::new(),
        predictions: Vec::new(),
        excluded,
        unlogged_energies: Vec::new(),
    };
    let mut offered = BTreeSet::new();
    for (engine, records) in engines {
        let decisions: Vec<&Decision> =
            records.iter().filter_map(|r| r.decision.as_ref()).collect();
        // The whole engine or none of it: a replay needs every step.
        if decisions.iter().any(|d| d.context.is_none()) {
            out.excluded.no_context += decisions.len();
            continue;
        }
        if decisions.iter().any(|d| {
            d.source == Source::Reported || d.context.as_ref().is_some_and(|c| c.profit.is_none())
        }) {
            out.excluded.reported += decisions.len();
            continue;
        }
        offered.extend(
            decisions
                .iter()
                .flat_map(|d| d.options.iter().map(|o| o.energy)),
        );
        let points = replay_engine(engine, &records, candidate, horizon)?;
        for (i, point) in points.iter().enumerate() {
            let Some((propensity, target, prediction)) = point.chosen else {
                out.excluded.imposed += 1;
                continue;
            };
            let Some(later) = points.get(i + horizon) else {
                out.excluded.end_of_log += 1;
                continue;
            };
            out.log.push(LoggedDecision {
                propensity,
                target_probability: target,
                reward: later.profit - point.profit,
            });
            out.predictions.push(prediction);
        }
    }
    let mut wanted: BTreeSet<u32> = candidate.decide.energies.iter().copied().collect();
    wanted.insert(0);
    if !offered.is_empty() {
        out.unlogged_energies = wanted.difference(&offered).copied().collect();
    }
    Ok(out)
}

/// One engine's decision points, replaying a new candidate decider through
/// its records (each with a decision and a ledger context).
fn replay_engine(
    engine: &str,
    records: &[&CycleRecord],
    candidate: &Candidate,
    horizon: usize,
) -> Result<Vec<Point>> {
    let mut decider = Decider::new(DecideConfig {
        seed: decider_seed(candidate.decide.seed, engine),
        ..candidate.decide.clone()
    })?;
    let mut points = Vec::with_capacity(records.len());
    for r in records {
        let (Some(logged), Some(context)) = (
            r.decision.as_ref(),
            r.decision.as_ref().and_then(|d| d.context.as_ref()),
        ) else {
            continue;
        };
        let Some(profit) = context.profit else {
            continue;
        };
        let chosen = if logged.why == Why::Imposed {
            decider.impose(context, logged.energy);
            None
        } else {
            let mut seen = context.clone();
            seen.triggers.force = candidate.forces(&context.triggers);
            let mine = decider.decide(&seen);
            let probability = |energy: u32| {
                mine.options
                    .iter()
                    .find(|o| o.energy == energy)
                    .map_or(0.0, |o| o.probability)
            };
            let q = |energy: u32| predicted(&decider, energy, horizon);
            let prediction = RewardPrediction {
                logged_action: q(logged.energy),
                target_policy: mine
                    .options
                    .iter()
                    .map(|o| o.probability * q(o.energy))
                    .sum(),
            };
            Some((logged.propensity, probability(logged.energy), prediction))
        };
        decider.record(outcome(r, logged.energy));
        points.push(Point { profit, chosen });
    }
    Ok(points)
}

/// What the logged engine's decider was told after the decision of `r`
/// (as the engine tells it: the ledger after a cycle, no reported value).
fn outcome(r: &CycleRecord, energy: u32) -> Outcome {
    match (r.action, &r.outcome) {
        (CycleAction::Run, Some(o)) if o.ok => Outcome::Ran {
            energy,
            profit_after: o.profit_after,
            reported: None,
        },
        (CycleAction::Run, o) => Outcome::Failed {
            energy,
            profit_after: o.as_ref().and_then(|o| o.profit_after),
        },
        (CycleAction::Skip, _) if energy == 0 => Outcome::Skipped,
        (CycleAction::Skip, _) => Outcome::Denied,
    }
}

/// The candidate's predicted reward of a cycle of `energy` (0: none) over
/// `horizon` ticks with no further cycle: `after(ρL, E)·Σ_{k<h} ρᵏ − c·E`
/// with its most likely dynamics; 0 before it knows them.
fn predicted(decider: &Decider, energy: u32, horizon: usize) -> f64 {
    let Some((d, level)) = decider.dynamics() else {
        return 0.0;
    };
    let rho = d.retention;
    let x = rho * level;
    let y = if energy == 0 { x } else { d.after(x, energy) };
    let h = horizon as f64;
    let kept = if rho < 1.0 {
        (1.0 - rho.powf(h)) / (1.0 - rho)
    } else {
        h
    };
    y * kept - d.cost_per_energy * f64::from(energy)
}
