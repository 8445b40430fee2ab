use super::*;
use crate::Error;

fn quantised(x: f64) -> i16 {
    let s = PolicyState::new(&StateInputs {
        energy_score: x,
        ..StateInputs::default()
    })
    .unwrap();
    s.as_array()[0]
}

#[test]
fn quantisation_rounds_ties_to_even() {
    // 10·x is exact for each of these, so each is a true tie.
    assert_eq!(quantised(0.25), 2); // rhe(2.5) = 2
    assert_eq!(quantised(0.75), 8); // rhe(7.5) = 8
    assert_eq!(quantised(1.25), 12); // rhe(12.5) = 12
    assert_eq!(quantised(-0.25), -2); // rhe(-2.5) = -2
    assert_eq!(quantised(-0.75), -8); // rhe(-7.5) = -8
    assert_eq!(quantised(0.5), 5);
    assert_eq!(quantised(0.04), 0); // rhe(0.4) = 0
    assert_eq!(quantised(0.06), 1); // rhe(0.6) = 1
}

#[test]
fn decimal_ties_are_ties_after_the_f64_product() {
    // 0.35 is stored below 0.35 (0.34999999999999997…), but 10·0.35 rounds
    // to exactly 3.5 in f64, so it is a tie and goes to the even 4.
    assert_eq!(10.0 * 0.35, 3.5);
    assert_eq!(quantised(0.35), 4);
    // 10·0.45 = 4.5 exactly: to even, 4 (half-up would give 5).
    assert_eq!(10.0 * 0.45, 4.5);
    assert_eq!(quantised(0.45), 4);
    // The same holds for every x = k/20, k odd, |x| ≤ 5: 10·x is the tie
    // k/2, and the result is whichever of (k − 1)/2, (k + 1)/2 is even
    // (both divisions are exact as k ± 1 is even).
    for k in (-101i16..=101).step_by(2) {
        let (lo, hi) = ((k - 1) / 2, (k + 1) / 2);
        let even = if lo % 2 == 0 { lo } else { hi };
        assert_eq!(
            quantised(f64::from(k) / 20.0),
            even.clamp(-50, 50),
            "k = {k}"
        );
    }
}

#[test]
fn values_are_clamped_to_fifty() {
    assert_eq!(quantised(5.0), 50);
    assert_eq!(quantised(5.04), 50); // rhe(50.4) = 50
    assert_eq!(quantised(7.3), 50);
    assert_eq!(quantised(-100.0), -50);
    // 10·f64::MAX overflows to ∞, which still clamps.
    assert_eq!(quantised(f64::MAX), 50);
    assert_eq!(quantised(f64::MIN), -50);
}

#[test]
fn every_slot_in_order() {
    let s = PolicyState::new(&StateInputs {
        energy_score: 0.1,
        roi_trend: 0.2,
        anomaly_rate: 0.3,
        success_rate: 0.4,
        recent_mean_delta: 0.5,
        module_index: Some(999),
        module_roi: 0.7,
        diminishing: true,
        short_mean: 0.9,
        roi_delta_ema: 1.0,
        synergy: [1.5, -1.5, 2.0, -9.0],
    })
    .unwrap();
    assert_eq!(
        s.as_array(),
        &[1, 2, 3, 4, 5, 999, 7, 1, 9, 10, 15, -15, 20, -50]
    );
}

#[test]
fn module_index_is_stored_as_is() {
    let with = |index| {
        PolicyState::new(&StateInputs {
            module_index: index,
            ..StateInputs::default()
        })
    };
    assert_eq!(with(Some(417)).unwrap().as_array()[5], 417);
    assert_eq!(with(Some(0)).unwrap().as_array()[5], 0);
    assert_eq!(with(None).unwrap().as_array()[5], 0);
    assert_eq!(
        with(Some(1000)).unwrap_err().to_string(),
        "invalid state.module_index = 1000: expected 0..=999"
    );
    assert!(with(Some(u16::MAX)).is_err());
}

#[test]
fn non_finite_inputs_are_refused_naming_the_field() {
    let err = PolicyState::new(&StateInputs {
        roi_trend: f64::NAN,
        ..StateInputs::default()
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "state.roi_trend must be a finite number, got NaN"
    );
    let err = PolicyState::new(&StateInputs {
        synergy: [0.0, 0.0, f64::INFINITY, 0.0],
        ..StateInputs::default()
    })
    .unwrap_err();
    assert!(matches!(err, Error::NonFinite { ref what, .. } if what == "state.synergy_resilience"));
}

#[test]
fn raw_slots_are_checked() {
    let mut slots = [0i16; PolicyState::LEN];
    slots[5] = 999;
    slots[7] = 1;
    slots[13] = -50;
    assert_eq!(PolicyState::from_array(slots).unwrap().as_array(), &slots);
    let bad = |slot: usize, v: i16| {
        let mut s = [0i16; PolicyState::LEN];
        s[slot] = v;
        PolicyState::from_array(s).unwrap_err().to_string()
    };
    assert_eq!(
        bad(0, 51),
        "invalid state.energy_score = 51: expected -50..=50"
    );
    assert_eq!(
        bad(5, -1),
        "invalid state.module_index = -1: expected 0..=999"
    );
    assert_eq!(bad(7, 2), "invalid state.diminishing = 2: expected 0 or 1");
}

#[test]
fn serde_is_a_json_array() {
    let s = st(-3);
    let json = serde_json::to_string(&s).unwrap();
    assert_eq!(json, "[-3,0,0,0,0,0,0,0,0,0,0,0,0,0]");
    assert_eq!(serde_json::from_str::<PolicyState>(&json).unwrap(), s);
    assert!(serde_json::from_str::<PolicyState>("[0,0,0]").is_err());
    assert!(serde_json::from_str::<PolicyState>("[99,0,0,0,0,0,0,0,0,0,0,0,0,0]").is_err());
}

#[test]
fn order_is_slot_by_slot() {
    assert!(st(-1) < st(0));
    assert!(st(0) < st(1));
}
