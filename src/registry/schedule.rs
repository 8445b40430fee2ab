//! When the registry's timer fires next, and which ticks it drops.
//!
//! The timer aims at fixed deadlines `start + k·period`. When it fires late
//! (the machine stalled), every deadline that has already passed is dropped,
//! not replayed: the next round runs at the first deadline still in the
//! future. A tick whose deadline comes while the engines have not all
//! answered the previous round's ticks (a thread is blocked) is dropped too;
//! cycles still running do not hold up the next round.

use std::time::{Duration, Instant};

/// The deadline after a tick that fired at `now` for `deadline`, and how
/// many deadlines between them were missed (dropped).
///
/// ```
/// use kaizen::registry::next_deadline;
/// use std::time::{Duration, Instant};
/// let t0 = Instant::now();
/// let p = Duration::from_secs(10);
/// // On time: the next deadline is one period on, nothing dropped.
/// assert_eq!(next_deadline(t0, p, t0), (t0 + p, 0));
/// // 35 s late: deadlines t0+10, +20, +30 have passed; they are dropped.
/// assert_eq!(next_deadline(t0, p, t0 + Duration::from_secs(35)), (t0 + Duration::from_secs(40), 3));
/// ```
pub fn next_deadline(deadline: Instant, period: Duration, now: Instant) -> (Instant, u64) {
    let period = period.max(Duration::from_millis(1));
    let next = deadline + period;
    if next > now {
        return (next, 0);
    }
    let late = now.duration_since(next);
    let missed = (late.as_nanos() / period.as_nanos()) as u64 + 1;
    let skip = period.saturating_mul(u32::try_from(missed).unwrap_or(u32::MAX));
    (next + skip, missed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_on_a_later_deadline_moves_past_it() {
        let t0 = Instant::now();
        let p = Duration::from_secs(10);
        // Firing exactly at t0+20 for deadline t0: t0+10 and t0+20 have come.
        let (next, dropped) = next_deadline(t0, p, t0 + Duration::from_secs(20));
        assert_eq!(next, t0 + Duration::from_secs(30));
        assert_eq!(dropped, 2);
    }

    #[test]
    fn slightly_late_keeps_the_grid() {
        let t0 = Instant::now();
        let p = Duration::from_secs(10);
        let (next, dropped) = next_deadline(t0, p, t0 + Duration::from_millis(300));
        assert_eq!((next, dropped), (t0 + p, 0));
    }

    #[test]
    fn a_long_stall_never_produces_a_burst() {
        let t0 = Instant::now();
        let p = Duration::from_millis(100);
        let now = t0 + Duration::from_secs(3600);
        let (next, dropped) = next_deadline(t0, p, now);
        assert!(next > now && next <= now + p);
        assert_eq!(dropped, 36_000);
        // The following deadline is on time again.
        assert_eq!(next_deadline(next, p, next), (next + p, 0));
    }
}
