use super::*;
use crate::stats::HoldReason;

fn spec(text: &str) -> VariantsSpec {
    toml::from_str(text).unwrap()
}

const SPEC: &str = "seed = 4\n[test]\nmax_outcomes = 400\n[space]\nx = { float = [0.0, 1.0] }\n";

/// The value per unit of energy of parameters `p`: best (2.0) at x = 0.7.
fn value(p: &Params) -> f64 {
    let x = p["x"].as_f64().unwrap();
    2.0 - 2.0 * (x - 0.7).abs()
}

fn noise(i: u64) -> f64 {
    // A fixed, arm-independent pattern with mean 0 and sd ≈ 0.1.
    ((i * 7919) % 13) as f64 / 40.0 - 0.15
}

/// Runs `cycles` cycles; returns the state and its events.
fn run(v: &mut Variants, fleet: &mut Fleet, cycles: u64) -> Vec<VariantEvent> {
    let mut events = Vec::new();
    for i in 0..cycles {
        let a = v.assign().unwrap();
        let energy = 1.0 + (i % 3) as f64;
        let outcome = (value(&a.params) + noise(i)) * energy;
        events.extend(
            v.outcome(&a, outcome, energy, i as f64, "bot", fleet)
                .unwrap(),
        );
    }
    events
}

#[test]
fn tests_start_after_a_generation_and_promote_a_better_variant() {
    let mut v = Variants::new(spec(SPEC)).unwrap();
    let mut fleet = Fleet::new(0.05, Some(20)).unwrap();
    // An operator serves the first population's worst member, so that a
    // better variant exists to be found whichever member the seed made serve.
    let worst = v
        .population()
        .members()
        .iter()
        .min_by(|a, b| value(&a.params).total_cmp(&value(&b.params)))
        .unwrap()
        .id;
    let by_operator = usize::from(worst != v.serving());
    if by_operator == 1 {
        v.promote(worst).unwrap();
    }
    let first = value(&v.population().get(v.serving()).unwrap().params);
    let events = run(&mut v, &mut fleet, 3_000);
    let started = events
        .iter()
        .filter(|e| matches!(e, VariantEvent::TestStarted { .. }))
        .count();
    let promoted: Vec<&VariantEvent> = events
        .iter()
        .filter(|e| matches!(e, VariantEvent::TestEnded { promoted: true, .. }))
        .collect();
    assert!(
        started >= 1 && !promoted.is_empty(),
        "{started} tests, {events:?}"
    );
    for e in &promoted {
        let VariantEvent::TestEnded { status, .. } = e else {
            unreachable!()
        };
        assert_eq!(status.decision, Decision::Promote);
        assert!(status.evidence >= 1.0 / 0.05);
    }
    let last = value(&v.population().get(v.serving()).unwrap().params);
    assert!(last > first, "serving value {first} -> {last}");
    assert_eq!(v.promotions() as usize, promoted.len() + by_operator);
    assert_eq!(fleet.counts().1 as usize, promoted.len());
}

#[test]
fn a_state_saved_and_loaded_goes_on_identically() {
    let mut a = Variants::new(spec(SPEC)).unwrap();
    let mut fa = Fleet::new(0.05, Some(20)).unwrap();
    run(&mut a, &mut fa, 50);
    let mut b: Variants = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
    let mut fb: Fleet = serde_json::from_str(&serde_json::to_string(&fa).unwrap()).unwrap();
    let ea = run(&mut a, &mut fa, 500);
    let eb = run(&mut b, &mut fb, 500);
    assert_eq!(ea, eb);
    assert_eq!(a, b);
}

#[test]
fn a_stale_assignment_and_bad_numbers_change_nothing() {
    let mut v = Variants::new(spec(SPEC)).unwrap();
    let mut fleet = Fleet::new(0.05, None).unwrap();
    let a = v.assign().unwrap();
    let before = v.clone();
    assert!(
        v.outcome(&a, f64::NAN, 1.0, 0.0, "bot", &mut fleet)
            .is_err()
    );
    assert!(v.outcome(&a, 1.0, 0.0, 0.0, "bot", &mut fleet).is_err());
    v.outcome(&a, 1.0, 1.0, 0.0, "bot", &mut fleet).unwrap();
    let after = v.clone();
    assert!(
        v.outcome(&a, 1.0, 1.0, 0.0, "bot", &mut fleet)
            .unwrap_err()
            .to_string()
            .contains("assignment")
    );
    assert_eq!(v, after);
    assert_ne!(before, after);
}

