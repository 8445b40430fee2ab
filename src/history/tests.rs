use super::*;
use crate::decision::{EngineEvent, EngineEventKind};
use crate::host::ManualClock;
use crate::persist::Durability;
use crate::record::{CycleRecord, Reason};
use std::path::Path;
use std::time::Duration;

const HOUR: f64 = 3600.0;
const DAY: f64 = 86_400.0;
const T0: f64 = 1_800_000_000.0;

fn config() -> HistoryConfig {
    let quick = |log: LogConfig| LogConfig {
        durability: Durability::Atomic,
        ..log
    };
    HistoryConfig {
        log: quick(LogConfig::history()),
        audit: quick(LogConfig::audit()),
        ..HistoryConfig::default()
    }
}

fn open(root: &Path, config: HistoryConfig, clock: &ManualClock) -> History {
    History::open(root, config, Arc::new(clock.clone())).unwrap()
}

fn cycle(bot: &str, time: f64, n: u64) -> Decision {
    let name: Arc<str> = Arc::from(bot);
    Decision::Cycle(CycleRecord::skip(&name, &name, time, n, Reason::Policy))
}

fn flush(h: &History) {
    h.flush().blocking_recv().unwrap().unwrap();
}

/// Appends cycles `numbers` of alpha, cycle i at `T0 + i`, and waits for them.
fn append_alpha(h: &History, numbers: std::ops::Range<u64>) {
    for i in numbers {
        h.append("alpha", &cycle("alpha", T0 + i as f64, i))
            .unwrap();
    }
    flush(h);
}

/// The cycle numbers of cycle records.
fn numbers(records: &[Decision]) -> Vec<u64> {
    records
        .iter()
        .map(|d| match d {
            Decision::Cycle(r) => r.cycle,
            other => panic!("not a cycle: {other:?}"),
        })
        .collect()
}

fn bot_dir(root: &Path, bot: &str) -> std::path::PathBuf {
    root.join(".kaizen/history").join(bot)
}

/// Sealed segment numbers of a bot's log, and whether `history.log` is there.
fn segments(root: &Path, bot: &str) -> (Vec<u64>, bool) {
    let mut sealed = Vec::new();
    let mut active = false;
    for entry in std::fs::read_dir(bot_dir(root, bot)).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name == "history.log" {
            active = true;
        } else if let Some(seq) = HISTORY_LOG.sealed_seq(&name) {
            sealed.push(seq);
        }
    }
    sealed.sort_unstable();
    (sealed, active)
}

#[test]
fn appended_records_come_back_by_range_and_last() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let h = open(tmp.path(), config(), &clock);
    for i in 0..100 {
        h.append("alpha", &cycle("alpha", T0 + i as f64 * 60.0, i))
            .unwrap();
        h.append("beta", &cycle("beta", T0 + i as f64, 1000 + i))
            .unwrap();
    }
    let event = Decision::Engine(EngineEvent {
        time: T0,
        engine: Arc::from("engine0"),
        bot: Arc::from("alpha"),
        kind: EngineEventKind::Registered,
        detail: "from the template".into(),
    });
    h.append(FLEET, &event).unwrap();
    flush(&h);
    assert_eq!(h.stats().written(), 201);
    fn shared<T: Send + Sync>(_: &T) {}
    shared(&h);
    assert_eq!(
        numbers(&h.range("alpha", &Query::default()).unwrap()),
        (0..100).collect::<Vec<_>>()
    );
    let q = Query::between(Some(T0 + 600.0), Some(T0 + 1200.0));
    assert_eq!(
        numbers(&h.range("alpha", &q).unwrap()),
        (10..20).collect::<Vec<_>>()
    );
    assert_eq!(
        numbers(&h.range("alpha", &q.with_limit(3)).unwrap()),
        vec![10, 11, 12]
    );
    assert_eq!(numbers(&h.last("beta", 3).unwrap()), vec![1097, 1098, 1099]);
    // Cycles only: the engine event after alpha's cycles does not count.
    h.append("alpha", &event).unwrap();
    flush(&h);
    assert_eq!(h.last("alpha", 2).unwrap()[1], event);
    let cycles: Vec<u64> = h
        .last_cycles("alpha", 2)
        .unwrap()
        .iter()
        .map(|r| r.cycle)
        .collect();
    assert_eq!(cycles, vec![98, 99]);
    assert_eq!(h.range(FLEET, &Query::default()).unwrap(), vec![event]);
    assert_eq!(h.reader().bots().unwrap(), vec![FLEET, "alpha", "beta"]);
    assert!(h.range("gamma", &Query::default()).unwrap().is_empty());
    // Each record is its decision's JSON, one a line, after the header.
    let text = std::fs::read_to_string(bot_dir(tmp.path(), "alpha").join("history.log")).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(r#"{"version":1,"log":"history","seq":1}"#)
    );
    let first: Decision = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(first, cycle("alpha", T0, 0));
}

