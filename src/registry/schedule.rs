//! The registry's timer: when it fires next, which ticks it drops, and the
//! timer itself (waiting on the registry's clock).
//!
//! The timer aims at fixed deadlines `start + k·period` on the registry's
//! clock. When it fires late (the machine stalled), every deadline that has
//! already passed is dropped, not replayed: the next round runs at the first
//! deadline still in the future. A tick whose deadline comes while the
//! engines have not all answered the previous round's ticks (a thread is
//! blocked) is dropped too; cycles still running do not hold up the next
//! round. Times are the clock's seconds.

use actix::prelude::*;
use std::time::Duration;

use super::{AutoscaleRequest, ImprovementEngineRegistry};

/// The deadline after a tick that fired at `now` for `deadline`, and how
/// many deadlines between them were missed (dropped); all in the clock's
/// seconds.
///
/// ```
/// use kaizen::registry::next_deadline;
/// use std::time::Duration;
/// let t0 = 1000.0;
/// let p = Duration::from_secs(10);
/// // On time: the next deadline is one period on, nothing dropped.
/// assert_eq!(next_deadline(t0, p, t0), (t0 + 10.0, 0));
/// // 35 s late: deadlines t0+10, +20, +30 have passed; they are dropped.
/// assert_eq!(next_deadline(t0, p, t0 + 35.0), (t0 + 40.0, 3));
/// ```
pub fn next_deadline(deadline: f64, period: Duration, now: f64) -> (f64, u64) {
    let period = period.max(Duration::from_millis(1));
    let next = deadline + period.as_secs_f64();
    if next > now {
        return (next, 0);
    }
    // Counted in whole nanoseconds, as a duration, so float noise in the
    // clock's seconds cannot add or lose a tick.
    let late = Duration::try_from_secs_f64(now - next).unwrap_or(Duration::MAX);
    let missed = u64::try_from(late.as_nanos() / period.as_nanos()).unwrap_or(u64::MAX - 1) + 1;
    (next + missed as f64 * period.as_secs_f64(), missed)
}

impl ImprovementEngineRegistry {
    /// Waits on the registry's clock for `at`, then runs the timer's round.
    pub(super) fn wake_at(&mut self, at: f64, ctx: &mut Context<Self>) -> SpawnHandle {
        ctx.spawn(
            self.clock
                .sleep_until(at)
                .into_actor(self)
                .map(|(), act, ctx| act.on_timer(ctx)),
        )
    }

    fn schedule_timer(&mut self, ctx: &mut Context<Self>) {
        let Some(timer) = &self.timer else { return };
        let handle = self.wake_at(timer.deadline, ctx);
        if let Some(timer) = &mut self.timer {
            timer.handle = handle;
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<Self>) {
        let now = self.now();
        let Some(timer) = &mut self.timer else { return };
        let (deadline, missed) = next_deadline(timer.deadline, timer.period, now);
        timer.deadline = deadline;
        let autoscale = timer.autoscale.clone();
        if missed > 0 {
            self.dropped_ticks += missed;
            tracing::warn!(missed, "timer ran late; missed ticks dropped");
        }
        if self.round_running {
            self.dropped_ticks += 1;
            tracing::warn!("engines have not all answered the previous round; tick dropped");
        } else {
            self.round_running = true;
            let round = self.round(None);
            ctx.spawn(
                round
                    .into_actor(self)
                    .then(move |round, act, _| {
                        // Every engine has answered: the next tick may start a
                        // round while this one waits for the cycles it started.
                        act.round_running = false;
                        round.settle(act.round_cut_off()).into_actor(act)
                    })
                    .then(move |answers, act, ctx| {
                        act.collect_round(answers, ctx);
                        let scale = autoscale.map(|config| {
                            act.autoscale_step(
                                AutoscaleRequest {
                                    config: Some(config),
                                    ..AutoscaleRequest::default()
                                },
                                ctx,
                            )
                        });
                        async move {
                            if let Some(step) = scale {
                                let _ = step.await;
                            }
                        }
                        .into_actor(act)
                    }),
            );
        }
        self.schedule_timer(ctx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_on_a_later_deadline_moves_past_it() {
        let t0 = 500.0;
        let p = Duration::from_secs(10);
        // Firing exactly at t0+20 for deadline t0: t0+10 and t0+20 have come.
        let (next, dropped) = next_deadline(t0, p, t0 + 20.0);
        assert_eq!(next, t0 + 30.0);
        assert_eq!(dropped, 2);
    }

    #[test]
    fn slightly_late_keeps_the_grid() {
        let t0 = 500.0;
        let p = Duration::from_secs(10);
        let (next, dropped) = next_deadline(t0, p, t0 + 0.3);
        assert_eq!((next, dropped), (t0 + 10.0, 0));
    }

    #[test]
    fn a_long_stall_never_produces_a_burst() {
        let t0 = 0.0;
        let p = Duration::from_millis(100);
        let now = t0 + 3600.0;
        let (next, dropped) = next_deadline(t0, p, now);
        assert!(next > now && next <= now + 0.1);
        assert_eq!(dropped, 36_000);
        // The following deadline is on time again.
        assert_eq!(next_deadline(next, p, next), (next + 0.1, 0));
    }
}
