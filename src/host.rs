//! What the host gives an engine: its ledger, forecasts, diagnostics, the
//! machine's load and the time.
//!
//! Every trait here is small and synchronous: the engine calls them on its
//! message-handling thread, so an implementation must answer quickly (read a
//! cached value; do slow work elsewhere).

use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// An error reported by a host implementation.
pub type HostError = Box<dyn std::error::Error + Send + Sync>;

/// The host's ledger: the bot's current profit. Read exactly twice per cycle,
/// before and after the pipeline (SPEC §2).
pub trait ProfitSource: Send + Sync {
    /// The current cumulative profit of `bot`.
    fn profit(&self, bot: &str) -> Result<f64, HostError>;
}

/// A pre-cycle ROI forecast. Above the engine's `pre_roi_bias` it forces a
/// cycle (reason `"forecast"`), and it scales the energy (E2 of the chain).
pub trait RoiForecast: Send + Sync {
    /// The forecast for `bot`, or `None` when there is none now.
    fn forecast(&self, bot: &str) -> Option<f64>;
}

/// Diagnostics: a non-empty report forces a cycle (reason `"diagnostics"`).
pub trait Diagnostics: Send + Sync {
    /// What is wrong with `bot` now; empty when nothing is.
    fn report(&self, bot: &str) -> Vec<String>;
}

/// The host's admission to its job queue: whether `bot` may start a cycle
/// now. Asked once per timer tick, after the engine's paused and busy checks
/// and before anything else (its energy score, its decision), so a host that
/// shares scarce slots fairly can count who asks; a refusal skips the tick as
/// `"no_slot"` (the energy score is still read, and recorded). A cycle asked
/// for directly (`RunCycle`) does not ask.
pub trait Admission: Send + Sync {
    /// Whether `bot` may start a cycle now.
    fn admit(&self, bot: &str) -> bool;
}

/// The machine's load, each in [0, 1].
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    /// Share of CPU in use.
    pub cpu: f64,
    /// Share of memory in use.
    pub memory: f64,
}

impl Resources {
    /// `max(cpu, memory)`: the `load` input of the energy score.
    pub fn load(&self) -> f64 {
        self.cpu.max(self.memory)
    }
}

/// Samples the machine's CPU and memory use.
pub trait ResourceProbe: Send {
    /// The current use. Never fails: a probe that cannot read reports its last value.
    fn sample(&mut self) -> Resources;
}

/// The real machine, read with `sysinfo`.
///
/// CPU use is the change between two refreshes at least
/// [`sysinfo::MINIMUM_CPU_UPDATE_INTERVAL`] apart. [`SysinfoProbe::new`] takes
/// the first reading and waits out that interval once (about 200 ms on Linux)
/// so the very first sample is real; later samples refresh only when the
/// interval has passed since the last refresh and otherwise return the last
/// reading, so calling it often costs nothing.
pub struct SysinfoProbe {
    system: sysinfo::System,
    refreshed: Instant,
    last: Resources,
}

impl SysinfoProbe {
    /// Opens the probe (blocks for one CPU measurement interval).
    pub fn new() -> Result<Self, HostError> {
        let mut system =
            sysinfo::System::new().map_err(|e| format!("cannot read system information: {e}"))?;
        system.refresh_cpu_usage();
        std::thread::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL);
        let mut probe = SysinfoProbe {
            system,
            refreshed: Instant::now(),
            last: Resources::default(),
        };
        probe.refresh();
        Ok(probe)
    }

    fn refresh(&mut self) {
        self.system.refresh_cpu_usage();
        self.system.refresh_memory();
        self.refreshed = Instant::now();
        let cpu = f64::from(self.system.global_cpu_usage()) / 100.0;
        let total = self.system.total_memory();
        let memory = if total == 0 {
            self.last.memory
        } else {
            self.system.used_memory() as f64 / total as f64
        };
        self.last = Resources {
            cpu: if cpu.is_finite() {
                cpu.clamp(0.0, 1.0)
            } else {
                self.last.cpu
            },
            memory: memory.clamp(0.0, 1.0),
        };
    }
}

