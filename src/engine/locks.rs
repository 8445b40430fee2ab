//! One pipeline run per bot at a time, across every engine.
//!
//! Two engines may look after the same bot (say, after an autoscale step with
//! a factory that reuses a bot). [`BotLocks`] makes sure their pipelines never
//! run for that bot at the same moment: a cycle takes the bot's lock before
//! its pipeline starts, or is skipped as `"busy"`. The lock is a guard: it is
//! released when the cycle ends for any reason, including an engine stopped
//! mid-run.

use dashmap::DashMap;
use std::sync::Arc;

/// The set of bots whose pipeline is running now. Clones share the set.
#[derive(Clone, Debug, Default)]
pub struct BotLocks(Arc<DashMap<Arc<str>, Arc<str>>>);

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

    /// Takes `bot`'s lock for `engine`, or returns the engine holding it.
    pub fn try_lock(&self, bot: &Arc<str>, engine: &Arc<str>) -> Result<BotGuard, Arc<str>> {
        match self.0.entry(bot.clone()) {
            dashmap::Entry::Occupied(held) => Err(held.get().clone()),
            dashmap::Entry::Vacant(slot) => {
                slot.insert(engine.clone());
                Ok(BotGuard {
                    locks: self.clone(),
                    bot: bot.clone(),
                })
            }
        }
    }

    /// The engine running `bot`'s pipeline now, if any.
    pub fn holder(&self, bot: &str) -> Option<Arc<str>> {
        self.0.get(bot).map(|e| e.value().clone())
    }
}

/// Holds a bot's lock until dropped.
#[derive(Debug)]
pub struct BotGuard {
    locks: BotLocks,
    bot: Arc<str>,
}

impl Drop for BotGuard {
    fn drop(&mut self) {
        self.locks.0.remove(&self.bot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_engine_is_refused_until_the_first_is_done() {
        let locks = BotLocks::new();
        let (bot, a, b) = (Arc::from("bot"), Arc::from("a"), Arc::from("b"));
        let guard = locks.try_lock(&bot, &a).unwrap();
        assert_eq!(locks.try_lock(&bot, &b).unwrap_err().as_ref(), "a");
        assert_eq!(locks.holder("bot").as_deref(), Some("a"));
        drop(guard);
        assert_eq!(locks.holder("bot"), None);
        assert!(locks.try_lock(&bot, &b).is_ok());
    }

    #[test]
    fn different_bots_do_not_block_each_other() {
        let locks = BotLocks::new();
        let e = Arc::from("e");
        let _x = locks.try_lock(&Arc::from("x"), &e).unwrap();
        assert!(locks.try_lock(&Arc::from("y"), &e).is_ok());
    }
}
