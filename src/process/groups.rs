//! The pipeline process groups this process has running, and their records
//! in the state folder.
//!
//! [`started`] is called by a command pipeline right after it has spawned
//! its program as the leader of a new process group; the returned
//! [`RunningGroup`] kills the group when dropped (a run abandoned at its
//! timeout, or an engine that stopped) or when told the program has exited
//! ([`RunningGroup::finish`]: background processes it left are killed).
//!
//! **Records.** With [`record_in`] set (the `kaizen` binary uses
//! `state/.kaizen/groups/`), each running group also has a file
//! `<pgid>.json` there: the group id, the leader's start time (in clock ticks
//! since boot, from `/proc/<pid>/stat`), the boot id, the bot and the
//! program. It is removed when the group is gone. After a crash the files
//! stay; [`kill_leftovers`] kills each group whose leader is the same
//! process (same start time, same boot) or has exited while other members
//! remain — a process-group id is not reused while the group has members,
//! and a new group with that id would need a new leader with that pid,
//! which the start time tells apart. Records are not state: they live only
//! while their pipeline runs, are written once without `.bak`, and one that
//! cannot be read is removed.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// What is known of a running group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupRecord {
    /// The record's format version.
    pub version: u64,
    /// The process group id (the program's pid).
    pub pgid: i32,
    /// The leader's start time, in clock ticks since boot (0 when unknown).
    pub start_ticks: u64,
    /// The boot the group runs in (`/proc/sys/kernel/random/boot_id`).
    pub boot_id: String,
    /// The bot whose pipeline it is.
    pub bot: String,
    /// The program.
    pub program: String,
}

/// A group killed because an earlier kaizen left it running.
#[derive(Clone, Debug, PartialEq)]
pub struct Leftover {
    /// Its record.
    pub record: GroupRecord,
    /// Whether a signal reached it (`false`: it had ended already).
    pub killed: bool,
}

struct Registry {
    running: BTreeMap<i32, Option<PathBuf>>,
    records: Option<PathBuf>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    running: BTreeMap::new(),
    records: None,
});

fn registry() -> MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|p| p.into_inner())
}

/// Keeps a record of each group started from now on in `dir` (`None`: no
/// records). The folder is created when the first record is written.
pub fn record_in(dir: Option<PathBuf>) {
    registry().records = dir;
}

/// A running pipeline group; see the [module docs](self).
#[derive(Debug)]
pub struct RunningGroup {
    pgid: i32,
    done: bool,
}

/// Registers the group `pgid` (its leader is the program just spawned) of
/// `bot`'s pipeline running `program`.
pub fn started(pgid: u32, bot: &str, program: &str) -> RunningGroup {
    let pgid = i32::try_from(pgid).unwrap_or(i32::MAX);
    let mut reg = registry();
    let record = reg.records.clone().and_then(|dir| {
        let record = GroupRecord {
            version: 1,
            pgid,
            start_ticks: start_ticks(pgid).unwrap_or(0),
            boot_id: boot_id().unwrap_or_default(),
            bot: bot.to_string(),
            program: program.to_string(),
        };
        match write_record(&dir, &record) {
            Ok(path) => Some(path),
            Err(e) => {
                tracing::warn!(error = %e, folder = %dir.display(), "cannot record a running pipeline group");
                None
            }
        }
    });
    reg.running.insert(pgid, record);
    RunningGroup { pgid, done: false }
}

impl RunningGroup {
    /// The group's id.
    pub fn pgid(&self) -> i32 {
        self.pgid
    }

    /// The program (the group's leader) has exited and been waited for:
    /// whatever it left behind in its group is killed, and the group is
    /// forgotten.
    pub fn finish(mut self) {
        self.end();
    }

