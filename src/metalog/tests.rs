use super::*;
use crate::record::Reason;
use crate::roi::tests::corrupt_files;

fn spec_logger() -> MetaLogger {
    let mut log = MetaLogger::new();
    assert_eq!(
        log.log_cycle(0, 1.0, &["a"], Reason::Interval).unwrap(),
        1.0
    );
    assert_eq!(
        log.log_cycle(1, 2.0, &["a", "b"], Reason::Policy).unwrap(),
        1.0
    );
    let d = log.log_cycle(2, 2.1, &["b"], Reason::Policy).unwrap();
    assert!((d - 0.1).abs() < 1e-12);
    log
}

#[test]
fn spec_example_totals() {
    let log = spec_logger();
    assert_eq!(log.total("a"), 2.0);
    assert!((log.total("b") - 1.1).abs() < 1e-12);
    assert_eq!(log.total("never"), 0.0);
    assert_eq!(log.last_roi(), 2.1);
}

#[test]
fn rankings_highest_first_ties_by_name() {
    let log = spec_logger();
    let r = log.rankings();
    assert_eq!(r.len(), 2);
    assert_eq!(r[0], ("a".to_string(), 2.0));
    assert_eq!(r[1].0, "b");

    let mut log = MetaLogger::new();
    log.log_cycle(0, 1.0, &["zeta", "alpha", "mid"], Reason::Policy)
        .unwrap();
    log.log_cycle(1, 3.0, &["mid"], Reason::Policy).unwrap();
    log.log_cycle(2, 2.0, &["low"], Reason::Policy).unwrap();
    assert_eq!(
        log.rankings(),
        [
            ("mid".to_string(), 3.0),
            ("alpha".to_string(), 1.0),
            ("zeta".to_string(), 1.0),
            ("low".to_string(), -1.0),
        ]
    );
}

#[test]
fn a_module_named_twice_is_credited_once() {
    let mut log = MetaLogger::new();
    log.log_cycle(0, 2.0, &["a", "a"], Reason::Policy).unwrap();
    assert_eq!(log.total("a"), 2.0);
    assert_eq!(log.recent()[0].modules, ["a", "a"]);
}

#[test]
fn recent_cycles_are_recorded_and_bounded() {
    let log = spec_logger();
    let first = &log.recent()[0];
    assert_eq!((first.cycle, first.roi, first.delta), (0, 1.0, 1.0));
    assert_eq!(first.modules, ["a"]);
    assert_eq!(first.reason, Reason::Interval);

    let mut log = MetaLogger::new();
    let n = (CYCLES_KEPT.max(MODULE_DELTAS_KEPT) + 5) as u64;
    for c in 0..n {
        log.log_cycle(c, c as f64, &["m"], Reason::Policy).unwrap();
    }
    assert_eq!(log.recent().len(), CYCLES_KEPT);
    assert_eq!(log.recent().front().unwrap().cycle, n - CYCLES_KEPT as u64);
    let stats = &log.modules["m"];
    assert_eq!(stats.deltas.len(), MODULE_DELTAS_KEPT);
    // Totals keep counting past the bound: Σ deltas = last roi − 0.
    assert_eq!(stats.total, (n - 1) as f64);
}

#[test]
fn non_finite_or_overflowing_roi_changes_nothing() {
    let mut log = spec_logger();
    let before = log.clone();
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        assert!(matches!(
            log.log_cycle(3, bad, &["a"], Reason::Policy),
            Err(Error::NonFinite { .. })
        ));
    }
    assert_eq!(log, before);

    // The delta itself overflows: MAX − (−MAX).
    let mut log = MetaLogger::new();
    log.log_cycle(0, f64::MIN, &["a"], Reason::Policy).unwrap();
    let before = log.clone();
    assert!(log.log_cycle(1, f64::MAX, &["b"], Reason::Policy).is_err());
    assert_eq!(log, before);

    // The delta is finite but a total would overflow.
    let mut log = MetaLogger::new();
    log.log_cycle(0, f64::MAX, &["a"], Reason::Policy).unwrap();
    log.log_cycle(1, 0.0, &["b"], Reason::Policy).unwrap();
    let before = log.clone();
    let err = log
        .log_cycle(2, f64::MAX, &["b", "a"], Reason::Policy)
        .unwrap_err();
    assert!(err.to_string().contains("module a"), "{err}");
    assert_eq!(log, before);
}