#[test]
fn records_decode_as_the_tagged_enum_does() {
    use crate::autoscale::{AutoscaleAction, AutoscaleConfig, AutoscaleDecision, AutoscaleInputs};
    let autoscale = Decision::Autoscale(crate::decision::AutoscaleRecord {
        time: T0,
        inputs: AutoscaleInputs {
            energy: 0.9,
            trend: 0.5,
            cpu: 0.1,
            memory: 0.2,
            now: T0,
            last_change: None,
            engines: vec![],
            taken: vec!["engine3".into()],
        },
        config: AutoscaleConfig::default(),
        decision: AutoscaleDecision {
            action: AutoscaleAction::Create("engine0".into()),
            projected: 0.5,
            reason: "energy 0.90 ≥ 0.80".into(),
        },
        applied: true,
        error: None,
        adaptive: None,
    });
    let engine = Decision::Engine(EngineEvent {
        time: T0,
        engine: Arc::from("engine0"),
        bot: Arc::from("alpha"),
        kind: EngineEventKind::Failed,
        detail: "5 restarts in 60 s".into(),
    });
    for d in [cycle("alpha", T0, 3), autoscale, engine] {
        let line = serde_json::to_vec(&d).unwrap();
        assert_eq!(Decision::decode(&line).unwrap(), d);
        assert_eq!(serde_json::from_slice::<Decision>(&line).unwrap(), d);
        // Keys in alphabetical order, the tag last: the general path.
        let value: serde_json::Value = serde_json::from_slice(&line).unwrap();
        let keys: Vec<(String, serde_json::Value)> =
            value.as_object().unwrap().clone().into_iter().collect();
        let reordered = format!(
            "{{{}}}",
            keys.iter()
                .map(|(k, v)| format!("{k:?}:{v}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert!(
            reordered.ends_with(&format!("\"type\":{}}}", value["type"])),
            "{reordered}"
        );
        assert_eq!(Decision::decode(reordered.as_bytes()).unwrap(), d);
    }
    assert!(Decision::decode(br#"{"type":"cycle","time":1}"#).is_err());
}

#[test]
fn bad_names_and_queries_are_refused_with_what_was_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    let h = open(tmp.path(), config(), &ManualClock::new(T0));
    for bad in ["", "../x", ".hidden", "a/b"] {
        let err = h.append(bad, &cycle("x", T0, 0)).unwrap_err().to_string();
        assert!(err.contains("invalid bot"), "{bad}: {err}");
        assert!(h.range(bad, &Query::default()).is_err());
    }
    let err = h
        .range("alpha", &Query::between(Some(T0), Some(T0 - 1.0)))
        .unwrap_err()
        .to_string();
    assert!(err.contains("until"), "{err}");
    let err = h
        .range("alpha", &Query::between(Some(f64::NAN), None))
        .unwrap_err()
        .to_string();
    assert!(err.contains("since"), "{err}");
    let bad = HistoryConfig {
        queue_capacity: 0,
        ..config()
    };
    let err = History::open(tmp.path(), bad, Arc::new(ManualClock::new(T0))).unwrap_err();
    assert!(err.to_string().contains("queue_capacity"), "{err}");
}

#[test]
fn segments_rotate_by_size_count_and_span_and_are_read_across() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut cfg = config();
    cfg.log.segment_bytes = 8 * 1024;
    let h = open(tmp.path(), cfg, &clock);
    append_alpha(&h, 0..500);
    let (sealed, active) = segments(tmp.path(), "alpha");
    assert!(sealed.len() >= 10 && active, "{sealed:?}");
    assert_eq!(sealed, (1..=sealed.len() as u64).collect::<Vec<_>>());
    assert_eq!(h.stats().sealed(), sealed.len() as u64);
    for seq in &sealed {
        let path = bot_dir(tmp.path(), "alpha").join(HISTORY_LOG.sealed_name(*seq));
        assert!(
            std::fs::metadata(&path).unwrap().len() <= 8 * 1024,
            "{path:?}"
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.lines().last().unwrap().starts_with(r#"{"index":"#),
            "{path:?}"
        );
    }
    let q = Query::between(Some(T0 + 95.0), Some(T0 + 405.0));
    assert_eq!(
        numbers(&h.range("alpha", &q).unwrap()),
        (95..405).collect::<Vec<_>>()
    );
    assert_eq!(
        numbers(&h.last("alpha", 250).unwrap()),
        (250..500).collect::<Vec<_>>()
    );
    drop(h);

    // A day of record time closes a segment too.
    let tmp = tempfile::tempdir().unwrap();
    let h = open(tmp.path(), config(), &clock);
    for i in 0..10 {
        h.append("alpha", &cycle("alpha", T0 + i as f64 * 6.0 * HOUR, i))
            .unwrap();
    }
    flush(&h);
    // Records at 0, 6, 12, 18 h; 24 … 42 h; 48 h …
    assert_eq!(segments(tmp.path(), "alpha"), (vec![1, 2], true));
}

#[test]
fn a_query_reads_only_the_blocks_of_its_range() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0 + 30.0 * DAY);
    let h = open(tmp.path(), config(), &clock);
    // 30 days, one record a minute.
    let n = 30 * 24 * 60;
    for i in 0..n {
        h.append("alpha", &cycle("alpha", T0 + i as f64 * 60.0, i))
            .unwrap();
    }
    flush(&h);
    let total: u64 = std::fs::read_dir(bot_dir(tmp.path(), "alpha"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    let since = T0 + 29.0 * DAY;
    let day = h
        .range("alpha", &Query::between(Some(since), None))
        .unwrap();
    assert_eq!(day.len(), 24 * 60);
    let read = h.reader().bytes_read();
    // A day's records and at most two blocks more on either side.
    let per_record = total as f64 / n as f64;
    assert!(
        (read as f64) < per_record * 1440.0 + 4.0 * segment::BLOCK_BYTES as f64,
        "read {read} of {total}"
    );
    assert!(read * 20 < total, "read {read} of {total}");
}

#[test]
fn retention_by_count_removes_the_oldest_whole_segments() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut cfg = config();
    cfg.log.retention.max_records = 100;
    let h = open(tmp.path(), cfg, &clock);
    append_alpha(&h, 0..1000);
    // Retention runs on its schedule (the clock's): not yet.
    assert_eq!(h.range("alpha", &Query::default()).unwrap().len(), 1000);
    clock.advance(600.0);
    flush(&h);
    let kept = numbers(&h.range("alpha", &Query::default()).unwrap());
    // The newest 100 are kept, and at most a tenth more (a segment holds 10).
    assert!((100..=110).contains(&kept.len()), "{}", kept.len());
    assert_eq!(kept, (1000 - kept.len() as u64..1000).collect::<Vec<_>>());
    assert_eq!(h.stats().removed(), 90);
}

#[test]
fn retention_by_age_runs_in_the_background_by_the_injected_clock() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let h = open(tmp.path(), config(), &clock);
    // 40 days, a record an hour, for two bots.
    for i in 0..40 * 24 {
        for bot in ["alpha", "beta"] {
            h.append(bot, &cycle(bot, T0 + i as f64 * HOUR, i)).unwrap();
        }
    }
    flush(&h);
    assert_eq!(h.range("alpha", &Query::default()).unwrap().len(), 960);
    // A clock gone wrong removes nothing.
    clock.set(f64::NAN);
    flush(&h);
    assert_eq!(h.range("alpha", &Query::default()).unwrap().len(), 960);
    clock.set(T0 + 40.0 * DAY);
    // The writer checks its schedule whenever it wakes; a flush wakes it.
    flush(&h);
    for bot in ["alpha", "beta"] {
        let kept = h.range(bot, &Query::default()).unwrap();
        let oldest = match &kept[0] {
            Decision::Cycle(r) => r.time,
            _ => unreachable!(),
        };
        // Nothing older than 30 days is kept beyond its segment (a day).
        assert!(
            oldest > T0 + 9.0 * DAY && oldest <= T0 + 10.0 * DAY,
            "{bot}: {oldest}"
        );
        assert_eq!(numbers(&kept).last(), Some(&959));
    }
    drop(h);

    // A history opened later applies it at once, to bots it never wrote.
    clock.set(T0 + 45.0 * DAY);
    let h = open(tmp.path(), config(), &clock);
    flush(&h);
    let kept = h.range("beta", &Query::default()).unwrap();
    // Days 15 to 39 (daily segments; 15 days before the cutoff went).
    assert_eq!(numbers(&kept), (15 * 24..40 * 24).collect::<Vec<_>>());
}

/// Cuts the segment being written at every byte of its last record: readers
/// skip the torn line, and a writer opened later removes it and goes on.
#[test]
fn a_torn_last_line_is_skipped_then_cut_off() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let h = open(tmp.path(), config(), &clock);
    append_alpha(&h, 0..20);
    drop(h);
    let path = bot_dir(tmp.path(), "alpha").join("history.log");
    let full = std::fs::read(&path).unwrap();
    let last_line = full[..full.len() - 1]
        .iter()
        .rposition(|&b| b == b'\n')
        .unwrap()
        + 1;
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    for cut in (last_line + 1..full.len()).rev() {
        file.set_len(cut as u64).unwrap();
        let reader = HistoryReader::new(tmp.path());
        assert_eq!(
            numbers(&reader.range("alpha", &Query::default()).unwrap()),
            (0..19).collect::<Vec<_>>(),
            "cut at {cut}"
        );
    }
    let h = open(tmp.path(), config(), &clock);
    h.append("alpha", &cycle("alpha", T0 + 100.0, 100)).unwrap();
    flush(&h);
    let mut expected: Vec<u64> = (0..19).collect();
    expected.push(100);
    assert_eq!(
        numbers(&h.range("alpha", &Query::default()).unwrap()),
        expected
    );
    // The torn bytes are gone from the file, not merged into the new line.
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 1 + 20);
    assert!(
        text.lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
    );
}

