//! [`TrainingPool`]: a bounded pool of training jobs shared by every bot.
//!
//! Training is CPU-bound; when several bots want to train at once, at most
//! `capacity` jobs run (default: one per core) and the rest wait in order
//! of priority — the decision's expected value, higher first; equal
//! priorities in arrival order. Every job, running or waiting, is visible in
//! [`TrainingPool::status`]. A job holds its slot through a
//! [`TrainingPermit`]; dropping the permit frees the slot for the best
//! waiter. A waiting job whose future is dropped leaves the queue; one that
//! was granted a slot in the same instant gives it back.

use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use tokio::sync::{oneshot, watch};

/// One job as [`TrainingPool::status`] shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobStatus {
    /// The job's number (in order of arrival).
    pub id: u64,
    /// The bot it trains.
    pub bot: String,
    /// Its priority (higher runs first).
    pub priority: f64,
    /// Running, or waiting and at which place (1 = next).
    pub state: JobState,
}

/// Whether a job runs or waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum JobState {
    /// It holds a slot.
    Running,
    /// It waits; `position` 1 gets the next free slot.
    Waiting {
        /// Its place in the queue.
        position: usize,
    },
}

struct Waiter {
    id: u64,
    bot: String,
    priority: f64,
    tx: oneshot::Sender<()>,
}

#[derive(Default)]
struct Jobs {
    running: Vec<(u64, String, f64)>,
    /// Kept in grant order: priority high → low, then id.
    waiting: Vec<Waiter>,
    next_id: u64,
}

/// A bounded, priority-ordered pool of training slots. Share it as `Arc<TrainingPool>`.
///
/// ```
/// use futures_util::FutureExt;
/// use kaizen::training::{JobState, TrainingPool};
/// use std::sync::Arc;
/// let pool = Arc::new(TrainingPool::new(1));
/// let a = pool.acquire("alpha", 1.0).now_or_never().unwrap(); // a free slot
/// let mut b = Box::pin(pool.acquire("beta", 5.0));
/// assert!(b.as_mut().now_or_never().is_none()); // waits
/// assert_eq!(pool.status()[1].state, JobState::Waiting { position: 1 });
/// drop(a);
/// let _b = b.now_or_never().unwrap(); // beta got alpha's slot
/// assert_eq!(pool.status()[0].bot, "beta");
/// ```
pub struct TrainingPool {
    capacity: usize,
    jobs: Mutex<Jobs>,
    /// Counts changes of the jobs, for [`TrainingPool::watch`].
    changes: watch::Sender<u64>,
}

impl std::fmt::Debug for TrainingPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainingPool")
            .field("capacity", &self.capacity)
            .field("jobs", &self.status())
            .finish()
    }
}

impl TrainingPool {
    /// A pool running at most `capacity` jobs at once (at least 1).
    pub fn new(capacity: usize) -> Self {
        TrainingPool {
            capacity: capacity.max(1),
            jobs: Mutex::new(Jobs::default()),
            changes: watch::Sender::new(0),
        }
    }

