//! How many pipelines may run at once, and which waiting cycle gets a slot.
//!
//! Every command pipeline holds a few file descriptors while it runs (its
//! stdout and stderr pipes, the handle kaizen waits on it with, and for a
//! moment while it starts, the pipes' other ends). A round that starts a
//! thousand command pipelines at once would run out of descriptors ("Too
//! many open files") long before it ran out of anything else. A
//! [`PipelineSlots`] bounds how many run at once: a cycle takes a slot
//! before its pipeline starts and gives it back when the pipeline ends; a
//! cycle that finds none free waits for one (its timeout starts once it has
//! one). A pipeline that answers at once takes and returns its slot without
//! waiting.
//!
//! **Who gets a freed slot** (issue 11 item 3: when cycles are scarce, the
//! slot goes to the cycle worth most, not to whoever waited longest). A
//! waiter has a *rank*; a freed slot goes to the waiter of highest rank, and
//! among equal ranks to the one that came first. The engine ranks its cycle
//! (`CyclePlan::slot_rank` in [`crate::cycle`]):
//!
//! | the cycle | its rank |
//! |---|---|
//! | imposed: requested (`RunCycle`), a forced-energy round, a trigger listed in `force` | [`IMPOSED_RANK`] (+∞): an operator's request is never passed by a decided cycle |
//! | decided in learned mode | the decision's [`value`](crate::decide::Decision::value): the chosen option's expected value against skipping, net of its energy's cost, in the units its engine learns in (the ledger's profit, else the pipeline's reported value) |
//! | decided in chain mode (SPEC §4 has no value estimate) | [`QUEUED_RANK`] (0, what skipping is worth): chain cycles queue first come among themselves, behind every learned cycle expected to gain and ahead of one explored at an expected loss |
//!
//! The value is per slot, not per unit of energy: a slot carries one cycle
//! whatever its energy, so the cycle that adds most with it should have it
//! (its energy's cost is already taken off). Engines that learn from
//! different ledgers compare numbers in their own units; a fleet whose
//! ledgers are in one currency compares like with like. A NaN rank counts
//! as the lowest. [`PipelineSlots::take`] waits with [`QUEUED_RANK`].
//!
//! A waiter whose future is dropped (its cycle cancelled, its engine
//! stopped) leaves the queue; one that was handed a slot in the same
//! instant hands it on, so no slot is lost.
//!
//! The registry's only other ration is the autoscaler's `check_budget`
//! hook, which bounds how many engines exist, not which cycles run; the
//! energy a cycle gets is its engine's own decision. So this queue is the
//! one place where cycles compete.
//!
//! The default number comes from the process's soft `RLIMIT_NOFILE`
//! ([`PipelineSlots::for_open_files`]); the `kaizen` binary raises that
//! limit to the hard limit first, a library host leaves its own as it is.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll};
use tokio::sync::oneshot;

/// File descriptors kept back for kaizen itself (state files, the event
/// loop, threads, sockets of a host).
pub const RESERVED_FILES: u64 = 64;

/// File descriptors one running pipeline may hold, counted generously.
pub const FILES_PER_PIPELINE: u64 = 8;

/// The rank of a cycle nobody decided on (requested, forced): above every
/// decided cycle.
pub const IMPOSED_RANK: f64 = f64::INFINITY;

/// The rank of a cycle without a value estimate (chain mode): what skipping
/// is worth.
pub const QUEUED_RANK: f64 = 0.0;

/// A bound on the pipelines running at once; clones share it.
#[derive(Clone, Debug)]
pub struct PipelineSlots {
    queue: Arc<Queue>,
    size: usize,
}

/// The free slots and the waiters, under one lock.
#[derive(Debug, Default)]
struct Queue(Mutex<Waiting>);

#[derive(Debug, Default)]
struct Waiting {
    free: usize,
    /// In the order slots are handed out.
    waiters: BTreeMap<Place, oneshot::Sender<()>>,
    arrivals: u64,
}

/// A waiter's place in the queue: higher rank first, then earlier arrival.
#[derive(Clone, Copy, Debug)]
struct Place {
    rank: f64,
    arrival: u64,
}

impl Ord for Place {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .rank
            .total_cmp(&self.rank)
            .then(self.arrival.cmp(&other.arrival))
    }
}

impl PartialOrd for Place {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Place {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Place {}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, Waiting> {
        // A panic while holding the lock leaves plain counts: keep going.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Waiting {
    /// A slot given back: to the first waiter, else free. A waiter's
    /// receiver lives until it has left the queue under this lock, so the
    /// send reaches it.
    fn hand_on(&mut self) {
        while let Some((_, tx)) = self.waiters.pop_first() {
            if tx.send(()).is_ok() {
                return;
            }
        }
        self.free += 1;
    }
}

/// A taken slot; given back when dropped.
#[derive(Debug)]
pub struct Slot {
    queue: Option<Arc<Queue>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(queue) = &self.queue {
            queue.lock().hand_on();
        }
    }
}

impl PipelineSlots {
    /// `size` slots (at least 1).
    pub fn new(size: usize) -> Self {
        let size = size.max(1);
        PipelineSlots {
            queue: Arc::new(Queue(Mutex::new(Waiting {
                free: size,
                ..Waiting::default()
            }))),
            size,
        }
    }

