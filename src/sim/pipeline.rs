//! [`SimulatedPipeline`]: the improvement job of a simulated bot, and
//! [`SimLedger`], the world's ledger as a [`ProfitSource`].
//!
//! A run with energy `E` evaluates the bot, runs a cycle in the world (the
//! skill rises, the cost is charged), and evaluates it again. It reports only
//! what a real improvement job could know about its own change:
//! - `roi`: `income = (eval_after − eval_before) · demand · payback_ticks`
//!   (the measured gain, valued at the bot's public demand over a payback
//!   horizon — a business rule, not knowledge of the future), `cost`,
//!   `roi = income − cost`, `margin = roi / max(|income|, cost)` (0 when
//!   both are 0), `time` 0 (a simulated cycle is instant);
//! - metrics: `eval_before`, `eval_after`, and up to three synergy metrics
//!   ([`SimMetric`]) — `synergy_roi` (the margin, in [−1, 1]),
//!   `synergy_efficiency` (the share of the measured gap to a perfect score
//!   the cycle closed, `gain / (1 − eval_before)` clamped to [−1, 1]) and
//!   `synergy_resilience` (`eval_after`);
//! - `modules`: the bot's name (the meta logger credits the cycle to it).
//!
//! [`ReportConfig`] (a scenario's `[learned.report]`) chooses the payback
//! horizon, which synergy metrics are reported and whether the module is:
//! each is information an engine's policy state and rewards take in.
//!
//! By default only `synergy_resilience` is reported. The engine adds the
//! change of `synergy_roi` and `synergy_efficiency` to a cycle's reward as
//! they are (not divided by `roi_scale`), and every synergy change enters the
//! policy state in steps of 0.1. Margins and gap shares computed from noisy
//! evaluations swing by tenths from cycle to cycle, so with them the reward
//! is mostly noise and the policy keeps meeting new states: on the shipped
//! scenarios the learned policy loses 1–5 points of the oracle's profit when
//! they are reported. The evaluation level changes by hundredths and does no
//! harm.
//!
//! The hidden skill never leaves the world. When the tick's cycle slots are
//! all taken the run fails (`PipelineError::Failed`) and nothing is charged.
//!
//! [`standalone`] makes a one-bot world for `kaizen run`: each run first
//! advances that world by one tick, so the ledger's profit moves between runs.
//!
//! ```
//! use kaizen::host::ProfitSource;
//! use kaizen::pipeline::Pipeline;
//! use kaizen::sim::{BotParams, standalone};
//!
//! let (pipeline, ledger) = standalone(&BotParams::default(), 42)?;
//! let result = futures_util::FutureExt::now_or_never(pipeline.run("alpha", 10)).unwrap().unwrap();
//! let roi = result.roi.unwrap();
//! assert_eq!(roi.cost, 10.0); // 10 energy at 1 each
//! // One tick of revenue (about 70) minus the cost.
//! assert!((ledger.profit("alpha").unwrap() - 60.0).abs() < 10.0);
//! # Ok::<(), kaizen::Error>(())
//! ```

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

use super::bot::BotParams;
use super::world::{SharedWorld, World, lock};
use crate::Result;
use crate::error::ensure_positive;
use crate::host::{HostError, ProfitSource};
use crate::pipeline::{AutomationResult, Pipeline, PipelineError, PipelineFuture, RoiResult};

/// The payback horizon a measured gain is valued over by default, in ticks.
pub const DEFAULT_PAYBACK_TICKS: f64 = 25.0;

/// A synergy metric the pipeline can report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SimMetric {
    /// The cycle's margin, in [−1, 1].
    #[serde(rename = "synergy_roi")]
    Roi,
    /// The share of the measured gap to a perfect score the cycle closed.
    #[serde(rename = "synergy_efficiency")]
    Efficiency,
    /// The evaluation after the cycle.
    #[serde(rename = "synergy_resilience")]
    Resilience,
}

