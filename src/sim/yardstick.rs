//! The yardstick: every policy on every scenario over several seeds, as a
//! share of the oracle's net profit — the mean and the minimum over the
//! seeds — and how the decision core (`core`) fares against `tuned`.
//!
//! [`measure`] runs it; [`Yardstick::markdown`] prints the table README
//! shows (`cargo run --release --example yardstick` prints it for the
//! shipped scenarios and for worlds drawn at random).
//!
//! ```
//! use kaizen::sim::{PolicyKind, Scenario, yardstick};
//!
//! let s = Scenario::from_toml("name = \"two\"\nticks = 100\n[[bots]]\nname = \"a\"\n[[bots]]\nname = \"b\"")?;
//! let table = yardstick::measure(&[s], &[1, 2], &[PolicyKind::Always, PolicyKind::Oracle])?;
//! let row = &table.rows[0];
//! assert_eq!(row.share(1).1, 100.0); // the oracle is 100% of itself on every seed
//! assert!(table.markdown().contains("| `two` |"));
//! # Ok::<(), kaizen::Error>(())
//! ```

use std::fmt::Write as _;

use super::PolicyKind;
use super::run::{SimOptions, simulate};
use super::scenario::Scenario;
use crate::Result;

/// The yardstick over a set of scenarios.
#[derive(Clone, Debug, PartialEq)]
pub struct Yardstick {
    /// The policies measured, in [`PolicyKind::ALL`]'s order.
    pub policies: Vec<PolicyKind>,
    /// The seeds each scenario ran with.
    pub seeds: Vec<u64>,
    /// One row per scenario, in the order given.
    pub rows: Vec<Row>,
}

/// One scenario's results.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The scenario's name.
    pub scenario: String,
    /// Its bots, cycle slots (0: no limit) and ticks.
    pub shape: (usize, u32, u64),
    /// Net profit per policy (as in [`Yardstick::policies`]), per seed.
    pub profits: Vec<Vec<f64>>,
    /// The oracle's net profit per seed.
    pub oracle: Vec<f64>,
}

impl Row {
    /// The `k`-th policy's share of the oracle in percent: the mean and the
    /// minimum over the seeds.
    pub fn share(&self, k: usize) -> (f64, f64) {
        let shares: Vec<f64> = self.profits[k]
            .iter()
            .zip(&self.oracle)
            .map(|(p, o)| 100.0 * p / o)
            .collect();
        mean_min(&shares)
    }

    /// The `k`-th policy's mean net profit over the seeds.
    pub fn mean(&self, k: usize) -> f64 {
        mean_min(&self.profits[k]).0
    }
}

/// Runs `policies` (the oracle is always run, as the 100% mark) on every
/// scenario with every seed.
pub fn measure(
    scenarios: &[Scenario],
    seeds: &[u64],
    policies: &[PolicyKind],
) -> Result<Yardstick> {
    let policies: Vec<PolicyKind> = PolicyKind::ALL
        .into_iter()
        .filter(|k| policies.contains(k))
        .collect();
    let mut rows = Vec::with_capacity(scenarios.len());
    for scenario in scenarios {
        let mut profits = vec![Vec::with_capacity(seeds.len()); policies.len()];
        let mut oracle = Vec::with_capacity(seeds.len());
        for &seed in seeds {
            let options = SimOptions {
                seed: Some(seed),
                policies: policies.clone(),
                ..SimOptions::default()
            };
            let report = simulate(scenario, &options, &mut |_, _| {})?;
            for (k, kind) in policies.iter().enumerate() {
                let row = report.policy(*kind).ok_or_else(|| {
                    crate::Error::invalid("yardstick.policy", kind.name(), "a policy it ran")
                })?;
                profits[k].push(row.net_profit);
            }
            oracle.push(report.oracle_net_profit);
        }
        rows.push(Row {
            scenario: scenario.name.clone(),
            shape: (
                scenario.bots.len(),
                scenario.capacity.max_concurrent,
                scenario.ticks,
            ),
            profits,
            oracle,
        });
    }
    Ok(Yardstick {
        policies,
        seeds: seeds.to_vec(),
        rows,
    })
}

impl Yardstick {
    /// Where `kind` is among the policies measured.
    pub fn column(&self, kind: PolicyKind) -> Option<usize> {
        self.policies.iter().position(|k| *k == kind)
    }

