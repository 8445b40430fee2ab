//! The forecaster against statsmodels (issue 16 item 6): the committed
//! histories and the numbers `scripts/reference/forecast_reference.py`
//! printed for them (`tests/data/forecast/`).

use kaizen::forecast::{self, ArimaModel, ArimaOrder, ForecasterConfig, Order};
use serde_json::Value;
use std::path::PathBuf;

use crate::support::read_json;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/forecast")
        .join(name)
}

/// (name, history, statsmodels' entry) for every committed history.
fn cases() -> Vec<(String, Vec<f64>, Value)> {
    let histories = read_json(data("histories.json"));
    let reference = read_json(data("statsmodels.json"));
    let mut out = Vec::new();
    for (name, values) in histories.as_object().unwrap() {
        let h: Vec<f64> = values
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let entry = reference["histories"][name].clone();
        assert_eq!(
            entry["n"].as_u64().unwrap() as usize,
            h.len(),
            "{name}: stale reference"
        );
        out.push((name.clone(), h, entry));
    }
    assert_eq!(out.len(), 9);
    out
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

fn order_of(v: &Value) -> ArimaOrder {
    let o: Vec<u8> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u8)
        .collect();
    ArimaOrder::new(o[0], o[1], o[2])
}

/// Issue 16 item 6: each point forecast within 5% of the history's standard
/// deviation of statsmodels' (its chosen model against ours); the orders and
/// intervals are reported.
#[test]
fn selected_forecasts_match_statsmodels_within_5_percent_of_std() {
    let config = ForecasterConfig::default();
    for (name, h, sm) in cases() {
        let ours = forecast::forecast(&h, &config).unwrap().unwrap();
        let std = f(&sm["std"]);
        let (want, theirs) = if sm["method"] == "linear" {
            (&sm["linear"], "linear".to_string())
        } else {
            (
                &sm["selected"],
                format!("ARIMA{}", order_of(&sm["selected"]["order"])),
            )
        };
        let gap = (ours.mean - f(&want["forecast"])).abs() / std;
        eprintln!(
            "{name:22} n={:4} ours {:<13} {:>10.5} [{:>9.5}, {:>9.5}] | statsmodels {:<13} {:>10.5} [{:>9.5}, {:>9.5}] | gap {:.4} std",
            h.len(),
            ours.order.to_string(),
            ours.mean,
            ours.lower,
            ours.upper,
            theirs,
            f(&want["forecast"]),
            f(&want["lower"]),
            f(&want["upper"]),
            gap
        );
        assert!(
            gap <= 0.05,
            "{name}: {} vs {} ({gap} std)",
            ours.mean,
            want["forecast"]
        );
    }
}

/// Each candidate on its own: where the two optima agree (to 0.01 in
/// log-likelihood) the forecast, interval and AIC agree too; ours is often
/// higher (statsmodels' L-BFGS stops early on small-scale series), and lower
/// only where statsmodels reached a boundary mode (a root on the unit circle)
/// that no start of ours leads to: one of the 126 candidates, by 0.78.
#[test]
fn every_candidate_matches_statsmodels_likelihood_and_forecast() {
    let mut compared = 0;
    let mut failures = Vec::new();
    let mut lower: Vec<(String, String, f64)> = Vec::new();
    for (name, h, sm) in cases() {
        if sm["method"] != "arima" {
            continue;
        }
        let std = f(&sm["std"]);
        for c in sm["candidates"].as_array().unwrap() {
            let order = order_of(&c["order"]);
            let m = ArimaModel::fit(&h, order).unwrap();
            let fc = m.forecast().unwrap();
            let dllf = m.llf() - f(&c["llf"]);
            if dllf < -0.01 {
                eprintln!("{name} ARIMA{order}: our llf is lower by {:.4}", -dllf);
                lower.push((name.clone(), order.to_string(), dllf));
            } else if dllf.abs() < 0.01 {
                compared += 1;
                for (ours, key) in [
                    (fc.mean, "forecast"),
                    (fc.lower, "lower"),
                    (fc.upper, "upper"),
                ] {
                    let gap = (ours - f(&c[key])).abs() / std;
                    if gap >= 0.05 {
                        failures.push(format!(
                            "{name} ARIMA{order} {key}: {ours} vs {} ({gap} std)",
                            c[key]
                        ));
                    }
                }
                if (m.aic() - f(&c["aic"])).abs() >= 0.03 {
                    failures.push(format!(
                        "{name} ARIMA{order} aic {} vs {}",
                        m.aic(),
                        c["aic"]
                    ));
                }
            } else {
                eprintln!(
                    "{name} ARIMA{order}: our llf is higher by {dllf:.4} (statsmodels converged: {})",
                    c["converged"]
                );
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        lower.len() <= 1 && lower.iter().all(|(_, _, d)| *d > -1.0),
        "statsmodels' optimum is higher: {lower:?}"
    );
    assert!(
        compared >= 90,
        "only {compared} candidates agreed on the optimum"
    );
}

/// The linear fallback is OLS with its prediction interval: statsmodels'
/// numbers to 1e-9.
#[test]
fn short_histories_use_the_linear_fallback_like_statsmodels_ols() {
    for (name, h, sm) in cases() {
        if sm["method"] != "linear" {
            continue;
        }
        let ours = forecast::linear_forecast(&h).unwrap().unwrap();
        assert_eq!(ours.order, Order::Linear);
        let want = &sm["linear"];
        for (v, key) in [
            (ours.mean, "forecast"),
            (ours.lower, "lower"),
            (ours.upper, "upper"),
        ] {
            assert!(
                (v - f(&want[key])).abs() < 1e-9,
                "{name} {key}: {v} vs {}",
                want[key]
            );
        }
    }
}

/// The linear fallback's interval multiplier: Student's t quantiles against scipy's.
#[test]
fn student_t_quantiles_match_scipy() {
    let reference = read_json(data("statsmodels.json"));
    let table = reference["student_t_975"].as_object().unwrap();
    assert_eq!(table.len(), 33);
    for (df, want) in table {
        let df: usize = df.parse().unwrap();
        // Three points with the right residual variance give t · √(leverage) · s;
        // compare through the public fallback: a history with n = df + 2 points
        // whose residuals are known.
        let n = df + 2;
        let history: Vec<f64> = (0..n)
            .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        let f = forecast::linear_forecast(&history).unwrap().unwrap();
        let (nf, ibar) = (n as f64, (n as f64 - 1.0) / 2.0);
        let sxx = nf * (nf * nf - 1.0) / 12.0;
        let ybar = history.iter().sum::<f64>() / nf;
        let slope: f64 = history
            .iter()
            .enumerate()
            .map(|(i, y)| (i as f64 - ibar) * (y - ybar))
            .sum::<f64>()
            / sxx;
        let sse: f64 = history
            .iter()
            .enumerate()
            .map(|(i, y)| (y - ybar - slope * (i as f64 - ibar)).powi(2))
            .sum();
        let scale = (sse / (nf - 2.0) * (1.0 + 1.0 / nf + (nf - ibar).powi(2) / sxx)).sqrt();
        let t = (f.upper - f.mean) / scale;
        assert!(
            (t - want.as_f64().unwrap()).abs() < 1e-9,
            "df {df}: {t} vs {want}"
        );
    }
}