    /// The slots a process whose soft limit is `open_files` descriptors can
    /// afford: `(open_files − RESERVED_FILES) / FILES_PER_PIPELINE`, at least 1.
    ///
    /// ```
    /// use kaizen::runtime::PipelineSlots;
    /// assert_eq!(PipelineSlots::for_open_files(1024), 120);
    /// assert_eq!(PipelineSlots::for_open_files(10), 1);
    /// ```
    pub fn for_open_files(open_files: u64) -> usize {
        let n = open_files.saturating_sub(RESERVED_FILES) / FILES_PER_PIPELINE;
        usize::try_from(n).unwrap_or(usize::MAX).max(1)
    }

    /// The process-wide slots, sized from the soft `RLIMIT_NOFILE` the
    /// first time they are used.
    pub fn shared() -> Self {
        static SHARED: OnceLock<PipelineSlots> = OnceLock::new();
        SHARED
            .get_or_init(|| PipelineSlots::new(Self::for_open_files(soft_open_files())))
            .clone()
    }

    /// How many slots there are.
    pub fn size(&self) -> usize {
        self.size
    }

    /// How many are free now.
    pub fn free(&self) -> usize {
        self.queue.lock().free
    }

    /// How many cycles wait for a slot now.
    pub fn waiting(&self) -> usize {
        self.queue.lock().waiters.len()
    }

    /// A slot, if one is free now and nobody waits for it.
    pub fn try_take(&self) -> Option<Slot> {
        let mut w = self.queue.lock();
        (w.free > 0 && w.waiters.is_empty()).then(|| {
            w.free -= 1;
            Slot {
                queue: Some(Arc::clone(&self.queue)),
            }
        })
    }

    /// A slot, once one is free, waiting with [`QUEUED_RANK`] (first come
    /// among equals).
    pub fn take(&self) -> Take {
        self.take_ranked(QUEUED_RANK)
    }

    /// A slot, once one is free; while slots are short, a freed one goes
    /// to the waiter of highest `rank` (see the [module docs](self)).
    ///
    /// ```
    /// use futures_util::FutureExt;
    /// use kaizen::runtime::PipelineSlots;
    /// let slots = PipelineSlots::new(1);
    /// let held = slots.try_take().unwrap();
    /// let mut early = slots.take_ranked(1.0);
    /// let mut worth_more = slots.take_ranked(5.0);
    /// assert!((&mut early).now_or_never().is_none());
    /// drop(held);
    /// let slot = (&mut worth_more).now_or_never(); // not the older one
    /// assert!(slot.is_some());
    /// assert!((&mut early).now_or_never().is_none());
    /// drop(slot);
    /// assert!(early.now_or_never().is_some()); // then the older one
    /// ```
    pub fn take_ranked(&self, rank: f64) -> Take {
        // −0 ranks as 0; NaN as the lowest.
        let rank = if rank.is_nan() {
            f64::NEG_INFINITY
        } else {
            rank + 0.0
        };
        let mut w = self.queue.lock();
        let queue = Arc::clone(&self.queue);
        if w.free > 0 && w.waiters.is_empty() {
            w.free -= 1;
            return Take {
                queue,
                place: None,
                granted: None,
                done: false,
            };
        }
        let place = Place {
            rank,
            arrival: w.arrivals,
        };
        w.arrivals += 1;
        let (tx, rx) = oneshot::channel();
        w.waiters.insert(place, tx);
        Take {
            queue,
            place: Some(place),
            granted: Some(rx),
            done: false,
        }
    }
}

/// A cycle waiting for a slot ([`PipelineSlots::take_ranked`]). Dropping
/// it leaves the queue, or hands on a slot it was given meanwhile.
#[derive(Debug)]
#[must_use = "a slot is only taken when the future is awaited"]
pub struct Take {
    queue: Arc<Queue>,
    /// Its place while it waits (none: a slot was free at once).
    place: Option<Place>,
    /// Where the slot arrives.
    granted: Option<oneshot::Receiver<()>>,
    done: bool,
}

impl Future for Take {
    type Output = Slot;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Slot> {
        if self.done {
            // Polled again after its slot: nothing more to give.
            return Poll::Ready(Slot { queue: None });
        }
        let mut held = true;
        if let Some(rx) = &mut self.granted {
            match Pin::new(rx).poll(cx) {
                Poll::Pending => return Poll::Pending,
                // The sender is only dropped after a send while this
                // future lives; were it dropped unsent, the pipeline runs
                // without a slot rather than not at all.
                Poll::Ready(sent) => held = sent.is_ok(),
            }
            self.granted = None;
        }
        self.done = true;
        Poll::Ready(Slot {
            queue: held.then(|| Arc::clone(&self.queue)),
        })
    }
}

impl Drop for Take {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut w = self.queue.lock();
        let granted = match (&self.place, &mut self.granted) {
            (None, _) => true,
            (Some(place), rx) => {
                w.waiters.remove(place).is_none()
                    && rx.as_mut().is_some_and(|rx| rx.try_recv().is_ok())
            }
        };
        if granted {
            w.hand_on();
        }
    }
}