#[test]
fn a_test_holds_at_its_deadline_and_the_serving_variant_stays() {
    let mut v = Variants::new(spec(
        "seed = 1\n[evolution]\nsize = 2\n[test]\ndeadline = 10\n[space]\nx = { float = [0.0, 1.0] }\n",
    ))
    .unwrap();
    let mut fleet = Fleet::new(0.05, Some(5)).unwrap();
    // Member 1 earns more in the first generation, so a test of it starts.
    for (i, out) in [(0, 1.0), (1, 1.5)] {
        let a = v.assign().unwrap();
        assert_eq!(a.variant, i);
        v.outcome(&a, out, 1.0, 0.0, "bot", &mut fleet).unwrap();
    }
    let test = v.test().expect("a test started").clone();
    assert_eq!((test.serving, test.challenger), (0, 1));
    assert!(v.tick(9.0, "bot", &mut fleet).unwrap().is_empty());
    let events = v.tick(10.0, "bot", &mut fleet).unwrap();
    let [
        VariantEvent::TestEnded {
            status,
            promoted: false,
            serving: 0,
        },
    ] = events.as_slice()
    else {
        panic!("{events:?}");
    };
    assert_eq!(status.reason, Some(HoldReason::Deadline));
    assert!(v.test().is_none());
    assert_eq!(v.serving(), 0);
}

/// A crash after the fleet's file took a verdict and before the bot's file
/// did: the bot, restarted from its older state, takes the recorded verdict
/// (at once, or when it replays the lost outcome) and the fleet counts the
/// test once.
#[test]
fn a_verdict_the_bot_missed_is_taken_not_judged_again() {
    let mut v = Variants::new(spec(SPEC)).unwrap();
    let mut fleet = Fleet::new(0.05, Some(20)).unwrap();
    let (before, fleet_before, a, outcome, now, ended) = (0..3_000u64)
        .find_map(|i| {
            let a = v.assign().unwrap();
            let outcome = value(&a.params) + noise(i);
            let (before, fleet_before) = (v.clone(), fleet.clone());
            let events = v
                .outcome(&a, outcome, 1.0, i as f64, "bot", &mut fleet)
                .unwrap();
            let ended = events
                .into_iter()
                .find(|e| matches!(e, VariantEvent::TestEnded { .. }))?;
            Some((before, fleet_before, a, outcome, i as f64, ended))
        })
        .expect("a test ended");
    let VariantEvent::TestEnded {
        promoted, serving, ..
    } = ended
    else {
        unreachable!()
    };
    // One more test judged than before, whatever the verdict.
    assert_eq!(fleet.counts().0, fleet_before.counts().0 + 1);
    let judged = fleet.clone();
    // Restarted: the bot's file is `before`, the fleet's file `judged`.
    let mut restarted = before.clone();
    let mut f = judged.clone();
    let events = restarted.tick(now, "bot", &mut f).unwrap();
    assert!(
        matches!(events.as_slice(), [VariantEvent::TestEnded { promoted: p, serving: s, .. }] if *p == promoted && *s == serving),
        "{events:?}"
    );
    assert_eq!(
        (restarted.serving(), restarted.promotions()),
        (v.serving(), v.promotions())
    );
    assert!(restarted.test().is_none());
    assert_eq!(f, judged, "the fleet counted the test once");
    // Replaying the lost outcome instead gives the same state as the run
    // that did not crash.
    let mut replayed = before;
    let mut f = judged.clone();
    replayed
        .outcome(&a, outcome, 1.0, now, "bot", &mut f)
        .unwrap();
    assert_eq!((replayed, f), (v, judged.clone()));
    // Another bot's test is judged on its own.
    let mut other = fleet_before.clone();
    let mut theirs = Variants::new(spec(SPEC)).unwrap();
    assert!(theirs.tick(now, "other", &mut other).unwrap().is_empty());
}