    fn end(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        kill_group(self.pgid);
        let record = registry().running.remove(&self.pgid).flatten();
        if let Some(path) = record {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Drop for RunningGroup {
    fn drop(&mut self) {
        self.end();
    }
}

/// Held (shared) by every pipeline from just before it starts its program
/// until the program's group is recorded as running, and (exclusive) by the
/// [reaper](super::reaper) while it looks for children no pipeline waits
/// for: without it, a program that exits at once could be reaped as an
/// orphan before its pipeline records it, and the pipeline's own wait would
/// then fail ("No child processes").
static SPAWNING: RwLock<()> = RwLock::new(());

/// Taken by a pipeline around starting its program and calling [`started`].
pub fn spawning() -> RwLockReadGuard<'static, ()> {
    SPAWNING.read().unwrap_or_else(|p| p.into_inner())
}

/// The reaper's turn: `None` while a pipeline is starting its program.
pub(super) fn no_spawns_now() -> Option<RwLockWriteGuard<'static, ()>> {
    match SPAWNING.try_write() {
        Ok(guard) => Some(guard),
        Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
        Err(std::sync::TryLockError::WouldBlock) => None,
    }
}

/// Waits until no pipeline is starting its program, and keeps others from
/// starting one while the guard lives.
pub(super) fn no_spawns() -> RwLockWriteGuard<'static, ()> {
    SPAWNING.write().unwrap_or_else(|p| p.into_inner())
}

/// Whether `pid` leads a pipeline group that is running (its program has
/// not been waited for yet): such a process is waited for by its pipeline,
/// never by the [reaper](super::reaper).
pub fn is_running(pid: i32) -> bool {
    registry().running.contains_key(&pid)
}

/// Kills every running pipeline group (SIGKILL); returns how many there were.
/// Their pipelines then end as failed runs.
pub fn kill_all() -> usize {
    let groups: Vec<i32> = registry().running.keys().copied().collect();
    for &pgid in &groups {
        kill_group(pgid);
    }
    groups.len()
}

/// SIGKILL to the process group `pgid`; `false` when it has no member left.
fn kill_group(pgid: i32) -> bool {
    #[cfg(unix)]
    {
        rustix::process::Pid::from_raw(pgid).is_some_and(|pid| {
            rustix::process::kill_process_group(pid, rustix::process::Signal::KILL).is_ok()
        })
    }
    #[cfg(not(unix))]
    {
        let _ = pgid;
        false
    }
}

fn write_record(dir: &Path, record: &GroupRecord) -> std::io::Result<PathBuf> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{}.json", record.pgid));
    let bytes = serde_json::to_vec(record).map_err(std::io::Error::other)?;
    let mut file = crate::persist::no_follow(
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true),
    )
    .open(&path)?;
    file.write_all(&bytes)?;
    Ok(path)
}

/// Kills the groups an earlier kaizen recorded in `dir` and left running
/// (see the [module docs](self)), and removes every record there. Call it
/// before anything runs, holding the state folder's lock.
pub fn kill_leftovers(dir: &Path) -> Vec<Leftover> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let boot = boot_id().unwrap_or_default();
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let record = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<GroupRecord>(&b).ok());
        let _ = std::fs::remove_file(&path);
        let Some(record) = record else {
            tracing::warn!(file = %path.display(), "unreadable pipeline group record removed");
            continue;
        };
        if record.boot_id != boot || boot.is_empty() {
            continue; // an earlier boot: its processes are gone
        }
        let leader_is_other = match start_ticks(record.pgid) {
            Some(ticks) => ticks != record.start_ticks,
            None => false,
        };
        if leader_is_other {
            continue; // the id now belongs to another process
        }
        let killed = kill_group(record.pgid);
        found.push(Leftover { record, killed });
    }
    found.sort_by_key(|l| l.record.pgid);
    found
}

/// The start time of process `pid` in clock ticks since boot (field 22 of
/// `/proc/<pid>/stat`), when it exists.
fn start_ticks(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_process_start_time_is_read_from_proc() {
        let me = i32::try_from(std::process::id()).unwrap();
        assert!(start_ticks(me).unwrap() > 0);
        assert_eq!(start_ticks(i32::MAX), None);
        assert!(!boot_id().unwrap().is_empty());
    }

    #[test]
    fn a_leftover_record_of_another_process_is_not_killed() {
        let dir = tempfile::tempdir().unwrap();
        // Our own pid, with a start time that is not ours: a reused id.
        let me = i32::try_from(std::process::id()).unwrap();
        let reused = GroupRecord {
            version: 1,
            pgid: me,
            start_ticks: start_ticks(me).unwrap() + 1,
            boot_id: boot_id().unwrap(),
            bot: "b".into(),
            program: "p".into(),
        };
        write_record(dir.path(), &reused).unwrap();
        std::fs::write(dir.path().join("7.json"), "torn").unwrap();
        assert_eq!(kill_leftovers(dir.path()), []);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "records removed"
        );
    }
}
