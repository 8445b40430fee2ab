//! The learned decision mode in the engine core: which mode a folder runs,
//! what its records carry, forced triggers, and resuming exactly.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::steps::{CyclePlan, Learning, TickPlan};
use super::*;
use crate::decide::{Decision, Source, Why};
use crate::host::{HostError, ProfitSource, Resources};
use crate::persist::{Durability, write_all};
use crate::pipeline::AutomationResult;
use crate::record::{CycleAction, CycleRecord, Reason};

/// A bot's ledger: each tick adds its revenue level; a cycle of energy `e`
/// costs `0.05·e` and lifts the level by `0.3·(1 − e^(−e/5))`; the level
/// decays by 2% a tick.
struct World {
    profit: f64,
    level: f64,
}

#[derive(Clone)]
struct Ledger(Arc<Mutex<World>>);

impl ProfitSource for Ledger {
    fn profit(&self, _: &str) -> Result<f64, HostError> {
        Ok(self.0.lock().unwrap().profit)
    }
}

impl Ledger {
    fn new() -> Ledger {
        Ledger(Arc::new(Mutex::new(World {
            profit: 0.0,
            level: 1.0,
        })))
    }
    fn cycle(&self, energy: u32) {
        let mut w = self.0.lock().unwrap();
        let e = f64::from(energy);
        w.profit -= 0.05 * e;
        w.level += 0.3 * (1.0 - (-e / 5.0).exp());
    }
    fn end_tick(&self) {
        let mut w = self.0.lock().unwrap();
        w.level *= 0.98;
        w.profit += w.level;
    }
}

/// Settings that ask for the learned decision explicitly.
fn learned() -> EngineConfig {
    EngineConfig {
        decision: Some(DecisionMode::Learned),
        ..EngineConfig::default()
    }
}

fn open(config: EngineConfig, dir: Option<&Path>) -> EngineCore {
    EngineCore::open(
        Arc::from("e"),
        Arc::from("b"),
        config,
        dir.map(Path::to_path_buf),
        None,
    )
    .unwrap()
}

fn hosts(ledger: Option<&Ledger>) -> Hosts {
    Hosts {
        profit: ledger.map(|l| Arc::new(l.clone()) as Arc<dyn ProfitSource>),
        ..Hosts::default()
    }
}

/// Runs a planned cycle to its record; the world's cycle happens while the
/// pipeline runs.
fn run(c: &mut EngineCore, plan: CyclePlan, h: &Hosts, ledger: Option<&Ledger>) -> CycleRecord {
    let started = c.start(plan, h).unwrap();
    if let Some(l) = ledger {
        l.cycle(started.energy());
    }
    let result = Ok(AutomationResult::default());
    let absorbed = c.absorb(started, result, h).unwrap();
    let Learning::Learned(learned) = c.learn(absorbed) else {
        panic!("the weight learner updates in place");
    };
    c.conclude(learned).unwrap()
}

/// One tick at tick number `t` (a minute apart): its record.
fn tick(c: &mut EngineCore, t: u64, h: &Hosts, ledger: Option<&Ledger>) -> CycleRecord {
    let now = t as f64 * 60.0;
    let record = match c.plan_tick(now, Resources::default(), h, None).unwrap() {
        TickPlan::Skip(r) => r,
        TickPlan::Run(plan) => run(c, plan, h, ledger),
    };
    if let Some(l) = ledger {
        l.end_tick();
    }
    record
}

fn save(c: &mut EngineCore) {
    write_all(&c.take_files(), Durability::Atomic).unwrap();
}

fn decisions(records: &[CycleRecord]) -> Vec<Decision> {
    records.iter().filter_map(|r| r.decision.clone()).collect()
}