#[test]
fn damaged_lines_are_skipped_and_the_rest_read() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let h = open(tmp.path(), config(), &clock);
    append_alpha(&h, 0..5);
    drop(h);
    let path = bot_dir(tmp.path(), "alpha").join("history.log");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[2] = "{\"type\":\"cycle\",garbage";
    let nuls = format!("\0\0\0{}", lines[4]);
    lines[4] = &nuls;
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let reader = HistoryReader::new(tmp.path());
    assert_eq!(
        numbers(&reader.range("alpha", &Query::default()).unwrap()),
        vec![0, 2, 3, 4]
    );
    // The writer keeps appending after them.
    let h = open(tmp.path(), config(), &clock);
    h.append("alpha", &cycle("alpha", T0 + 9.0, 9)).unwrap();
    flush(&h);
    assert_eq!(numbers(&h.last("alpha", 10).unwrap()), vec![0, 2, 3, 4, 9]);
}

#[test]
fn a_segment_sealed_before_a_crash_is_renamed_on_open() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut cfg = config();
    cfg.log.retention.max_records = 50; // segments of 5
    let h = open(tmp.path(), cfg, &clock);
    append_alpha(&h, 0..12);
    drop(h);
    // Seal the current segment by hand as a crash would leave it: footer
    // written, not yet renamed. Segment 2 has a footer; make it current again.
    let dir = bot_dir(tmp.path(), "alpha");
    std::fs::remove_file(dir.join("history.log")).unwrap();
    std::fs::rename(
        dir.join(HISTORY_LOG.sealed_name(2)),
        dir.join("history.log"),
    )
    .unwrap();
    let h = open(tmp.path(), cfg, &clock);
    h.append("alpha", &cycle("alpha", T0 + 50.0, 50)).unwrap();
    flush(&h);
    assert_eq!(segments(tmp.path(), "alpha"), (vec![1, 2], true));
    assert_eq!(
        numbers(&h.range("alpha", &Query::default()).unwrap()),
        vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 50]
    );
    let text = std::fs::read_to_string(dir.join("history.log")).unwrap();
    assert!(
        text.starts_with(r#"{"version":1,"log":"history","seq":3}"#),
        "{text}"
    );
}

