//! How many pipelines may run at once.
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
//! The default number comes from the process's soft `RLIMIT_NOFILE`
//! ([`PipelineSlots::for_open_files`]); the `kaizen` binary raises that
//! limit to the hard limit first, a library host leaves its own as it is.

use std::sync::{Arc, OnceLock};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// File descriptors kept back for kaizen itself (state files, the event
/// loop, threads, sockets of a host).
pub const RESERVED_FILES: u64 = 64;

/// File descriptors one running pipeline may hold, counted generously.
pub const FILES_PER_PIPELINE: u64 = 8;

/// A bound on the pipelines running at once; clones share it.
#[derive(Clone, Debug)]
pub struct PipelineSlots {
    slots: Arc<Semaphore>,
    size: usize,
}

/// A taken slot; given back when dropped.
#[derive(Debug)]
pub struct Slot {
    _permit: Option<OwnedSemaphorePermit>,
}

impl PipelineSlots {
    /// `size` slots (at least 1).
    pub fn new(size: usize) -> Self {
        let size = size.clamp(1, Semaphore::MAX_PERMITS);
        PipelineSlots {
            slots: Arc::new(Semaphore::new(size)),
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
        self.slots.available_permits()
    }

    /// A slot, if one is free now.
    pub fn try_take(&self) -> Option<Slot> {
        let permit = self.slots.clone().try_acquire_owned().ok()?;
        Some(Slot {
            _permit: Some(permit),
        })
    }

    /// A slot, once one is free.
    pub async fn take(&self) -> Slot {
        // The semaphore is never closed (were it, the pipeline would run
        // without a slot rather than not at all).
        Slot {
            _permit: self.slots.clone().acquire_owned().await.ok(),
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
}
