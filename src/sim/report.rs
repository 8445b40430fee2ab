//! The result of a simulation: per policy, what it earned and spent, as a
//! table for people and JSON for tools.
//!
//! The JSON is deterministic: fields in a fixed order, policies in
//! [`PolicyKind::ALL`] order, bots in scenario order, maps sorted, and no
//! wall-clock time anywhere — the same seed and scenario give the same bytes.
//!
//! ```
//! use kaizen::sim::{BotParams, PolicyKind, PolicyReport, World};
//!
//! let mut world = World::new(vec![BotParams { noise: 0.0, ..BotParams::default() }], 0, 1)?;
//! world.run_cycle(0, 10).unwrap();
//! world.end_tick();
//! let row = PolicyReport::from_world(PolicyKind::Always, &world, &["a".to_string()]);
//! assert_eq!((row.cycles, row.energy, row.spent), (1, 10, 10.0));
//! assert!(row.share_of_oracle.is_none());
//! # Ok::<(), kaizen::Error>(())
//! ```

use serde::Serialize;
use std::fmt::Write as _;

use super::PolicyKind;
use super::learned::EngineTally;
use super::scenario::{BotSpec, Scenario};
use super::world::World;

/// One bot under one policy.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BotReport {
    /// The bot.
    pub name: String,
    /// Revenue minus cycle costs.
    pub net_profit: f64,
    /// Revenue.
    pub revenue: f64,
    /// What its cycles cost.
    pub spent: f64,
    /// Cycles run.
    pub cycles: u64,
    /// Energy spent.
    pub energy: u64,
    /// Its hidden skill at the end.
    pub final_skill: f64,
}

/// One policy's result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PolicyReport {
    /// The policy.
    pub policy: PolicyKind,
    /// Revenue minus cycle costs, over all bots.
    pub net_profit: f64,
    /// Revenue over all bots.
    pub revenue: f64,
    /// What all cycles cost.
    pub spent: f64,
    /// Cycles run.
    pub cycles: u64,
    /// Energy spent.
    pub energy: u64,
    /// `net_profit / oracle's net_profit`, when the oracle's is positive.
    pub share_of_oracle: Option<f64>,
    /// Per bot, in scenario order.
    pub bots: Vec<BotReport>,
    /// For `learned`: what the engines did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engines: Option<EngineTally>,
}

impl PolicyReport {
    /// The result of `policy` read off its final `world` (bots called `names`).
    pub fn from_world(policy: PolicyKind, world: &World, names: &[String]) -> PolicyReport {
        let bots: Vec<BotReport> = names
            .iter()
            .enumerate()
            .map(|(i, name)| BotReport {
                name: name.clone(),
                net_profit: world.profit(i),
                revenue: world.revenue(i),
                spent: world.spent(i),
                cycles: world.cycles(i),
                energy: world.energy(i),
                final_skill: world.skill(i),
            })
            .collect();
        PolicyReport {
            policy,
            net_profit: bots.iter().map(|b| b.net_profit).sum(),
            revenue: bots.iter().map(|b| b.revenue).sum(),
            spent: bots.iter().map(|b| b.spent).sum(),
            cycles: bots.iter().map(|b| b.cycles).sum(),
            energy: bots.iter().map(|b| b.energy).sum(),
            share_of_oracle: None,
            bots,
            engines: None,
        }
    }
}

/// The scenario as the report shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScenarioSummary {
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// The seed used.
    pub seed: u64,
    /// The ticks simulated.
    pub ticks: u64,
    /// Simulated seconds per tick.
    pub tick_seconds: f64,
    /// The bots.
    pub bots: Vec<BotSpec>,
}

/// A whole simulation's result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// What was simulated.
    pub scenario: ScenarioSummary,
    /// The oracle's net profit (always computed: every share is of it).
    pub oracle_net_profit: f64,
    /// The policies run, in [`PolicyKind::ALL`] order.
    pub policies: Vec<PolicyReport>,
}

impl Report {
    /// A report on `scenario` run with `seed` for `ticks`.
    pub fn new(
        scenario: &Scenario,
        seed: u64,
        ticks: u64,
        oracle_net_profit: f64,
        mut policies: Vec<PolicyReport>,
    ) -> Report {
        policies.sort_by_key(|p| p.policy);
        for p in &mut policies {
            p.share_of_oracle = (oracle_net_profit > 0.0).then(|| p.net_profit / oracle_net_profit);
        }
        Report {
            scenario: ScenarioSummary {
                name: scenario.name.clone(),
                description: scenario.description.clone(),
                seed,
                ticks,
                tick_seconds: scenario.tick_seconds,
                bots: scenario.bots.clone(),
            },
            oracle_net_profit,
            policies,
        }
    }

