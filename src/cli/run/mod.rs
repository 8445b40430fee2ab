//! `kaizen run`: load `engines/*.toml`, run registry rounds on a timer with
//! autoscaling; reload the specs on SIGHUP; on Ctrl-C or SIGTERM let running
//! cycles finish within a grace, kill the pipelines still running, save
//! everything and exit 0.
//!
//! Bots with a `[pipeline.training]` table run kaizen's training pipeline;
//! their training jobs share one pool (`--training-jobs`, default one per
//! core), kept visible to `kaizen status` in `state/.kaizen/training-jobs.json`.

use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::observe::{ObserveArgs, Observing, alert_config};
use super::process;
use kaizen::autoscale::{AutoscaleConfig, AutoscaleMode};
use kaizen::decision::Decision;
use kaizen::engine::{EngineBuilder, Origin};
use kaizen::host::{Clock, ProcessTreeProbe, SystemClock};
use kaizen::persist::Inspected;
use kaizen::persist::root::kaizen_dir;
use kaizen::pipeline::SharedFleet;
use kaizen::registry::{RegistryConfig, RegistryHandle, inspect_registry};
use kaizen::runtime::StateLock;
use kaizen::spec::{SpecDuration, load_dir};
use kaizen::training::{TrainingPool, jobs};
use kaizen::variants::Fleet;
use print::{print_decision, print_round};
use reload::{Factory, SpecEngines};
use signals::{Signal, Signals};

mod print;
mod reload;
mod signals;

/// Arguments of `kaizen run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Folder of engine specs, one `*.toml` per bot.
    #[arg(long, default_value = "engines", value_name = "DIR")]
    pub engines: PathBuf,
    /// Folder the engines keep their state in (one sub-folder per bot).
    #[arg(long, default_value = "state", value_name = "DIR")]
    pub state: PathBuf,
    /// Time between rounds: seconds, or "30s", "5m", "1h".
    #[arg(long, default_value = "1m", value_name = "DURATION", value_parser = duration)]
    pub period: Duration,
    /// Run one round of cycles, save, and exit.
    #[arg(long)]
    pub once: bool,
    /// Autoscaling creates engines named engine0, engine1, … as copies of this
    /// bot's spec. Without it, autoscaling only records what it would do.
    #[arg(long, value_name = "BOT")]
    pub template: Option<String>,
    /// Autoscaling never goes below this many engines.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub min_engines: usize,
    /// Autoscaling never goes above this many engines.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub max_engines: usize,
    /// Which rule autoscaling decides by: `threshold` (SPEC §8's fixed
    /// energy and ROI thresholds) or `adaptive` (against a moving baseline
    /// of the last 20 rounds, kept in `state/registry.json`).
    #[arg(long = "autoscale", default_value = "threshold", value_name = "MODE", value_parser = autoscale_mode)]
    pub autoscale_mode: AutoscaleMode,
    /// Time after an autoscale change before the next one.
    #[arg(long, default_value = "60s", value_name = "DURATION", value_parser = duration)]
    pub cooldown: Duration,
    /// Print every cycle and autoscale record as a JSON line on stdout.
    #[arg(long)]
    pub json: bool,
    /// On Ctrl-C or SIGTERM, how long running cycles may take to finish
    /// before their pipelines are killed (a second signal kills them at
    /// once). Keep it below the service manager's own stop timeout (Docker
    /// 10 s, Kubernetes 30 s, systemd 90 s).
    #[arg(long, default_value = "25s", value_name = "DURATION", value_parser = duration)]
    pub stop_timeout: Duration,
    /// Measure load (for autoscaling and the energy score) as the whole
    /// machine's CPU and memory use, not kaizen's own process tree (kaizen
    /// and its running pipelines, the default).
    #[arg(long)]
    pub machine_load: bool,
    /// Training jobs (of `[pipeline.training]` bots) that may run at once;
    /// the others wait, the most valuable first. Default: one per core.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub training_jobs: Option<u16>,
    /// History, alerts and the HTTP server.
    #[command(flatten)]
    pub observe: ObserveArgs,
}

/// `threshold` or `adaptive`.
fn autoscale_mode(text: &str) -> Result<AutoscaleMode, String> {
    match text {
        "threshold" => Ok(AutoscaleMode::Threshold),
        "adaptive" => Ok(AutoscaleMode::Adaptive),
        other => Err(format!(
            "{other:?} is not an autoscale mode: give threshold or adaptive"
        )),
    }
}

/// Seconds, or a number with a unit; at most 100 years.
pub(super) fn duration(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(secs) => SpecDuration::from_secs(secs),
        Err(_) => SpecDuration::parse(text),
    }
    .map(|d| d.0)
}

