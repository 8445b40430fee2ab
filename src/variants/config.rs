//! The `[variants]` table of an engine spec.
//!
//! ```toml
//! [variants]
//! seed = 1              # the mutation engine's seed (default 0)
//! metric = "roi"        # the outcome: the result's roi.roi (default) or a metric's name
//! commands = [["./a.sh"], ["./b.sh", "--fast"]] # code variants (default: the pipeline's command)
//!
//! [variants.evolution] # see EvolutionConfig for every key
//! size = 8              # members
//! init = "grid"         # or "random" (default)
//!
//! [variants.test]       # the A/B test that decides which variant serves
//! alpha = 0.05          # its level
//! min_effect = 0.0      # the uplift (outcome per unit of energy) to beat
//! max_outcomes = 400    # hold after this many outcomes without evidence
//! deadline = 86400      # hold after this many seconds without evidence
//!
//! [variants.space]      # see crate::variants::space
//! lr = { float = [1e-4, 0.1], log = true }
//! ```
//!
//! Population-based training across the bots of a group (training bots
//! only; see [`crate::variants::pbt`] and [`crate::pipeline::pbt`]):
//! ```toml
//! [variants]
//! group = "rankers"       # bots sharing this name form a PBT group
//! pbt_interval = 20       # check every 20 outcomes (trained cycles) of this bot
//! pbt_quantile = 0.25     # the bottom share copies the top share
//! pbt_bypass_gate = false # true: a copied model serves at once, without the deploy gate
//! ```
//!
//! Every error names the key (`variants.space.lr`, `variants.test.alpha`, …),
//! and a spec file's error also its line.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::population::{EvolutionConfig, Population};
use super::space::{ParamSpec, Space};
use crate::stats::{AbTest, AbTestConfig};
use crate::{Error, Result};

/// The `[variants.test]` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TestSettings {
    /// The level α (default 0.05).
    pub alpha: f64,
    /// The minimum uplift δ, in outcome per unit of energy (default 0).
    pub min_effect: f64,
    /// Hold after this many outcomes (both arms) without evidence (default 400).
    pub max_outcomes: Option<u64>,
    /// Hold after this many seconds without evidence.
    pub deadline: Option<f64>,
}

impl Default for TestSettings {
    fn default() -> Self {
        TestSettings {
            alpha: 0.05,
            min_effect: 0.0,
            max_outcomes: Some(400),
            deadline: None,
        }
    }
}

impl TestSettings {
    /// The A/B test's settings for a test started at `now`, at level `alpha`
    /// (this table's, or lower when a fleet's FDR rule asks for it).
    pub fn abtest(&self, now: f64, alpha: f64) -> AbTestConfig {
        AbTestConfig {
            alpha,
            min_effect: self.min_effect,
            max_outcomes: self.max_outcomes,
            deadline: self.deadline.map(|d| now + d),
            tuned_for: None,
        }
    }

    fn check(&self) -> Result<()> {
        if let Some(d) = self.deadline.filter(|d| !(d.is_finite() && *d > 0.0)) {
            return Err(Error::invalid(
                "variants.test.deadline",
                d,
                "seconds above 0",
            ));
        }
        AbTest::new(self.abtest(0.0, self.alpha)).map_err(|e| {
            let text = e.to_string();
            let key = ["alpha", "min_effect", "max_outcomes"]
                .into_iter()
                .find(|k| text.contains(k))
                .unwrap_or("alpha");
            Error::invalid(
                format!("variants.test.{key}"),
                text,
                "a valid A/B test setting",
            )
        })?;
        Ok(())
    }
}

/// The `[variants]` table (see the module docs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantsSpec {
    /// The mutation engine's seed.
    #[serde(default)]
    pub seed: u64,
    /// The mutation engine's settings (`[variants.evolution]`).
    #[serde(default)]
    pub evolution: EvolutionConfig,
    /// The outcome: `roi` (the result's `roi.roi`) or a metric's name.
    #[serde(default)]
    pub metric: Option<String>,
    /// Code variants: alternative commands.
    #[serde(default)]
    pub commands: Vec<Vec<String>>,
    /// The A/B test.
    #[serde(default)]
    pub test: TestSettings,
    /// The search space.
    #[serde(default)]
    pub space: BTreeMap<String, ParamSpec>,
    // The PBT keys are written only when set, so the state file of a bot
    // outside a group keeps the shape it had before they existed.
    /// The population-based-training group this bot belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Outcomes (trained cycles) of this bot between two of its PBT checks (default 20).
    #[serde(
        default = "default_pbt_interval",
        skip_serializing_if = "is_default_interval"
    )]
    pub pbt_interval: u64,
    /// The group's bottom share that copies its top share (default 0.25).
    #[serde(
        default = "default_pbt_quantile",
        skip_serializing_if = "is_default_quantile"
    )]
    pub pbt_quantile: f64,
    /// A copied model serves at once instead of passing the deploy gate.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pbt_bypass_gate: bool,
}

/// The default of `pbt_interval`.
pub const DEFAULT_PBT_INTERVAL: u64 = 20;

/// The default of `pbt_quantile`.
pub const DEFAULT_PBT_QUANTILE: f64 = 0.25;

fn default_pbt_interval() -> u64 {
    DEFAULT_PBT_INTERVAL
}

fn default_pbt_quantile() -> f64 {
    DEFAULT_PBT_QUANTILE
}

fn is_default_interval(n: &u64) -> bool {
    *n == DEFAULT_PBT_INTERVAL
}

fn is_default_quantile(q: &f64) -> bool {
    *q == DEFAULT_PBT_QUANTILE
}