#[test]
fn diminishing_flags_flat_modules_once() {
    let mut log = MetaLogger::new();
    // a: deltas 1, 0, 0, 0 (roi 1, 1, 1, 1); b: 1, 1 (too few); c: 1, 2, 0, 0.
    log.log_cycle(0, 1.0, &["a", "b", "c"], Reason::Policy)
        .unwrap();
    assert_eq!(log.diminishing(0.0, 3).unwrap(), Vec::<String>::new());
    log.log_cycle(1, 1.0, &["a"], Reason::Policy).unwrap();
    log.log_cycle(2, 1.0, &["a"], Reason::Policy).unwrap();
    log.log_cycle(3, 1.0, &["a"], Reason::Policy).unwrap();
    // a has 4 deltas, the last 3 are 0 ⇒ flagged.
    assert_eq!(log.diminishing(0.0, 3).unwrap(), ["a"]);
    assert!(log.is_flagged("a"));
    assert!(!log.is_flagged("b"));
    assert!(!log.is_flagged("unknown"));
    // Reported once.
    assert_eq!(log.diminishing(0.0, 3).unwrap(), Vec::<String>::new());
    assert!(log.is_flagged("a"));
}

#[test]
fn diminishing_threshold_and_std() {
    let mut log = MetaLogger::new();
    // x: deltas 0.05, 0.0505, 0.0495 (roi 0.05, 0.1005, 0.15):
    //   mean 0.05, population std √(2·0.0005² / 3) ≈ 0.000408 < 1e-3.
    // y: deltas 0.1, −0.1, 0 (roi 0.15 → 0.25 → 0.15 → 0.15 after x):
    //   mean 0, std ≈ 0.0816 ⇒ not flat.
    // Then z and w: deltas 0, 0, 0 (the roi stays put).
    let mut roi = 0.0;
    for (d, m) in [
        (0.05, "x"),
        (0.0505, "x"),
        (0.0495, "x"),
        (0.1, "y"),
        (-0.1, "y"),
        (0.0, "y"),
    ] {
        roi += d;
        log.log_cycle(0, roi, &[m], Reason::Policy).unwrap();
    }
    // |mean| 0.05 > 0.04 ⇒ x not flagged; y's std is too large.
    assert_eq!(log.diminishing(0.04, 3).unwrap(), Vec::<String>::new());
    // Two names flagged in one call come back sorted.
    log.log_cycle(6, roi, &["z", "w"], Reason::Policy).unwrap();
    log.log_cycle(7, roi, &["z", "w"], Reason::Policy).unwrap();
    log.log_cycle(8, roi, &["z", "w"], Reason::Policy).unwrap();
    assert_eq!(log.diminishing(0.0, 4).unwrap(), Vec::<String>::new());
    assert_eq!(log.diminishing(0.06, 3).unwrap(), ["w", "x", "z"]);
    assert!(!log.is_flagged("y"));
}

#[test]
fn diminishing_refuses_bad_settings() {
    let mut log = spec_logger();
    assert!(matches!(
        log.diminishing(f64::NAN, 3),
        Err(Error::NonFinite { .. })
    ));
    assert!(matches!(
        log.diminishing(-0.1, 3),
        Err(Error::Invalid { .. })
    ));
    for consecutive in [0, MODULE_DELTAS_KEPT + 1] {
        let err = log.diminishing(0.0, consecutive).unwrap_err();
        assert!(err.to_string().contains("consecutive"), "{err}");
    }
    assert!(log.diminishing(0.0, MODULE_DELTAS_KEPT).is_ok());
}

