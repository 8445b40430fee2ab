use super::*;

fn bot(name: &str) -> Arc<str> {
    Arc::from(name)
}

fn rules() -> AlertRules {
    AlertRules::new(AlertConfig::default()).unwrap()
}

#[test]
fn error_rate_fires_once_and_resolves_once() {
    let mut r = rules();
    let a = bot("alpha");
    // 2 failures in 20 cycles: 10% > 5%.
    for i in 0..20 {
        r.observe_cycle(&a, 1000.0 + i as f64, i % 10 != 0);
    }
    let fired = r.evaluate(1020.0, &FleetReadings::default());
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].state, AlertState::Firing);
    assert_eq!(fired[0].bot.as_deref(), Some("alpha"));
    assert!((fired[0].value - 0.1).abs() < 1e-12);
    assert_eq!(fired[0].threshold, 0.05);
    // Still firing: nothing new.
    assert!(r.evaluate(1021.0, &FleetReadings::default()).is_empty());
    assert_eq!(r.firing().len(), 1);
    // 200 good cycles later the last 100 (and the last 5 minutes) are clean.
    for i in 0..200 {
        r.observe_cycle(&a, 1100.0 + i as f64, true);
    }
    let resolved = r.evaluate(1400.0, &FleetReadings::default());
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0].state, AlertState::Resolved);
    assert_eq!(resolved[0].value, 0.0);
    assert!(r.firing().is_empty());
}

#[test]
fn the_error_window_is_five_minutes_or_the_last_hundred_cycles_whichever_holds_more() {
    let mut r = rules();
    let a = bot("alpha");
    // A slow bot: one cycle an hour, the 150th-last failed. The last 100
    // cycles are clean, so it does not fire although 5 minutes hold one cycle.
    for i in 0..150 {
        r.observe_cycle(&a, i as f64 * 3600.0, i != 0);
    }
    assert!(
        r.evaluate(150.0 * 3600.0, &FleetReadings::default())
            .is_empty()
    );
    // A fast bot: 1000 cycles in the last 5 minutes, 6% failed: fires, although
    // its last 100 are clean (the window holds more than 100).
    let b = bot("beta");
    for i in 0..1000 {
        r.observe_cycle(&b, 10_000.0 + i as f64 * 0.25, i >= 60);
    }
    let fired = r.evaluate(10_250.0, &FleetReadings::default());
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert!((fired[0].value - 0.06).abs() < 1e-12);
    assert_eq!(fired[0].bot.as_deref(), Some("beta"));
}

#[test]
fn exactly_at_the_threshold_does_not_fire() {
    let mut r = rules();
    let a = bot("alpha");
    for i in 0..20 {
        r.observe_cycle(&a, i as f64, i != 0); // 1 in 20 = 5%
    }
    assert!(r.evaluate(20.0, &FleetReadings::default()).is_empty());
}

#[test]
fn fleet_rules_fire_on_their_readings() {
    let mut r = rules();
    let busy = FleetReadings {
        resources: Some(Resources {
            cpu: 0.5,
            memory: 0.85,
        }),
        latency_p99: Some(1.2),
        degradations: vec![],
    };
    let fired = r.evaluate(100.0, &busy);
    let kinds: Vec<_> = fired.iter().map(|e| (e.alert, e.state)).collect();
    assert_eq!(
        kinds,
        vec![
            (AlertKind::DecisionLatency, AlertState::Firing),
            (AlertKind::ResourceUse, AlertState::Firing)
        ]
    );
    assert!(
        fired[1].message.contains("memory use 85%"),
        "{}",
        fired[1].message
    );
    assert!(fired[0].message.contains("1200 ms"), "{}", fired[0].message);
    // No tick in the window: the latency alert resolves, the resources stay.
    let quiet = FleetReadings {
        latency_p99: None,
        ..busy
    };
    let changes = r.evaluate(101.0, &quiet);
    assert_eq!(changes.len(), 1);
    assert_eq!(
        (changes[0].alert, changes[0].state),
        (AlertKind::DecisionLatency, AlertState::Resolved)
    );
}

#[test]
fn model_degradation_fires_for_the_hold_after_an_automatic_rollback() {
    let mut r = rules();
    let readings = FleetReadings {
        degradations: vec![Degradation {
            bot: bot("alpha"),
            at: 1000.0,
            loss_increase: 0.25,
            detail: "v2 rolled back to v1".into(),
        }],
        ..FleetReadings::default()
    };
    let fired = r.evaluate(1001.0, &readings);
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].alert, AlertKind::ModelDegradation);
    assert_eq!(fired[0].value, 0.25);
    assert!(r.evaluate(4000.0, &readings).is_empty());
    let resolved = r.evaluate(4601.0, &readings);
    assert_eq!(resolved[0].state, AlertState::Resolved);
}

#[test]
fn a_forgotten_bot_resolves() {
    let mut r = rules();
    let a = bot("alpha");
    r.observe_cycle(&a, 1.0, false);
    assert_eq!(r.evaluate(2.0, &FleetReadings::default()).len(), 1);
    r.forget_bot("alpha");
    let changes = r.evaluate(3.0, &FleetReadings::default());
    assert_eq!(changes[0].state, AlertState::Resolved);
    assert!(changes[0].message.contains("no longer measured"));
}

#[test]
fn bad_settings_are_named() {
    let bad = AlertConfig {
        error_rate: 1.5,
        ..AlertConfig::default()
    };
    let e = AlertRules::new(bad).unwrap_err().to_string();
    assert!(e.contains("alerts.error_rate"), "{e}");
    let bad = AlertConfig {
        latency_window_secs: f64::NAN,
        ..AlertConfig::default()
    };
    let e = bad.validate().unwrap_err().to_string();
    assert!(e.contains("alerts.latency_window_secs"), "{e}");
    let parsed: std::result::Result<AlertConfig, _> = toml::from_str("error_rat = 0.1");
    assert!(parsed.unwrap_err().to_string().contains("error_rat"));
}
