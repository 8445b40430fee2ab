//! Where engines live and how a round of ticks reaches them.
//!
//! The registry spreads its engines over worker arbiters (threads). A round
//! sends **one** batch per worker to that worker's [`Dispatcher`], which sends
//! the tick to each of its engines and waits for their answers on the same
//! thread: a 10,000-engine round costs the registry a handful of messages
//! instead of 10,000 cross-thread round trips, and the per-engine bookkeeping
//! runs on every core at once.

use actix::prelude::*;
use futures_util::future::join_all;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::engine::{SelfImprovementEngine, Tick};

use crate::record::CycleRecord;

/// One engine's answer to a round's tick.
pub(super) struct Answer {
    pub name: Arc<str>,
    pub generation: u64,
    pub answer: Result<CycleRecord, MailboxError>,
    /// From the start of the round to the answer (none for failed engines).
    pub latency: Option<Duration>,
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
    started: Instant,
    targets: Vec<Target>,
}

impl Message for TickBatch {
    type Result = Vec<Answer>;
}

impl Handler<TickBatch> for Dispatcher {
    type Result = ResponseFuture<Vec<Answer>>;

    fn handle(&mut self, batch: TickBatch, _: &mut Self::Context) -> Self::Result {
        let (tick, started) = (batch.tick, batch.started);
        let asks = batch.targets.into_iter().map(move |t| {
            let ask = t.addr.send(tick);
            async move {
                let answer = ask.await;
                Answer {
                    name: t.name,
                    generation: t.generation,
                    answer,
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

    /// Ticks every target, each batch on its worker; answers in no
    /// particular order. A worker that is gone answers for each of its
    /// engines with a mailbox error, one that takes longer than its batch's
    /// limit with `MailboxError::Timeout`.
    pub fn round(
        &self,
        tick: Tick,
        batches: Vec<Vec<Target>>,
        limits: Vec<Duration>,
    ) -> impl Future<Output = Vec<Answer>> + 'static {
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
                        started,
                        targets,
                    })
                    .timeout(limit);
                async move {
                    match ask.await {
                        Ok(answers) => answers,
                        Err(e) => names
                            .into_iter()
                            .map(|(name, generation)| Answer {
                                name,
                                generation,
                                answer: Err(e),
                                latency: None,
                            })
                            .collect(),
                    }
                }
            })
            .collect();
        async move { join_all(sends).await.into_iter().flatten().collect() }
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
