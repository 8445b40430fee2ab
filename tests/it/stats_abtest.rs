//! `kaizen::stats::AbTest` against `scripts/reference/stats_reference.py
//! abtest`: after every outcome of a stream on an irregular arm schedule,
//! the e-value, the confidence sequence and the decision match the numbers
//! recomputed from the raw prefix with numpy, and at five points the e-value
//! matches the Bayes factor integrated numerically (issue 14, item 2).

use crate::support::{assert_close, reference};
use kaizen::stats::{AbTest, AbTestConfig, Arm, Decision};

#[test]
fn abtest_matches_the_reference_after_every_outcome() {
    let data = reference("abtest.json");
    let cfg = &data["config"];
    let mut test = AbTest::new(AbTestConfig {
        alpha: cfg["alpha"].as_f64().unwrap(),
        min_effect: cfg["min_effect"].as_f64().unwrap(),
        tuned_for: Some(cfg["tuned_for"].as_u64().unwrap()),
        ..AbTestConfig::default()
    })
    .unwrap();
    let (mut integrals, mut decided) = (0, None);
    for (i, step) in data["steps"].as_array().unwrap().iter().enumerate() {
        let case = format!("outcome {}", i + 1);
        let arm = match step["arm"].as_str().unwrap() {
            "serving" => Arm::Serving,
            _ => Arm::Challenger,
        };
        test.observe(arm, step["value"].as_f64().unwrap()).unwrap();
        let status = test.status(0.0);
        let json = serde_json::to_value(&status).unwrap();
        assert_eq!(json["decision"], step["decision"], "{case}");
        assert_close(
            &case,
            "evidence",
            status.evidence,
            step["evidence"].as_f64().unwrap(),
            1e-9,
        );
        if let Some(want) = step["integral_evidence"].as_f64() {
            assert_close(&case, "evidence vs integral", status.evidence, want, 1e-7);
            integrals += 1;
        }
        match step["uplift"].as_f64() {
            Some(want) => assert_close(&case, "uplift", status.uplift.unwrap(), want, 1e-12),
            None => assert_eq!(status.uplift, None, "{case}"),
        }
        for (end, want) in status
            .confidence_sequence
            .iter()
            .zip(step["confidence_sequence"].as_array().unwrap())
        {
            match want.as_f64() {
                Some(want) => assert_close(&case, "confidence sequence", *end, want, 1e-9),
                None => assert!(end.is_infinite(), "{case}: {end} should be unbounded"),
            }
        }
        if status.decision != Decision::Continue {
            decided = Some(i + 1);
            break;
        }
    }
    assert_eq!(decided, Some(91), "the reference promotes at outcome 91");
    assert!(integrals >= 4, "{integrals}");
    assert_eq!(test.verdict().unwrap().at_outcomes, 91);
    assert!(test.observe(Arm::Serving, 1.0).is_err());
}
