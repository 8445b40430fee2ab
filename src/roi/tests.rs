use super::*;

fn tracker(alpha: f64) -> RoiTracker {
    RoiTracker::new(RoiConfig {
        ema_alpha: alpha,
        ..RoiConfig::default()
    })
    .unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[test]
fn defaults_match_spec() {
    let c = RoiConfig::default();
    assert_eq!(
        (
            c.ema_alpha,
            c.scale,
            c.history_len,
            c.profit_len,
            c.short_window
        ),
        (0.1, 1.0, 1000, 200, 5)
    );
    assert!(c.validate().is_ok());
}

#[test]
fn spec_ema_example() {
    let mut roi = tracker(0.5);
    let mut emas = Vec::new();
    for d in [1.0, 0.5, 2.0] {
        assert_eq!(roi.record_delta(d).unwrap(), d);
        emas.push(roi.ema());
    }
    assert_eq!(emas, [0.5, 0.5, 1.25]);
}

#[test]
fn default_alpha_ema() {
    // 0.9·0 + 0.1·2 = 0.2; 0.9·0.2 + 0.1·(−1) = 0.08.
    let mut roi = tracker(0.1);
    roi.record_delta(2.0).unwrap();
    assert!(close(roi.ema(), 0.2));
    roi.record_delta(-1.0).unwrap();
    assert!(close(roi.ema(), 0.08));
}

#[test]
fn deltas_are_divided_by_the_scale() {
    let mut roi = RoiTracker::new(RoiConfig {
        scale: 4.0,
        ema_alpha: 1.0,
        ..RoiConfig::default()
    })
    .unwrap();
    assert_eq!(roi.record_delta(10.0).unwrap(), 2.5);
    assert_eq!(roi.history().iter().copied().collect::<Vec<_>>(), [2.5]);
    assert_eq!(roi.ema(), 2.5);
}

#[test]
fn history_is_bounded_and_drops_the_oldest() {
    let mut roi = tracker(0.1);
    for i in 0..1001 {
        roi.record_delta(i as f64).unwrap();
    }
    assert_eq!(roi.len(), 1000);
    assert_eq!(roi.history().front(), Some(&1.0));
    assert_eq!(roi.history().back(), Some(&1000.0));
}

#[test]
fn profits_are_bounded_oldest_first() {
    let mut roi = RoiTracker::new(RoiConfig {
        profit_len: 3,
        ..RoiConfig::default()
    })
    .unwrap();
    for p in [1.0, 2.0, 3.0, 4.0] {
        roi.record_profit(p).unwrap();
    }
    let kept: Vec<f64> = roi.profit_samples().iter().copied().collect();
    assert_eq!(kept, [2.0, 3.0, 4.0]);
}

#[test]
fn short_mean_and_mean_recent() {
    let mut roi = tracker(0.1);
    assert_eq!(roi.short_mean(), 0.0);
    assert_eq!(roi.mean_recent(10), 0.0);
    roi.record_delta(3.0).unwrap();
    roi.record_delta(1.0).unwrap();
    // Fewer than 5: mean of both.
    assert_eq!(roi.short_mean(), 2.0);
    for d in [10.0, 2.0, 4.0, 6.0, 8.0] {
        roi.record_delta(d).unwrap();
    }
    // Last 5 of [3, 1, 10, 2, 4, 6, 8] = [10, 2, 4, 6, 8] ⇒ 30 / 5.
    assert_eq!(roi.short_mean(), 6.0);
    // Last 2 ⇒ (6 + 8) / 2; more than there are ⇒ all 7: 34 / 7.
    assert_eq!(roi.mean_recent(2), 7.0);
    assert!(close(roi.mean_recent(10), 34.0 / 7.0));
    assert_eq!(roi.mean_recent(0), 0.0);
}

fn with_profits(profits: &[f64]) -> RoiTracker {
    let mut roi = tracker(0.1);
    for &p in profits {
        roi.record_profit(p).unwrap();
    }
    roi
}

#[test]
fn trend_even_count() {
    // half 2, older (1 + 2) / 2 = 1.5, newer (3 + 4) / 2 = 3.5 ⇒ 2 / 1.5.
    let t = with_profits(&[1.0, 2.0, 3.0, 4.0]).trend();
    assert!(close(t, 4.0 / 3.0), "{t}");
}

#[test]
fn trend_odd_count_puts_the_middle_in_the_newer_half() {
    // n 5, half 2: older (2 + 4) / 2 = 3, newer (6 + 3 + 0) / 3 = 3 ⇒ 0.
    assert_eq!(with_profits(&[2.0, 4.0, 6.0, 3.0, 0.0]).trend(), 0.0);
    // n 3, half 1: older −2, newer (1 + 2) / 2 = 1.5 ⇒ 3.5 / 2 = 1.75.
    assert_eq!(with_profits(&[-2.0, 1.0, 2.0]).trend(), 1.75);
    // Falling from a positive level: older 4, newer 1 ⇒ −0.75.
    assert_eq!(with_profits(&[4.0, 1.0]).trend(), -0.75);
}

#[test]
fn trend_zero_cases() {
    assert_eq!(with_profits(&[]).trend(), 0.0);
    assert_eq!(with_profits(&[5.0]).trend(), 0.0);
    // older mean (−1 + 1) / 2 = 0 ⇒ 0.
    assert_eq!(with_profits(&[-1.0, 1.0, 5.0, 9.0]).trend(), 0.0);
}

#[test]
fn trend_saturates_instead_of_overflowing() {
    let t = with_profits(&[1e-320, 1.0]).trend();
    assert_eq!(t, f64::MAX);
    let t = with_profits(&[-1e-320, -1.0]).trend();
    assert_eq!(t, f64::MIN);
    let t = with_profits(&[f64::MAX, f64::MAX, f64::MAX, f64::MAX]).trend();
    assert_eq!(t, 0.0);
}

#[test]
fn anomaly_rate_counts_beyond_three_population_std() {
    let mut roi = tracker(0.1);
    assert_eq!(roi.anomaly_rate(), 0.0);
    roi.record_delta(1.0).unwrap();
    assert_eq!(roi.anomaly_rate(), 0.0);
    roi.record_delta(1.0).unwrap();
    // Equal values: std 0 ⇒ 0.
    assert_eq!(roi.anomaly_rate(), 0.0);

    // 99 zeros and one 100: mean 1, variance (99·1 + 99²) / 100 = 99,
    // std ≈ 9.95, limit ≈ 29.85; only |100 − 1| = 99 exceeds it ⇒ 1 / 100.
    let mut roi = tracker(0.1);
    for _ in 0..99 {
        roi.record_delta(0.0).unwrap();
    }
    roi.record_delta(100.0).unwrap();
    assert_eq!(roi.anomaly_rate(), 0.01);

    // Only the last 100 count: 100 more zeros push the spike out.
    for _ in 0..100 {
        roi.record_delta(0.0).unwrap();
    }
    assert_eq!(roi.anomaly_rate(), 0.0);

    // With 10 values no single spike can pass 3 std (max z is √9 = 3,
    // and the test is strict): 9 zeros and one 10 ⇒ mean 1, std 3, |9| = 9.
    let mut roi = tracker(0.1);
    for _ in 0..9 {
        roi.record_delta(0.0).unwrap();
    }
    roi.record_delta(10.0).unwrap();
    assert_eq!(roi.anomaly_rate(), 0.0);
}

#[test]
fn mean_std_by_hand() {
    // [2, 4, 4, 4, 5, 5, 7, 9]: mean 5, population variance 4, std 2.
    let v = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
    assert_eq!(mean_std(v.iter().copied()), (5.0, 2.0));
    assert_eq!(mean_std(std::iter::empty()), (0.0, 0.0));
}

#[test]
fn non_finite_input_is_refused_and_changes_nothing() {
    let mut roi = tracker(0.5);
    roi.record_delta(1.0).unwrap();
    roi.record_profit(3.0).unwrap();
    let before = roi.clone();
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        assert!(matches!(
            roi.record_delta(bad),
            Err(Error::NonFinite { .. })
        ));
        assert!(matches!(
            roi.record_profit(bad),
            Err(Error::NonFinite { .. })
        ));
    }
    assert_eq!(roi, before);
}

