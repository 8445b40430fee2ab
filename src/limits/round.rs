//! [`RawFleet`]: the raw actix round a registry round is compared with.

use actix::prelude::*;
use futures_util::future::join_all;

use crate::{Error, Result};

/// The trivial engine: counts the ticks it answered.
struct Counter(u64);

impl Actor for Counter {
    type Context = Context<Self>;
}

#[derive(Clone, Copy)]
struct Bump;

impl Message for Bump {
    type Result = u64;
}

impl Handler<Bump> for Counter {
    type Result = u64;

    fn handle(&mut self, _: Bump, _: &mut Self::Context) -> u64 {
        self.0 += 1;
        self.0
    }
}

/// Sends a batch's ticks on its own arbiter and gathers the answers.
struct Dispatcher;

impl Actor for Dispatcher {
    type Context = Context<Self>;
}

struct Batch(Vec<Addr<Counter>>);

impl Message for Batch {
    type Result = Vec<u64>;
}

impl Handler<Batch> for Dispatcher {
    type Result = ResponseFuture<Vec<u64>>;

    fn handle(&mut self, batch: Batch, _: &mut Self::Context) -> Self::Result {
        let asks = batch.0.into_iter().map(|a| a.send(Bump));
        let answers = join_all(asks);
        Box::pin(async move { answers.await.into_iter().map(|a| a.unwrap_or(0)).collect() })
    }
}

/// `n` trivial actors on worker arbiters, ticked in rounds of the same shape
/// as a registry round (see the [module docs](super)): what a round costs
/// actix itself. The worker threads stop when the fleet is dropped.
///
/// ```
/// use kaizen::limits::RawFleet;
///
/// actix::System::new().block_on(async {
///     let fleet = RawFleet::start(100, 2)?;
///     assert_eq!(fleet.round().await, 100);
///     Ok::<(), kaizen::Error>(())
/// })?;
/// # Ok::<(), kaizen::Error>(())
/// ```
pub struct RawFleet {
    arbiters: Vec<Arbiter>,
    dispatchers: Vec<Addr<Dispatcher>>,
    /// Each worker's actors, in the order they were started.
    actors: Vec<Vec<Addr<Counter>>>,
}

impl RawFleet {
    /// Starts `n` actors spread round robin over `workers` new arbiters (at
    /// least one). Must be called inside an actix system
    /// ([`Error::NoActixSystem`] otherwise).
    pub fn start(n: usize, workers: usize) -> Result<Self> {
        if actix::System::try_current().is_none() {
            return Err(Error::NoActixSystem {
                what: "RawFleet::start",
            });
        }
        let arbiters: Vec<Arbiter> = (0..workers.max(1)).map(|_| Arbiter::new()).collect();
        let dispatchers = arbiters
            .iter()
            .map(|a| Dispatcher::start_in_arbiter(&a.handle(), |_| Dispatcher))
            .collect();
        let mut actors: Vec<Vec<Addr<Counter>>> = arbiters.iter().map(|_| Vec::new()).collect();
        for i in 0..n {
            let w = i % arbiters.len();
            actors[w].push(Counter::start_in_arbiter(&arbiters[w].handle(), |_| {
                Counter(0)
            }));
        }
        Ok(RawFleet {
            arbiters,
            dispatchers,
            actors,
        })
    }

    /// How many actors the fleet has.
    pub fn len(&self) -> usize {
        self.actors.iter().map(Vec::len).sum()
    }

    /// `true` for a fleet of no actors.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Ticks every actor once, one batch per worker; returns how many answered.
    pub async fn round(&self) -> usize {
        let sends = self
            .dispatchers
            .iter()
            .zip(&self.actors)
            .map(|(d, actors)| d.send(Batch(actors.clone())));
        join_all(sends)
            .await
            .into_iter()
            .map(|answers| answers.map_or(0, |a| a.iter().filter(|&&n| n > 0).count()))
            .sum()
    }
}

impl Drop for RawFleet {
    fn drop(&mut self) {
        for a in &self.arbiters {
            a.stop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_actor_answers_every_round() {
        actix::System::new().block_on(async {
            let fleet = RawFleet::start(7, 3).unwrap();
            assert_eq!(fleet.len(), 7);
            for _ in 0..3 {
                assert_eq!(fleet.round().await, 7);
            }
            // Each actor counted three ticks.
            let counts = join_all(fleet.actors.iter().flatten().map(|a| a.send(Bump))).await;
            assert!(counts.into_iter().all(|c| c.unwrap() == 4));
        });
    }

    #[test]
    fn outside_a_system_is_an_error() {
        assert!(matches!(
            RawFleet::start(1, 1),
            Err(Error::NoActixSystem { .. })
        ));
    }
}