#[test]
fn nothing_is_written_through_a_symbolic_link() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    std::fs::create_dir_all(tmp.path().join(".kaizen/history")).unwrap();
    // A bot's folder that is a link to somewhere else.
    std::os::unix::fs::symlink(outside.path(), bot_dir(tmp.path(), "alpha")).unwrap();
    // A segment that is a link to a file elsewhere.
    let victim = outside.path().join("victim");
    std::fs::write(&victim, "keep me\n").unwrap();
    std::fs::create_dir_all(bot_dir(tmp.path(), "beta")).unwrap();
    std::os::unix::fs::symlink(&victim, bot_dir(tmp.path(), "beta").join("history.log")).unwrap();
    let h = open(tmp.path(), config(), &clock);
    h.append("alpha", &cycle("alpha", T0, 0)).unwrap();
    h.append("beta", &cycle("beta", T0, 0)).unwrap();
    h.append("gamma", &cycle("gamma", T0, 0)).unwrap();
    let err = h.flush().blocking_recv().unwrap().unwrap_err();
    assert!(matches!(*err, HistoryError::Unsafe { .. }), "{err}");
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert_eq!(h.stats().failed(), 2);
    assert_eq!(h.stats().written(), 1);
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 1);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me\n");
    let err = h.range("alpha", &Query::default()).unwrap_err().to_string();
    assert!(err.contains("symbolic link"), "{err}");
    assert_eq!(h.range("gamma", &Query::default()).unwrap().len(), 1);
}

