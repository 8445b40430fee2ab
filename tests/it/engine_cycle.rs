//! A cycle's arithmetic through the real actor: the energy chain, profit
//! reads, the ROI moving average and history, and state on disk.

use crate::support::*;
use kaizen::cycle::ENGINE_FILE;
use kaizen::energy::EnergySource;
use kaizen::engine::{RecordMetrics, RunCycle, Status, Tick};
use kaizen::host::{Admission, ManualClock, Resources, RoiForecast};
use kaizen::record::{CycleAction, Reason};
use kaizen::roi::RoiConfig;
use std::sync::Arc;
use std::sync::Mutex;

struct FixedEnergy(f64);
impl EnergySource for FixedEnergy {
    fn energy_score(&mut self, _: &kaizen::energy::EnergyInputs) -> kaizen::Result<f64> {
        Ok(self.0)
    }
}

struct FixedForecast(f64);
impl RoiForecast for FixedForecast {
    fn forecast(&self, _: &str) -> Option<f64> {
        Some(self.0)
    }
}

fn tick(now: f64) -> Tick {
    Tick {
        now,
        resources: Resources::default(),
    }
}

#[actix::test]
async fn energy_chain_matches_hand_computed_values() {
    let clock = ManualClock::new(1000.0);
    let engine = builder("chain", roi_per_energy(0.5), &clock)
        .energy_source(|_| Ok(Box::new(FixedEnergy(0.9))))
        .forecast(Arc::new(FixedForecast(0.3)))
        .start()
        .unwrap();
    for v in [0.0, 0.2] {
        let known = engine
            .send(RecordMetrics {
                name: "synergy_roi".into(),
                value: v,
            })
            .await
            .unwrap()
            .unwrap();
        assert!(known);
    }
    // First tick: no last run ⇒ "interval".
    // E0 = rhe(5·0.9) = 4; E1 = rhe(4·(1+0)) = 4; E2 = rhe(4·min(5, 1.3)) = rhe(5.2) = 5;
    // Δ_roi = metric_delta([0, 0.2]) = 0.1, w = 1 ⇒ adj 0.1 ⇒ E3 = rhe(5.5) = 6 (half to even);
    // EMA 0, short mean 0 ⇒ E4 = E5 = 6.
    let r = engine.send(tick(1000.0)).await.unwrap();
    assert_eq!(r.reason, Reason::Interval);
    let c = r.chain.clone().unwrap();
    assert_eq!(
        (c.e0, c.e1, c.e2, c.e3, c.e4, c.e5, c.energy),
        (4.0, 4.0, Some(5.0), Some(6.0), 6.0, 6.0, 6)
    );
    let o = r.outcome.unwrap();
    // roi = 6·0.5 = 3 (no ledger ⇒ the result's roi is the delta).
    assert_eq!(o.delta, 3.0);
    // reward = 3 − 0·6 + Δ_roi 0.1 + Δ_eff 0
    assert!((o.reward - 3.1).abs() < 1e-12, "{}", o.reward);

    // Second tick, same time: the interval has not passed; the forecast 0.3 > 0 forces it.
    // The weight learner moved w_roi to 1 + 0.1·3·0.1 = 1.03 ⇒ adj = 0.103.
    // The policy has not seen the new state: p = 0. EMA = 0.1·3 = 0.3, short mean = 3.
    // E0 4, E1 4, E2 5, E3 = rhe(5·1.103) = rhe(5.515) = 6,
    // E4 = rhe(6·1.3) = rhe(7.8) = 8, E5 = rhe(8·min(2, 4)) = 16.
    let r = engine.send(tick(1000.0)).await.unwrap();
    assert_eq!(r.reason, Reason::Forecast);
    let i = r.inputs.unwrap();
    assert_eq!(i.policy_score, 0.0);
    assert!((i.synergy_adj - 0.103).abs() < 1e-12, "{}", i.synergy_adj);
    assert!((i.roi_ema - 0.3).abs() < 1e-12);
    assert_eq!(i.short_mean, 3.0);
    let c = r.chain.unwrap();
    assert_eq!(
        (c.e0, c.e1, c.e2, c.e3, c.e4, c.e5, c.energy),
        (4.0, 4.0, Some(5.0), Some(6.0), 8.0, 16.0, 16)
    );
}

