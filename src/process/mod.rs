//! Keeping pipeline processes in hand: no pipeline process outlives kaizen.
//!
//! A [`CommandPipeline`](crate::pipeline::CommandPipeline) runs its program
//! in a process group of its own. This module knows every such group that
//! is running ([`groups`]): it can kill them all when kaizen stops, and —
//! when told where ([`groups::record_in`]) — it keeps a small record of each
//! in the state folder, so a kaizen started after a crash (SIGKILL, power
//! cut of the service manager's patience) kills the groups an earlier one
//! left running before it runs anything ([`groups::kill_leftovers`]).
//!
//! A pipeline's program may start processes that leave its group (a
//! daemon that calls `setsid`). [`reaper`] makes kaizen a *child
//! subreaper*, so such orphans become kaizen's own children instead of
//! init's: they are reaped when they exit and killed when kaizen stops.
//!
//! The library does none of this on its own beyond tracking groups in
//! memory: the `kaizen` binary turns on the records, the subreaper and the
//! final kill; a host embedding kaizen may do the same.

pub mod groups;
#[cfg(unix)]
pub mod reaper;