#[test]
fn a_new_engine_decides_with_the_learned_energy_and_records_every_option() {
    assert_eq!(
        open(EngineConfig::default(), None).decision_mode(),
        DecisionMode::Learned,
        "learned is the default for a new engine, in memory too"
    );
    // A folder told `chain` keeps it once the setting is gone.
    let told = tempfile::tempdir().unwrap();
    let chain = EngineConfig {
        decision: Some(DecisionMode::Chain),
        ..EngineConfig::default()
    };
    let mut c = open(chain, Some(told.path()));
    tick(&mut c, 0, &hosts(None), None);
    save(&mut c);
    assert_eq!(
        open(EngineConfig::default(), Some(told.path())).decision_mode(),
        DecisionMode::Chain
    );
    let dir = tempfile::tempdir().unwrap();
    let mut c = open(EngineConfig::default(), Some(dir.path()));
    assert_eq!(c.decision_mode(), DecisionMode::Learned);
    let ledger = Ledger::new();
    let h = hosts(Some(&ledger));
    let records: Vec<CycleRecord> = (0..60)
        .map(|t| tick(&mut c, t, &h, Some(&ledger)))
        .collect();
    // The first tick looks at the level; the second buys the smallest cycle.
    let first = records[0].decision.as_ref().unwrap();
    assert_eq!(
        (records[0].action, first.why.clone()),
        (CycleAction::Skip, Why::FirstLook)
    );
    let second = records[1].decision.as_ref().unwrap();
    assert_eq!(
        (records[1].energy(), second.why.clone()),
        (Some(1), Why::FirstCycle)
    );
    for r in &records {
        let d = r.decision.as_ref().unwrap();
        assert_eq!(d.source, Source::Ledger);
        assert_eq!(d.options.len(), 11, "skip and the ten energies");
        assert_eq!(r.propensity, Some(d.propensity));
        let chosen = d.options.iter().find(|o| o.energy == d.energy).unwrap();
        assert_eq!(chosen.probability, d.propensity);
        assert!(d.propensity > 0.0 && d.propensity <= 1.0);
        assert_eq!(r.chain, None, "no energy chain in learned mode");
        match r.action {
            CycleAction::Run => assert_eq!(r.energy(), Some(d.energy)),
            CycleAction::Skip => assert_eq!(d.energy, 0),
        }
    }
    // It learned something worth running for, and more than the smallest
    // energy once it knew what energy buys.
    let energies: Vec<u32> = records.iter().filter_map(CycleRecord::energy).collect();
    assert!(energies.len() >= 3, "{energies:?}");
    assert!(energies.iter().any(|&e| e > 1), "{energies:?}");
    save(&mut c);
    let engine = crate::persist::load_json::<serde_json::Value>(&dir.path().join(ENGINE_FILE))
        .unwrap()
        .unwrap();
    assert_eq!(engine["decision"], "learned");
    assert!(dir.path().join(DECIDE_FILE).exists());
}

#[test]
fn a_round1_folder_keeps_running_chain_until_told_otherwise() {
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/round1/state/alpha/engine.json");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&fixture, dir.path().join(ENGINE_FILE)).unwrap();
    let mut c = open(EngineConfig::default(), Some(dir.path()));
    assert_eq!(c.decision_mode(), DecisionMode::Chain);
    assert_eq!(c.cycles(), 4, "the round-1 book was read");
    let h = hosts(None);
    let r = tick(&mut c, 1_000_000, &h, None);
    let cycles = r.cycle;
    assert_eq!(
        (r.decision, r.propensity),
        (None, None),
        "SPEC's policy decided"
    );
    save(&mut c);
    assert_eq!(
        open(EngineConfig::default(), Some(dir.path())).decision_mode(),
        DecisionMode::Chain
    );
    // Told otherwise, it switches, and the folder remembers.
    let learned = EngineConfig {
        decision: Some(DecisionMode::Learned),
        ..EngineConfig::default()
    };
    let mut c = open(learned, Some(dir.path()));
    assert_eq!(c.decision_mode(), DecisionMode::Learned);
    save(&mut c);
    let c = open(EngineConfig::default(), Some(dir.path()));
    assert_eq!(c.decision_mode(), DecisionMode::Learned);
    assert_eq!(c.cycles(), cycles, "everything else was kept");
}