impl Default for VariantsSpec {
    fn default() -> Self {
        VariantsSpec {
            seed: 0,
            evolution: EvolutionConfig::default(),
            metric: None,
            commands: Vec::new(),
            test: TestSettings::default(),
            space: BTreeMap::new(),
            group: None,
            pbt_interval: DEFAULT_PBT_INTERVAL,
            pbt_quantile: DEFAULT_PBT_QUANTILE,
            pbt_bypass_gate: false,
        }
    }
}

impl VariantsSpec {
    /// Checks the table; errors name the key.
    pub fn check(&self) -> Result<Space> {
        self.evolution.check()?;
        self.test.check()?;
        if let Some(i) = self
            .commands
            .iter()
            .position(|c| c.first().is_none_or(|p| p.trim().is_empty()))
        {
            return Err(Error::invalid(
                format!("variants.commands[{i}]"),
                "[]",
                "a program and its arguments",
            ));
        }
        if self.metric.as_deref().is_some_and(|m| m.trim().is_empty()) {
            return Err(Error::invalid(
                "variants.metric",
                "\"\"",
                "\"roi\" or a metric's name",
            ));
        }
        self.check_pbt()?;
        let space = Space::from_specs(&self.space)?;
        if space.is_empty() && self.commands.len() < 2 {
            return Err(Error::invalid(
                "variants.space",
                "nothing to vary",
                "a [variants.space] parameter or at least two variants.commands",
            ));
        }
        Ok(space)
    }

    fn check_pbt(&self) -> Result<()> {
        if let Some(g) = self.group.as_deref().filter(|g| {
            g.is_empty()
                || g.len() > 64
                || !g
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        }) {
            return Err(Error::invalid(
                "variants.group",
                format!("{g:?}"),
                "a name of 1 to 64 letters, digits, '_', '.' or '-'",
            ));
        }
        if self.pbt_interval == 0 {
            return Err(Error::invalid(
                "variants.pbt_interval",
                0,
                "at least 1 outcome",
            ));
        }
        if !(self.pbt_quantile > 0.0 && self.pbt_quantile <= 0.5) {
            return Err(Error::invalid(
                "variants.pbt_quantile",
                self.pbt_quantile,
                "a share in (0, 0.5]",
            ));
        }
        Ok(())
    }

    /// The first population this table describes.
    pub fn population(&self) -> Result<Population> {
        let space = self.check()?;
        Population::new(
            space,
            self.evolution.clone(),
            self.commands.len().max(1),
            self.seed,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Population> {
        let spec: VariantsSpec = toml::from_str(text)
            .map_err(|e| Error::invalid("variants", e.message().to_string(), "a table"))?;
        spec.population()
    }

    #[test]
    fn a_full_table_parses() {
        let pop = parse(
            "seed = 3\nmetric = \"accuracy\"\ncommands = [[\"a\"], [\"b\", \"-x\"]]\n[evolution]\nsize = 4\ninit = \"grid\"\n[test]\nalpha = 0.1\nmax_outcomes = 100\ndeadline = 60\n[space]\nlr = { float = [1e-4, 0.1], log = true }\n",
        )
        .unwrap();
        assert_eq!(pop.members().len(), 4);
        assert_eq!(pop.members()[1].command, 1);
    }

    /// A table without PBT keys is written as before they existed; one with
    /// them reads back equal.
    #[test]
    fn pbt_keys_are_written_only_when_set() {
        let plain: VariantsSpec = toml::from_str("[space]\nx = { int = [1, 2] }").unwrap();
        let json = serde_json::to_value(&plain).unwrap();
        for key in ["group", "pbt_interval", "pbt_quantile", "pbt_bypass_gate"] {
            assert!(json.get(key).is_none(), "{key}: {json}");
        }
        let set: VariantsSpec = toml::from_str(
            "group = \"g\"\npbt_interval = 5\npbt_quantile = 0.5\npbt_bypass_gate = true\n[space]\nx = { int = [1, 2] }",
        )
        .unwrap();
        assert!(set.check().is_ok());
        let back: VariantsSpec =
            serde_json::from_value(serde_json::to_value(&set).unwrap()).unwrap();
        assert_eq!(back, set);
        assert_eq!((back.pbt_interval, back.group.as_deref()), (5, Some("g")));
    }

    #[test]
    fn errors_name_the_key() {
        for (text, key) in [
            (
                "[evolution]\nsize = 1\n[space]\nx = { int = [1, 2] }",
                "variants.evolution.size",
            ),
            (
                "[test]\nalpha = 2.0\n[space]\nx = { int = [1, 2] }",
                "variants.test.alpha",
            ),
            (
                "[test]\nmax_outcomes = 2\n[space]\nx = { int = [1, 2] }",
                "variants.test.max_outcomes",
            ),
            (
                "[test]\ndeadline = -1\n[space]\nx = { int = [1, 2] }",
                "variants.test.deadline",
            ),
            (
                "commands = [[]]\n[space]\nx = { int = [1, 2] }",
                "variants.commands[0]",
            ),
            (
                "metric = \"\"\n[space]\nx = { int = [1, 2] }",
                "variants.metric",
            ),
            ("[space]\nx = { int = [2, 1] }", "variants.space.x"),
            ("seed = 1", "variants.space"),
            (
                "pbt_interval = 0\n[space]\nx = { int = [1, 2] }",
                "variants.pbt_interval",
            ),
            (
                "pbt_quantile = 0.75\n[space]\nx = { int = [1, 2] }",
                "variants.pbt_quantile",
            ),
            (
                "group = \"a b\"\n[space]\nx = { int = [1, 2] }",
                "variants.group",
            ),
        ] {
            let err = parse(text).unwrap_err();
            assert!(
                matches!(&err, Error::Invalid { what, .. } if what == key),
                "{text}: {err}"
            );
        }
    }
}