#[test]
fn a_segment_with_other_hard_links_is_never_written_into() {
    let tmp = tempfile::tempdir().unwrap();
    let backup = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let h = open(tmp.path(), config(), &clock);
    append_alpha(&h, 0..3);
    // A backup tool hard-links the segment while the writer has it open.
    let current = bot_dir(tmp.path(), "alpha").join("history.log");
    let linked = backup.path().join("history.log");
    std::fs::hard_link(&current, &linked).unwrap();
    let before = std::fs::read(&linked).unwrap();
    append_alpha(&h, 3..6);
    assert_eq!(std::fs::read(&linked).unwrap(), before);
    assert_eq!(segments(tmp.path(), "alpha"), (vec![1], true));
    assert_eq!(
        numbers(&h.range("alpha", &Query::default()).unwrap()),
        (0..6).collect::<Vec<_>>()
    );
    drop(h);
    // Found linked when the history opens: the same.
    std::fs::hard_link(&current, backup.path().join("second")).unwrap();
    let before = std::fs::read(&current).unwrap();
    let h = open(tmp.path(), config(), &clock);
    h.append("alpha", &cycle("alpha", T0 + 6.0, 6)).unwrap();
    flush(&h);
    assert_eq!(std::fs::read(backup.path().join("second")).unwrap(), before);
    assert_eq!(
        numbers(&h.range("alpha", &Query::default()).unwrap()),
        (0..7).collect::<Vec<_>>()
    );
}