impl SimMetric {
    /// Every metric, in report order.
    pub const ALL: [SimMetric; 3] = [SimMetric::Roi, SimMetric::Efficiency, SimMetric::Resilience];

    /// The metric's name in an [`AutomationResult`].
    pub fn name(self) -> &'static str {
        match self {
            SimMetric::Roi => "synergy_roi",
            SimMetric::Efficiency => "synergy_efficiency",
            SimMetric::Resilience => "synergy_resilience",
        }
    }
}

/// What a [`SimulatedPipeline`] reports (a scenario's `[learned.report]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReportConfig {
    /// Ticks over which a measured gain is valued, > 0 (default 25).
    pub payback_ticks: f64,
    /// The synergy metrics reported (default: `synergy_resilience` only; see
    /// the [module docs](self) for why the other two are off by default).
    pub synergy: Vec<SimMetric>,
    /// Whether the bot is reported as the cycle's module (default true).
    pub modules: bool,
}

impl Default for ReportConfig {
    fn default() -> Self {
        ReportConfig {
            payback_ticks: DEFAULT_PAYBACK_TICKS,
            synergy: vec![SimMetric::Resilience],
            modules: true,
        }
    }
}

impl ReportConfig {
    /// Checks the payback horizon; the error names `{prefix}.payback_ticks`.
    pub fn validate(&self, prefix: &str) -> Result<()> {
        ensure_positive(format!("{prefix}.payback_ticks"), self.payback_ticks).map(|_| ())
    }
}

/// How a bot name finds its bot in the world.
#[derive(Clone, Debug)]
enum Lookup {
    /// A one-bot world: every name is that bot.
    One,
    /// Names in world order, sorted for lookup: name → index.
    Named(Arc<BTreeMap<String, usize>>),
}

impl Lookup {
    fn index(&self, bot: &str) -> Option<usize> {
        match self {
            Lookup::One => Some(0),
            Lookup::Named(names) => names.get(bot).copied(),
        }
    }

    fn named(names: &[String]) -> Self {
        Lookup::Named(Arc::new(
            names
                .iter()
                .enumerate()
                .map(|(i, n)| (n.clone(), i))
                .collect(),
        ))
    }
}

/// A simulated bot's improvement job. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct SimulatedPipeline {
    world: SharedWorld,
    bots: Lookup,
    report: ReportConfig,
    advance_first: bool,
}

impl SimulatedPipeline {
    /// The pipeline of every bot of `world`, whose bots are called `names`
    /// (in world order), reporting as `report` says.
    pub fn new(world: SharedWorld, names: &[String], report: ReportConfig) -> Result<Self> {
        report.validate("report")?;
        Ok(SimulatedPipeline {
            world,
            bots: Lookup::named(names),
            report,
            advance_first: false,
        })
    }

    /// The ledger of the same world and bots.
    pub fn ledger(&self) -> SimLedger {
        SimLedger {
            world: self.world.clone(),
            bots: self.bots.clone(),
        }
    }

    /// One run, at once.
    fn run_now(&self, bot: &str, energy: u32) -> Result<AutomationResult, PipelineError> {
        let i = self
            .bots
            .index(bot)
            .ok_or_else(|| PipelineError::Failed(format!("no simulated bot called {bot:?}")))?;
        let mut world = lock(&self.world);
        if self.advance_first {
            world.end_tick();
        }
        if !world.has_capacity() {
            return Err(PipelineError::Failed(
                "no cycle slot left this tick".to_string(),
            ));
        }
        let before = world.measure(i);
        let effect = world
            .run_cycle(i, energy)
            .map_err(|e| PipelineError::Failed(e.to_string()))?;
        let after = world.measure(i);
        Ok(self
            .report
            .result(bot, world.params(i), before, after, effect.cost))
    }
}