/// The soft limit on open files (1024, a common default, where unknown).
pub fn soft_open_files() -> u64 {
    #[cfg(unix)]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile)
            .current
            .unwrap_or(u64::MAX)
    }
    #[cfg(not(unix))]
    {
        1024
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    #[tokio::test]
    async fn a_slot_is_given_back_when_dropped() {
        let slots = PipelineSlots::new(1);
        let first = slots.try_take().unwrap();
        assert!(slots.try_take().is_none());
        let waiting = tokio::spawn({
            let slots = slots.clone();
            async move { slots.take().await }
        });
        drop(first);
        let second = waiting.await.unwrap();
        assert_eq!(slots.free(), 0);
        drop(second);
        assert_eq!((slots.free(), slots.size()), (1, 1));
    }

    #[test]
    fn a_freed_slot_goes_to_the_highest_rank_then_the_earliest() {
        let slots = PipelineSlots::new(1);
        let mut held = slots.try_take().unwrap();
        let mut waiters = vec![
            ("low", slots.take_ranked(1.0)),
            ("queued", slots.take()),
            ("high", slots.take_ranked(9.0)),
            ("mid1", slots.take_ranked(5.0)),
            ("mid2", slots.take_ranked(5.0)),
            ("nan", slots.take_ranked(f64::NAN)),
            ("imposed", slots.take_ranked(IMPOSED_RANK)),
        ];
        assert_eq!(slots.waiting(), waiters.len());
        let mut order = Vec::new();
        while !waiters.is_empty() {
            drop(held);
            // A newcomer does not jump the queue even when it comes between
            // the release and the chosen waiter's wake-up.
            assert!(slots.try_take().is_none());
            let mut granted: Vec<(usize, Slot)> = waiters
                .iter_mut()
                .enumerate()
                .filter_map(|(j, (_, take))| take.now_or_never().map(|slot| (j, slot)))
                .collect();
            assert_eq!(granted.len(), 1, "one slot, one waiter");
            let (j, slot) = granted.pop().unwrap();
            order.push(waiters.remove(j).0);
            held = slot;
        }
        assert_eq!(
            order,
            ["imposed", "high", "mid1", "mid2", "low", "queued", "nan"]
        );
        drop(held);
        assert_eq!((slots.free(), slots.waiting()), (1, 0));
    }

    #[test]
    fn a_dropped_waiter_passes_the_slot_on() {
        let slots = PipelineSlots::new(1);
        let held = slots.try_take().unwrap();
        let cancelled = slots.take_ranked(3.0);
        let mut granted_then_dropped = slots.take_ranked(2.0);
        let mut last = slots.take_ranked(1.0);
        assert!((&mut granted_then_dropped).now_or_never().is_none());
        drop(cancelled); // leaves the queue while waiting
        assert_eq!(slots.waiting(), 2);
        drop(held); // handed to the 2.0 waiter…
        assert_eq!(slots.waiting(), 1);
        drop(granted_then_dropped); // …which is dropped before it took it
        let slot = (&mut last).now_or_never().expect("the slot was passed on");
        assert_eq!((slots.free(), slots.waiting()), (0, 0));
        drop(slot);
        // A take that found a free slot but was never awaited gives it back.
        drop(slots.take_ranked(1.0));
        assert_eq!(slots.free(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn no_slot_is_lost_under_many_concurrent_takes_and_drops() {
        let slots = PipelineSlots::new(3);
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..32)
            .map(|i| {
                let (slots, inside, most) = (slots.clone(), inside.clone(), most.clone());
                tokio::spawn(async move {
                    for k in 0..200u32 {
                        let take = slots.take_ranked(f64::from((i * 7 + k) % 5));
                        // Every third take is cancelled after one poll.
                        let slot = if (i + k) % 3 == 0 {
                            tokio::select! {
                                biased;
                                _ = tokio::task::yield_now() => None,
                                slot = take => Some(slot),
                            }
                        } else {
                            Some(take.await)
                        };
                        if let Some(slot) = slot {
                            let now = inside.fetch_add(1, SeqCst) + 1;
                            most.fetch_max(now, SeqCst);
                            tokio::task::yield_now().await;
                            inside.fetch_sub(1, SeqCst);
                            drop(slot);
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert!(most.load(SeqCst) <= 3, "{} at once", most.load(SeqCst));
        assert_eq!((slots.free(), slots.waiting()), (3, 0));
    }
}
