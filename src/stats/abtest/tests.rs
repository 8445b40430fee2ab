use super::*;

fn config() -> AbTestConfig {
    AbTestConfig {
        max_outcomes: Some(200),
        ..AbTestConfig::default()
    }
}

/// Feeds alternating outcomes `serving + k·noise`, `challenger + k·noise`.
fn feed(test: &mut AbTest, pairs: usize, serving: f64, challenger: f64) {
    for i in 0..pairs {
        let noise = ((i * 37) % 11) as f64 / 10.0 - 0.5;
        let noise2 = ((i * 53) % 7) as f64 / 6.0 - 0.5;
        if test.observe(Arm::Serving, serving + noise).is_err()
            || test.observe(Arm::Challenger, challenger + noise2).is_err()
        {
            return;
        }
    }
}

#[test]
fn starts_with_no_evidence_and_an_unbounded_sequence() {
    let test = AbTest::new(config()).unwrap();
    let s = test.status(0.0);
    assert_eq!(
        (s.decision, s.evidence, s.uplift),
        (Decision::Continue, 1.0, None)
    );
    assert_eq!(s.confidence_sequence, [f64::NEG_INFINITY, f64::INFINITY]);
    assert_eq!(s.threshold, 20.0);
}

#[test]
fn a_clear_uplift_promotes_and_the_verdict_is_final() {
    let mut test = AbTest::new(config()).unwrap();
    feed(&mut test, 100, 1.0, 2.0);
    let s = test.status(0.0);
    assert_eq!(s.decision, Decision::Promote);
    assert!(
        s.evidence >= 20.0 && s.confidence_sequence[0] > 0.0,
        "{s:?}"
    );
    let verdict = test.verdict().unwrap();
    assert!(verdict.at_outcomes < 40, "{verdict:?}");
    let err = test.observe(Arm::Serving, 1.0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the A/B test has already decided (promote); start a new test for new outcomes"
    );
}

#[test]
fn a_minimum_effect_larger_than_the_uplift_never_promotes() {
    let mut test = AbTest::new(AbTestConfig {
        min_effect: 1.5,
        ..config()
    })
    .unwrap();
    feed(&mut test, 100, 1.0, 2.0);
    let s = test.status(0.0);
    assert_eq!(
        (s.decision, s.reason),
        (Decision::Hold, Some(HoldReason::BelowMinEffect))
    );
    assert!(s.confidence_sequence[1] < 1.5 && s.evidence < 1.0);
}

#[test]
fn no_difference_holds_at_max_outcomes() {
    let mut test = AbTest::new(AbTestConfig {
        min_effect: -1.0,
        ..config()
    })
    .unwrap();
    // An uplift of 0 with δ = −1 would promote; with δ = 0.05 it cannot
    // promote, and the data cannot show it below 0.05 quickly either.
    let mut test2 = AbTest::new(AbTestConfig {
        min_effect: 0.05,
        ..config()
    })
    .unwrap();
    feed(&mut test, 100, 1.0, 1.0);
    assert_eq!(test.status(0.0).decision, Decision::Promote);
    feed(&mut test2, 100, 1.0, 1.0);
    let s = test2.status(0.0);
    assert_eq!(
        (s.decision, s.reason),
        (Decision::Hold, Some(HoldReason::MaxOutcomes))
    );
    assert_eq!(test2.verdict().unwrap().at_outcomes, 200);
}

#[test]
fn the_time_deadline_is_judged_at_each_look() {
    let mut test = AbTest::new(AbTestConfig {
        deadline: Some(100.0),
        max_outcomes: None,
        ..AbTestConfig::default()
    })
    .unwrap();
    feed(&mut test, 5, 1.0, 1.0);
    assert_eq!(test.status(99.0).decision, Decision::Continue);
    let s = test.status(100.0);
    assert_eq!(
        (s.decision, s.reason),
        (Decision::Hold, Some(HoldReason::Deadline))
    );
    assert!(test.verdict().is_none());
}

#[test]
fn refuses_bad_settings_and_outcomes() {
    let err = AbTest::new(AbTestConfig {
        alpha: 0.0,
        ..config()
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid abtest.alpha = 0: expected a number strictly between 0 and 1"
    );
    let err = AbTest::new(AbTestConfig {
        max_outcomes: Some(2),
        ..config()
    })
    .unwrap_err();
    assert!(err.to_string().contains("abtest.max_outcomes"), "{err}");
    let mut test = AbTest::new(config()).unwrap();
    test.observe(Arm::Challenger, 1.0).unwrap();
    let err = test.observe(Arm::Challenger, f64::NAN).unwrap_err();
    assert_eq!(
        err.to_string(),
        "challenger outcome[1] is NaN: every value must be a finite number"
    );
    assert_eq!(test.status(0.0).challenger_outcomes, 1);
}

#[test]
fn survives_a_json_round_trip_and_refuses_a_corrupt_file() {
    let mut test = AbTest::new(config()).unwrap();
    feed(&mut test, 1, 1.0, 2.0);
    let json = serde_json::to_string(&test).unwrap();
    let back: AbTest = serde_json::from_str(&json).unwrap();
    assert_eq!(back, test);
    let status = serde_json::to_value(test.status(0.0)).unwrap();
    assert_eq!(
        status["confidence_sequence"],
        serde_json::json!([null, null])
    );
    assert_eq!(status["decision"], "continue");
    let back: AbStatus = serde_json::from_value(status).unwrap();
    assert_eq!(back.confidence_sequence, [f64::NEG_INFINITY, f64::INFINITY]);
    let corrupt = json.replace("\"alpha\":0.05", "\"alpha\":5.0");
    let err = serde_json::from_str::<AbTest>(&corrupt).unwrap_err();
    assert!(err.to_string().contains("abtest.alpha"), "{err}");
}
