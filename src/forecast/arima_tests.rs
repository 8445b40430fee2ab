use super::*;
use crate::forecast::sim::simulate;

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + b.abs())
}

#[test]
fn fit_recovers_simulated_coefficients() {
    let y: Vec<f64> = simulate(&[0.5], &[0.4], 2000, 11)
        .iter()
        .map(|x| 3.0 + x)
        .collect();
    let m = ArimaModel::fit(&y, ArimaOrder::new(1, 0, 1)).unwrap();
    assert!((m.ar()[0] - 0.5).abs() < 0.06, "{:?}", m.ar());
    assert!((m.ma()[0] - 0.4).abs() < 0.06, "{:?}", m.ma());
    assert!((m.mean() - 3.0).abs() < 0.15, "{}", m.mean());
    assert!((m.sigma2() - 1.0).abs() < 0.08, "{}", m.sigma2());
    assert!(m.converged());
    assert_eq!(
        (m.nobs(), m.order().to_string()),
        (2000, "(1,0,1)".to_string())
    );
}

#[test]
fn white_noise_and_random_walk_have_closed_forms() {
    let y: Vec<f64> = simulate(&[0.3], &[], 60, 3);
    let n = y.len() as f64;
    // ARIMA(0,0,0): μ = mean, σ² = population variance, AIC with k = 2.
    let mean = y.iter().sum::<f64>() / n;
    let var = y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let m = ArimaModel::fit(&y, ArimaOrder::new(0, 0, 0)).unwrap();
    let llf = -0.5 * n * ((2.0 * std::f64::consts::PI).ln() + 1.0 + var.ln());
    assert!(close(m.mean(), mean, 1e-12) && close(m.sigma2(), var, 1e-12));
    assert!(close(m.llf(), llf, 1e-12) && close(m.aic(), -2.0 * llf + 4.0, 1e-12));
    let f = m.forecast().unwrap();
    assert!(
        close(f.mean, mean, 1e-12)
            && close(f.upper - f.mean, 1.959963984540054 * var.sqrt(), 1e-12)
    );
    // ARIMA(0,1,0): the drift is the mean difference, the forecast last + drift.
    let d: Vec<f64> = y.windows(2).map(|w| w[1] - w[0]).collect();
    let drift = d.iter().sum::<f64>() / (n - 1.0);
    let dvar = d.iter().map(|v| (v - drift).powi(2)).sum::<f64>() / (n - 1.0);
    let m = ArimaModel::fit(&y, ArimaOrder::new(0, 1, 0)).unwrap();
    let f = m.forecast().unwrap();
    assert_eq!(m.nobs(), 59);
    assert!(close(m.mean(), drift, 1e-12) && close(m.sigma2(), dvar, 1e-12));
    assert!(close(f.mean, y[59] + drift, 1e-12));
    assert!(close(
        f.mean - f.lower,
        1.959963984540054 * dvar.sqrt(),
        1e-12
    ));
    assert_eq!(m.aic_after_first(), m.aic());
}

#[test]
fn larger_orders_never_fit_worse_than_nested_ones() {
    let y: Vec<f64> = simulate(&[0.6, -0.2], &[0.3], 150, 5);
    for d in 0..=1 {
        let fits: Vec<ArimaModel> = fit_family(&y, d, 2, 2)
            .into_iter()
            .map(Result::unwrap)
            .collect();
        for p in 0..3 {
            for q in 0..3 {
                let llf = fits[p * 3 + q].llf();
                if p > 0 {
                    assert!(
                        llf >= fits[(p - 1) * 3 + q].llf() - 1e-9,
                        "d={d} p={p} q={q}"
                    );
                }
                if q > 0 {
                    assert!(llf >= fits[p * 3 + q - 1].llf() - 1e-9, "d={d} p={p} q={q}");
                }
            }
        }
    }
}

#[test]
fn a_random_walk_with_drift_selects_a_differenced_model() {
    let steps = simulate(&[], &[], 150, 9);
    let mut level = 10.0;
    let y: Vec<f64> = steps
        .iter()
        .map(|e| {
            level += 0.5 + e;
            level
        })
        .collect();
    let m = ArimaModel::select(&y).unwrap();
    assert_eq!(m.order().d, 1, "{:?}", m.order());
    let f = m.forecast().unwrap();
    assert!((f.mean - (y[149] + 0.5)).abs() < 0.5, "{f:?}");
    assert_eq!(f.order, Order::Arima(m.order()));
    assert_eq!(f.aic, Some(m.aic()));
}

#[test]
fn selection_and_forecasts_do_not_depend_on_the_unit() {
    let y: Vec<f64> = simulate(&[0.7], &[-0.3], 80, 21)
        .iter()
        .map(|x| 0.2 + 0.1 * x)
        .collect();
    let base = ArimaModel::select(&y).unwrap();
    let fb = base.forecast().unwrap();
    let top = y.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    for c in [1e-3, 1e3, f64::MAX / 8.0 / top] {
        let scaled: Vec<f64> = y.iter().map(|v| v * c).collect();
        let m = ArimaModel::select(&scaled).unwrap();
        assert_eq!(m.order(), base.order(), "scale {c}");
        let f = m.forecast().unwrap();
        for (a, b) in [(f.mean, fb.mean), (f.lower, fb.lower), (f.upper, fb.upper)] {
            assert!(
                (a / c - b).abs() < 1e-6 * (1.0 + b.abs()),
                "scale {c}: {a} vs {b}"
            );
        }
        let shift = 2.0 * m.nobs() as f64 * c.ln();
        assert!(close(m.aic(), base.aic() + shift, 1e-8), "scale {c}");
    }
}

