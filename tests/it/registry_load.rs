//! Load: 1,000 engines with a no-op pipeline tick 100 times under one
//! registry; nothing is lost (every engine's cycle count and state file agree).

use crate::support::*;
use kaizen::cycle::{ENGINE_FILE, Persistence};
use kaizen::host::ManualClock;
use kaizen::persist::Durability;
use kaizen::record::CycleAction;
use std::collections::BTreeMap;
use std::time::Duration;

#[actix::test]
async fn thousand_engines_hundred_ticks_nothing_lost() {
    const ENGINES: usize = 1000;
    const TICKS: usize = 100;
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(0.0);
    let reg = registry_in(dir.path(), &clock);
    for i in 0..ENGINES {
        let b =
            builder(&format!("bot{i:04}"), noop(), &clock).persistence(Persistence::WriteBehind {
                window: Duration::from_millis(200),
                durability: Durability::Atomic,
            });
        reg.register_engine(b).await.unwrap();
    }
    let mut runs: BTreeMap<String, u64> = BTreeMap::new();
    for _ in 0..TICKS {
        clock.advance(1.0);
        let records = reg.run_all_cycles().await.unwrap();
        assert_eq!(records.len(), ENGINES);
        for (name, r) in records {
            if r.action == CycleAction::Run {
                *runs.entry(name.clone()).or_default() += 1;
            }
            assert_eq!(r.cycle, runs.get(&name).copied().unwrap_or(0), "{name}");
        }
    }
    let report = reg.status().await.unwrap();
    for e in &report.engines {
        assert_eq!(
            e.status.as_ref().unwrap().cycles,
            runs[&e.entry.name],
            "{}",
            e.entry.name
        );
    }
    reg.shutdown().await.unwrap();
    for (name, cycles) in &runs {
        let saved = read_json(dir.path().join(name).join(ENGINE_FILE));
        assert_eq!(saved["cycles"], *cycles, "{name}");
    }
    // Most ticks run a cycle (the policy explores with ε = 0.1).
    let total: u64 = runs.values().sum();
    assert!(total > (ENGINES * TICKS) as u64 * 8 / 10, "{total}");
}
