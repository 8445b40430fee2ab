use super::*;
use crate::persist::{PendingFile, StateWriter};

fn root() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("state");
    std::fs::create_dir_all(kaizen_dir(&root)).unwrap();
    (dir, root)
}

fn log_len(root: &Path) -> u64 {
    std::fs::metadata(wal_path(root)).unwrap().len()
}

#[test]
fn a_crash_after_the_log_flush_but_before_the_files_loses_nothing() {
    let (_dir, root) = root();
    let a = root.join("alpha/engine.json");
    std::fs::create_dir_all(a.parent().unwrap()).unwrap();
    std::fs::write(&a, "old").unwrap();
    let mut wal = Wal::open(&root).unwrap();
    wal.append(&[(&a, b"v1"), (&root.join("alpha/roi.json"), b"r1")])
        .unwrap();
    wal.append(&[(&a, b"v2")]).unwrap();
    wal.sync().unwrap();
    // The crash: the files were never written.
    drop(wal);
    assert_eq!(std::fs::read(&a).unwrap(), b"old");
    let seen = pending(&root).unwrap().unwrap();
    assert_eq!(seen.entries, 3);
    assert_eq!(std::fs::read(&a).unwrap(), b"old", "a look changes nothing");
    let replayed = recover(&root).unwrap();
    assert_eq!(replayed.files.len(), 2);
    assert_eq!(std::fs::read(&a).unwrap(), b"v2", "the newest entry wins");
    assert_eq!(std::fs::read(root.join("alpha/roi.json")).unwrap(), b"r1");
    assert_eq!(log_len(&root), HEADER_LEN, "replayed, then emptied");
    assert_eq!(pending(&root).unwrap(), None);
    assert_eq!(recover(&root).unwrap(), Logged::default());
}

#[test]
fn a_torn_or_damaged_tail_is_ignored_and_what_precedes_it_replayed() {
    for damage in ["cut", "flip"] {
        let (_dir, root) = root();
        let a = root.join("a.json");
        let b = root.join("b.json");
        let mut wal = Wal::open(&root).unwrap();
        wal.append(&[(&a, b"first")]).unwrap();
        let whole = wal.len;
        wal.append(&[(&a, b"second"), (&b, b"other")]).unwrap();
        wal.sync().unwrap();
        drop(wal);
        let mut bytes = std::fs::read(wal_path(&root)).unwrap();
        match damage {
            "cut" => bytes.truncate(bytes.len() - 3),
            // The first entry of the second batch: its second entry is whole.
            _ => bytes[whole as usize + ENTRY_HEAD + 2] ^= 0x40,
        }
        std::fs::write(wal_path(&root), &bytes).unwrap();
        let replayed = recover(&root).unwrap();
        assert!(replayed.torn_bytes > 0, "{damage}");
        assert_eq!(std::fs::read(&a).unwrap(), b"first", "{damage}");
        // The damaged batch is not replayed at all, not even its whole entries.
        assert!(!b.exists(), "{damage}");
        assert_eq!(log_len(&root), HEADER_LEN, "{damage}");
    }
}

#[test]
fn a_failed_append_is_cut_back_so_later_entries_stay_readable() {
    let (_dir, root) = root();
    let a = root.join("a.json");
    let mut wal = Wal::open(&root).unwrap();
    wal.append(&[(&a, b"one")]).unwrap();
    let outside = Path::new("/elsewhere/x.json");
    assert!(matches!(
        wal.append(&[(outside, b"x")]),
        Err(PersistError::Encode { .. })
    ));
    wal.append(&[(&a, b"two")]).unwrap();
    wal.sync().unwrap();
    drop(wal);
    let replayed = recover(&root).unwrap();
    assert_eq!((replayed.entries, replayed.torn_bytes), (2, 0));
    assert_eq!(std::fs::read(&a).unwrap(), b"two");
}

#[test]
fn a_log_of_a_newer_version_is_refused_and_left_as_it_is() {
    let (_dir, root) = root();
    let mut bytes = header().to_vec();
    bytes[12..16].copy_from_slice(&(WAL_VERSION + 1).to_le_bytes());
    bytes.extend_from_slice(b"entries this build cannot read");
    std::fs::write(wal_path(&root), &bytes).unwrap();
    for err in [recover(&root).unwrap_err(), Wal::open(&root).unwrap_err()] {
        assert!(
            matches!(err, PersistError::NewerVersion { found, .. } if found == u64::from(WAL_VERSION) + 1)
        );
    }
    assert!(pending(&root).is_err());
    assert_eq!(std::fs::read(wal_path(&root)).unwrap(), bytes);
}