#[test]
fn observe_continues_the_filter_exactly() {
    let y: Vec<f64> = simulate(&[0.5], &[0.3, -0.2], 200, 4)
        .iter()
        .map(|x| x + 1.0)
        .collect();
    for order in [ArimaOrder::new(1, 0, 2), ArimaOrder::new(2, 1, 1)] {
        let mut m = ArimaModel::fit(&y[..150], order).unwrap();
        for &v in &y[150..] {
            m.observe(v).unwrap();
        }
        // The same parameters filtered over all 200 points from the start.
        let ss = StateSpace::new(m.ar(), m.ma());
        let mut state = FilterState {
            a: [0.0; 3],
            p: ss.stationary_cov().unwrap(),
            steady: false,
        };
        let diffs: Vec<f64> = match order.d {
            0 => y.iter().map(|v| v / m.scale).collect(),
            _ => y
                .windows(2)
                .map(|w| w[1] / m.scale - w[0] / m.scale)
                .collect(),
        };
        for u in diffs {
            state.update(&ss, (u - m.center) / m.spread - m.mean_std);
        }
        assert!(
            close(m.filter.a[0], state.a[0], 1e-9),
            "{order}: {:?} vs {state:?}",
            m.filter
        );
        assert!(close(m.filter.p[0][0], state.p[0][0], 1e-9));
        assert_eq!((m.seen, m.last), (200, y[199]));
    }
}

#[test]
fn degenerate_histories_are_clear_errors() {
    let constant = [2.5; 30];
    assert_eq!(
        ArimaModel::fit(&constant, ArimaOrder::new(1, 0, 0))
            .unwrap_err()
            .to_string(),
        "ARIMA(1,0,0) cannot be fitted: the history is constant, so any model fits it exactly"
    );
    let line: Vec<f64> = (0..30).map(|t| 1.0 + 0.5 * t as f64).collect();
    let err = ArimaModel::select(&line).unwrap_err();
    assert_eq!(
        err.to_string(),
        "ARIMA(0,1,0) cannot be fitted: the history's differences are constant, so any model fits it exactly"
    );
    assert!(matches!(
        ArimaModel::select(&constant),
        Err(ForecastError::Constant { .. })
    ));
    assert_eq!(
        ArimaModel::fit(&[1.0, 2.0, 0.5, 3.0], ArimaOrder::new(2, 1, 2))
            .unwrap_err()
            .to_string(),
        "ARIMA(2,1,2) needs at least 8 points, got 4"
    );
    assert_eq!(
        ArimaModel::fit(&line, ArimaOrder::new(3, 0, 0))
            .unwrap_err()
            .to_string(),
        "ARIMA(3,0,0) is not offered: p and q must be at most 2 and d at most 1"
    );
    let mut bad = line.clone();
    bad[7] = f64::NAN;
    assert_eq!(
        ArimaModel::select(&bad).unwrap_err().to_string(),
        "history[7] must be a finite number, got NaN"
    );
}

#[test]
fn values_near_the_top_of_f64_fit_and_an_overflowing_forecast_is_none() {
    let y: Vec<f64> = simulate(&[0.4], &[], 40, 8)
        .iter()
        .map(|x| 1e307 * (1.0 + 0.1 * x))
        .collect();
    let m = ArimaModel::select(&y).unwrap();
    let f = m.forecast().unwrap();
    assert!(f.mean.is_finite() && f.lower < f.mean && f.mean < f.upper);
    assert!(m.llf().is_finite() && m.aic().is_finite());
    // Near f64::MAX an upward drift pushes the forecast past it: None, no panic.
    let noise = simulate(&[], &[], 40, 2);
    let up: Vec<f64> = noise
        .iter()
        .enumerate()
        .map(|(t, e)| f64::MAX * (0.5 + 0.0128 * t as f64 + 1e-5 * e))
        .collect();
    let m = ArimaModel::fit(&up, ArimaOrder::new(0, 1, 0)).unwrap();
    assert!(m.forecast().is_none(), "{:?}", m.forecast());
    // A new point the model's scale cannot represent is refused.
    let mut small =
        ArimaModel::fit(&simulate(&[0.2], &[], 30, 1), ArimaOrder::new(1, 0, 0)).unwrap();
    let before = small.clone();
    let mut tiny = before.clone();
    tiny.scale = 1e-300;
    assert!(matches!(
        tiny.observe(1e10),
        Err(ForecastError::OutOfScale { index: 30, .. })
    ));
    assert_eq!(tiny.filter, before.filter);
    assert!(matches!(
        small.observe(f64::NAN),
        Err(ForecastError::NonFinite { index: 30, .. })
    ));
    assert_eq!(small, before);
}

#[test]
fn check_names_the_first_bad_field() {
    let m = ArimaModel::fit(&simulate(&[0.5], &[0.2], 50, 6), ArimaOrder::new(1, 0, 1)).unwrap();
    assert_eq!(m.check(), Ok(()));
    let mut bad = m.clone();
    bad.ar = vec![1.2];
    assert_eq!(bad.check().unwrap_err().0, "ar");
    let mut bad = m.clone();
    bad.ma = vec![0.1, 0.2];
    assert_eq!(bad.check().unwrap_err().0, "ma");
    let mut bad = m.clone();
    bad.spread = 0.0;
    assert_eq!(bad.check().unwrap_err().0, "spread");
    let mut bad = m;
    bad.order = ArimaOrder::new(1, 2, 1);
    assert_eq!(bad.check().unwrap_err().0, "order");
}
