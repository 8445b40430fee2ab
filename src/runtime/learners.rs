//! Heavy synergy updates run here, off the engines' message-handling threads.
//!
//! A DQN update takes tens of microseconds of tensor work. An engine whose
//! learner [`is_heavy`](crate::synergy::SynergyLearner::is_heavy) hands the
//! learner itself to a [`LearnerPool`] thread with the update's inputs and
//! gets it back with the report; meanwhile its arbiter keeps answering
//! messages (ticks to it are skipped as `"busy"`, its cycle being unfinished).
//! The pool has one thread per core by default; each learner is owned by one
//! job at a time, so results do not depend on which thread ran it.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, OnceLock};

use crate::pipeline::panic_message;
use crate::synergy::{LearnReport, SynergyDeltas, SynergyLearner};
use crate::{Error, Result};

/// A learner coming back from the pool, with what its update did.
pub struct Learned {
    /// The learner, updated (or unchanged, on error).
    pub learner: Box<dyn SynergyLearner>,
    /// The update's report, or why it failed (a panic becomes an error).
    pub report: Result<LearnReport>,
}

struct Job {
    learner: Box<dyn SynergyLearner>,
    roi_delta: f64,
    deltas: SynergyDeltas,
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

    /// Runs `learner.update(roi_delta, deltas)` on a pool thread; the learner
    /// comes back through the returned channel. If the pool is gone, the
    /// update runs here, on the caller's thread.
    pub fn update(
        &self,
        learner: Box<dyn SynergyLearner>,
        roi_delta: f64,
        deltas: SynergyDeltas,
    ) -> tokio::sync::oneshot::Receiver<Learned> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        let job = Job {
            learner,
            roi_delta,
            deltas,
            reply,
        };
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
    let Job {
        mut learner,
        roi_delta,
        deltas,
        reply,
    } = job;
    let report = update_caught(learner.as_mut(), roi_delta, &deltas);
    let _ = reply.send(Learned { learner, report });
}

/// `learner.update(..)` with a panic turned into an error.
pub fn update_caught(
    learner: &mut dyn SynergyLearner,
    roi_delta: f64,
    deltas: &SynergyDeltas,
) -> Result<LearnReport> {
    std::panic::catch_unwind(AssertUnwindSafe(|| learner.update(roi_delta, deltas))).unwrap_or_else(
        |payload| {
            Err(Error::Panicked {
                what: "synergy learner update",
                message: panic_message(&*payload),
            })
        },
    )
}
