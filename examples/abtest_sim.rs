//! How kaizen's anytime-valid A/B test behaves when it is watched after every
//! outcome, beside a fixed-sample t-test watched the same way.
//!
//! ```text
//! cargo run --release --example abtest_sim [-- TESTS]
//! ```
//!
//! Each row simulates TESTS (default 1,000) seeded tests of up to 500
//! outcomes alternating between the serving arm (mean 1) and the challenger
//! (mean 1 + uplift). "promoted" is the share of tests that promoted the
//! challenger — a false-promotion rate when the uplift is not above δ, the
//! power otherwise — and "median n" the median number of outcomes at which
//! they did. See `kaizen::stats::simulation` for the details.

use kaizen::stats::simulation::{Noise, RuleResult, Scenario, SimulationConfig, simulate};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tests = match std::env::args().nth(1) {
        Some(arg) => arg
            .parse()
            .map_err(|e| format!("TESTS must be a whole number, got {arg:?}: {e}"))?,
        None => 1_000,
    };
    let config = SimulationConfig {
        tests,
        ..SimulationConfig::default()
    };
    let scenario = |name: &str, uplift, min_effect, noise_sd, noise| Scenario {
        name: name.into(),
        uplift,
        min_effect,
        noise_sd,
        noise,
    };
    let scenarios = [
        scenario("A/A, normal, sd 0.5", 0.0, 0.0, 0.5, Noise::Normal),
        scenario("A/A, log-normal, sd 0.5", 0.0, 0.0, 0.5, Noise::LogNormal),
        scenario("A/B +10%, normal, sd 0.25", 0.1, 0.0, 0.25, Noise::Normal),
        scenario("A/B +10%, normal, sd 0.5", 0.1, 0.0, 0.5, Noise::Normal),
        scenario(
            "A/B +10%, normal, sd 0.25, delta 0.02",
            0.1,
            0.02,
            0.25,
            Noise::Normal,
        ),
        scenario(
            "A/B +10%, log-normal, sd 0.25",
            0.1,
            0.0,
            0.25,
            Noise::LogNormal,
        ),
    ];
    println!(
        "{} tests per row, up to {} outcomes each, alpha {}, seed {}; watched = after every outcome\n",
        config.tests, config.max_outcomes, config.alpha, config.seed
    );
    println!(
        "{:<38} | {:^21} | {:^21} | {:^9}",
        "scenario", "anytime-valid (kaizen)", "t-test, watched", "t-test at 500"
    );
    println!(
        "{:<38} | {:>9} {:>11} | {:>9} {:>11} | {:>9}",
        "", "promoted", "median n", "promoted", "median n", "promoted"
    );
    println!("{}", "-".repeat(38 + 3 + 21 + 3 + 21 + 3 + 9));
    for s in &scenarios {
        let r = simulate(&config, s)?;
        let cell = |rule: &RuleResult| {
            let median = rule
                .median_outcomes
                .map_or("-".to_string(), |m| format!("{m:.0}"));
            format!("{:>8.1}% {:>11}", 100.0 * rule.rate, median)
        };
        println!(
            "{:<38} | {} | {} | {:>8.1}%",
            s.name,
            cell(&r.anytime_valid),
            cell(&r.watched_t_test),
            100.0 * r.final_t_test.rate
        );
    }
    println!(
        "\nWith normal noise only (uplift - delta)/sd matters (the tests are invariant to shift and scale):\n\
         an uplift equal to delta behaves as the A/A row, whatever the sd."
    );
    Ok(())
}