impl ResourceProbe for SysinfoProbe {
    fn sample(&mut self) -> Resources {
        if self.refreshed.elapsed() >= sysinfo::MINIMUM_CPU_UPDATE_INTERVAL {
            self.refresh();
        }
        self.last
    }
}

/// The share of the machine that one process and its descendants use: by
/// default, what `kaizen run` measures its load as (kaizen and the pipelines
/// it runs), so other work on a shared machine neither blocks creating
/// engines nor removes them. CPU is the tree's CPU time over the interval
/// between refreshes divided by the machine's CPUs; memory is the tree's
/// resident memory over the machine's. Refreshed like [`SysinfoProbe`].
pub struct ProcessTreeProbe {
    system: sysinfo::System,
    root: sysinfo::Pid,
    cpus: f64,
    refreshed: Instant,
    last: Resources,
}

/// One process as [`tree_share`] sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProcessUse {
    /// Its id.
    pub pid: u32,
    /// Its parent's id, if any.
    pub parent: Option<u32>,
    /// CPU use in percent of one CPU (as `top` shows it).
    pub cpu_percent: f64,
    /// Resident memory in bytes.
    pub memory: u64,
}

/// The share of a machine with `cpus` CPUs and `total_memory` bytes that
/// `root` and its descendants among `processes` use, each in [0, 1].
///
/// ```
/// use kaizen::host::{ProcessUse, tree_share};
/// let p = |pid, parent, cpu_percent, memory| ProcessUse { pid, parent, cpu_percent, memory };
/// // kaizen (10) runs a pipeline (11) using one CPU; 20 is someone else's.
/// let all = [p(1, None, 0.0, 0), p(10, Some(1), 50.0, 100), p(11, Some(10), 100.0, 300), p(20, Some(1), 400.0, 600)];
/// let share = tree_share(&all, 10, 4.0, 1000);
/// assert_eq!((share.cpu, share.memory), (0.375, 0.4));
/// ```
pub fn tree_share(processes: &[ProcessUse], root: u32, cpus: f64, total_memory: u64) -> Resources {
    let mut tree = vec![root];
    let mut next = 0;
    while let Some(&parent) = tree.get(next) {
        tree.extend(
            processes
                .iter()
                .filter(|p| p.parent == Some(parent) && p.pid != root)
                .map(|p| p.pid),
        );
        next += 1;
    }
    let (mut cpu, mut memory) = (0.0, 0u64);
    for p in processes.iter().filter(|p| tree.contains(&p.pid)) {
        cpu += p.cpu_percent;
        memory = memory.saturating_add(p.memory);
    }
    let share = |v: f64| {
        if v.is_finite() {
            v.clamp(0.0, 1.0)
        } else {
            0.0
        }
    };
    Resources {
        cpu: share(cpu / 100.0 / cpus.max(1.0)),
        memory: if total_memory == 0 {
            0.0
        } else {
            share(memory as f64 / total_memory as f64)
        },
    }
}

impl ProcessTreeProbe {
    /// A probe of this process's tree (blocks for one CPU measurement
    /// interval, as [`SysinfoProbe::new`] does).
    pub fn new() -> Result<Self, HostError> {
        let system =
            sysinfo::System::new().map_err(|e| format!("cannot read system information: {e}"))?;
        let cpus = std::thread::available_parallelism().map_or(1, usize::from) as f64;
        let mut probe = ProcessTreeProbe {
            system,
            root: sysinfo::Pid::from_u32(std::process::id()),
            cpus,
            refreshed: Instant::now(),
            last: Resources::default(),
        };
        probe.refresh();
        std::thread::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL);
        probe.refresh();
        Ok(probe)
    }

    fn refresh(&mut self) {
        use sysinfo::{ProcessRefreshKind, ProcessesToUpdate};
        self.system.refresh_processes_specifics(
            ProcessesToUpdate::All,
            true,
            ProcessRefreshKind::nothing().with_cpu().with_memory(),
        );
        self.system.refresh_memory();
        self.refreshed = Instant::now();
        let processes: Vec<ProcessUse> = self
            .system
            .processes()
            .iter()
            .map(|(pid, p)| ProcessUse {
                pid: pid.as_u32(),
                parent: p.parent().map(sysinfo::Pid::as_u32),
                cpu_percent: f64::from(p.cpu_usage()),
                memory: p.memory(),
            })
            .collect();
        self.last = tree_share(
            &processes,
            self.root.as_u32(),
            self.cpus,
            self.system.total_memory(),
        );
    }
}