    /// The table in Markdown: per scenario and policy, `mean / min` % of the
    /// oracle over the seeds; with `core` and `tuned` both measured, a last
    /// column with core's mean net profit over tuned's.
    pub fn markdown(&self) -> String {
        let vs = self
            .column(PolicyKind::Core)
            .zip(self.column(PolicyKind::Tuned));
        let mut out = String::from("| scenario | bots / slots / ticks |");
        for k in &self.policies {
            let _ = write!(out, " {k} |");
        }
        if vs.is_some() {
            out.push_str(" core ÷ tuned |");
        }
        out.push_str("\n|---|---|");
        for _ in &self.policies {
            out.push_str("---:|");
        }
        if vs.is_some() {
            out.push_str("---:|");
        }
        out.push('\n');
        for row in &self.rows {
            let (bots, slots, ticks) = row.shape;
            let slots = if slots == 0 {
                "–".to_string()
            } else {
                slots.to_string()
            };
            let _ = write!(out, "| `{}` | {bots} / {slots} / {ticks} |", row.scenario);
            for k in 0..self.policies.len() {
                let (mean, min) = row.share(k);
                let _ = write!(out, " {mean:.1} / {min:.1} |");
            }
            if let Some((c, t)) = vs {
                let _ = write!(out, " {:.3} |", row.mean(c) / row.mean(t));
            }
            out.push('\n');
        }
        out
    }

    /// How the decision core fares, when `core` and `tuned` were measured:
    /// the rows where some seed's share of the oracle is under `floor` %, and
    /// the rows where core's mean is under `ratio` × tuned's.
    pub fn shortfalls(&self, floor: f64, ratio: f64) -> Option<(Vec<&str>, Vec<&str>)> {
        let c = self.column(PolicyKind::Core)?;
        let t = self.column(PolicyKind::Tuned)?;
        let under = self
            .rows
            .iter()
            .filter(|r| r.share(c).1 < floor)
            .map(|r| r.scenario.as_str())
            .collect();
        let behind = self
            .rows
            .iter()
            .filter(|r| r.mean(c) < ratio * r.mean(t))
            .map(|r| r.scenario.as_str())
            .collect();
        Some((under, behind))
    }
}

/// The mean and minimum of `values` (0 and +∞ when empty).
fn mean_min(values: &[f64]) -> (f64, f64) {
    let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
    (mean, values.iter().copied().fold(f64::INFINITY, f64::min))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two() -> Scenario {
        Scenario::from_toml(
            "name = \"pair\"\nticks = 200\n[[bots]]\nname = \"a\"\n[[bots]]\nname = \"dead\"\ngain = 0.0",
        )
        .unwrap()
    }

    #[test]
    fn the_table_has_a_row_per_scenario_and_a_column_per_policy() {
        let table = measure(
            &[two(), Scenario::random(3)],
            &[1, 2],
            &[PolicyKind::Core, PolicyKind::Always, PolicyKind::Oracle],
        )
        .unwrap();
        assert_eq!(
            table.policies,
            [PolicyKind::Core, PolicyKind::Always, PolicyKind::Oracle]
        );
        assert_eq!(table.rows.len(), 2);
        let pair = &table.rows[0];
        assert_eq!(pair.shape, (2, 0, 200));
        assert_eq!(pair.oracle.len(), 2);
        assert_eq!(pair.share(2), (100.0, 100.0));
        let (always_mean, always_min) = pair.share(1);
        assert!(always_min <= always_mean && always_mean < 100.0);
        let md = table.markdown();
        assert_eq!(md.lines().count(), 4);
        assert!(md.starts_with("| scenario | bots / slots / ticks | core | always | oracle |\n"));
        assert!(md.contains("| `pair` | 2 / – / 200 |"));
        // core ÷ tuned needs tuned
        assert!(!md.contains("÷") && table.shortfalls(90.0, 0.99).is_none());
    }

    #[test]
    fn shortfalls_name_the_rows_under_the_marks() {
        let table = measure(&[two()], &[1], &[PolicyKind::Core, PolicyKind::Tuned]).unwrap();
        let row = &table.rows[0];
        let (share, _) = row.share(0);
        let ratio = row.mean(0) / row.mean(1);
        let (under, behind) = table.shortfalls(share + 1.0, ratio + 0.01).unwrap();
        assert_eq!((under, behind), (vec!["pair"], vec!["pair"]));
        let (under, behind) = table.shortfalls(share - 1.0, ratio - 0.01).unwrap();
        assert!(under.is_empty() && behind.is_empty());
        assert!(table.markdown().contains(&format!(" {ratio:.3} |")));
    }
}