#[actix::test]
async fn profit_is_read_exactly_twice_per_cycle() {
    let clock = ManualClock::new(0.0);
    let ledger = Ledger::default();
    let engine = builder("reads", scripted(&ledger, vec![1.0; 10]), &clock)
        .profit_source(Arc::new(ledger.clone()))
        .start()
        .unwrap();
    let r = engine.send(tick(0.0)).await.unwrap();
    assert_eq!(r.action, CycleAction::Run);
    assert_eq!(ledger.reads(), 2);
    for n in 2..=5 {
        let r = engine.send(RunCycle { energy: 3 }).await.unwrap().unwrap();
        assert_eq!(r.reason, Reason::Requested);
        let o = r.outcome.unwrap();
        assert_eq!(
            (o.profit_before, o.profit_after),
            (Some(f64::from(n - 1)), Some(f64::from(n)))
        );
        assert_eq!(ledger.reads(), 2 * n as u64);
    }
}

#[actix::test]
async fn ema_and_history_follow_spec_and_reach_disk() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(0.0);
    let ledger = Ledger::default();
    let engine = builder("ema", scripted(&ledger, vec![1.0, 0.5, 2.0]), &clock)
        .profit_source(Arc::new(ledger.clone()))
        .roi(RoiConfig {
            ema_alpha: 0.5,
            ..RoiConfig::default()
        })
        .state_root(dir.path())
        .start()
        .unwrap();
    let mut emas = Vec::new();
    for _ in 0..3 {
        engine.send(RunCycle { energy: 1 }).await.unwrap().unwrap();
        emas.push(engine.send(Status).await.unwrap().roi_delta_ema);
    }
    // SPEC §2: α = 0.5, deltas 1.0, 0.5, 2.0 ⇒ EMA 0.5, 0.5, 1.25.
    assert_eq!(emas, vec![0.5, 0.5, 1.25]);
    let status = engine.send(Status).await.unwrap();
    assert_eq!(status.cycles, 3);
    // short mean of [1, 0.5, 2]
    assert!((status.short_mean - 3.5 / 3.0).abs() < 1e-12);
    // Per-cycle persistence: the record came after the save.
    let saved = read_json(dir.path().join("ema").join(ENGINE_FILE));
    assert_eq!(saved["version"], 1);
    assert_eq!(saved["roi_history"], serde_json::json!([1.0, 0.5, 2.0]));
    assert_eq!(saved["roi_delta_ema"], 1.25);
    assert_eq!(saved["cycles"], 3);
    assert_eq!(saved["failures"], 0);
    // Profit samples: before and after each cycle.
    assert_eq!(
        saved["profit_samples"],
        serde_json::json!([0.0, 1.0, 1.0, 1.5, 1.5, 3.5])
    );
    for f in ["policy.json", "meta.json"] {
        assert!(dir.path().join("ema").join(f).exists(), "{f}");
    }
    // Only what changed is written: no module was named, no weight moved.
    for f in ["synergy.json", "modules.json"] {
        assert!(!dir.path().join("ema").join(f).exists(), "{f}");
    }
}

#[actix::test]
async fn a_rebuilt_engine_continues_from_its_saved_state() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(0.0);
    let ledger = Ledger::default();
    let make = || {
        builder("again", scripted(&ledger, vec![2.0; 10]), &clock)
            .profit_source(Arc::new(ledger.clone()))
            .state_root(dir.path())
    };
    let engine = make().start().unwrap();
    for _ in 0..2 {
        engine.send(RunCycle { energy: 1 }).await.unwrap().unwrap();
    }
    let before = engine.send(Status).await.unwrap();
    drop(engine);
    let engine = make().start().unwrap();
    let after = engine.send(Status).await.unwrap();
    assert_eq!(after.cycles, 2);
    assert_eq!(after.roi_delta_ema, before.roi_delta_ema);
    assert_eq!(after.weights, before.weights);
    let r = engine.send(RunCycle { energy: 1 }).await.unwrap().unwrap();
    assert_eq!(r.cycle, 3);
}