impl ResourceProbe for ProcessTreeProbe {
    fn sample(&mut self) -> Resources {
        if self.refreshed.elapsed() >= sysinfo::MINIMUM_CPU_UPDATE_INTERVAL {
            self.refresh();
        }
        self.last
    }
}

/// A probe that reports what it is told: for tests and simulations.
/// Clones share the value, so a test can change the load the registry sees.
#[derive(Clone, Debug, Default)]
pub struct FixedProbe(Arc<Mutex<Resources>>);

impl FixedProbe {
    /// A probe reporting `resources` until [`FixedProbe::set`] says otherwise.
    pub fn new(resources: Resources) -> Self {
        FixedProbe(Arc::new(Mutex::new(resources)))
    }

    /// Changes what every clone of this probe reports.
    pub fn set(&self, resources: Resources) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = resources;
    }
}

impl ResourceProbe for FixedProbe {
    fn sample(&mut self) -> Resources {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A wait on a [`Clock`]: resolves once the clock reads the time asked for.
pub type ClockSleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The time, in seconds. Engines and the registry never read the system clock
/// themselves, and their timers (write-behind saves, the registry's schedule
/// and its `registry.json` delay) wait on the clock they are given: tests and
/// simulations hand them a [`ManualClock`] and move time by hand.
pub trait Clock: Send + Sync {
    /// Now, in seconds since the Unix epoch (or any fixed origin).
    fn now(&self) -> f64;

    /// Resolves once [`now`](Self::now) reads `at` or later. The default
    /// waits on the runtime's real timer for the time left, which is right
    /// for a clock that follows real time; a clock moved by hand overrides it.
    fn sleep_until(&self, at: f64) -> ClockSleep {
        let left = at - self.now();
        let wait = Duration::try_from_secs_f64(left.max(0.0)).unwrap_or(Duration::MAX);
        Box::pin(async move {
            if !wait.is_zero() {
                tokio::time::sleep(wait.min(MAX_SLEEP)).await;
            }
        })
    }
}

/// The longest one real-time wait of [`Clock::sleep_until`] (a year): far
/// beyond any timer kaizen sets, and safe for tokio's timer.
const MAX_SLEEP: Duration = Duration::from_secs(365 * 24 * 3600);

/// The system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> f64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_secs_f64()
    }
}

/// A clock that moves only when told to. Clones share the time, and a wait
/// on it ([`Clock::sleep_until`]) ends when [`set`](Self::set) or
/// [`advance`](Self::advance) moves the time to it: no real time passes.
#[derive(Clone, Debug, Default)]
pub struct ManualClock(Arc<ManualTime>);

#[derive(Debug, Default)]
struct ManualTime {
    now: AtomicU64,
    /// Who waits for which time.
    waiting: Mutex<Vec<(f64, tokio::sync::oneshot::Sender<()>)>>,
}

impl ManualClock {
    /// A clock showing `start` seconds.
    pub fn new(start: f64) -> Self {
        let clock = ManualClock::default();
        clock.0.now.store(start.to_bits(), Ordering::SeqCst);
        clock
    }