#[test]
fn overflow_after_scaling_is_refused() {
    let mut roi = RoiTracker::new(RoiConfig {
        scale: 1e-300,
        ..RoiConfig::default()
    })
    .unwrap();
    let err = roi.record_delta(1e10).unwrap_err();
    assert!(err.to_string().contains("roi_scale"), "{err}");
    assert!(roi.is_empty());
    assert_eq!(roi.ema(), 0.0);
}

#[test]
fn bad_settings_are_refused_naming_the_field() {
    let bad = |c: RoiConfig| RoiTracker::new(c).unwrap_err();
    let d = RoiConfig::default();
    for alpha in [0.0, 1.5, -0.1] {
        let err = bad(RoiConfig {
            ema_alpha: alpha,
            ..d
        });
        assert!(
            matches!(&err, Error::Invalid { what, .. } if what == "roi_ema_alpha"),
            "{err}"
        );
    }
    assert!(matches!(
        bad(RoiConfig {
            ema_alpha: f64::NAN,
            ..d
        }),
        Error::NonFinite { .. }
    ));
    assert!(
        RoiTracker::new(RoiConfig {
            ema_alpha: 1.0,
            ..d
        })
        .is_ok()
    );
    for scale in [0.0, -1.0] {
        let err = bad(RoiConfig { scale, ..d });
        assert!(err.to_string().contains("roi_scale"), "{err}");
    }
    assert!(matches!(
        bad(RoiConfig {
            scale: f64::INFINITY,
            ..d
        }),
        Error::NonFinite { .. }
    ));
    for (c, name) in [
        (
            RoiConfig {
                history_len: 0,
                ..d
            },
            "roi_history_len",
        ),
        (RoiConfig { profit_len: 0, ..d }, "roi_profit_len"),
        (
            RoiConfig {
                short_window: 0,
                ..d
            },
            "roi_short_window",
        ),
    ] {
        assert!(bad(c).to_string().contains(name));
    }
}

