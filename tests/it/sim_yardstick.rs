//! The yardstick holds on every shipped scenario: over seeds 1–5 no fixed
//! baseline, `tuned` included, beats the oracle's mean net profit.
//!
//! Runs only with optimisations (`cargo test --release`, as CI does): the
//! oracle plans every bot over the whole horizon and `tuned` tries 90 rules,
//! which takes minutes without them.

use kaizen::sim::{PolicyKind, Scenario, SimOptions, simulate};

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "minutes without optimisations; CI runs it in release"
)]
fn no_baseline_beats_the_oracle_on_any_shipped_scenario() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/scenarios");
    let baselines: Vec<PolicyKind> = PolicyKind::ALL
        .into_iter()
        .filter(|k| k.is_baseline())
        .collect();
    assert!(baselines.contains(&PolicyKind::Tuned));
    for entry in std::fs::read_dir(dir).unwrap() {
        let scenario = Scenario::load(&entry.unwrap().path()).unwrap();
        if scenario.has_models() {
            continue; // real models: no oracle, no skill formulas to plan with
        }
        let mut oracle = 0.0;
        let mut best = vec![0.0; baselines.len()];
        for seed in 1..=5 {
            let options = SimOptions {
                seed: Some(seed),
                policies: baselines.clone(),
                ..SimOptions::default()
            };
            let report = simulate(&scenario, &options, &mut |_, _| {}).unwrap();
            oracle += report.oracle_net_profit / 5.0;
            for (k, kind) in baselines.iter().enumerate() {
                best[k] += report.policy(*kind).unwrap().net_profit / 5.0;
            }
        }
        for (kind, mean) in baselines.iter().zip(best) {
            assert!(
                mean < oracle,
                "{}: {kind} earns {mean:.0} on average, the oracle {oracle:.0}",
                scenario.name
            );
        }
    }
}
