//! Issue 16 item 6 through the real engine actor: an engine whose spec says
//! `[engine] forecast = "arima"` forecasts its next ROI delta from its own
//! history — the linear fallback under 20 points, then the ARIMA chosen by
//! AIC on a blocking thread and installed when done — and a forecast above
//! `pre_roi_bias` forces a cycle (reason `forecast`) when the interval has
//! not passed.

use crate::support::read_json;
use kaizen::cycle::{FORECAST_FILE, Persistence};
use kaizen::engine::{Flush, RunCycle, Tick};
use kaizen::host::{Clock, ManualClock, Resources};
use kaizen::persist::Durability;
use kaizen::pipeline::{AutomationResult, RoiResult, pipeline_fn};
use kaizen::record::Reason;
use kaizen::spec::EngineSpec;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

const SPEC: &str = r#"bot = "alpha"
[pipeline]
command = ["./improve.sh"]
[engine]
decision = "chain"                  # a forecast forces cycles in SPEC §4's chain
energy = "none"
interval = "1h"
forecast = "arima"
forecast_refit_every = 5
"#;

/// The n-th delta the pipeline reports: a straight line for the first 12,
/// then a wave on it (ARIMA needs something to fit).
fn delta(n: u64) -> f64 {
    let x = n as f64;
    0.1 + 0.02 * x + if n < 12 { 0.0 } else { 0.05 * (1.3 * x).sin() }
}

fn tick(now: f64) -> Tick {
    Tick {
        now,
        resources: Resources::default(),
    }
}

#[actix::test]
async fn the_built_in_forecaster_refits_off_the_engine_and_forces_cycles() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(1_000_000.0);
    let runs = Arc::new(AtomicU64::new(0));
    let counter = runs.clone();
    let pipeline = pipeline_fn(move |_: &str, _: u32| {
        let roi = delta(counter.fetch_add(1, Ordering::SeqCst));
        async move {
            Ok(AutomationResult {
                roi: Some(RoiResult {
                    roi,
                    ..Default::default()
                }),
                ..Default::default()
            })
        }
    });
    let spec = EngineSpec::parse(SPEC, std::path::Path::new("alpha.toml")).unwrap();
    let forecast = spec.config.forecast.unwrap();
    assert_eq!(forecast.refit_every, 5);
    let engine = spec
        .builder_with(Arc::new(pipeline))
        .clock(Arc::new(clock.clone()))
        .state_root(dir.path())
        .persistence(Persistence::PerCycle(Durability::Atomic))
        .start()
        .unwrap();

    // Twelve runs on a straight line: the linear fallback forecasts the
    // next point of it, 0.1 + 0.02·12 = 0.34 > pre_roi_bias (0). The
    // interval has not passed, so the forecast forces the cycle.
    for _ in 0..12 {
        engine.send(RunCycle { energy: 1 }).await.unwrap().unwrap();
    }
    let r = engine.send(tick(clock.now())).await.unwrap();
    assert_eq!(r.reason, Reason::Forecast, "{r:?}");
    assert!(
        (r.inputs.as_ref().unwrap().forecast.unwrap() - 0.34).abs() < 1e-9,
        "{:?}",
        r.inputs.as_ref().map(|i| i.forecast)
    );
    assert!(r.outcome.unwrap().ok);

    // At 20 points an ARIMA is chosen by AIC on a blocking thread and
    // installed when it is done; the engine answers meanwhile.
    while runs.load(Ordering::SeqCst) < 20 {
        engine.send(RunCycle { energy: 1 }).await.unwrap().unwrap();
    }
    let path = dir.path().join("alpha").join(FORECAST_FILE);
    let mut saved = serde_json::Value::Null;
    for _ in 0..3000 {
        engine.send(Flush).await.unwrap().unwrap();
        saved = read_json(&path);
        if !saved["model"].is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(!saved["model"].is_null(), "no refit was installed: {saved}");
    assert_eq!(saved["since_fit"], 0, "{saved}");
    let history: Vec<f64> = saved["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let expected: Vec<f64> = (0..20).map(delta).collect();
    assert_eq!(history, expected);
    // The next tick acts on the chosen ARIMA's forecast: the one a fit on
    // the same 20 points makes, above 0, so it forces the cycle.
    let fit = kaizen::forecast::forecast(&history, &forecast)
        .unwrap()
        .unwrap();
    assert!(fit.aic.is_some(), "an ARIMA, not the fallback: {fit:?}");
    let r = engine.send(tick(clock.now())).await.unwrap();
    assert_eq!(r.reason, Reason::Forecast, "{r:?}");
    assert!(
        (r.inputs.as_ref().unwrap().forecast.unwrap() - fit.mean).abs()
            <= 1e-12 * fit.mean.abs().max(1.0),
        "forecast {:?} vs a fit on the same history {fit:?}",
        r.inputs.as_ref().map(|i| i.forecast)
    );
}