/// How many files in `dir` were moved aside as corrupt (shared with the
/// other core modules' tests).
pub(crate) fn corrupt_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy().contains(".corrupt-")
        })
        .count()
}

fn busy_tracker() -> RoiTracker {
    let mut roi = tracker(0.3);
    for d in [0.5, -1.25, 2.0, 0.1] {
        roi.record_delta(d).unwrap();
    }
    for p in [10.0, 10.5, 9.75] {
        roi.record_profit(p).unwrap();
    }
    roi
}

#[test]
fn save_and_load_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roi.json");
    let mut roi = busy_tracker();
    // Decimal text must give back the very same bits (serde_json's
    // `float_roundtrip`): 2.1 − 2.0 = 0.10000000000000009.
    roi.record_profit(2.1 - 2.0).unwrap();
    roi.save(&path, Durability::Atomic).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with(r#"{"version":1,"roi_history":[0.5,-1.25,2.0,0.1],"#),
        "{text}"
    );
    let back = RoiTracker::load(&path, *roi.config()).unwrap();
    assert_eq!(back, roi);
    assert_eq!(back.ema(), roi.ema());
}

#[test]
fn snapshot_embeds_with_flatten() {
    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Engine {
        last_run: u64,
        #[serde(flatten)]
        roi: RoiSnapshot,
        cycles: u64,
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("engine.json");
    let roi = busy_tracker();
    let engine = Engine {
        last_run: 7,
        roi: roi.snapshot().clone(),
        cycles: 4,
    };
    persist::save_json(&path, &engine, Durability::Atomic).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(r#""roi_delta_ema":"#), "{text}");
    let back: Engine = persist::load_json(&path).unwrap().unwrap();
    assert_eq!(back, engine);
    let resumed = RoiTracker::from_snapshot(*roi.config(), back.roi).unwrap();
    assert_eq!(resumed, roi);
}

#[test]
fn loading_keeps_the_newest_values_within_the_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roi.json");
    busy_tracker().save(&path, Durability::Atomic).unwrap();
    let small = RoiConfig {
        history_len: 2,
        profit_len: 1,
        ..RoiConfig::default()
    };
    let roi = RoiTracker::load(&path, small).unwrap();
    assert_eq!(
        roi.history().iter().copied().collect::<Vec<_>>(),
        [2.0, 0.1]
    );
    assert_eq!(
        roi.profit_samples().iter().copied().collect::<Vec<_>>(),
        [9.75]
    );
    // The next delta still drops the oldest.
    let mut roi = roi;
    roi.record_delta(3.0).unwrap();
    assert_eq!(
        roi.history().iter().copied().collect::<Vec<_>>(),
        [0.1, 3.0]
    );
}

#[test]
fn a_snapshot_built_in_code_with_nan_is_refused() {
    let snapshot = RoiSnapshot {
        roi_history: VecDeque::from([1.0, f64::NAN]),
        ..RoiSnapshot::default()
    };
    let err = RoiTracker::from_snapshot(RoiConfig::default(), snapshot).unwrap_err();
    assert!(
        matches!(&err, Error::NonFinite { what, .. } if what == "roi_history[1]"),
        "{err}"
    );
    let snapshot = RoiSnapshot {
        roi_delta_ema: f64::INFINITY,
        ..RoiSnapshot::default()
    };
    assert!(RoiTracker::from_snapshot(RoiConfig::default(), snapshot).is_err());
}

#[test]
fn missing_or_corrupt_files_give_a_fresh_tracker() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roi.json");
    let fresh = RoiTracker::new(RoiConfig::default()).unwrap();
    assert_eq!(
        RoiTracker::load(&path, RoiConfig::default()).unwrap(),
        fresh
    );
    for text in [
        "",
        "{\"version\":1,\"roi_history\":[1.0,",
        r#"{"version":1,"roi_history":[1.0],"profit_samples":[],"roi_delta_ema":1e400}"#,
        r#"{"version":1,"roi_history":[null],"profit_samples":[],"roi_delta_ema":0}"#,
        r#"{"version":1,"roi_history":"1","profit_samples":[],"roi_delta_ema":0}"#,
        r#"{"version":1,"profit_samples":[],"roi_delta_ema":0}"#,
    ] {
        std::fs::write(&path, text).unwrap();
        assert_eq!(
            RoiTracker::load(&path, RoiConfig::default()).unwrap(),
            fresh,
            "{text}"
        );
        assert!(!path.exists(), "{text}");
    }
    assert_eq!(corrupt_files(dir.path()), 6);
}