#[test]
fn save_load_continue_equals_an_uninterrupted_run() {
    let whole = {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::new();
        let h = hosts(Some(&ledger));
        let mut c = open(learned(), Some(dir.path()));
        (0..80)
            .map(|t| tick(&mut c, t, &h, Some(&ledger)))
            .collect::<Vec<_>>()
    };
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::new();
    let h = hosts(Some(&ledger));
    let mut records = Vec::new();
    for (from, to) in [(0, 23), (23, 57), (57, 80)] {
        let mut c = open(learned(), Some(dir.path()));
        records.extend((from..to).map(|t| tick(&mut c, t, &h, Some(&ledger))));
        save(&mut c);
    }
    assert_eq!(decisions(&records), decisions(&whole));
    assert_eq!(decisions(&whole).len(), 80);
    assert!(
        whole
            .iter()
            .filter(|r| r.action == CycleAction::Run)
            .count()
            >= 3
    );
}

#[test]
fn triggers_force_a_cycle_only_when_the_spec_lists_them() {
    let ledger = Ledger::new();
    let h = hosts(Some(&ledger));
    // The interval is due at the first tick: an input, not an order.
    let mut c = open(learned(), None);
    let r = tick(&mut c, 0, &h, Some(&ledger));
    assert_eq!((r.action, r.reason), (CycleAction::Skip, Reason::Policy));
    let forced = EngineConfig {
        force: vec![ForceTrigger::Interval],
        ..learned()
    };
    let mut c = open(forced, None);
    let r = tick(&mut c, 0, &h, Some(&ledger));
    assert_eq!((r.action, r.reason), (CycleAction::Run, Reason::Interval));
    let d = r.decision.unwrap();
    assert!(d.forced && d.energy > 0);
    assert!(
        d.options[0].probability == 0.0,
        "a forced decision cannot skip"
    );
}

#[test]
fn without_a_ledger_the_reported_value_is_learned_and_requested_cycles_are_imposed() {
    let mut c = open(learned(), None);
    let h = hosts(None);
    let r = tick(&mut c, 0, &h, None);
    let d = r.decision.unwrap();
    assert_eq!(
        (d.source, d.why, d.energy),
        (Source::Reported, Why::FirstCycle, 1)
    );
    let plan = c.plan_requested(60.0, 7, Resources::default(), &h).unwrap();
    let r = run(&mut c, plan, &h, None);
    let d = r.decision.clone().unwrap();
    assert_eq!(
        (r.reason, r.energy(), d.why, d.propensity),
        (Reason::Requested, Some(7), Why::Imposed, 1.0)
    );
}

#[test]
fn an_unreadable_ledger_fails_the_cycle_naming_the_source_and_decides_nothing() {
    struct Unreadable;
    impl ProfitSource for Unreadable {
        fn profit(&self, _: &str) -> Result<f64, HostError> {
            Err("cannot read the profit file /ledger/profit.txt".into())
        }
    }
    let mut c = open(learned(), None);
    let h = Hosts {
        profit: Some(Arc::new(Unreadable)),
        ..Hosts::default()
    };
    for t in 0..3 {
        let plan = match c.plan_tick(t as f64 * 60.0, Resources::default(), &h, None) {
            Ok(TickPlan::Run(plan)) => plan,
            other => panic!("an unreadable ledger fails a cycle, not {other:?}"),
        };
        let started = c.start(plan, &h).unwrap();
        let refused = started.refusal().expect("refused before its pipeline");
        let absorbed = c.absorb(started, Err(refused), &h).unwrap();
        let Learning::Learned(learned) = c.learn(absorbed) else {
            panic!("the weight learner updates in place");
        };
        let record = c.conclude(learned).unwrap();
        let outcome = record.outcome.as_ref().unwrap();
        let error = outcome.error.as_deref().unwrap_or_default();
        assert!(!outcome.ok && error.contains("profit.txt"), "{record:?}");
        assert_eq!(record.decision, None, "nothing is decided on it");
    }
    // The decider learned nothing from those ticks: once the ledger reads,
    // its first decision is the first look.
    let ledger = Ledger::new();
    let record = tick(&mut c, 3, &hosts(Some(&ledger)), Some(&ledger));
    assert_eq!(record.decision.map(|d| d.why), Some(Why::FirstLook));
}