#[test]
fn fnv1a64_known_vectors() {
    assert_eq!(fnv1a64(""), 0xcbf29ce484222325);
    assert_eq!(fnv1a64("a"), 0xaf63dc4c8601ec8c);
    assert_eq!(fnv1a64("foobar"), 0x85944171f73967e8);
}

#[test]
fn module_index_is_fnv_mod_1000_and_stays() {
    let mut index = ModuleIndex::new();
    assert!(index.is_empty());
    assert_eq!(index.get("a"), None);
    // 0xaf63dc4c8601ec8c = 12638187200555641996 ⇒ mod 1000 = 996.
    assert_eq!(index.index("a"), 996);
    // 0x85944171f73967e8 = 9625390261332436968 ⇒ 968.
    assert_eq!(index.index("foobar"), 968);
    assert_eq!(index.index("a"), 996);
    assert_eq!(index.get("a"), Some(996));
    assert_eq!(index.len(), 2);
}

#[test]
fn logger_round_trip_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(META_FILE);
    let mut log = spec_logger();
    log.log_cycle(3, 2.1, &["b"], Reason::Policy).unwrap();
    log.log_cycle(4, 2.1, &["b"], Reason::Policy).unwrap();
    assert_eq!(log.diminishing(0.0, 2).unwrap(), ["b"]);
    log.save(&path, Durability::Atomic).unwrap();
    let first = std::fs::read(&path).unwrap();
    let back = MetaLogger::load(&path).unwrap();
    assert_eq!(back, log);
    assert!(back.is_flagged("b"));
    back.save(&path, Durability::Atomic).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), first);
    let text = String::from_utf8(first).unwrap();
    assert!(
        text.starts_with(r#"{"version":1,"last_roi":2.1,"modules":{"a":"#),
        "{text}"
    );
}

#[test]
fn loading_an_oversized_logger_keeps_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(META_FILE);
    let deltas: Vec<String> = (0..150).map(|i| i.to_string()).collect();
    let entries: Vec<String> = (0..120)
        .map(|c| format!(r#"{{"cycle":{c},"roi":0,"delta":0,"modules":[],"reason":"x"}}"#))
        .collect();
    let text = format!(
        r#"{{"version":1,"last_roi":0,"modules":{{"m":{{"total":1,"deltas":[{}],"flagged":false}}}},"recent":[{}]}}"#,
        deltas.join(","),
        entries.join(",")
    );
    std::fs::write(&path, text).unwrap();
    let log = MetaLogger::load(&path).unwrap();
    assert_eq!(log.modules["m"].deltas.len(), MODULE_DELTAS_KEPT);
    assert_eq!(log.modules["m"].deltas.front(), Some(&50.0));
    assert_eq!(log.recent().len(), CYCLES_KEPT);
    assert_eq!(
        log.recent().front().unwrap().cycle,
        120 - CYCLES_KEPT as u64
    );
}

#[test]
fn corrupt_logger_gives_a_fresh_one_and_is_moved_aside() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(META_FILE);
    assert_eq!(MetaLogger::load(&path).unwrap(), MetaLogger::new());
    for text in [
        "",
        "{\"version\":1,\"last_roi\":",
        r#"{"version":1,"last_roi":0,"modules":{"m":{"total":"x","deltas":[],"flagged":false}},"recent":[]}"#,
        r#"{"version":1,"last_roi":0,"modules":{},"recent":[{"cycle":-1,"roi":0,"delta":0,"modules":[],"reason":"x"}]}"#,
    ] {
        std::fs::write(&path, text).unwrap();
        assert_eq!(
            MetaLogger::load(&path).unwrap(),
            MetaLogger::new(),
            "{text}"
        );
        assert!(!path.exists());
    }
    assert_eq!(corrupt_files(dir.path()), 4);
}

