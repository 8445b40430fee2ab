use super::sim::simulate;
use super::*;
use crate::Error;
use crate::persist::Durability;

fn config(refit_every: usize) -> ForecasterConfig {
    ForecasterConfig {
        refit_every,
        ..ForecasterConfig::default()
    }
}

fn fed(config: ForecasterConfig, values: &[f64]) -> Forecaster {
    let mut f = Forecaster::new(config).unwrap();
    for &v in values {
        f.observe(v).unwrap();
    }
    f
}

#[test]
fn linear_fallback_matches_a_hand_computation() {
    // y = 1, 2, 4 on i = 0, 1, 2: b = 1.5, ŷ(3) = 7/3 + 1.5·2 = 16/3,
    // SSE = 1/6, s² = 1/6 (1 d.o.f.), leverage 1 + 1/3 + 4/2 = 10/3,
    // half-width = t(0.975, 1)·√(5/9), t(0.975, 1) = tan(0.475π).
    let f = linear_forecast(&[1.0, 2.0, 4.0]).unwrap().unwrap();
    let half = (0.475 * std::f64::consts::PI).tan() * (5.0_f64 / 9.0).sqrt();
    assert!((f.mean - 16.0 / 3.0).abs() < 1e-12, "{f:?}");
    assert!((f.upper - f.mean - half).abs() < 1e-9 && (f.mean - f.lower - half).abs() < 1e-9);
    assert_eq!((f.order, f.aic), (Order::Linear, None));
    assert_eq!(linear_forecast(&[1.0, 2.0]).unwrap(), None);
    let flat = linear_forecast(&[0.0; 5]).unwrap().unwrap();
    assert_eq!((flat.mean, flat.lower, flat.upper), (0.0, 0.0, 0.0));
    let err = linear_forecast(&[1.0, f64::INFINITY, 2.0]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "history[1] must be a finite number, got inf"
    );
}

#[test]
fn defaults_and_config_errors() {
    let c = ForecasterConfig::default();
    assert_eq!(
        (c.min_arima_points, c.max_history, c.refit_every),
        (20, 1000, 10)
    );
    let bad = |c: ForecasterConfig| Forecaster::new(c).unwrap_err().to_string();
    assert_eq!(
        bad(ForecasterConfig {
            min_arima_points: 5,
            ..c
        }),
        "invalid forecast.min_arima_points = 5: expected at least 10"
    );
    assert_eq!(
        bad(ForecasterConfig {
            max_history: 15,
            ..c
        }),
        "invalid forecast.max_history = 15: expected at least min_arima_points (20)"
    );
    assert_eq!(
        bad(config(0)),
        "invalid forecast.refit_every = 0: expected at least 1"
    );
}

#[test]
fn short_histories_use_the_line_and_twenty_points_fit_arima() {
    let y: Vec<f64> = simulate(&[0.6], &[], 25, 12);
    let mut f = Forecaster::new(config(10)).unwrap();
    assert_eq!(f.forecast(), None);
    for (i, &v) in y.iter().enumerate() {
        f.observe(v).unwrap();
        let n = i + 1;
        match n {
            1 | 2 => assert_eq!(f.forecast(), None),
            3..=19 => {
                assert_eq!(f.forecast(), linear_forecast(&y[..n]).unwrap());
                assert!(f.model().is_none());
            }
            _ => assert!(
                matches!(f.forecast().unwrap().order, Order::Arima(_)),
                "n = {n}"
            ),
        }
    }
    let err = f.observe(f64::NAN).unwrap_err();
    assert!(matches!(err, Error::NonFinite { .. }), "{err}");
    assert_eq!(f.history().len(), 25);
}

#[test]
fn refits_on_schedule_and_updates_cheaply_in_between() {
    let y: Vec<f64> = simulate(&[0.5], &[0.3], 60, 13)
        .iter()
        .map(|x| 0.1 + x)
        .collect();
    let mut f = fed(config(10), &y[..20]);
    assert_eq!(f.state().since_fit, Some(0));
    let fitted = f.model().unwrap().clone();
    for (k, &v) in y[20..29].iter().enumerate() {
        f.observe(v).unwrap();
        assert_eq!(f.state().since_fit, Some(k + 1));
        // Same parameters, one more point through the filter.
        let mut same = fitted.clone();
        for &w in &y[20..21 + k] {
            same.observe(w).unwrap();
        }
        assert_eq!(f.model(), Some(&same));
        assert_eq!(f.forecast(), same.forecast());
    }
    f.observe(y[29]).unwrap();
    assert_eq!(f.state().since_fit, Some(0));
    assert_eq!(f.forecast(), forecast(&y[..30], f.config()).unwrap());
}

#[test]
fn refitting_every_point_equals_the_one_shot_forecast() {
    let y: Vec<f64> = simulate(&[], &[0.6], 26, 14);
    let mut f = Forecaster::new(config(1)).unwrap();
    for (i, &v) in y.iter().enumerate() {
        f.observe(v).unwrap();
        assert_eq!(
            f.forecast(),
            forecast(&y[..=i], f.config()).unwrap(),
            "n = {}",
            i + 1
        );
    }
}

#[test]
fn the_history_is_bounded() {
    let c = ForecasterConfig {
        max_history: 30,
        ..config(50)
    };
    let y: Vec<f64> = simulate(&[0.4], &[], 45, 15);
    let f = fed(c, &y);
    assert_eq!(f.history().iter().copied().collect::<Vec<_>>(), y[15..]);
}