    /// The policy's row, if it was run.
    pub fn policy(&self, kind: PolicyKind) -> Option<&PolicyReport> {
        self.policies.iter().find(|p| p.policy == kind)
    }

    /// The baseline with the highest net profit among those run.
    pub fn best_baseline(&self) -> Option<&PolicyReport> {
        self.policies
            .iter()
            .filter(|p| p.policy.is_baseline())
            .max_by(|a, b| a.net_profit.total_cmp(&b.net_profit))
    }

    /// The report as pretty JSON, ending in a newline.
    pub fn to_json(&self) -> String {
        // Every number in a report is finite and every key a string, so
        // encoding cannot fail; the fallback keeps this total anyway.
        let mut text = serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| format!("{{\"error\": {:?}}}", e.to_string()));
        text.push('\n');
        text
    }

    /// The table: one row per policy with net profit, cycles, energy spent
    /// and share of the oracle's net profit.
    pub fn table(&self) -> String {
        let s = &self.scenario;
        let mut out = format!(
            "scenario {} — {} bots, {} ticks, seed {}\n",
            s.name,
            s.bots.len(),
            s.ticks,
            s.seed
        );
        let _ = writeln!(
            out,
            "{:<10} {:>14} {:>8} {:>10} {:>10}",
            "policy", "net profit", "cycles", "energy", "% oracle"
        );
        for p in &self.policies {
            let share = p
                .share_of_oracle
                .map_or_else(|| "-".to_string(), |r| format!("{:.1}%", 100.0 * r));
            let _ = writeln!(
                out,
                "{:<10} {:>14.1} {:>8} {:>10} {:>10}",
                p.policy.name(),
                p.net_profit,
                p.cycles,
                p.energy,
                share
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::BotParams;

    fn row(policy: PolicyKind, net: f64) -> PolicyReport {
        PolicyReport {
            policy,
            net_profit: net,
            revenue: net,
            spent: 0.0,
            cycles: 1,
            energy: 2,
            share_of_oracle: None,
            bots: Vec::new(),
            engines: None,
        }
    }

    fn scenario() -> Scenario {
        Scenario {
            bots: vec![BotSpec {
                name: "a".into(),
                params: BotParams::default(),
                model: None,
            }],
            ..Scenario::default()
        }
    }

    #[test]
    fn shares_order_and_best_baseline() {
        let r = Report::new(
            &scenario(),
            3,
            10,
            200.0,
            vec![
                row(PolicyKind::Oracle, 200.0),
                row(PolicyKind::Random, 120.0),
                row(PolicyKind::Learned, 190.0),
                row(PolicyKind::Always, 150.0),
            ],
        );
        let order: Vec<PolicyKind> = r.policies.iter().map(|p| p.policy).collect();
        assert_eq!(
            order,
            [
                PolicyKind::Learned,
                PolicyKind::Always,
                PolicyKind::Random,
                PolicyKind::Oracle
            ]
        );
        assert_eq!(
            r.policy(PolicyKind::Learned).unwrap().share_of_oracle,
            Some(0.95)
        );
        assert_eq!(r.best_baseline().unwrap().policy, PolicyKind::Always);
        let table = r.table();
        assert!(table.contains("learned"), "{table}");
        assert!(table.contains("95.0%"), "{table}");
        assert!(table.lines().count() == 6, "{table}");
    }

    #[test]
    fn no_share_without_a_positive_oracle() {
        let r = Report::new(&scenario(), 1, 1, 0.0, vec![row(PolicyKind::Always, 5.0)]);
        assert_eq!(r.policies[0].share_of_oracle, None);
        assert!(r.table().contains(" -"));
        assert!(r.to_json().contains("\"share_of_oracle\": null"));
    }

    #[test]
    fn json_is_stable_and_names_the_policy() {
        let r = Report::new(
            &scenario(),
            1,
            1,
            1.0,
            vec![row(PolicyKind::Threshold, 1.0)],
        );
        let json = r.to_json();
        assert_eq!(json, r.clone().to_json());
        assert!(json.contains("\"policy\": \"threshold\""), "{json}");
        assert!(json.ends_with("}\n"));
        assert!(!json.contains("engines"));
    }
}