#[test]
fn corrupt_logger_falls_back_to_its_backup() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(META_FILE);
    let log = spec_logger();
    log.save(&path, Durability::Atomic).unwrap();
    log.save(&path, Durability::Atomic).unwrap();
    std::fs::write(&path, "{").unwrap();
    assert_eq!(MetaLogger::load(&path).unwrap(), log);
    assert_eq!(corrupt_files(dir.path()), 1);
}

#[test]
fn newer_files_are_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let newer = |name: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, r#"{"version":3}"#).unwrap();
        path
    };
    let is_newer = |r: Result<()>| {
        matches!(
            r,
            Err(Error::Persist(persist::PersistError::NewerVersion { .. }))
        )
    };
    let meta = newer(META_FILE);
    assert!(is_newer(MetaLogger::load(&meta).map(drop)));
    let modules = newer(MODULES_FILE);
    assert!(is_newer(ModuleIndex::load(&modules).map(drop)));
    for path in [meta, modules] {
        assert_eq!(std::fs::read_to_string(&path).unwrap(), r#"{"version":3}"#);
    }
}

#[test]
fn index_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(MODULES_FILE);
    let mut index = ModuleIndex::new();
    index.index("foobar");
    index.index("a");
    index.save(&path, Durability::Atomic).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text, r#"{"version":1,"modules":{"a":996,"foobar":968}}"#);
    assert_eq!(ModuleIndex::load(&path).unwrap(), index);
}

#[test]
fn stored_index_wins_over_the_hash() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(MODULES_FILE);
    std::fs::write(&path, r#"{"version":1,"modules":{"a":7}}"#).unwrap();
    let mut index = ModuleIndex::load(&path).unwrap();
    assert_eq!(index.index("a"), 7);
}

#[test]
fn corrupt_index_gives_an_empty_one_and_is_moved_aside() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(MODULES_FILE);
    for text in [
        "",
        r#"{"version":1,"modules":{"a":1000}}"#,
        r#"{"version":1,"modules":{"a":-1}}"#,
        r#"{"version":1,"modules":{"a":70000}}"#,
        r#"{"version":1,"modules":[1,2]}"#,
    ] {
        std::fs::write(&path, text).unwrap();
        assert_eq!(
            ModuleIndex::load(&path).unwrap(),
            ModuleIndex::new(),
            "{text}"
        );
        assert!(!path.exists(), "{text}");
    }
    assert_eq!(corrupt_files(dir.path()), 5);
}

#[test]
fn log_delta_credits_the_delta_itself_and_keeps_the_running_roi() {
    let mut log = MetaLogger::new();
    assert_eq!(log.log_delta(1, 1.0, &["a"], Reason::Policy).unwrap(), 1.0);
    assert_eq!(
        log.log_delta(2, 1.0, &["a", "b"], Reason::Policy).unwrap(),
        2.0
    );
    assert!((log.log_delta(3, 0.1, &["b"], Reason::Interval).unwrap() - 2.1).abs() < 1e-12);
    // SPEC §6's example, given as deltas: the same totals as log_cycle's.
    assert_eq!(log.total("a"), 2.0);
    assert!((log.total("b") - 1.1).abs() < 1e-12);
    // A logger whose running ROI came from elsewhere (a restored backup)
    // still credits exactly the delta it is given.
    let mut restored = MetaLogger::new();
    restored.log_cycle(0, 50.0, &["z"], Reason::Policy).unwrap();
    restored.log_delta(1, 0.5, &["a"], Reason::Policy).unwrap();
    assert_eq!(restored.total("a"), 0.5);
    assert!(
        restored
            .log_delta(2, f64::NAN, &["a"], Reason::Policy)
            .is_err()
    );
    assert!(
        restored
            .log_delta(2, f64::MAX, &["a"], Reason::Policy)
            .is_ok()
    );
    assert!(
        restored
            .log_delta(3, f64::MAX, &["a"], Reason::Policy)
            .is_err()
    );
    assert_eq!(restored.recent().len(), 3);
}
