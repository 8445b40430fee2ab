//! Seeded simulations that measure the A/B test's error rates and power when
//! it is watched after every outcome, beside a fixed-sample t-test watched
//! the same way (issue 14's "Must show").
//!
//! Each simulated test alternates outcomes between the serving arm (mean 1)
//! and the challenger (mean `1 + uplift`), with noise of standard deviation
//! `noise_sd` — normal, or a centred log-normal (skewed, heavy right tail)
//! to see how the normal-model test fares off its assumptions. After every
//! outcome three rules look at the same data:
//! - **anytime-valid**: [`AbTest`] at level `α` and minimum effect `δ`;
//!   promotes when its evidence reaches `1/α`;
//! - **watched t-test**: the one-sided pooled two-sample t-test of
//!   "uplift > δ", promoting the first time `p < α` (once each arm has 2
//!   outcomes) — what an operator gets by refreshing a fixed-sample test;
//! - **t-test at the end**: the same t-test looked at once, after the last
//!   outcome — the fixed-sample test used as designed.
//!
//! With `uplift ≤ δ` a promotion is false, and its rate is the type-I error;
//! with `uplift > δ` the rate is the power. `examples/abtest_sim.rs` prints
//! the table; `tests/it/stats_validity.rs` asserts on it.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::abtest::{AbTest, AbTestConfig, Arm, Decision};
use super::error::StatsError;
use super::moments::{Moments, PooledDifference};
use super::student_t;

/// The shape of the outcome noise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Noise {
    /// Normal: the A/B test's own model.
    Normal,
    /// `e^Z` with `Z` standard normal, centred and scaled to the standard
    /// deviation asked for: skewness ≈ 6.2.
    LogNormal,
}

/// One simulated situation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    /// A label for the table.
    pub name: String,
    /// The challenger's relative uplift over the serving mean of 1 (0.1 = 10%).
    pub uplift: f64,
    /// `δ`, the minimum effect the challenger must beat (absolute).
    pub min_effect: f64,
    /// The standard deviation of each outcome.
    pub noise_sd: f64,
    /// The shape of the noise.
    pub noise: Noise,
}

/// How many tests, how long, at which level, from which seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimulationConfig {
    /// Simulated tests per scenario.
    pub tests: u64,
    /// Outcomes (both arms) per test at most.
    pub max_outcomes: u64,
    /// The level `α` of every rule.
    pub alpha: f64,
    /// The seed; test `i` uses the stream `(seed, i)`.
    pub seed: u64,
}

impl Default for SimulationConfig {
    fn default() -> Self {
        SimulationConfig {
            tests: 1_000,
            max_outcomes: 500,
            alpha: 0.05,
            seed: 1,
        }
    }
}

/// What one rule did over all the tests of a scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleResult {
    /// Tests in which the rule promoted the challenger.
    pub promotions: u64,
    /// `promotions / tests`.
    pub rate: f64,
    /// The median number of outcomes at which the promoting tests promoted.
    pub median_outcomes: Option<f64>,
}

/// One row of the table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScenarioResult {
    /// The scenario simulated.
    pub scenario: Scenario,
    /// Tests simulated.
    pub tests: u64,
    /// The anytime-valid [`AbTest`], watched after every outcome.
    pub anytime_valid: RuleResult,
    /// The one-sided t-test, watched after every outcome.
    pub watched_t_test: RuleResult,
    /// The one-sided t-test, looked at once at the end.
    pub final_t_test: RuleResult,
}

/// Runs `config.tests` seeded tests of `scenario` (see the module docs).
///
/// # Errors
/// Settings an [`AbTest`] refuses (`alpha` outside (0, 1), fewer than 4
/// outcomes, a non-finite `min_effect`), or a non-finite uplift or a
/// non-positive noise.
pub fn simulate(
    config: &SimulationConfig,
    scenario: &Scenario,
) -> Result<ScenarioResult, StatsError> {
    if !(scenario.noise_sd.is_finite() && scenario.noise_sd > 0.0) {
        return Err(StatsError::invalid(
            "noise_sd",
            scenario.noise_sd,
            "a finite number > 0",
        ));
    }
    if !scenario.uplift.is_finite() {
        return Err(StatsError::invalid(
            "uplift",
            scenario.uplift,
            "a finite number",
        ));
    }
    let ab_config = AbTestConfig {
        alpha: config.alpha,
        min_effect: scenario.min_effect,
        max_outcomes: Some(config.max_outcomes),
        ..AbTestConfig::default()
    };
    AbTest::new(ab_config.clone())?;
    let mut times = [Vec::new(), Vec::new(), Vec::new()];
    for test in 0..config.tests {
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        rng.set_stream(test);
        let [anytime, watched, at_end] =
            run_one(&ab_config, scenario, config.max_outcomes, &mut rng)?;
        for (list, time) in times.iter_mut().zip([anytime, watched, at_end]) {
            list.extend(time);
        }
    }
    let [anytime_valid, watched_t_test, final_t_test] = times.map(|t| summarise(t, config.tests));
    Ok(ScenarioResult {
        scenario: scenario.clone(),
        tests: config.tests,
        anytime_valid,
        watched_t_test,
        final_t_test,
    })
}

