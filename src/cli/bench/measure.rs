//! The timed part of `kaizen bench`: the registry's rounds, alternated with
//! raw actix rounds of the same shape and size and, with per-cycle saves,
//! with raw saves of the same log appends, files, bytes and flushes.

use anyhow::Result;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{BenchArgs, Learner, Mode, Part, median, rss_kib};
use kaizen::autoscale::AutoscaleConfig;
use kaizen::autoscale::AutoscaleRequest;
use kaizen::cycle::Persistence;
use kaizen::engine::EngineBuilder;
use kaizen::host::FixedProbe;
use kaizen::limits::{RawFleet, RawSaves};
use kaizen::persist::{Durability, StateWriter};
use kaizen::pipeline::{AutomationResult, pipeline_fn};
use kaizen::record::CycleAction;
use kaizen::registry::{LatencySummary, RegistryConfig, RegistryHandle};
use kaizen::runtime::Services;
use kaizen::synergy::{DqnConfig, LearnerConfig};

/// The timed rounds are run in this many stretches, each after a raw
/// stretch of as many rounds: load from other processes hits both alike,
/// and the figures reported are the stretches' medians, with their range
/// as the noise.
pub(super) const STRETCHES: usize = 5;

pub(super) struct Measured {
    pub seconds: f64,
    /// Per stretch: kaizen's ticks/s, the raw round's ticks/s before it, and
    /// their ratio.
    pub stretches: Vec<Stretch>,
    pub timed_cycles: u64,
    pub latency: LatencySummary,
    pub rss_without_engines: Option<u64>,
    pub rss_with_engines: Option<u64>,
    pub bytes: u64,
    pub flushes: u64,
    /// The raw saves' flushes per round (per-cycle saves only).
    pub raw_saves_flushes: Option<usize>,
    pub autoscale_us: f64,
    /// The history's and the server's share of the run (`--no-history`, `--server`).
    pub observed: crate::cli::observe::BenchObserved,
}

/// One stretch of timed rounds and the raw stretch before it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Stretch {
    pub ticks_per_s: f64,
    pub raw_ticks_per_s: f64,
    /// With per-cycle saves: the raw saves' cycles per second, timed just
    /// after kaizen's stretch.
    pub raw_saves_per_s: Option<f64>,
}

impl Stretch {
    pub fn ratio(&self) -> f64 {
        self.ticks_per_s / self.raw_ticks_per_s
    }

    pub fn ratio_to_raw_saves(&self) -> Option<f64> {
        Some(self.ticks_per_s / self.raw_saves_per_s?)
    }
}

/// A registry with `args.engines` no-op engines, its writer, and the RSS
/// before the engines came.
async fn start(
    args: &BenchArgs,
    state: Option<PathBuf>,
) -> Result<(RegistryHandle, StateWriter, Option<u64>)> {
    // The system clock: write-behind saves wait on the engines' clock, so
    // the window is real time here, as for a long-running host.
    let writer = StateWriter::spawn();
    let registry = RegistryHandle::builder(RegistryConfig {
        state_root: state,
        ..RegistryConfig::default()
    })
    .probe(FixedProbe::default())
    .services(Services {
        writer: writer.clone(),
        ..Services::default()
    })
    .start()?;
    // The runtime (registry, worker threads, writer) before any engine: what
    // the engines add on top of it is their own.
    let rss_without_engines = rss_kib();
    let noop = Arc::new(pipeline_fn(|_: &str, _: u32| async {
        Ok(AutomationResult::default())
    }));
    let learner = match args.learner {
        Learner::Weights => LearnerConfig::default(),
        Learner::Dqn => LearnerConfig::Dqn(DqnConfig::default()),
    };
    let persistence = match args.persistence {
        Mode::PerCycle => Persistence::PerCycle(Durability::Fsync),
        Mode::WriteBehind | Mode::None => Persistence::WriteBehind {
            window: args.window,
            durability: Durability::Fsync,
        },
    };
    for i in 0..args.engines {
        let b = EngineBuilder::with_pipeline(format!("bot{i:05}"), noop.clone())
            .learner(learner.clone())
            .persistence(persistence);
        registry.register_engine(b).await?;
    }
    Ok((registry, writer, rss_without_engines))
}

/// One registry round; how many engines ran a cycle.
async fn round(registry: &RegistryHandle) -> Result<u64> {
    let records = registry.run_all_cycles().await?;
    Ok(records
        .values()
        .filter(|r| r.action == CycleAction::Run)
        .count() as u64)
}

/// The worker arbiters a registry has by default, for the raw fleet.
fn workers() -> usize {
    RegistryConfig::default().arbiters
}

/// With per-cycle saves, the raw saves of the same shape as the warm-up's
/// (files per cycle, bytes per file), beside the state folder.
fn raw_saves(
    args: &BenchArgs,
    state: Option<&Path>,
    writer: &StateWriter,
    cycles: u64,
) -> Result<Option<(RawSaves, PathBuf)>> {
    let (Mode::PerCycle, Some(state)) = (args.persistence, state) else {
        return Ok(None);
    };
    let files = writer.stats().files();
    let per_cycle = (files as f64 / cycles.max(1) as f64).round().max(1.0) as usize;
    let bytes = (writer.stats().bytes() / files.max(1)) as usize;
    let mut root = state.as_os_str().to_owned();
    root.push(".raw-saves");
    let root = PathBuf::from(root);
    let saves = RawSaves::create(&root, args.engines, per_cycle, bytes)?;
    Ok(Some((saves, root)))
}