/// Runs `kaizen run`.
pub fn run(args: RunArgs) -> Result<()> {
    // Everything that can be wrong with the specs is found before anything runs.
    let specs = load_dir(&args.engines)?;
    // One process per state folder: refused at once if another holds it,
    // before anything in it is read (variants, model registries).
    let lock = StateLock::acquire(&args.state)?;
    // Pipelines an earlier kaizen left running (it was killed) go first.
    let groups = kaizen_dir(&args.state).join(GROUPS_DIR);
    for left in kaizen::process::groups::kill_leftovers(&groups) {
        if left.killed {
            eprintln!(
                "kaizen: killed the pipeline of {} ({}, process group {}) that an earlier kaizen left running",
                left.record.bot, left.record.program, left.record.pgid
            );
        }
    }
    kaizen::process::groups::record_in(Some(groups));
    // Orphans of pipelines become kaizen's, to be reaped and killed with it.
    if let Err(e) = kaizen::process::reaper::become_subreaper() {
        tracing::warn!(error = %e, "cannot become a child subreaper; orphaned pipeline processes may outlive kaizen");
    }
    let factory = Factory {
        launcher: process::launcher(),
        state: args.state.clone(),
        pool: Arc::new(match args.training_jobs {
            Some(n) => TrainingPool::new(usize::from(n)),
            None => TrainingPool::per_core(),
        }),
        clock: Arc::new(SystemClock),
        fleet: SharedFleet::open(
            Fleet::new(0.05, None)?,
            Some(args.state.join("variants-fleet.json")),
        )?,
    };
    let builders = specs
        .iter()
        .map(|spec| factory.build(spec))
        .collect::<Result<Vec<_>>>()?;
    if let Some(bot) = &args.template {
        match specs.iter().find(|s| &s.spec.bot == bot) {
            None => bail!(
                "--template {bot:?} is not a bot of {}",
                args.engines.display()
            ),
            Some(s) if s.training_config().is_some() => bail!(
                "--template {bot:?}: its engine trains models on its own data, which copies \
                 cannot share; give a command or simulated bot as the template"
            ),
            Some(_) => {}
        }
    }
    let template = args
        .template
        .as_ref()
        .and_then(|bot| builders.iter().find(|b| b.name() == bot).cloned());
    let autoscale = AutoscaleConfig {
        min_engines: args.min_engines,
        max_engines: args.max_engines,
        cooldown_secs: args.cooldown.as_secs_f64(),
        dry_run: template.is_none(),
        mode: args.autoscale_mode,
        ..AutoscaleConfig::default()
    };
    autoscale.validate()?;
    let alerts = alert_config(
        &RegistryConfig::default().alerts,
        args.observe.alerts.as_ref(),
    )?;
    let serving = Serving {
        engines: SpecEngines::new(&specs),
        factory,
        args,
    };
    let result =
        actix::System::new().block_on(serving.serve(lock, builders, template, autoscale, alerts));
    // Nothing kaizen started outlives it.
    kaizen::process::groups::kill_all();
    kaizen::process::reaper::kill_adopted();
    result
}

/// Where the pipeline group records are kept, under `state/.kaizen/`.
const GROUPS_DIR: &str = "groups";

/// A running `kaizen run`.
struct Serving {
    args: RunArgs,
    engines: SpecEngines,
    factory: Factory,
}

impl Serving {
    async fn serve(
        self,
        lock: StateLock,
        builders: Vec<EngineBuilder>,
        template: Option<EngineBuilder>,
        autoscale: AutoscaleConfig,
        alerts: kaizen::alert::AlertConfig,
    ) -> Result<()> {
        // `kaizen status` sees the training jobs through the state folder
        // (also those of training bots a reload starts).
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let mirror = actix::spawn(jobs::mirror(
            self.factory.pool.clone(),
            self.args.state.clone(),
            clock,
        ));
        let result = self
            .serve_engines(lock, builders, template, autoscale, alerts)
            .await;
        mirror.abort();
        result
    }