    /// A pool with one slot per core of this machine.
    pub fn per_core() -> Self {
        Self::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// How many jobs may run at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn lock(&self) -> MutexGuard<'_, Jobs> {
        // A panic while holding the lock leaves plain data: keep going.
        self.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for a slot for `bot` with `priority` (a NaN counts as the lowest).
    pub fn acquire(self: &Arc<Self>, bot: &str, priority: f64) -> Acquire {
        let priority = if priority.is_nan() {
            f64::NEG_INFINITY
        } else {
            priority
        };
        let mut jobs = self.lock();
        let id = jobs.next_id;
        jobs.next_id += 1;
        if jobs.running.len() < self.capacity && jobs.waiting.is_empty() {
            jobs.running.push((id, bot.to_string(), priority));
            drop(jobs);
            self.changed();
            return Acquire {
                pool: Arc::clone(self),
                id,
                rx: None,
                done: false,
            };
        }
        let (tx, rx) = oneshot::channel();
        let at = jobs
            .waiting
            .iter()
            .position(|w| w.priority < priority)
            .unwrap_or(jobs.waiting.len());
        jobs.waiting.insert(
            at,
            Waiter {
                id,
                bot: bot.to_string(),
                priority,
                tx,
            },
        );
        drop(jobs);
        self.changed();
        Acquire {
            pool: Arc::clone(self),
            id,
            rx: Some(rx),
            done: false,
        }
    }

    /// A receiver that sees a change whenever a job arrives, starts or
    /// leaves — to follow [`status`](Self::status) without polling.
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn changed(&self) {
        self.changes.send_modify(|n| *n += 1);
    }

    /// Every job, running ones first, then the queue in order.
    pub fn status(&self) -> Vec<JobStatus> {
        let jobs = self.lock();
        let running = jobs.running.iter().map(|(id, bot, p)| JobStatus {
            id: *id,
            bot: bot.clone(),
            priority: *p,
            state: JobState::Running,
        });
        let waiting = jobs.waiting.iter().enumerate().map(|(i, w)| JobStatus {
            id: w.id,
            bot: w.bot.clone(),
            priority: w.priority,
            state: JobState::Waiting { position: i + 1 },
        });
        running.chain(waiting).collect()
    }

    /// Frees job `id`'s slot and hands free slots to the best waiters.
    fn release(&self, id: u64) {
        let mut jobs = self.lock();
        jobs.running.retain(|(j, _, _)| *j != id);
        while jobs.running.len() < self.capacity && !jobs.waiting.is_empty() {
            let w = jobs.waiting.remove(0);
            // A waiter whose future is gone cannot take the slot.
            if w.tx.send(()).is_ok() {
                jobs.running.push((w.id, w.bot, w.priority));
            }
        }
        drop(jobs);
        self.changed();
    }
}

/// A slot of the pool, held while a job trains; dropping it frees the slot.
#[derive(Debug)]
pub struct TrainingPermit {
    pool: Arc<TrainingPool>,
    id: u64,
}

impl TrainingPermit {
    /// The job's number.
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl Drop for TrainingPermit {
    fn drop(&mut self) {
        self.pool.release(self.id);
    }
}

/// A job waiting for its slot (see [`TrainingPool::acquire`]).
#[derive(Debug)]
pub struct Acquire {
    pool: Arc<TrainingPool>,
    id: u64,
    rx: Option<oneshot::Receiver<()>>,
    done: bool,
}

impl Future for Acquire {
    type Output = TrainingPermit;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<TrainingPermit> {
        if let Some(rx) = &mut self.rx {
            match Pin::new(rx).poll(cx) {
                Poll::Pending => return Poll::Pending,
                // The pool lives as long as this future (it holds an Arc), so
                // the sender is only dropped after a send.
                Poll::Ready(_) => self.rx = None,
            }
        }
        self.done = true;
        Poll::Ready(TrainingPermit {
            pool: Arc::clone(&self.pool),
            id: self.id,
        })
    }
}

impl Drop for Acquire {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let granted = {
            let mut jobs = self.pool.lock();
            let before = jobs.waiting.len();
            jobs.waiting.retain(|w| w.id != self.id);
            jobs.waiting.len() == before
        };
        self.pool.changed();
        if granted {
            // Granted (or free at once) but never taken: give the slot back.
            self.pool.release(self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;

    fn states(pool: &TrainingPool) -> Vec<(String, JobState)> {
        pool.status()
            .into_iter()
            .map(|j| (j.bot, j.state))
            .collect()
    }

    #[test]
    fn waiters_run_by_priority_then_arrival() {
        let pool = Arc::new(TrainingPool::new(1));
        let first = pool.acquire("a", 0.0).now_or_never().unwrap();
        let mut low = Box::pin(pool.acquire("low", 1.0));
        let mut high = Box::pin(pool.acquire("high", 9.0));
        let mut mid1 = Box::pin(pool.acquire("mid1", 5.0));
        let mut mid2 = Box::pin(pool.acquire("mid2", 5.0));
        for f in [&mut low, &mut high, &mut mid1, &mut mid2] {
            assert!(f.as_mut().now_or_never().is_none());
        }
        assert_eq!(
            states(&pool),
            [
                ("a".into(), JobState::Running),
                ("high".into(), JobState::Waiting { position: 1 }),
                ("mid1".into(), JobState::Waiting { position: 2 }),
                ("mid2".into(), JobState::Waiting { position: 3 }),
                ("low".into(), JobState::Waiting { position: 4 }),
            ]
        );
        let mut order = Vec::new();
        let mut current = first;
        for (name, f) in [("high", high), ("mid1", mid1), ("mid2", mid2), ("low", low)] {
            drop(current);
            current = f.now_or_never().expect("granted on release");
            order.push(name);
            assert_eq!(pool.status()[0].bot, name);
        }
        drop(current);
        assert!(pool.status().is_empty());
    }

    #[test]
    fn capacity_bounds_running_jobs() {
        let pool = Arc::new(TrainingPool::new(2));
        let a = pool.acquire("a", 1.0).now_or_never().unwrap();
        let _b = pool.acquire("b", 1.0).now_or_never().unwrap();
        let mut c = Box::pin(pool.acquire("c", 1.0));
        assert!(c.as_mut().now_or_never().is_none());
        let running = pool
            .status()
            .iter()
            .filter(|j| j.state == JobState::Running)
            .count();
        assert_eq!(running, 2);
        drop(a);
        assert!(c.now_or_never().is_some());
    }

    #[test]
    fn a_cancelled_waiter_leaves_the_queue_and_a_granted_one_gives_back() {
        let pool = Arc::new(TrainingPool::new(1));
        let a = pool.acquire("a", 1.0).now_or_never().unwrap();
        let b = pool.acquire("b", 1.0);
        let mut c = Box::pin(pool.acquire("c", 1.0));
        assert!(c.as_mut().now_or_never().is_none());
        drop(b); // cancelled while waiting
        assert_eq!(states(&pool).len(), 2);
        drop(a); // c is granted…
        drop(c); // …but dropped before it took the slot: the slot comes back
        assert!(pool.status().is_empty());
        assert!(pool.acquire("d", 1.0).now_or_never().is_some());
    }

    #[tokio::test]
    async fn a_job_waiting_on_another_task_starts_when_the_slot_frees() {
        let pool = Arc::new(TrainingPool::new(1));
        let held = pool.acquire("a", 1.0).await;
        let (started_tx, started_rx) = oneshot::channel();
        let p = Arc::clone(&pool);
        let waiter = tokio::spawn(async move {
            let permit = p.acquire("b", 2.0).await;
            started_tx.send(permit.id()).unwrap();
        });
        let mut changes = pool.watch();
        while pool.status().len() < 2 {
            changes.changed().await.unwrap();
        }
        assert_eq!(pool.status()[1].state, JobState::Waiting { position: 1 });
        drop(held);
        assert_eq!(started_rx.await.unwrap(), 1);
        waiter.await.unwrap();
        assert!(pool.status().is_empty());
    }

    #[test]
    fn per_core_has_one_slot_per_core() {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(TrainingPool::per_core().capacity(), n);
        assert_eq!(TrainingPool::new(0).capacity(), 1);
    }
}
