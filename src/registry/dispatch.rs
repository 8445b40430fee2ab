//! Where engines live and how a round of ticks reaches them.
//!
//! The registry spreads its engines over worker arbiters (threads). A round
//! sends **one** batch per worker to that worker's [`Dispatcher`], which sends
//! the tick to each of its engines and waits for their answers on the same
//! thread: a 10,000-engine round costs the registry a handful of messages
//! instead of 10,000 cross-thread round trips, and the per-engine bookkeeping
//! runs on every core at once.
//!
//! An engine answers a round's tick at once ([`RoundTick`]): with its record,
//! or — when the tick started a cycle that is still running — with a `busy`
//! record and a channel for the cycle's record. A round has two halves: the
//! answers ([`Workers::round`], quick unless an engine's thread is blocked),
//! then the cycles it started, each waited for until the round's cut-off
//! ([`Round::settle`]). A slow pipeline therefore holds up no other engine
//! and no later round.

use actix::prelude::*;
use futures_util::FutureExt;
use futures_util::future::{Either, join_all, select};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::engine::{RoundTick, SelfImprovementEngine, Tick, TickAnswer};
use crate::host::ClockSleep;
use crate::record::{CycleRecord, Reason};

/// One engine's answer to a round's tick.
pub(super) struct Answer {
    pub name: Arc<str>,
    pub generation: u64,
    pub answer: Result<Box<CycleRecord>, MailboxError>,
    /// From the start of the round to the answer (none for failed engines
    /// and for cycles the round stopped waiting for).
    pub latency: Option<Duration>,
}

/// One engine's immediate answer, before the round waits for running cycles.
struct Reply {
    name: Arc<str>,
    generation: u64,
    reply: Result<TickAnswer, MailboxError>,
    latency: Option<Duration>,
}

/// The first half of a round: every engine's immediate answer.
pub(super) struct Round {
    started: Instant,
    replies: Vec<Reply>,
}

impl Round {
    /// Adds answers made without asking their engines (failed or
    /// restarting ones).
    pub fn extend(&mut self, answers: Vec<Answer>) {
        self.replies.extend(answers.into_iter().map(|a| Reply {
            name: a.name,
            generation: a.generation,
            reply: a.answer.map(TickAnswer::Done),
            latency: a.latency,
        }));
    }

    /// The second half: every cycle the round started is waited for until
    /// `cut_off` resolves (`None`: until it ends); a cycle still running
    /// then is reported by its `busy` record, and one whose engine stopped
    /// meanwhile as `stopped`. A cycle that has finished by the cut-off is
    /// always taken, so a cut-off that has already passed is deterministic.
    pub fn settle(
        self,
        cut_off: Option<ClockSleep>,
    ) -> impl Future<Output = Vec<Answer>> + 'static {
        let Round { started, replies } = self;
        let cut_off = cut_off.map(FutureExt::shared);
        join_all(replies.into_iter().map(move |r| {
            let cut_off = cut_off.clone();
            async move {
                let (answer, latency) = match r.reply {
                    Ok(TickAnswer::Done(record)) => (Ok(record), r.latency),
                    Ok(TickAnswer::Running { busy, done }) => {
                        let finished = match cut_off {
                            Some(cut) => match select(done, cut).await {
                                Either::Left((finished, _)) => Some(finished),
                                Either::Right(_) => None,
                            },
                            None => Some(done.await),
                        };
                        match finished {
                            Some(Ok(record)) => (Ok(record), Some(started.elapsed())),
                            Some(Err(_)) => {
                                let mut stopped = busy;
                                stopped.reason = Reason::Stopped;
                                (Ok(stopped), None)
                            }
                            None => (Ok(busy), None),
                        }
                    }
                    Err(e) => (Err(e), None),
                };
                Answer {
                    name: r.name,
                    generation: r.generation,
                    answer,
                    latency,
                }
            }
        }))
    }
}

/// One engine a batch ticks.
pub(super) struct Target {
    pub name: Arc<str>,
    pub generation: u64,
    pub addr: Addr<SelfImprovementEngine>,
}

/// Ticks engines that live on its own arbiter.
pub(super) struct Dispatcher;

