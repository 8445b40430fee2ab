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
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
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
        ] {
            let err = parse(text).unwrap_err();
            assert!(
                matches!(&err, Error::Invalid { what, .. } if what == key),
                "{text}: {err}"
            );
        }
    }
}