#[actix::test]
async fn paused_engine_skips_and_stays_paused_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(0.0);
    let make = || builder("sleepy", noop(), &clock).state_root(dir.path());
    let engine = make().start().unwrap();
    engine.send(kaizen::engine::Pause).await.unwrap();
    assert_eq!(engine.send(tick(0.0)).await.unwrap().reason, Reason::Paused);
    assert!(engine.send(RunCycle { energy: 1 }).await.unwrap().is_err());
    assert!(matches!(
        engine.send(RunCycle { energy: 1 }).await.unwrap(),
        Err(kaizen::Error::Paused { .. })
    ));
    engine.send(kaizen::engine::Flush).await.unwrap().unwrap();
    drop(engine);
    let engine = make().start().unwrap();
    assert_eq!(engine.send(tick(0.0)).await.unwrap().reason, Reason::Paused);
    engine.send(kaizen::engine::Resume).await.unwrap();
    assert_eq!(
        engine.send(tick(0.0)).await.unwrap().action,
        CycleAction::Run
    );
}

/// An admission that answers from a list and counts who asked.
struct Gate {
    open: Mutex<Vec<bool>>,
    asked: Mutex<Vec<String>>,
}

impl Admission for Gate {
    fn admit(&self, bot: &str) -> bool {
        self.asked.lock().unwrap().push(bot.to_string());
        self.open.lock().unwrap().pop().unwrap_or(true)
    }
}

#[actix::test]
async fn the_hosts_admission_is_asked_first_and_a_refusal_skips_as_no_slot() {
    let clock = ManualClock::new(0.0);
    // Answers pop from the end: refuse, then admit.
    let gate = Arc::new(Gate {
        open: Mutex::new(vec![true, false]),
        asked: Mutex::new(Vec::new()),
    });
    let engine = builder("gated", roi_per_energy(0.5), &clock)
        .bot("alpha")
        .energy_source(|_| Ok(Box::new(FixedEnergy(0.9))))
        .admission(gate.clone())
        .start()
        .unwrap();
    // Refused: a skip whatever the interval says, the energy still read.
    let r = engine.send(tick(0.0)).await.unwrap();
    assert_eq!((r.action, r.reason), (CycleAction::Skip, Reason::NoSlot));
    assert_eq!(r.energy_score, Some(0.9));
    assert!(r.outcome.is_none());
    // Admitted: the first cycle runs, forced by the interval.
    let r = engine.send(tick(1.0)).await.unwrap();
    assert_eq!((r.action, r.reason), (CycleAction::Run, Reason::Interval));
    assert!(r.outcome.is_some());
    // A cycle asked for directly does not ask.
    engine.send(RunCycle { energy: 3 }).await.unwrap().unwrap();
    assert_eq!(*gate.asked.lock().unwrap(), ["alpha", "alpha"]);
}

#[actix::test]
async fn low_energy_skips_and_bad_requests_are_refused() {
    let clock = ManualClock::new(0.0);
    let engine = builder("tired", noop(), &clock)
        .energy_source(|_| Ok(Box::new(FixedEnergy(0.2))))
        .start()
        .unwrap();
    let r = engine.send(tick(0.0)).await.unwrap();
    assert_eq!((r.action, r.reason), (CycleAction::Skip, Reason::LowEnergy));
    assert_eq!(r.energy_score, Some(0.2));
    for energy in [0, 101] {
        let err = engine.send(RunCycle { energy }).await.unwrap().unwrap_err();
        assert!(err.to_string().contains("1..=100"), "{err}");
    }
    let err = engine
        .send(RecordMetrics {
            name: "synergy_roi".into(),
            value: f64::NAN,
        })
        .await
        .unwrap()
        .unwrap_err();
    assert!(err.to_string().contains("synergy_roi"), "{err}");
    let known = engine
        .send(RecordMetrics {
            name: "latency_ms".into(),
            value: 12.0,
        })
        .await
        .unwrap()
        .unwrap();
    assert!(!known);
}
