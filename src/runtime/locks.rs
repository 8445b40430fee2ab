//! One pipeline run per bot at a time, across every engine.
//!
//! Two engines may look after the same bot (say, after an autoscale step with
//! a factory that reuses a bot). [`BotLocks`] gives every engine of a bot the
//! same [`BotLock`]; a cycle takes it before its pipeline starts, or is skipped
//! as `"busy"`. Taking it is one atomic compare-and-swap. The lock is held by
//! a guard and released when the cycle ends for any reason, including an
//! engine stopped mid-run.
//!
//! The set is a plain map behind a mutex: it is looked up once per engine
//! start, never per tick (the engine keeps its [`BotLock`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Every bot's lock. Clones share the set.
#[derive(Clone, Debug, Default)]
pub struct BotLocks(Arc<Mutex<HashMap<Arc<str>, BotLock>>>);

impl BotLocks {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The process-wide set every engine uses unless told otherwise.
    pub fn shared() -> Self {
        static SHARED: std::sync::OnceLock<BotLocks> = std::sync::OnceLock::new();
        SHARED.get_or_init(BotLocks::new).clone()
    }

    /// `bot`'s lock, the same for every caller.
    pub fn lock_for(&self, bot: &Arc<str>) -> BotLock {
        let mut locks = self.0.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(bot.clone()).or_default().clone()
    }
}

/// One bot's lock. Clones are the same lock.
#[derive(Clone, Debug, Default)]
pub struct BotLock(Arc<AtomicBool>);

impl BotLock {
    /// Takes the lock, or `None` when a run of this bot is under way.
    pub fn try_lock(&self) -> Option<BotGuard> {
        self.0
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| BotGuard(self.0.clone()))
    }

    /// Whether a run of this bot is under way.
    pub fn is_locked(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Holds a bot's lock until dropped.
#[derive(Debug)]
pub struct BotGuard(Arc<AtomicBool>);

impl Drop for BotGuard {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_taker_is_refused_until_the_first_is_done() {
        let locks = BotLocks::new();
        let bot: Arc<str> = Arc::from("bot");
        let (first, second) = (locks.lock_for(&bot), locks.lock_for(&bot));
        let guard = first.try_lock().unwrap();
        assert!(second.try_lock().is_none());
        assert!(second.is_locked());
        drop(guard);
        assert!(!first.is_locked());
        assert!(second.try_lock().is_some());
    }

    #[test]
    fn different_bots_and_different_sets_do_not_block_each_other() {
        let locks = BotLocks::new();
        let _x = locks.lock_for(&Arc::from("x")).try_lock().unwrap();
        assert!(locks.lock_for(&Arc::from("y")).try_lock().is_some());
        assert!(
            BotLocks::new()
                .lock_for(&Arc::from("x"))
                .try_lock()
                .is_some()
        );
    }
}