pub(super) async fn run(args: &BenchArgs, state: Option<PathBuf>) -> Result<Measured> {
    let (registry, writer, rss_without_engines) = start(args, state.clone()).await?;
    let observing = crate::cli::observe::BenchObserving::start(
        !args.no_history,
        args.server,
        state.as_deref(),
        &registry,
    )?;
    // Warm up to the steady state: with write-behind, until every engine has
    // saved three times (a file, its backup and its scratch file each exist,
    // so no save creates a file any more: three saves of engine.json,
    // policy.json and meta.json each), then let the writer drain: the timed
    // rounds see what a long-running host sees.
    let (warm_up, settled) = match args.persistence {
        Mode::WriteBehind => (args.window.mul_f64(3.5), 9 * args.engines as u64),
        Mode::PerCycle | Mode::None => (Duration::ZERO, 0),
    };
    let warming = Instant::now();
    let (mut rounds, mut cycles) = (0, 0);
    while rounds < 3 || warming.elapsed() < warm_up || writer.stats().files() < settled {
        cycles += round(&registry).await?;
        rounds += 1;
    }
    let mut saves = raw_saves(args, state.as_deref(), &writer, cycles)?;
    let fleet = RawFleet::start(args.engines, workers())?;
    for _ in 0..3 {
        fleet.round().await;
    }
    writer.flush().await.ok();
    registry.tick_latency(true).await?;
    let written = |w: &StateWriter| w.stats().bytes() + w.stats().logged_bytes();
    let (bytes_before, flushes_before) = (written(&writer), writer.stats().syncs());
    let mut seconds = 0.0;
    let mut stretches = Vec::new();
    let mut timed_cycles = 0;
    let scraping = observing.scrape_every(Duration::from_secs(1));
    for stretch in 0..STRETCHES {
        let rounds = args.ticks * (stretch + 1) / STRETCHES - args.ticks * stretch / STRETCHES;
        if rounds == 0 {
            continue;
        }
        let started = Instant::now();
        for _ in 0..rounds {
            fleet.round().await;
        }
        let raw = started.elapsed().as_secs_f64();
        let started = Instant::now();
        for _ in 0..rounds {
            timed_cycles += round(&registry).await?;
        }
        let own = started.elapsed().as_secs_f64();
        let ticks = (rounds * args.engines) as f64;
        let raw_saves_per_s = match &mut saves {
            Some((saves, _)) => {
                let started = Instant::now();
                for _ in 0..rounds {
                    saves.round()?;
                }
                Some(ticks / started.elapsed().as_secs_f64())
            }
            None => None,
        };
        stretches.push(Stretch {
            ticks_per_s: ticks / own,
            raw_ticks_per_s: ticks / raw,
            raw_saves_per_s,
        });
        seconds += own;
    }
    let scrapes = scraping.map(|s| s.stop());
    drop(fleet);
    let raw_saves_flushes = saves.as_ref().map(|(s, _)| s.flushes_per_round());
    if let Some((saves, root)) = saves {
        drop(saves);
        let _ = std::fs::remove_dir_all(root);
    }
    let latency = registry.tick_latency(false).await?;
    let rss_with_engines = rss_kib();
    let mut autoscale = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        registry
            .autoscale(AutoscaleRequest {
                config: Some(AutoscaleConfig {
                    dry_run: true,
                    ..AutoscaleConfig::default()
                }),
                ..AutoscaleRequest::default()
            })
            .await?;
        autoscale.push(t.elapsed().as_secs_f64() * 1e6);
    }
    registry.shutdown().await?;
    writer.flush().await.ok();
    let observed = observing.stop(scrapes).await;
    // What the timed rounds wrote, with the shutdown's saves of what they
    // changed (write-behind may not have written it yet).
    let (bytes, flushes) = (
        written(&writer) - bytes_before,
        writer.stats().syncs() - flushes_before,
    );
    Ok(Measured {
        seconds,
        stretches,
        timed_cycles,
        latency,
        rss_without_engines,
        rss_with_engines,
        bytes,
        flushes,
        raw_saves_flushes,
        autoscale_us: median(autoscale),
        observed,
    })
}

/// `--part`: three warm-up rounds, then `args.ticks` rounds of `part`, and
/// nothing reported: a child process whose instructions are counted.
pub(super) async fn part(args: &BenchArgs, part: Part, state: Option<PathBuf>) -> Result<()> {
    match part {
        Part::Kaizen => {
            let (registry, writer, _) = start(args, state).await?;
            for _ in 0..3 + args.ticks {
                round(&registry).await?;
            }
            registry.shutdown().await?;
            writer.flush().await.ok();
        }
        Part::Raw => {
            let fleet = RawFleet::start(args.engines, workers())?;
            for _ in 0..3 + args.ticks {
                fleet.round().await;
            }
        }
    }
    Ok(())
}