    async fn serve_engines(
        mut self,
        lock: StateLock,
        builders: Vec<EngineBuilder>,
        template: Option<EngineBuilder>,
        autoscale: AutoscaleConfig,
        alerts: kaizen::alert::AlertConfig,
    ) -> Result<()> {
        let args = &self.args;
        let mut registry = RegistryHandle::builder(RegistryConfig {
            state_root: Some(args.state.clone()),
            autoscale: autoscale.clone(),
            // `--once` shows every cycle's full record; on a timer a round does
            // not wait for a slow pipeline (its record comes when it ends).
            round_wait: if args.once {
                Duration::MAX
            } else {
                RegistryConfig::default().round_wait
            },
            // Running cycles may finish within the stop grace.
            shutdown_wait: args.stop_timeout,
            alerts,
            ..RegistryConfig::default()
        })
        .state_lock(lock);
        if !args.machine_load {
            match ProcessTreeProbe::new() {
                Ok(probe) => registry = registry.probe(probe),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot measure kaizen's own load; using the machine's")
                }
            }
        }
        let copy = template.map(|template| {
            let origin = Origin::Template(template.name().to_string());
            move |name: &str| {
                template
                    .clone()
                    .renamed(name)
                    .bot(name)
                    .origin(origin.clone())
            }
        });
        if let Some(copy) = copy.clone() {
            registry = registry.factory(Arc::new(move |name: &str| Ok(copy(name))));
        }
        // Engines autoscaling created in an earlier run come back as copies of
        // the template (they are not in engines/).
        let earlier = autoscaled_before(&args.state, &builders);
        let builders: Vec<EngineBuilder> = match &copy {
            Some(copy) => builders
                .into_iter()
                .chain(earlier.iter().map(|name| copy(name)))
                .collect(),
            None => {
                for name in &earlier {
                    eprintln!(
                        "kaizen: engine {name} was created by autoscaling; give --template to bring it back"
                    );
                }
                builders
            }
        };
        // From here on Ctrl-C, SIGTERM and SIGHUP are kaizen's to answer.
        let signals = (!args.once).then(Signals::new).transpose()?;
        let registry = registry.start()?;
        // The variants' events (tests, verdicts, PBT copies) go on the stream.
        self.factory.fleet.publish_to(registry.publisher());
        let observing = Observing::start(&args.observe, &args.state, &registry, &autoscale)?;
        for builder in builders {
            let name = builder.name().to_string();
            registry
                .register_engine(builder)
                .await
                .with_context(|| format!("cannot start engine {name}"))?;
        }
        if args.once {
            let mut variants = registry.subscribe();
            let records = registry.run_all_cycles().await?;
            print_round(&records, args.json)?;
            // The round's variant events follow its records.
            while let Ok(d) = variants.try_recv() {
                if matches!(d, Decision::Variant(_)) {
                    print_decision(&d, args.json)?;
                }
            }
            let saved = registry.shutdown().await.context("saving state");
            observing.stop().await;
            return saved;
        }
        let mut signals = signals.map_or_else(Signals::new, Ok)?;
        let mut decisions = registry.subscribe();
        registry.schedule(args.period, Some(autoscale)).await?;
        eprintln!(
            "kaizen: {} engine(s), a round every {}; state in {}; SIGHUP reloads {}; Ctrl-C or SIGTERM stops",
            registry.status().await?.engines.len(),
            humantime::format_duration(args.period),
            args.state.display(),
            args.engines.display(),
        );
        let json = args.json;
        let printer = actix::spawn(async move {
            loop {
                match decisions.recv().await {
                    Ok(d) => {
                        if let Err(e) = print_decision(&d, json) {
                            eprintln!("error: {e:#}");
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        eprintln!("kaizen: output fell behind; {n} records not shown");
                    }
                    Err(_) => return,
                }
            }
        });
        loop {
            match signals.next().await {
                Signal::Stop => break,
                Signal::Reload => {
                    let done = self
                        .engines
                        .reload(&self.args.engines, &registry, &self.factory)
                        .await;
                    for problem in &done.problems {
                        eprintln!("kaizen: reload: {problem}");
                    }
                    eprintln!(
                        "kaizen: reloaded {}: {}",
                        self.args.engines.display(),
                        done.summary()
                    );
                }
                Signal::Child => {
                    kaizen::process::reaper::reap_adopted();
                }
            }
        }
        let grace = self.args.stop_timeout;
        eprintln!(
            "kaizen: stopping; running cycles may finish within {} (send the signal again to stop them now), then everything is saved…",
            humantime::format_duration(grace)
        );
        let shutdown = registry.shutdown();
        tokio::pin!(shutdown);
        let result = loop {
            tokio::select! {
                result = &mut shutdown => break result,
                signal = signals.next() => if signal == Signal::Stop {
                    let n = kaizen::process::groups::kill_all();
                    eprintln!("kaizen: stopping now; {n} running pipeline(s) killed");
                },
            }
        };
        observing.stop().await;
        printer.abort();
        result.context("saving state")
    }
}

/// Engines `registry.json` lists as made by autoscaling (from a template)
/// that no spec describes.
fn autoscaled_before(state: &std::path::Path, specs: &[EngineBuilder]) -> Vec<String> {
    match inspect_registry(state) {
        Inspected::Good { value, .. } => value
            .engines
            .into_iter()
            .filter(|e| {
                matches!(e.spec.origin, Some(Origin::Template(_)))
                    && e.failed.is_none()
                    && specs.iter().all(|b| b.name() != e.name)
            })
            .map(|e| e.name)
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_accept_seconds_and_units() {
        assert_eq!(duration("2.5").unwrap(), Duration::from_millis(2500));
        assert_eq!(duration("5m").unwrap(), Duration::from_secs(300));
        assert!(duration("soon").is_err());
        assert!(duration("-1").is_err());
        assert!(duration("1e15").is_err(), "more than 100 years");
        assert!(duration("40000d").is_err(), "more than 100 years");
    }

    #[test]
    fn autoscale_modes_are_named() {
        assert_eq!(autoscale_mode("adaptive"), Ok(AutoscaleMode::Adaptive));
        assert_eq!(autoscale_mode("threshold"), Ok(AutoscaleMode::Threshold));
        let err = autoscale_mode("smart").unwrap_err();
        assert!(err.contains("threshold or adaptive"), "{err}");
    }
}