#[test]
fn one_writer_at_a_time() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let h = open(tmp.path(), config(), &clock);
    let err = History::open(tmp.path(), config(), Arc::new(clock.clone())).unwrap_err();
    assert!(matches!(err, HistoryError::Locked { .. }), "{err}");
    assert!(err.to_string().contains("history.lock"), "{err}");
    h.append("alpha", &cycle("alpha", T0, 0)).unwrap();
    // Dropping writes what is queued and releases the lock.
    drop(h);
    let h = open(tmp.path(), config(), &clock);
    assert_eq!(h.range("alpha", &Query::default()).unwrap().len(), 1);
}

#[test]
fn a_segment_from_a_newer_kaizen_is_refused_and_left_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = bot_dir(tmp.path(), "alpha");
    std::fs::create_dir_all(&dir).unwrap();
    let newer = "{\"version\":2,\"log\":\"history\",\"seq\":1}\n{\"time\":1}\n";
    std::fs::write(dir.join("history.log"), newer).unwrap();
    let h = open(tmp.path(), config(), &ManualClock::new(T0));
    h.append("alpha", &cycle("alpha", T0, 0)).unwrap();
    let err = h.flush().blocking_recv().unwrap().unwrap_err();
    assert!(
        matches!(*err, HistoryError::NewerVersion { found: 2, .. }),
        "{err}"
    );
    let err = h.range("alpha", &Query::default()).unwrap_err();
    assert!(
        matches!(err, HistoryError::NewerVersion { found: 2, .. }),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("history.log")).unwrap(),
        newer
    );
}

#[test]
fn a_file_too_large_to_be_a_segment_is_not_read() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = bot_dir(tmp.path(), "alpha");
    std::fs::create_dir_all(&dir).unwrap();
    let huge = std::fs::File::create(dir.join(HISTORY_LOG.sealed_name(1))).unwrap();
    huge.set_len(segment::MAX_SEGMENT_BYTES + 1).unwrap(); // sparse: no disk used
    let err = HistoryReader::new(tmp.path())
        .range("alpha", &Query::default())
        .unwrap_err();
    assert!(matches!(err, HistoryError::TooLarge { .. }), "{err}");
    assert!(err.to_string().contains("history.log.00000001"), "{err}");
}

#[test]
fn a_record_with_a_non_finite_number_is_refused_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let h = open(tmp.path(), config(), &ManualClock::new(T0));
    let Decision::Cycle(mut bad) = cycle("alpha", T0, 1) else {
        unreachable!()
    };
    bad.energy_score = Some(f64::NAN);
    h.append("alpha", &cycle("alpha", T0, 0)).unwrap();
    h.append("alpha", &Decision::Cycle(bad)).unwrap();
    h.append("alpha", &cycle("alpha", T0, 2)).unwrap();
    flush(&h);
    assert_eq!(h.stats().rejected(), 1);
    assert_eq!(
        numbers(&h.range("alpha", &Query::default()).unwrap()),
        vec![0, 2]
    );
}

#[test]
fn a_full_queue_drops_and_counts_instead_of_waiting() {
    let queue = writer::Queue::default();
    let stats = HistoryStats::default();
    let bot: Arc<str> = Arc::from("alpha");
    queue
        .push(bot.clone(), cycle("alpha", T0, 0), 2, &stats)
        .unwrap();
    queue
        .push(bot.clone(), cycle("alpha", T0, 1), 2, &stats)
        .unwrap();
    let err = queue
        .push(bot, cycle("alpha", T0, 2), 2, &stats)
        .unwrap_err();
    assert!(matches!(err, HistoryError::QueueFull(2)), "{err}");
    assert_eq!((stats.appended(), stats.dropped()), (2, 1));
}

