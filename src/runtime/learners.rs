//! Heavy synergy updates run here, off the engines' message-handling threads.
//!
//! A DQN update takes tens of microseconds of tensor work. An engine whose
//! learner [`is_heavy`](crate::synergy::SynergyLearner::is_heavy) hands the
//! learner itself to a [`LearnerPool`] thread with the update's inputs and
//! gets it back with the report; meanwhile its arbiter keeps answering
//! messages (ticks to it are skipped as `"busy"`, its cycle being unfinished).
//! The pool has one thread per core by default; each learner is owned by one
//! job at a time, so results do not depend on which thread ran it.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, OnceLock};

pub use crate::cycle::{Learned, LearnerJob};

struct Job {
    job: LearnerJob,
    reply: tokio::sync::oneshot::Sender<Learned>,
}

/// A fixed set of threads that run synergy updates. Clones share the threads.
#[derive(Clone)]
pub struct LearnerPool {
    tx: Sender<Job>,
    threads: usize,
}

impl std::fmt::Debug for LearnerPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LearnerPool")
            .field("threads", &self.threads)
            .finish()
    }
}

impl LearnerPool {
    /// Starts `threads` worker threads (at least one).
    pub fn new(threads: usize) -> Self {
        let threads = threads.max(1);
        let (tx, rx) = channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads {
            let rx = rx.clone();
            if let Err(e) = std::thread::Builder::new()
                .name(format!("kaizen-learner-{i}"))
                .spawn(move || work(&rx))
            {
                tracing::error!(error = %e, "cannot start a learner thread");
            }
        }
        LearnerPool { tx, threads }
    }

    /// The process-wide pool, one thread per available core, started on first use.
    pub fn shared() -> Self {
        static SHARED: OnceLock<LearnerPool> = OnceLock::new();
        SHARED
            .get_or_init(|| {
                LearnerPool::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
            })
            .clone()
    }

    /// How many threads the pool has.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `job` (a synergy update) on a pool thread; the learner comes
    /// back through the returned channel. If the pool is gone, the update
    /// runs here, on the caller's thread.
    pub fn update(&self, job: LearnerJob) -> tokio::sync::oneshot::Receiver<Learned> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        let job = Job { job, reply };
        if let Err(std::sync::mpsc::SendError(job)) = self.tx.send(job) {
            run(job);
        }
        rx
    }
}

fn work(rx: &Mutex<Receiver<Job>>) {
    loop {
        let job = match rx.lock() {
            Ok(rx) => rx.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        match job {
            Ok(job) => run(job),
            Err(_) => return,
        }
    }
}

fn run(job: Job) {
    let _ = job.reply.send(job.job.run());
}