#[test]
fn a_file_that_is_not_a_log_is_moved_aside_and_a_fresh_log_started() {
    let (_dir, root) = root();
    std::fs::write(wal_path(&root), "not a log at all").unwrap();
    let wal = Wal::open(&root).unwrap();
    assert_eq!(wal.len, HEADER_LEN);
    let aside: Vec<_> = std::fs::read_dir(kaizen_dir(&root))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("wal.corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
}

#[cfg(unix)]
#[test]
fn the_log_is_never_written_through_a_link() {
    let (dir, root) = root();
    let elsewhere = dir.path().join("elsewhere");
    std::fs::write(&elsewhere, "keep me").unwrap();
    std::os::unix::fs::symlink(&elsewhere, wal_path(&root)).unwrap();
    assert!(matches!(
        Wal::open(&root),
        Err(PersistError::SymbolicLink { .. })
    ));
    std::fs::remove_file(wal_path(&root)).unwrap();
    // A hard link (a `cp -al` snapshot of the folder): the snapshot keeps its bytes.
    let mut wal = Wal::open(&root).unwrap();
    wal.append(&[(&root.join("a.json"), b"one")]).unwrap();
    drop(wal);
    let snapshot = dir.path().join("snapshot-wal");
    std::fs::hard_link(wal_path(&root), &snapshot).unwrap();
    let before = std::fs::read(&snapshot).unwrap();
    let mut wal = Wal::open(&root).unwrap();
    wal.append(&[(&root.join("a.json"), b"two")]).unwrap();
    wal.sync().unwrap();
    assert_eq!(std::fs::read(&snapshot).unwrap(), before);
}

fn file(path: PathBuf, text: &str) -> PendingFile {
    PendingFile {
        path,
        bytes: text.as_bytes().to_vec(),
    }
}

#[tokio::test]
async fn the_writer_makes_a_durable_batch_with_one_log_flush_and_checkpoints_on_flush() {
    let (_dir, root) = root();
    let outside = tempfile::tempdir().unwrap();
    let w = StateWriter::spawn();
    let attached = w.attach_log(&root).unwrap();
    let a = root.join("alpha/engine.json");
    let ack = w.submit(
        vec![
            file(a.clone(), "v1"),
            file(root.join("alpha/roi.json"), "r1"),
        ],
        Durability::Fsync,
    );
    assert_eq!(ack.await.unwrap(), Ok(()));
    assert_eq!(
        std::fs::read_to_string(&a).unwrap(),
        "v1",
        "installed before the answer"
    );
    assert_eq!(w.stats().syncs(), 1, "one fdatasync of the log, no syncfs");
    assert_eq!(pending(&root).unwrap().unwrap().entries, 2);
    // A save that is not durable, of a logged file, is logged too: a replay
    // must never put back the older content.
    let ack = w.submit(vec![file(a.clone(), "v2")], Durability::Atomic);
    assert_eq!(ack.await.unwrap(), Ok(()));
    assert_eq!(w.stats().syncs(), 1);
    assert_eq!(
        pending(&root).unwrap().unwrap().files[Path::new("alpha/engine.json")],
        b"v2"
    );
    // Files outside the root are flushed as before (two syncfs).
    let ack = w.submit(
        vec![file(outside.path().join("x.json"), "x")],
        Durability::Fsync,
    );
    assert_eq!(ack.await.unwrap(), Ok(()));
    assert_eq!(w.stats().syncs(), 3);
    // An explicit flush checkpoints: the files are flushed, the log emptied.
    assert_eq!(w.flush().await.unwrap(), Ok(()));
    assert_eq!(pending(&root).unwrap(), None);
    assert_eq!(log_len(&root), HEADER_LEN);
    // Detached (the registry's lock released): later saves are not logged.
    drop(attached);
    let ack = w.submit(vec![file(a.clone(), "v3")], Durability::Fsync);
    assert_eq!(ack.await.unwrap(), Ok(()));
    assert_eq!(pending(&root).unwrap(), None);
    assert_eq!(std::fs::read_to_string(&a).unwrap(), "v3");
}

#[cfg(unix)]
#[tokio::test]
async fn a_failed_append_fails_every_save_of_the_batch_and_installs_none() {
    use std::os::unix::ffi::OsStrExt;
    let (_dir, root) = root();
    let w = StateWriter::spawn();
    let _attached = w.attach_log(&root).unwrap();
    let a = root.join("alpha/engine.json");
    let ack = w.submit(vec![file(a.clone(), "v1")], Durability::Fsync);
    assert_eq!(ack.await.unwrap(), Ok(()));
    // A path the log cannot hold (not UTF-8) fails the batch's append, as a
    // full disk would (`tests/it/reliability_process.rs` fills the file-size
    // limit through the binary).
    let bad = root.join(std::ffi::OsStr::from_bytes(b"b\xffad/engine.json"));
    let ack = w.submit(
        vec![file(bad.clone(), "x"), file(a.clone(), "v2")],
        Durability::Fsync,
    );
    let err = ack.await.unwrap().unwrap_err();
    assert!(matches!(*err, PersistError::Encode { .. }), "{err}");
    assert!(!bad.exists());
    assert_eq!(
        std::fs::read_to_string(&a).unwrap(),
        "v1",
        "nothing of the batch installed"
    );
    assert_eq!(pending(&root).unwrap().unwrap().entries, 1);
}
