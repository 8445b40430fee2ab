//! `kaizen::stats::significance` against scipy's `ttest_rel` / `ttest_ind`
//! (issue 12, item 3): the numbers in `tests/data/stats/significance.json`
//! come from `scripts/reference/stats_reference.py significance`.

use kaizen::stats::{Significance, significance};
use serde_json::Value;

/// Loads a committed reference file from `tests/data/stats/`.
pub fn reference(name: &str) -> Value {
    let path = format!("{}/tests/data/stats/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `|got − want| ≤ tol·(1 + |want|)`, with a message naming the case.
pub fn assert_close(case: &str, what: &str, got: f64, want: f64, tol: f64) {
    assert!(
        (got - want).abs() <= tol * (1.0 + want.abs()),
        "{case}: {what} = {got:e}, reference {want:e} (diff {:e})",
        (got - want).abs()
    );
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn significance_agrees_with_scipy_on_every_reference_case() {
    let data = reference("significance.json");
    let cases = data["cases"].as_array().unwrap();
    assert!(cases.len() >= 20);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let got = significance(
            &floats(&case["baseline"]),
            &floats(&case["new"]),
            case["alpha"].as_f64().unwrap(),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let json = serde_json::to_value(&got).unwrap();
        assert_eq!(json["test_type"], case["test_type"], "{name}");
        assert_eq!(
            got.significant,
            case["significant"].as_bool().unwrap(),
            "{name}"
        );
        for field in ["t_statistic", "p_value", "effect_size", "mean_improvement"] {
            let want = case[field].as_f64().unwrap();
            assert_close(name, field, json[field].as_f64().unwrap(), want, 1e-9);
        }
        let intervals = [
            ("confidence_interval", Some(got.confidence_interval)),
            ("paired_confidence_interval", got.paired_confidence_interval),
        ];
        for (field, interval) in intervals {
            match (interval, case.get(field)) {
                (Some(got), Some(want)) => {
                    let want = floats(want);
                    assert_close(name, field, got[0], want[0], 1e-9);
                    assert_close(name, field, got[1], want[1], 1e-9);
                }
                (None, None) => {}
                (got, want) => panic!("{name}: {field} is {got:?}, reference {want:?}"),
            }
        }
        // The result survives a JSON round trip unchanged.
        let back: Significance = serde_json::from_value(json).unwrap();
        assert_eq!(back, got, "{name}");
    }
}
