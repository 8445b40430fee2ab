//! The engine actor's life as one [`Phase`], and when its state is saved
//! ([`SaveSchedule`]). Plain values: the actor asks them what to do, so the
//! rules are tested here without actix.

use crate::record::Reason;

/// Where the engine is in its life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum Phase {
    /// Waiting for the next tick.
    #[default]
    Idle,
    /// A cycle is under way: its pipeline or its synergy update.
    Cycling,
    /// Asked to shut down: no new cycle starts; `cycling` while the last
    /// one finishes.
    ShuttingDown {
        /// A cycle is still under way.
        cycling: bool,
    },
}

impl Phase {
    /// A cycle is under way.
    pub(super) fn cycling(self) -> bool {
        matches!(self, Phase::Cycling | Phase::ShuttingDown { cycling: true })
    }

    /// Why a tick is skipped before anything is decided, if it is:
    /// `stopped` while shutting down, `paused`, `busy` during a cycle.
    pub(super) fn skip_reason(self, paused: bool) -> Option<Reason> {
        match self {
            Phase::ShuttingDown { .. } => Some(Reason::Stopped),
            _ if paused => Some(Reason::Paused),
            Phase::Cycling => Some(Reason::Busy),
            Phase::Idle => None,
        }
    }

    /// A cycle starts (only from `Idle`).
    pub(super) fn begin_cycle(&mut self) {
        debug_assert_eq!(*self, Phase::Idle, "a cycle started while {self:?}");
        *self = Phase::Cycling;
    }

    /// The cycle under way ended, however it ended.
    pub(super) fn end_cycle(&mut self) {
        *self = match *self {
            Phase::ShuttingDown { .. } => Phase::ShuttingDown { cycling: false },
            _ => Phase::Idle,
        };
    }

    /// Shutdown was asked for.
    pub(super) fn shut_down(&mut self) {
        *self = Phase::ShuttingDown {
            cycling: self.cycling(),
        };
    }
}

/// When the next write-behind save happens, and how many saves are with the
/// writer. An engine keeps at most one save with the writer: a save that
/// becomes due meanwhile waits for its answer, so a writer that falls behind
/// holds one copy of each engine's files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct SaveSchedule {
    /// A write-behind timer is set.
    timer: bool,
    /// The timer fired, and the save waits (for a cycle to end, or for the
    /// previous save's answer).
    due: bool,
    /// Saves handed to the writer and not yet answered.
    in_flight: u32,
}

/// What to do after a change under write-behind persistence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum OnChange {
    /// Set the write-behind timer.
    SetTimer,
    /// A save is due already: try to make it now.
    SaveIfDue,
    /// A timer is set: it will save the change.
    Nothing,
}

impl SaveSchedule {
    /// Something changed under write-behind persistence.
    pub(super) fn changed(&mut self) -> OnChange {
        if self.due {
            OnChange::SaveIfDue
        } else if self.timer {
            OnChange::Nothing
        } else {
            self.timer = true;
            OnChange::SetTimer
        }
    }

    /// The write-behind timer fired: the save is due.
    pub(super) fn timer_fired(&mut self) {
        self.timer = false;
        self.due = true;
    }

    /// Whether a save is due and may be made now: no cycle half done (its
    /// end saves) and no save with the writer (its answer saves). When it
    /// says yes, the save is no longer due.
    pub(super) fn take_due(&mut self, cycling: bool) -> bool {
        let go = self.due && !cycling && self.in_flight == 0;
        if go {
            self.due = false;
        }
        go
    }

    /// A save was handed to the writer.
    pub(super) fn submitted(&mut self) {
        self.in_flight += 1;
    }

    /// The writer answered a save.
    pub(super) fn answered(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    /// A save failed: it is made again a window later (`true`: set the
    /// timer now).
    pub(super) fn retry(&mut self) -> bool {
        self.changed() == OnChange::SetTimer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tick_is_skipped_as_stopped_then_paused_then_busy() {
        let mut p = Phase::default();
        assert_eq!(p.skip_reason(false), None);
        assert_eq!(p.skip_reason(true), Some(Reason::Paused));
        p.begin_cycle();
        assert!(p.cycling());
        assert_eq!(p.skip_reason(false), Some(Reason::Busy));
        assert_eq!(p.skip_reason(true), Some(Reason::Paused));
        p.shut_down();
        assert_eq!(p, Phase::ShuttingDown { cycling: true });
        assert_eq!(p.skip_reason(true), Some(Reason::Stopped));
        p.end_cycle();
        assert_eq!(p, Phase::ShuttingDown { cycling: false });
        assert!(!p.cycling());
        let mut idle = Phase::Cycling;
        idle.end_cycle();
        assert_eq!(idle, Phase::Idle);
    }

    #[test]
    fn one_timer_for_many_changes_and_one_save_with_the_writer() {
        let mut s = SaveSchedule::default();
        assert_eq!(s.changed(), OnChange::SetTimer);
        assert_eq!(s.changed(), OnChange::Nothing);
        assert!(!s.take_due(false), "nothing is due before the timer fires");
        s.timer_fired();
        // A cycle is half done: its end saves.
        assert!(!s.take_due(true));
        assert_eq!(s.changed(), OnChange::SaveIfDue);
        assert!(s.take_due(false));
        s.submitted();
        // Changes while the save is with the writer wait for its answer.
        assert_eq!(s.changed(), OnChange::SetTimer);
        s.timer_fired();
        assert!(!s.take_due(false));
        s.answered();
        assert!(s.take_due(false));
        assert!(!s.take_due(false), "a due save is made once");
    }

    #[test]
    fn a_failed_save_is_retried_by_a_timer_unless_one_is_set() {
        let mut s = SaveSchedule::default();
        assert!(s.retry());
        assert!(!s.retry(), "the timer already set will save");
        s.timer_fired();
        assert!(!s.retry(), "a due save needs no timer");
    }
}