    /// Sets the time, and ends every wait for a time now reached.
    pub fn set(&self, now: f64) {
        self.0.now.store(now.to_bits(), Ordering::SeqCst);
        let mut waiting = self.0.waiting.lock().unwrap_or_else(|p| p.into_inner());
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut *waiting)
            .into_iter()
            .partition(|(at, _)| *at <= now);
        *waiting = later;
        drop(waiting);
        for (_, waiter) in due {
            let _ = waiter.send(());
        }
    }

    /// Moves the time forward by `secs`.
    pub fn advance(&self, secs: f64) {
        self.set(self.now() + secs);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> f64 {
        f64::from_bits(self.0.now.load(Ordering::SeqCst))
    }

    fn sleep_until(&self, at: f64) -> ClockSleep {
        let mut waiting = self.0.waiting.lock().unwrap_or_else(|p| p.into_inner());
        // Checked under the lock, so a `set` cannot slip in between.
        if self.now() >= at {
            return Box::pin(std::future::ready(()));
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        waiting.push((at, tx));
        Box::pin(async move {
            let _ = rx.await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 9 item 15: load is kaizen's own process tree, not the machine.
    #[test]
    fn load_counts_only_kaizens_process_tree() {
        let p = |pid, parent, cpu_percent, memory| ProcessUse {
            pid,
            parent,
            cpu_percent,
            memory,
        };
        let busy_machine = [
            p(1, None, 0.0, 0),
            p(10, Some(1), 10.0, 100),
            p(11, Some(10), 30.0, 100),
            p(12, Some(11), 60.0, 100),
            p(20, Some(1), 700.0, 5000),
            p(21, Some(20), 100.0, 1000),
        ];
        let share = tree_share(&busy_machine, 10, 8.0, 10_000);
        assert_eq!(
            share,
            Resources {
                cpu: 0.125,
                memory: 0.03
            }
        );
        // A pipeline's grandchild counts; a process that is not ours does not.
        let alone = tree_share(&busy_machine[..2], 10, 8.0, 10_000);
        assert_eq!(
            alone,
            Resources {
                cpu: 0.0125,
                memory: 0.01
            }
        );
        // Bounded and finite whatever the figures.
        let wild = tree_share(&[p(10, None, f64::INFINITY, u64::MAX)], 10, 0.0, 1);
        assert_eq!(
            wild,
            Resources {
                cpu: 0.0,
                memory: 1.0
            }
        );
    }

    #[test]
    fn the_process_tree_probe_reads_this_process() {
        let mut probe = ProcessTreeProbe::new().unwrap();
        let r = probe.sample();
        assert!(r.memory > 0.0 && r.memory <= 1.0, "{r:?}");
        assert!((0.0..=1.0).contains(&r.cpu), "{r:?}");
    }

    #[test]
    fn manual_clock_clones_share_time() {
        let c = ManualClock::new(10.0);
        let d = c.clone();
        c.advance(2.5);
        assert_eq!(d.now(), 12.5);
        d.set(3.0);
        assert_eq!(c.now(), 3.0);
    }

    #[tokio::test]
    async fn a_wait_on_a_manual_clock_ends_when_its_time_is_set() {
        let c = ManualClock::new(0.0);
        let early = c.sleep_until(5.0);
        let late = c.sleep_until(10.0);
        let mut now = std::pin::pin!(c.sleep_until(-1.0));
        assert!(
            futures_util::poll!(now.as_mut()).is_ready(),
            "a time passed is not waited for"
        );
        let (mut early, mut late) = (std::pin::pin!(early), std::pin::pin!(late));
        assert!(futures_util::poll!(early.as_mut()).is_pending());
        c.advance(4.0);
        assert!(futures_util::poll!(early.as_mut()).is_pending());
        c.advance(1.0);
        assert!(futures_util::poll!(early.as_mut()).is_ready());
        assert!(futures_util::poll!(late.as_mut()).is_pending());
        c.set(10.0);
        assert!(futures_util::poll!(late.as_mut()).is_ready());
    }

    #[test]
    fn fixed_probe_clones_share_the_value() {
        let p = FixedProbe::new(Resources {
            cpu: 0.2,
            memory: 0.5,
        });
        let mut q = p.clone();
        assert_eq!(q.sample().load(), 0.5);
        p.set(Resources {
            cpu: 0.95,
            memory: 0.1,
        });
        assert_eq!(q.sample().cpu, 0.95);
        assert_eq!(q.sample().load(), 0.95);
    }

    #[test]
    fn sysinfo_probe_reports_shares_in_the_unit_interval() {
        let mut p = SysinfoProbe::new().unwrap();
        let r = p.sample();
        assert!((0.0..=1.0).contains(&r.cpu), "{r:?}");
        assert!(r.memory > 0.0 && r.memory <= 1.0, "{r:?}");
        // A second sample right away is the cached reading.
        assert_eq!(p.sample(), r);
    }

    #[test]
    fn system_clock_is_after_2020() {
        assert!(SystemClock.now() > 1.577e9);
    }
}