#[test]
fn an_operator_promotes_and_retires() {
    let mut v = Variants::new(spec(
        "seed = 1\n[evolution]\nsize = 3\n[space]\nx = { float = [0.0, 1.0] }\n",
    ))
    .unwrap();
    let mut fleet = Fleet::new(0.05, Some(5)).unwrap();
    for (i, out) in [(0, 1.0), (1, 1.5), (2, 1.2)] {
        let a = v.assign().unwrap();
        assert_eq!(a.variant, i);
        v.outcome(&a, out, 1.0, 0.0, "bot", &mut fleet).unwrap();
    }
    let test = v.test().expect("a test of member 1").clone();
    assert_eq!((test.serving, test.challenger), (0, 1));
    // Retiring the running test's challenger cancels the test; the
    // serving variant cannot be retired.
    assert!(matches!(
        v.retire(0),
        Err(Error::VariantRefused { id: 0, .. })
    ));
    assert!(matches!(
        v.retire(99),
        Err(Error::UnknownVariant { id: 99 })
    ));
    let before = v.population().members().len();
    let VariantEvent::Retired {
        variant: 1,
        replaced_by,
        cancelled_test: true,
    } = v.retire(1).unwrap()
    else {
        panic!()
    };
    assert!(v.test().is_none());
    assert!(v.population().get(1).is_none());
    assert_eq!(v.population().members().len(), before);
    assert_eq!(v.population().get(replaced_by).unwrap().parents, vec![0]);
    // Promoting: an unknown or serving variant is refused; the fleet is not asked.
    assert!(matches!(
        v.promote(99),
        Err(Error::UnknownVariant { id: 99 })
    ));
    assert!(matches!(
        v.promote(0),
        Err(Error::VariantRefused { id: 0, .. })
    ));
    let judged = fleet.clone();
    let e = v.promote(replaced_by).unwrap();
    assert_eq!(
        e,
        VariantEvent::Promoted {
            variant: replaced_by,
            previous: 0,
            cancelled_test: None
        }
    );
    assert_eq!((v.serving(), v.promotions()), (replaced_by, 1));
    assert_eq!(fleet, judged);
    // The next cycle runs; the state goes on.
    let a = v.assign().unwrap();
    v.outcome(&a, 1.0, 1.0, 1.0, "bot", &mut fleet).unwrap();
}

/// A PBT copy's parameters serve at once, run next, survive a save and
/// load, and cancel a running test; a copy outside the space changes nothing.
#[test]
fn a_pbt_copy_serves_runs_next_and_cancels_a_test() {
    let mut v = Variants::new(spec(SPEC)).unwrap();
    let mut fleet = Fleet::new(0.05, Some(20)).unwrap();
    run(&mut v, &mut fleet, 40);
    let test = v.test().map(|t| t.challenger);
    assert!(test.is_some(), "a test runs after 40 cycles");
    let old = v.serving();
    let copy = |x: f64| PbtCopy {
        bot: "bot".into(),
        from: "donor".into(),
        version: 3,
        params: [("x".to_string(), crate::variants::Value::Float(x))].into(),
    };
    let before = v.clone();
    assert!(v.adopt(&copy(7.0)).is_err(), "outside the space");
    assert_eq!(v, before);
    let event = v.adopt(&copy(0.25)).unwrap();
    let VariantEvent::PbtCopied {
        variant,
        replaced,
        cancelled_test,
        ..
    } = event
    else {
        panic!("{event:?}")
    };
    assert_eq!((replaced, cancelled_test), (old, test));
    assert_eq!(v.serving(), variant);
    assert!(v.population().get(old).is_none());
    assert!(v.test().is_none());
    assert_eq!(v.pbt_member("bot").score, None, "unscored until it runs");
    let json = serde_json::to_string(&v).unwrap();
    let v: Variants = serde_json::from_str(&json).unwrap();
    let a = v.assign().unwrap();
    assert_eq!((a.variant, a.params["x"].as_f64()), (variant, Some(0.25)));
}
