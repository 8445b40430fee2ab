//! Forced-energy rounds: `run_all_cycles_with(energy)` ticks every engine,
//! each run starts its energy chain from the energy given and is marked
//! forced with propensity 1; a plain round right after is not.

use crate::support::*;
use kaizen::Error;
use kaizen::host::ManualClock;
use kaizen::record::{CycleAction, Reason};

#[actix::test]
async fn a_forced_round_runs_with_its_energy_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(0.0);
    let reg = registry_in(dir.path(), &clock);
    for name in ["alpha", "beta"] {
        reg.register_engine(builder(name, noop(), &clock))
            .await
            .unwrap();
    }
    for bad in [0, 101] {
        let err = reg.run_all_cycles_with(bad).await.unwrap_err();
        assert!(matches!(err, Error::Invalid { .. }), "{err}");
        assert!(
            err.to_string().contains("run_all_cycles_with energy"),
            "{err}"
        );
    }
    // First tick: the interval triggers both; their chains start from 37.
    let forced = reg.run_all_cycles_with(37).await.unwrap();
    assert_eq!(forced.len(), 2);
    for r in forced.values() {
        assert_eq!((r.action, r.reason), (CycleAction::Run, Reason::Interval));
        assert_eq!(r.chain.as_ref().unwrap().e0, 37.0);
        assert!(r.forced);
        assert_eq!(r.propensity, Some(1.0));
        let json = serde_json::to_value(r).unwrap();
        assert_eq!(
            (json["forced"].clone(), json["propensity"].clone()),
            (true.into(), 1.0.into())
        );
    }
    // An hour later a plain round: default_energy (1), not forced, and the
    // record's JSON has neither field (older readers see what they knew).
    clock.advance(3600.0);
    let plain = reg.run_all_cycles().await.unwrap();
    for r in plain.values() {
        assert_eq!((r.action, r.reason), (CycleAction::Run, Reason::Interval));
        assert_eq!(r.chain.as_ref().unwrap().e0, 1.0);
        assert!(!r.forced);
        assert_eq!(r.propensity, None);
        let json = serde_json::to_value(r).unwrap();
        assert!(json.get("forced").is_none() && json.get("propensity").is_none());
    }
    reg.shutdown().await.unwrap();
}
