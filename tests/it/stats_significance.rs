//! `kaizen::stats::significance` against scipy's `ttest_rel` / `ttest_ind`
//! (issue 12, item 3): the numbers in `tests/data/stats/significance.json`
//! come from `scripts/reference/stats_reference.py significance`.

use crate::support::{assert_close, floats, reference};
use kaizen::stats::{Significance, significance};

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