/// One test: the number of outcomes at which each rule promoted, if it did.
fn run_one(
    ab_config: &AbTestConfig,
    scenario: &Scenario,
    max_outcomes: u64,
    rng: &mut ChaCha8Rng,
) -> Result<[Option<u64>; 3], StatsError> {
    let mut test = AbTest::new(ab_config.clone())?;
    let (mut serving, mut challenger) = (Moments::default(), Moments::default());
    let (mut anytime, mut watched) = (None, None);
    let one_sided_p = |s: &Moments, c: &Moments| {
        let pooled = PooledDifference::new(s, c);
        student_t::sf(pooled.t(scenario.min_effect), pooled.df)
    };
    for n in 1..=max_outcomes {
        let (arm, mean) = if n % 2 == 1 {
            (Arm::Serving, 1.0)
        } else {
            (Arm::Challenger, 1.0 + scenario.uplift)
        };
        let value = mean + scenario.noise_sd * noise(scenario.noise, rng);
        match arm {
            Arm::Serving => serving.push(value),
            Arm::Challenger => challenger.push(value),
        }
        if anytime.is_none() && test.verdict().is_none() {
            test.observe(arm, value)?;
            if test
                .verdict()
                .is_some_and(|v| v.decision == Decision::Promote)
            {
                anytime = Some(n);
            }
        }
        if watched.is_none()
            && serving.count >= 2
            && challenger.count >= 2
            && one_sided_p(&serving, &challenger) < ab_config.alpha
        {
            watched = Some(n);
        }
    }
    let at_end = (one_sided_p(&serving, &challenger) < ab_config.alpha).then_some(max_outcomes);
    Ok([anytime, watched, at_end])
}

fn summarise(mut times: Vec<u64>, tests: u64) -> RuleResult {
    times.sort_unstable();
    let median_outcomes = match times.len() {
        0 => None,
        k if k % 2 == 1 => Some(times[k / 2] as f64),
        k => Some(0.5 * (times[k / 2 - 1] + times[k / 2]) as f64),
    };
    RuleResult {
        promotions: times.len() as u64,
        rate: times.len() as f64 / tests as f64,
        median_outcomes,
    }
}

/// One draw of standardised noise (mean 0, variance 1) of the given shape.
fn noise(shape: Noise, rng: &mut ChaCha8Rng) -> f64 {
    let z = standard_normal(rng);
    match shape {
        Noise::Normal => z,
        Noise::LogNormal => {
            // e^Z has mean e^(1/2) and variance (e − 1)·e.
            let e = std::f64::consts::E;
            (z.exp() - e.sqrt()) / ((e - 1.0) * e).sqrt()
        }
    }
}

/// A standard normal draw by the Box–Muller transform.
pub(crate) fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_is_standardised() {
        for shape in [Noise::Normal, Noise::LogNormal] {
            let mut rng = ChaCha8Rng::seed_from_u64(3);
            let mut m = Moments::default();
            (0..200_000).for_each(|_| m.push(noise(shape, &mut rng)));
            assert!(m.mean.abs() < 0.01, "{shape:?} mean {}", m.mean);
            assert!(
                (m.sample_variance() - 1.0).abs() < 0.05,
                "{shape:?} var {}",
                m.sample_variance()
            );
        }
    }

    #[test]
    fn same_seed_same_table() {
        let config = SimulationConfig {
            tests: 20,
            max_outcomes: 60,
            ..SimulationConfig::default()
        };
        let scenario = Scenario {
            name: "a/b".into(),
            uplift: 0.5,
            min_effect: 0.0,
            noise_sd: 1.0,
            noise: Noise::Normal,
        };
        let a = simulate(&config, &scenario).unwrap();
        assert_eq!(a, simulate(&config, &scenario).unwrap());
        assert!(a.watched_t_test.promotions >= a.final_t_test.promotions.min(1));
        let err = simulate(
            &config,
            &Scenario {
                noise_sd: 0.0,
                ..scenario
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("noise_sd"), "{err}");
    }

    #[test]
    fn medians_by_hand() {
        assert_eq!(summarise(vec![9, 3, 5], 10).median_outcomes, Some(5.0));
        let r = summarise(vec![4, 2], 8);
        assert_eq!(
            (r.median_outcomes, r.promotions, r.rate),
            (Some(3.0), 2, 0.25)
        );
        assert_eq!(summarise(vec![], 8).median_outcomes, None);
    }
}