#[test]
fn logs_closed_for_lack_of_descriptors_are_reopened() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = HistoryConfig {
        max_open_logs: 2,
        ..config()
    };
    let h = open(tmp.path(), cfg, &ManualClock::new(T0));
    let bots = ["a", "b", "c", "d", "e"];
    for round in 0..20 {
        for bot in bots {
            h.append(bot, &cycle(bot, T0 + round as f64, round))
                .unwrap();
        }
        flush(&h);
    }
    for bot in bots {
        let got = numbers(&h.range(bot, &Query::default()).unwrap());
        assert_eq!(got, (0..20).collect::<Vec<_>>(), "{bot}");
    }
}

#[test]
fn durable_batches_are_flushed_to_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let h = History::open(
        tmp.path(),
        HistoryConfig::default(),
        Arc::new(ManualClock::new(T0)),
    )
    .unwrap();
    h.append("alpha", &cycle("alpha", T0, 0)).unwrap();
    flush(&h);
    assert_eq!(h.stats().syncs(), 1);
    // Nothing written: nothing to flush.
    flush(&h);
    assert_eq!(h.stats().syncs(), 1);
}

/// A reader in another thread (or process) while the writer appends and
/// rotates sees, each time, every record up to some point, once each.
#[test]
fn readers_see_a_whole_prefix_while_the_writer_appends() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut cfg = config();
    cfg.log.segment_bytes = 4096;
    let h = open(tmp.path(), cfg, &clock);
    let reader = HistoryReader::new(tmp.path());
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..3000 {
                h.append("alpha", &cycle("alpha", T0 + i as f64, i))
                    .unwrap();
                if i % 100 == 0 {
                    flush(&h);
                }
            }
            flush(&h);
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        let mut seen = 0;
        let mut queries = 0;
        while !done.load(std::sync::atomic::Ordering::SeqCst) || queries == 0 {
            let got = numbers(&reader.last("alpha", usize::MAX).unwrap());
            assert_eq!(got, (0..got.len() as u64).collect::<Vec<_>>());
            assert!(got.len() >= seen);
            seen = got.len();
            queries += 1;
        }
    });
    assert_eq!(
        reader.range("alpha", &Query::default()).unwrap().len(),
        3000
    );
}

#[test]
fn the_audit_trail_records_who_did_what_to_which_bot() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let h = open(tmp.path(), config(), &clock);
    let audit = h.audit();
    audit
        .append(&AuditEntry::new(T0, CLI, "synergy.reset").on_bot("alpha"))
        .unwrap();
    audit
        .append(
            &AuditEntry::new(T0 + 1.0, "ops-token", "engine.pause")
                .on_bot("beta")
                .with_detail("from the dashboard"),
        )
        .unwrap();
    audit
        .append(
            &AuditEntry::new(T0 + 2.0, "ops-token", "autoscale.run")
                .with_detail("dry_run=false")
                .failed("the registry is shutting down"),
        )
        .unwrap();
    let all = audit.range(None, &Query::default()).unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[1].who, "ops-token");
    assert_eq!(
        all[2].error.as_deref(),
        Some("the registry is shutting down")
    );
    let beta = audit.range(Some("beta"), &Query::default()).unwrap();
    assert_eq!(beta.len(), 1);
    assert_eq!(beta[0].action, "engine.pause");
    assert_eq!(audit.last(1).unwrap()[0].action, "autoscale.run");
    let path = tmp.path().join(".kaizen/audit.log");
    assert!(path.exists());
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o077,
        0
    );
    // Another process (here: another trail on the same folder) reads them.
    let other = AuditTrail::open(tmp.path(), LogConfig::audit(), Arc::new(clock.clone())).unwrap();
    assert_eq!(other.range(None, &Query::default()).unwrap(), all);
}