impl ReportConfig {
    /// The result of a cycle that cost `cost`, measured at `before` and
    /// `after` (see the [module docs](self)).
    pub fn result(
        &self,
        bot: &str,
        params: &BotParams,
        before: f64,
        after: f64,
        cost: f64,
    ) -> AutomationResult {
        let gain = after - before;
        let income = gain * params.demand * self.payback_ticks;
        let roi = income - cost;
        let base = income.abs().max(cost);
        let margin = if base > 0.0 { roi / base } else { 0.0 };
        let closed = if before < 1.0 {
            (gain / (1.0 - before)).clamp(-1.0, 1.0)
        } else {
            0.0
        };
        let mut metrics: BTreeMap<String, f64> = [("eval_before", before), ("eval_after", after)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        for m in &self.synergy {
            let v = match m {
                SimMetric::Roi => margin,
                SimMetric::Efficiency => closed,
                SimMetric::Resilience => after,
            };
            metrics.insert(m.name().to_string(), v);
        }
        AutomationResult {
            roi: Some(RoiResult {
                income,
                cost,
                time: 0.0,
                roi,
                margin,
            }),
            package: None,
            metrics,
            modules: if self.modules {
                vec![bot.to_string()]
            } else {
                Vec::new()
            },
            ..AutomationResult::default()
        }
    }
}

impl Pipeline for SimulatedPipeline {
    fn run(&self, bot: &str, energy: u32) -> PipelineFuture {
        Box::pin(std::future::ready(self.run_now(bot, energy)))
    }
}

/// The world's ledger: a bot's revenue minus what its cycles cost.
#[derive(Clone, Debug)]
pub struct SimLedger {
    world: SharedWorld,
    bots: Lookup,
}

impl ProfitSource for SimLedger {
    fn profit(&self, bot: &str) -> Result<f64, HostError> {
        let i = self
            .bots
            .index(bot)
            .ok_or_else(|| format!("no simulated bot called {bot:?}"))?;
        Ok(lock(&self.world).profit(i))
    }
}

/// A one-bot world for `kaizen run`: the bot's pipeline and its ledger.
/// Each pipeline run first advances the world by one tick (revenue, drift),
/// then runs the cycle; measured gains are valued over
/// [`DEFAULT_PAYBACK_TICKS`]. The world's noise comes from `seed`. The
/// pipeline answers to any bot name.
pub fn standalone(
    params: &BotParams,
    seed: u64,
) -> Result<(SimulatedPipeline, Arc<dyn ProfitSource>)> {
    params.validate("bot")?;
    let world = World::new(vec![params.clone()], 0, seed)?.shared();
    let pipeline = SimulatedPipeline {
        world,
        bots: Lookup::One,
        report: ReportConfig::default(),
        advance_first: true,
    };
    let ledger: Arc<dyn ProfitSource> = Arc::new(pipeline.ledger());
    Ok((pipeline, ledger))
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;

    fn quiet() -> BotParams {
        BotParams {
            skill: 0.6,
            noise: 0.0,
            eval_noise: 0.0,
            events: Vec::new(),
            gain: 0.5,
            half_energy: 10.0,
            cost_per_energy: 2.0,
            demand: 100.0,
            drift: 0.1,
        }
    }

    fn payback(payback_ticks: f64) -> ReportConfig {
        ReportConfig {
            payback_ticks,
            synergy: SimMetric::ALL.to_vec(),
            ..ReportConfig::default()
        }
    }

    fn run(
        p: &SimulatedPipeline,
        bot: &str,
        energy: u32,
    ) -> Result<AutomationResult, PipelineError> {
        p.run(bot, energy).now_or_never().unwrap()
    }

    #[test]
    fn a_run_reports_measured_gain_and_roi_by_hand() {
        let names = vec!["a".to_string(), "b".to_string()];
        let world = World::new(vec![quiet(), quiet()], 0, 1).unwrap().shared();
        let p = SimulatedPipeline::new(world.clone(), &names, payback(10.0)).unwrap();
        let r = run(&p, "b", 10).unwrap();
        // Gain 0.5 · 0.4 · 10/20 = 0.1; income 0.1 · 100 · 10 = 100; cost 20.
        let roi = r.roi.unwrap();
        assert!((roi.income - 100.0).abs() < 1e-9);
        assert_eq!(roi.cost, 20.0);
        assert!((roi.roi - 80.0).abs() < 1e-9);
        assert!((roi.margin - 0.8).abs() < 1e-12);
        assert!((r.metrics["eval_before"] - 0.6).abs() < 1e-12);
        assert!((r.metrics["eval_after"] - 0.7).abs() < 1e-12);
        // 0.1 of the 0.4 gap: a quarter.
        assert!((r.metrics["synergy_efficiency"] - 0.25).abs() < 1e-12);
        assert_eq!(r.modules, vec!["b".to_string()]);
        // Only bot b changed; the ledger shows its cost.
        let ledger = p.ledger();
        assert_eq!(ledger.profit("b").unwrap(), -20.0);
        assert_eq!(ledger.profit("a").unwrap(), 0.0);
        assert!(ledger.profit("c").is_err());
        assert!(matches!(run(&p, "c", 1), Err(PipelineError::Failed(_))));
    }

    #[test]
    fn a_dead_end_bot_reports_a_loss() {
        let dead = BotParams {
            gain: 0.0,
            ..quiet()
        };
        let world = World::new(vec![dead], 0, 1).unwrap().shared();
        let p = SimulatedPipeline::new(world, &["d".to_string()], payback(50.0)).unwrap();
        let roi = run(&p, "d", 5).unwrap().roi.unwrap();
        assert_eq!(
            (roi.income, roi.cost, roi.roi, roi.margin),
            (0.0, 10.0, -10.0, -1.0)
        );
    }

    #[test]
    fn no_slot_fails_the_run_and_charges_nothing() {
        let names = vec!["a".to_string(), "b".to_string()];
        let world = World::new(vec![quiet(), quiet()], 1, 1).unwrap().shared();
        let p = SimulatedPipeline::new(world.clone(), &names, payback(10.0)).unwrap();
        assert!(run(&p, "a", 3).is_ok());
        let err = run(&p, "b", 3).unwrap_err();
        assert!(err.to_string().contains("no cycle slot"), "{err}");
        assert_eq!(lock(&world).spent(1), 0.0);
    }

    #[test]
    fn standalone_advances_one_tick_per_run() {
        let (p, ledger) = standalone(&quiet(), 3).unwrap();
        let first = run(&p, "anything", 10).unwrap();
        // The first run ended tick 0 (60 earned at skill 0.6, drift to 0.54),
        // then the cycle: 0.54 + 0.5 · 0.46 · 10/20 = 0.655, cost 20.
        assert!((ledger.profit("x").unwrap() - 40.0).abs() < 1e-9);
        assert!((first.metrics["eval_after"] - 0.655).abs() < 1e-12);
        // Only the default synergy metric is reported.
        assert!(first.metrics.contains_key("synergy_resilience"));
        assert!(!first.metrics.contains_key("synergy_roi"));
        run(&p, "anything", 10).unwrap();
        // Then tick 1 earned 65.5 at 0.655, and the cycle cost 20 more.
        assert!((ledger.profit("x").unwrap() - 85.5).abs() < 1e-9);
        let bad = BotParams {
            gain: 2.0,
            ..quiet()
        };
        let Err(err) = standalone(&bad, 1) else {
            panic!("a gain of 2 was accepted");
        };
        assert_eq!(
            err.to_string(),
            "invalid bot.gain = 2: expected a number in [0, 1]"
        );
    }

    #[test]
    fn payback_must_be_positive() {
        let world = World::new(vec![quiet()], 0, 1).unwrap().shared();
        assert!(SimulatedPipeline::new(world, &["a".to_string()], payback(0.0)).is_err());
    }
}
