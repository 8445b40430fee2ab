//! The training pool's jobs on disk, so that another process — `kaizen
//! status` — sees which bot trains and which waits.
//!
//! A process that runs training pipelines for a state folder keeps
//! `<state>/.kaizen/training-jobs.json` in step with its [`TrainingPool`]
//! ([`mirror`]): every time a job arrives, starts or leaves, the file is
//! replaced (atomically, without fsync: it describes the moment and is worth
//! nothing after a crash) with the process's pid, the time and every job.
//! A reader takes the jobs as live only while that process still runs
//! ([`PoolJobs::is_live`]), so a file left behind by a crash shows nothing.
//!
//! ```text
//! {"version":1,"pid":4242,"time":1765120000.0,"capacity":2,
//!  "jobs":[{"id":7,"bot":"alpha","priority":5.0,"state":"running"},
//!          {"id":8,"bot":"beta","priority":3.0,"state":"waiting","position":1}]}
//! ```

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{JobStatus, TrainingPool};
use crate::history::KAIZEN_DIR;
use crate::host::Clock;
use crate::persist::{self, Durability, Inspected, PersistError};

/// The jobs file, in the state folder's `.kaizen/` (the folder of kaizen's
/// own files, which no bot name can take).
pub const JOBS_FILE: &str = "training-jobs.json";

/// The pool's jobs as one process saw them at one moment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PoolJobs {
    /// The process that runs them.
    pub pid: u32,
    /// When (seconds since the Unix epoch).
    pub time: f64,
    /// How many may run at once.
    pub capacity: usize,
    /// Running jobs first, then the queue in order.
    pub jobs: Vec<JobStatus>,
}

impl PoolJobs {
    /// `pool`'s jobs now, run by this process.
    pub fn of(pool: &TrainingPool, time: f64) -> Self {
        PoolJobs {
            pid: std::process::id(),
            time,
            capacity: pool.capacity(),
            jobs: pool.status(),
        }
    }

    /// The jobs file of the state folder `state_root`.
    pub fn path(state_root: &Path) -> PathBuf {
        state_root.join(KAIZEN_DIR).join(JOBS_FILE)
    }

    /// Replaces the jobs file of `state_root` with these jobs.
    pub fn save(&self, state_root: &Path) -> Result<(), PersistError> {
        persist::save_json(&Self::path(state_root), self, Durability::Atomic).map(|_| ())
    }

    /// Reads the jobs file of `state_root` without changing anything.
    pub fn inspect(state_root: &Path) -> Inspected<PoolJobs> {
        persist::inspect_json(&Self::path(state_root))
    }

    /// Whether the process that wrote the file still runs (a pid the system
    /// reused since counts as running: the jobs then show until it exits).
    pub fn is_live(&self) -> bool {
        let Some(pid) = i32::try_from(self.pid)
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        else {
            return false;
        };
        match rustix::process::test_kill_process(pid) {
            Ok(()) => true,
            // It runs, as another user.
            Err(e) => e == rustix::io::Errno::PERM,
        }
    }

    /// The job of `bot`, if it has one.
    pub fn job(&self, bot: &str) -> Option<&JobStatus> {
        self.jobs.iter().find(|j| j.bot == bot)
    }
}

/// Keeps the jobs file of `state_root` in step with `pool` until the future
/// is dropped: written at once, then after every change. A write that fails
/// is logged and retried at the next change.
pub async fn mirror(pool: Arc<TrainingPool>, state_root: PathBuf, clock: Arc<dyn Clock>) {
    let mut changes = pool.watch();
    loop {
        changes.mark_unchanged();
        if let Err(e) = PoolJobs::of(&pool, clock.now()).save(&state_root) {
            tracing::warn!(error = %e, "cannot write the training jobs file");
        }
        if changes.changed().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::ManualClock;
    use crate::training::JobState;
    use futures_util::FutureExt;

    #[tokio::test]
    async fn the_file_follows_the_pool_and_a_dead_writer_shows_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let pool = Arc::new(TrainingPool::new(1));
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(5.0));
        let read = || match PoolJobs::inspect(dir.path()) {
            Inspected::Good { value, .. } => value,
            other => panic!("{other:?}"),
        };
        let task = tokio::spawn(mirror(pool.clone(), dir.path().to_path_buf(), clock));
        let held = pool.acquire("alpha", 2.0).await;
        let mut waiting = Box::pin(pool.acquire("beta", 9.0));
        assert!(waiting.as_mut().now_or_never().is_none());
        // The writer runs on this thread: let it catch up (bounded).
        let mut jobs = None;
        for _ in 0..100 {
            tokio::task::yield_now().await;
            if let Inspected::Good { value, .. } = PoolJobs::inspect(dir.path())
                && value.jobs.len() == 2
            {
                jobs = Some(value);
                break;
            }
        }
        let jobs = jobs.expect("the writer caught up");
        assert_eq!(jobs.pid, std::process::id());
        assert!(jobs.is_live());
        assert_eq!(jobs.capacity, 1);
        assert_eq!(
            jobs.job("beta").unwrap().state,
            JobState::Waiting { position: 1 }
        );
        assert_eq!(jobs.job("alpha").unwrap().state, JobState::Running);
        drop(held);
        drop(waiting);
        task.abort();
        let _ = task.await;
        // A file whose writer is gone is not live.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let mut stale = read();
        stale.pid = child.id();
        child.wait().unwrap();
        assert!(!stale.is_live());
        stale.pid = u32::MAX;
        assert!(!stale.is_live());
    }
}