#[test]
fn newer_file_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roi.json");
    let text = r#"{"version":2,"roi_history":[],"profit_samples":[],"roi_delta_ema":0}"#;
    std::fs::write(&path, text).unwrap();
    let err = RoiTracker::load(&path, RoiConfig::default()).unwrap_err();
    assert!(matches!(
        err,
        Error::Persist(persist::PersistError::NewerVersion { .. })
    ));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

#[test]
fn load_with_bad_settings_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bad = RoiConfig {
        ema_alpha: 0.0,
        ..RoiConfig::default()
    };
    assert!(RoiTracker::load(&dir.path().join("roi.json"), bad).is_err());
}

/// The O(1) shortcut for a window of equal deltas gives the rescan's bits,
/// over long random histories full of repeated values (tiny, subnormal-
/// squared, huge, signed zeros), for windows shorter, equal to and longer
/// than [`ANOMALY_WINDOW`]; a tracker rebuilt from its snapshot agrees.
#[test]
fn anomaly_rate_skips_scanning_equal_windows_exactly() {
    use rand::{Rng, SeedableRng};
    const SPECIAL: [f64; 10] = [
        0.0, -0.0, 0.1, -0.35, 1e-161, -3e-162, 5e-324, 1e99, -7.5e98, 12.5,
    ];
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(15);
    let mut shortcuts = 0usize;
    for history_len in [1, 2, 3, 50, 99, 100, 101, 1000] {
        let mut roi = RoiTracker::new(RoiConfig {
            history_len,
            ..RoiConfig::default()
        })
        .unwrap();
        let mut last = 0.0;
        for i in 0..6_000 {
            // Stretches of 300 deltas that mostly repeat, between mixed ones.
            let steady = (i / 300) % 2 == 0 && rng.random_bool(0.995);
            let delta = match rng.random_range(0..10) {
                _ if steady => last,
                0..=5 => last,
                6 => SPECIAL[rng.random_range(0..SPECIAL.len())],
                7 => rng.random::<f64>() * 2.0 - 1.0,
                8 => (rng.random::<f64>() - 0.5) * 1e3,
                _ => last * (1.0 + 1e-15),
            };
            last = roi.record_delta(delta).unwrap();
            let rescan = anomaly_rate(roi.history());
            assert_eq!(
                roi.anomaly_rate().to_bits(),
                rescan.to_bits(),
                "history_len {history_len}, delta #{i}: {:?}",
                roi.history()
            );
            shortcuts += usize::from(roi.same >= roi.len().min(ANOMALY_WINDOW));
            if i % 997 == 0 {
                let again =
                    RoiTracker::from_snapshot(*roi.config(), roi.snapshot().clone()).unwrap();
                assert_eq!(again, roi, "history_len {history_len}, delta #{i}");
            }
        }
    }
    // Both paths ran.
    assert!((1_000..48_000).contains(&shortcuts), "{shortcuts}");
}