impl Actor for Dispatcher {
    type Context = Context<Self>;
}

struct TickBatch {
    tick: Tick,
    /// The energy of a forced-energy round.
    energy: Option<u32>,
    started: Instant,
    targets: Vec<Target>,
}

impl Message for TickBatch {
    type Result = Vec<Reply>;
}

impl Handler<TickBatch> for Dispatcher {
    type Result = ResponseFuture<Vec<Reply>>;

    fn handle(&mut self, batch: TickBatch, _: &mut Self::Context) -> Self::Result {
        let (tick, energy, started) = (batch.tick, batch.energy, batch.started);
        let asks = batch.targets.into_iter().map(move |t| {
            let ask = t.addr.send(RoundTick(tick, energy));
            async move {
                let reply = ask.await;
                Reply {
                    name: t.name,
                    generation: t.generation,
                    reply,
                    latency: Some(started.elapsed()),
                }
            }
        });
        Box::pin(join_all(asks))
    }
}

/// The worker arbiters and their dispatchers.
pub(super) struct Workers {
    arbiters: Vec<Arbiter>,
    dispatchers: Vec<Addr<Dispatcher>>,
    next: usize,
}

impl Workers {
    /// `n` worker threads; with 0, engines live on the caller's arbiter.
    pub fn new(n: usize) -> Self {
        let arbiters: Vec<Arbiter> = (0..n).map(|_| Arbiter::new()).collect();
        let dispatchers = if arbiters.is_empty() {
            vec![Dispatcher.start()]
        } else {
            arbiters
                .iter()
                .map(|a| Dispatcher::start_in_arbiter(&a.handle(), |_| Dispatcher))
                .collect()
        };
        Workers {
            arbiters,
            dispatchers,
            next: 0,
        }
    }

    /// Starts `engine` on the next worker, round robin; returns its address
    /// and the worker's index.
    pub fn start(&mut self, engine: SelfImprovementEngine) -> (Addr<SelfImprovementEngine>, usize) {
        let i = self.next % self.dispatchers.len();
        self.next = self.next.wrapping_add(1);
        let addr = match self.arbiters.get(i) {
            Some(a) => SelfImprovementEngine::start_in_arbiter(&a.handle(), move |_| engine),
            None => engine.start(),
        };
        (addr, i)
    }

    /// Ticks every target (a forced-energy round when `energy` is given),
    /// each batch on its worker; the immediate answers in no particular
    /// order. A worker that is gone answers for each of its
    /// engines with a mailbox error, one that takes longer than its batch's
    /// limit (its thread is blocked) with `MailboxError::Timeout`.
    pub fn round(
        &self,
        tick: Tick,
        energy: Option<u32>,
        batches: Vec<Vec<Target>>,
        limits: Vec<Duration>,
    ) -> impl Future<Output = Round> + 'static {
        let started = Instant::now();
        let sends: Vec<_> = batches
            .into_iter()
            .zip(limits)
            .zip(&self.dispatchers)
            .filter(|((targets, _), _)| !targets.is_empty())
            .map(|((targets, limit), dispatcher)| {
                let names: Vec<(Arc<str>, u64)> = targets
                    .iter()
                    .map(|t| (t.name.clone(), t.generation))
                    .collect();
                let ask = dispatcher
                    .send(TickBatch {
                        tick,
                        energy,
                        started,
                        targets,
                    })
                    .timeout(limit);
                async move {
                    match ask.await {
                        Ok(answers) => answers,
                        Err(e) => names
                            .into_iter()
                            .map(|(name, generation)| Reply {
                                name,
                                generation,
                                reply: Err(e),
                                latency: None,
                            })
                            .collect(),
                    }
                }
            })
            .collect();
        async move {
            Round {
                started,
                replies: join_all(sends).await.into_iter().flatten().collect(),
            }
        }
    }

    /// How many workers (batches) a round has.
    pub fn len(&self) -> usize {
        self.dispatchers.len()
    }

    /// Stops the worker threads.
    pub fn stop(&self) {
        for a in &self.arbiters {
            a.stop();
        }
    }
}