#[test]
fn a_constant_history_forecasts_itself_until_a_point_breaks_it() {
    let mut f = fed(config(5), &[0.25; 24]);
    let flat = f.forecast().unwrap();
    assert_eq!(flat.order, Order::Linear);
    assert!((flat.mean - 0.25).abs() < 1e-12 && (flat.upper - flat.lower).abs() < 1e-12);
    assert!(matches!(
        f.fit_error(),
        Some(ForecastError::Constant { .. })
    ));
    f.observe(0.4).unwrap();
    let widened = f.forecast().unwrap();
    assert!(widened.upper - widened.lower > 0.01, "{widened:?}");
    // The next refit (5 points after the last attempt) finds an ARIMA again.
    for v in [0.1, 0.3, 0.2, 0.35] {
        f.observe(v).unwrap();
    }
    assert!(f.model().is_some() && f.fit_error().is_none());
}

#[test]
fn state_survives_a_save_and_reload_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("forecast.json");
    let y: Vec<f64> = simulate(&[0.5], &[0.2], 70, 16);
    let mut a = fed(config(10), &y[..55]);
    a.save(&path, Durability::Atomic).unwrap();
    let mut b = Forecaster::load(&path, config(10)).unwrap();
    assert_eq!(b.state(), a.state());
    assert_eq!(b.forecast(), a.forecast());
    for &v in &y[55..] {
        a.observe(v).unwrap();
        b.observe(v).unwrap();
        assert_eq!(b.forecast(), a.forecast());
    }
    // A missing file is a fresh forecaster.
    let fresh = Forecaster::load(&dir.path().join("none.json"), config(10)).unwrap();
    assert!(fresh.history().is_empty());
}

#[test]
fn a_tampered_state_is_refused_naming_the_field() {
    let y: Vec<f64> = simulate(&[0.5], &[], 30, 17);
    let good = fed(config(10), &y).state().clone();
    let mut json = serde_json::to_value(&good).unwrap();
    json["model"]["ar"] = serde_json::json!([1.5]);
    let state: ForecasterState = serde_json::from_value(json).unwrap();
    let err = Forecaster::from_state(config(10), state)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("invalid forecast state model.ar = [1.5]"),
        "{err}"
    );
    let mut state = good.clone();
    state.history[3] = f64::NAN;
    let err = Forecaster::from_state(config(10), state)
        .unwrap_err()
        .to_string();
    assert!(err.contains("history[3]") && err.contains("NaN"), "{err}");
    // A model kept with too short a history (the setting grew) is dropped.
    let bigger = ForecasterConfig {
        min_arima_points: 40,
        ..config(10)
    };
    let f = Forecaster::from_state(bigger, good).unwrap();
    assert!(f.model().is_none());
    assert_eq!(f.forecast().unwrap().order, Order::Linear);
}

#[test]
fn forecast_types_read_well() {
    assert_eq!(ArimaOrder::all().count(), 18);
    assert_eq!(ArimaOrder::all().next(), Some(ArimaOrder::new(0, 0, 0)));
    assert_eq!(
        Order::Arima(ArimaOrder::new(2, 1, 0)).to_string(),
        "ARIMA(2,1,0)"
    );
    assert_eq!(Order::Linear.to_string(), "linear");
    let f = Forecast {
        mean: 1.0,
        lower: 0.0,
        upper: 2.0,
        order: Order::Arima(ArimaOrder::new(1, 0, 1)),
        aic: Some(12.5),
    };
    let json = serde_json::to_string(&f).unwrap();
    assert_eq!(
        json,
        r#"{"mean":1.0,"lower":0.0,"upper":2.0,"order":{"model":"arima","p":1,"d":0,"q":1},"aic":12.5}"#
    );
    assert_eq!(serde_json::from_str::<Forecast>(&json).unwrap(), f);
}

#[test]
fn a_refit_run_elsewhere_and_installed_later_loses_no_point() {
    let y: Vec<f64> = simulate(&[0.5], &[0.3], 40, 21)
        .iter()
        .map(|x| 0.2 + x)
        .collect();
    // In step: the refit at point 20 runs at once, then three cheap updates.
    let direct = fed(config(10), &y[..23]);
    // Deferred: the refit of point 20 is taken, three more points arrive
    // (each asks again; those jobs are dropped), then the first is installed.
    let mut late = fed(config(10), &y[..19]);
    assert!(late.model().is_none());
    let job = late
        .observe_deferred(y[19])
        .unwrap()
        .expect("a refit is due");
    assert_eq!(job.len(), 20);
    let before = late.forecast();
    for &v in &y[20..23] {
        assert!(late.observe_deferred(v).unwrap().is_some());
    }
    assert!(late.model().is_none(), "nothing installed yet");
    assert_ne!(late.forecast(), before, "the line follows the new points");
    late.install(job.run());
    assert_eq!(late.model(), direct.model());
    assert_eq!(late.state(), direct.state());
    assert_eq!(late.forecast(), direct.forecast());
    // The next refit comes on the same schedule as the direct one's.
    let mut direct = direct;
    for &v in &y[23..29] {
        direct.observe(v).unwrap();
        assert!(late.observe_deferred(v).unwrap().is_none());
    }
    direct.observe(y[29]).unwrap();
    let job = late.observe_deferred(y[29]).unwrap().expect("due at 30");
    late.install(job.run());
    assert_eq!(late.state(), direct.state());
    assert_eq!(late.forecast(), direct.forecast());
    // The observe() path is observe_deferred + run + install.
    assert_eq!(direct.state(), fed(config(10), &y[..30]).state());
}
