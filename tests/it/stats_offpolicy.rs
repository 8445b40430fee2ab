//! `kaizen::stats::{ips, snips, doubly_robust}` against
//! `scripts/reference/stats_reference.py offpolicy` (numpy/scipy), issue 11
//! item 5's estimators.

use crate::support::{assert_close, floats, reference};
use kaizen::stats::{
    LoggedDecision, OffPolicyEstimate, RewardPrediction, doubly_robust, ips, snips,
};

#[test]
fn offpolicy_estimates_match_the_reference() {
    let data = reference("offpolicy.json");
    for (i, case) in data["cases"].as_array().unwrap().iter().enumerate() {
        let log: Vec<LoggedDecision> = serde_json::from_value(case["log"].clone()).unwrap();
        let predictions: Vec<RewardPrediction> =
            serde_json::from_value(case["predictions"].clone()).unwrap();
        let alpha = case["alpha"].as_f64().unwrap();
        let name = format!("case {i} (n = {})", log.len());
        let estimates: [(&str, OffPolicyEstimate); 3] = [
            ("ips", ips(&log, alpha).unwrap()),
            ("snips", snips(&log, alpha).unwrap()),
            (
                "doubly_robust",
                doubly_robust(&log, &predictions, alpha).unwrap(),
            ),
        ];
        for (key, got) in estimates {
            let want = &case[key];
            let what = |f: &str| format!("{key} {f}");
            assert_close(
                &name,
                &what("value"),
                got.value,
                want["value"].as_f64().unwrap(),
                1e-12,
            );
            assert_close(
                &name,
                &what("std_error"),
                got.std_error,
                want["std_error"].as_f64().unwrap(),
                1e-12,
            );
            let interval = floats(&want["confidence_interval"]);
            assert_close(
                &name,
                &what("low"),
                got.confidence_interval[0],
                interval[0],
                1e-12,
            );
            assert_close(
                &name,
                &what("high"),
                got.confidence_interval[1],
                interval[1],
                1e-12,
            );
            let ess = case["effective_sample_size"].as_f64().unwrap();
            assert_close(
                &name,
                &what("effective sample size"),
                got.effective_sample_size,
                ess,
                1e-12,
            );
        }
    }
}
