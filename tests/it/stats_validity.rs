//! Issue 14's "Must show" for the A/B test: watched after every outcome,
//! 1,000 seeded A/A tests of 500 outcomes promote at most α of the time,
//! while a fixed-sample t-test watched the same way inflates; an A/B test
//! with a true 10% uplift is found with high power. `examples/abtest_sim.rs`
//! prints the full table.

use kaizen::stats::simulation::{Noise, Scenario, SimulationConfig, simulate};

fn scenario(uplift: f64, noise_sd: f64, noise: Noise) -> Scenario {
    Scenario {
        name: format!("uplift {uplift}"),
        uplift,
        min_effect: 0.0,
        noise_sd,
        noise,
    }
}

#[test]
fn watched_a_a_tests_promote_at_most_alpha_and_a_watched_t_test_does_not() {
    let config = SimulationConfig::default();
    assert_eq!(
        (config.tests, config.max_outcomes, config.alpha),
        (1_000, 500, 0.05)
    );
    for noise in [Noise::Normal, Noise::LogNormal] {
        let r = simulate(&config, &scenario(0.0, 0.5, noise)).unwrap();
        assert!(
            r.anytime_valid.rate <= 0.05,
            "{noise:?}: {:?}",
            r.anytime_valid
        );
        // The same t-test is about nominal when looked at once…
        assert!(
            r.final_t_test.rate <= 0.075,
            "{noise:?}: {:?}",
            r.final_t_test
        );
        // …and far above α when watched after every outcome.
        assert!(
            r.watched_t_test.rate >= 0.25,
            "{noise:?}: {:?}",
            r.watched_t_test
        );
    }
}

#[test]
fn a_true_ten_percent_uplift_is_promoted_with_high_power() {
    let r = simulate(
        &SimulationConfig::default(),
        &scenario(0.1, 0.25, Noise::Normal),
    )
    .unwrap();
    assert!(r.anytime_valid.rate >= 0.9, "{:?}", r.anytime_valid);
    let median = r.anytime_valid.median_outcomes.unwrap();
    assert!(
        (100.0..=300.0).contains(&median),
        "median time to promote {median}"
    );
}
