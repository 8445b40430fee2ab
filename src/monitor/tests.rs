use super::*;
use crate::alert::{AlertKind, AlertState};
use crate::decision::{EngineEvent, channel};
use crate::history::{HistoryConfig, LogConfig};
use crate::host::{FixedProbe, ManualClock};
use crate::persist::Durability;
use crate::record::{CycleOutcome, CycleRecord, Reason};

fn run(bot: &str, time: f64, ok: bool) -> Decision {
    let name: Arc<str> = Arc::from(bot);
    let mut r = CycleRecord::skip(&name, &name, time, 1, Reason::Interval);
    r.action = crate::record::CycleAction::Run;
    r.outcome = Some(CycleOutcome {
        ok,
        delta: 0.0,
        reward: 0.0,
        profit_before: None,
        profit_after: None,
        error: (!ok).then(|| "broke".into()),
        modules: vec![],
        learner: None,
        metrics: Default::default(),
        weighted_reward: None,
        alerts: vec![],
    });
    Decision::Cycle(r)
}

struct Counting(Arc<AtomicU64>);

impl Observer for Counting {
    fn observe(&mut self, _: &Decision, log: &str) {
        assert!(log == "alpha" || log == FLEET, "{log}");
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn the_monitor_keeps_every_item_and_raises_alerts_on_the_stream() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(1000.0);
    let history = Arc::new(
        History::open(
            tmp.path(),
            HistoryConfig {
                log: LogConfig {
                    durability: Durability::Atomic,
                    ..LogConfig::history()
                },
                ..HistoryConfig::default()
            },
            Arc::new(clock.clone()),
        )
        .unwrap(),
    );
    let stream = channel();
    let mut watcher = stream.subscribe();
    let seen = Arc::new(AtomicU64::new(0));
    // Sent before the monitor starts: its subscription holds them, and it
    // takes in what waits before it evaluates.
    let decisions = stream.subscribe();
    let _ = stream.send(Decision::Engine(EngineEvent {
        time: 999.0,
        engine: Arc::from("alpha"),
        bot: Arc::from("alpha"),
        kind: EngineEventKind::Registered,
        detail: String::new(),
    }));
    for i in 0..4 {
        let _ = stream.send(run("alpha", 1000.0 + f64::from(i), i != 2));
    }
    let monitor = Monitor::start(
        MonitorParts {
            decisions,
            publisher: stream.clone(),
            history: Some(history.clone()),
            timings: Arc::new(TickTimings::default()),
            clock: Arc::new(clock.clone()),
            probe: Box::new(FixedProbe::default()),
            state_root: None,
            alerts: AlertConfig::default(),
            observers: vec![Box::new(Counting(seen.clone()))],
        },
        MonitorConfig {
            evaluate_every: Duration::from_millis(10),
            ..MonitorConfig::default()
        },
    )
    .unwrap();
    // The error rate (1 in 4) fires on the stream, from the monitor's thread.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let alert = rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                if let Ok(Decision::Alert(a)) = watcher.recv().await {
                    return a;
                }
            }
        })
        .await
        .expect("no alert within 30 s")
    });
    assert_eq!(
        (alert.alert, alert.state),
        (AlertKind::ErrorRate, AlertState::Firing)
    );
    assert_eq!(alert.bot.as_deref(), Some("alpha"));
    assert!((alert.value - 0.25).abs() < 1e-12);
    let stats = monitor.stats();
    monitor.stop();
    assert_eq!(stats.lagged(), 0);
    assert_eq!(stats.firing().len(), 1);
    // Everything is in alpha's log, the alert included; the observer saw it all.
    rt.block_on(history.flush()).unwrap().unwrap();
    let kept = history.last("alpha", 100).unwrap();
    assert_eq!(kept.len(), 6, "{kept:?}");
    assert!(matches!(kept[0], Decision::Engine(_)));
    assert!(matches!(kept[5], Decision::Alert(_)));
    assert_eq!(seen.load(Ordering::Relaxed), 6);
}

/// The alert thresholds are the registry's settings unless the monitor's
/// own config overrides them.
#[actix::test]
async fn the_alert_thresholds_default_from_the_registry_s_settings() {
    let registry = crate::registry::RegistryHandle::builder(crate::registry::RegistryConfig {
        arbiters: 1,
        alerts: AlertConfig {
            error_rate: 0.25,
            ..AlertConfig::default()
        },
        ..crate::registry::RegistryConfig::default()
    })
    .probe(FixedProbe::default())
    .start()
    .unwrap();
    let parts = || {
        MonitorParts::new(
            &registry,
            Arc::new(ManualClock::new(0.0)),
            Box::new(FixedProbe::default()),
        )
    };
    let monitor = Monitor::start(parts(), MonitorConfig::default()).unwrap();
    assert_eq!(monitor.stats().rules().error_rate, 0.25);
    monitor.stop();
    let own = AlertConfig {
        latency_p99_secs: 2.0,
        ..AlertConfig::default()
    };
    let monitor = Monitor::start(
        parts(),
        MonitorConfig {
            alerts: Some(own.clone()),
            ..MonitorConfig::default()
        },
    )
    .unwrap();
    assert_eq!(monitor.stats().rules(), &own);
    monitor.stop();
    // Settings out of range stop the registry from starting.
    let bad = crate::registry::RegistryHandle::builder(crate::registry::RegistryConfig {
        alerts: AlertConfig {
            error_rate: 2.0,
            ..AlertConfig::default()
        },
        ..crate::registry::RegistryConfig::default()
    })
    .probe(FixedProbe::default())
    .start();
    assert!(bad.err().unwrap().to_string().contains("alerts.error_rate"));
    registry.shutdown().await.unwrap();
}