#[test]
fn audit_entries_are_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let trail = AuditTrail::open(
        tmp.path(),
        LogConfig::audit(),
        Arc::new(ManualClock::new(T0)),
    )
    .unwrap();
    for (entry, what) in [
        (AuditEntry::new(f64::NAN, CLI, "engine.pause"), "audit time"),
        (AuditEntry::new(T0, "", "engine.pause"), "audit who"),
        (
            AuditEntry::new(T0, "bad\nname", "engine.pause"),
            "audit who",
        ),
        (AuditEntry::new(T0, CLI, "Engine Pause"), "audit action"),
        (
            AuditEntry::new(T0, CLI, "engine.pause").on_bot("../etc"),
            "invalid bot",
        ),
        (
            AuditEntry::new(T0, CLI, "x").with_detail("é".repeat(3000)),
            "audit detail",
        ),
    ] {
        let err = trail.append(&entry).unwrap_err().to_string();
        assert!(err.contains(what), "{entry:?}: {err}");
    }
    assert!(!tmp.path().join(".kaizen/audit.log").exists());
}

/// Several processes append to the trail at once (each trail here opens
/// and locks the files on its own, as a process would).
#[test]
fn concurrent_audit_appends_all_land_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let config = LogConfig {
        segment_bytes: 4096,
        durability: Durability::Atomic,
        ..LogConfig::audit()
    };
    std::thread::scope(|s| {
        for t in 0..4 {
            let clock = clock.clone();
            let root = tmp.path();
            s.spawn(move || {
                let trail = AuditTrail::open(root, config, Arc::new(clock)).unwrap();
                for i in 0..50 {
                    let entry = AuditEntry::new(T0 + i as f64, format!("token{t}"), "engine.run")
                        .with_detail(format!("{t}/{i}"));
                    trail.append(&entry).unwrap();
                }
            });
        }
    });
    let trail = AuditTrail::open(tmp.path(), config, Arc::new(clock)).unwrap();
    let mut all: Vec<String> = trail
        .range(None, &Query::default())
        .unwrap()
        .into_iter()
        .map(|e| e.detail)
        .collect();
    all.sort();
    let mut expected: Vec<String> = (0..4)
        .flat_map(|t| (0..50).map(move |i| format!("{t}/{i}")))
        .collect();
    expected.sort();
    assert_eq!(all, expected);
    let sealed = std::fs::read_dir(tmp.path().join(".kaizen"))
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name().into_string().unwrap();
            log::AUDIT_LOG.sealed_seq(&name).is_some()
        })
        .count();
    assert!(sealed >= 2, "{sealed}");
}

#[test]
fn audit_retention_removes_old_segments() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let config = LogConfig {
        durability: Durability::Atomic,
        retention: Retention {
            max_age: Duration::from_secs(30 * 86_400),
            max_records: 1000,
        },
        ..LogConfig::audit()
    };
    let trail = AuditTrail::open(tmp.path(), config, Arc::new(clock.clone())).unwrap();
    for day in 0..100 {
        clock.set(T0 + day as f64 * DAY);
        trail
            .append(&AuditEntry::new(clock.now(), CLI, "engine.run"))
            .unwrap();
    }
    let kept = trail.range(None, &Query::default()).unwrap();
    // Weekly segments: at most a week's more than 30 days.
    assert!((30..=38).contains(&kept.len()), "{}", kept.len());
    assert_eq!(kept.last().unwrap().time, T0 + 99.0 * DAY);
}

/// A bot's variant events are kept in its log and read back (issue 14).
#[test]
fn variant_events_are_kept_and_read_back() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let h = open(tmp.path(), config(), &clock);
    let event = Decision::Variant(crate::decision::VariantDecision {
        time: T0 + 5.0,
        bot: "beta".into(),
        event: crate::variants::VariantEvent::Promoted {
            variant: 4,
            previous: 1,
            cancelled_test: None,
        },
    });
    h.append("beta", &cycle("beta", T0, 1)).unwrap();
    h.append("beta", &event).unwrap();
    flush(&h);
    let kept = h.range("beta", &Query::default()).unwrap();
    assert_eq!(kept.len(), 2);
    assert_eq!(kept[1], event);
}
