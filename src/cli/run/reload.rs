//! The engines `engines/*.toml` describes, and reloading them on `SIGHUP`.
//!
//! A reload reads every spec again, each on its own: a new spec starts an
//! engine, a spec that is gone stops its engine (saved first), a changed
//! spec rebuilds its engine from its saved state, and a spec with a mistake
//! is reported while its running engine is left as it was. Engines made by
//! autoscaling are not touched. A changed `[pipeline.training]` bot's engine
//! holds its model registry's writer lock, which the rebuilt one needs: it
//! saves and stops first, and the new engine is built once the lock is free
//! (waiting [`LOCK_RELEASE_WAIT`] at most); if the new one cannot be built,
//! the old spec's engine starts again from the same saved state.

use anyhow::{Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kaizen::engine::EngineBuilder;
use kaizen::host::Clock;
use kaizen::models::ModelRegistry;
use kaizen::pipeline::SharedFleet;
use kaizen::registry::RegistryHandle;
use kaizen::spec::{LoadedSpec, load_each};
use kaizen::training::TrainingPool;

/// What building an engine from a spec needs: the launcher command
/// pipelines start through (see
/// [`CommandPipeline::launcher`](kaizen::pipeline::CommandPipeline::launcher)),
/// and for `[pipeline.training]` bots the state folder (their model
/// registries live there) and the training pool their jobs share, and the
/// fleet-wide rule that judges every bot's variant tests.
pub(super) struct Factory {
    pub launcher: Vec<OsString>,
    pub state: PathBuf,
    pub pool: Arc<TrainingPool>,
    pub clock: Arc<dyn Clock>,
    /// One false-discovery-rate rule for every bot's variant tests.
    pub fleet: Arc<SharedFleet>,
}

impl Factory {
    /// Builds the engine a spec describes: a simulated bot, a training bot,
    /// or its command. A training bot opens its model registry (taking its
    /// writer lock) and a variants bot reads its files, so call this only
    /// once the state folder is ours.
    pub fn build(&self, spec: &LoadedSpec) -> Result<EngineBuilder> {
        if let Some(trains) = spec.training_builder_in(
            &self.state,
            self.pool.clone(),
            self.clock.clone(),
            Some(self.fleet.clone()),
        )? {
            return Ok(trains);
        }
        if let Some(simulated) = kaizen::sim::spec_pipeline(spec)? {
            return Ok(spec.builder_with(simulated));
        }
        let pipeline = spec.command_pipeline()?.launcher(self.launcher.clone());
        Ok(spec.builder_in(pipeline, Some(&self.state), Some(self.fleet.clone()))?)
    }
}

/// How long a reload waits for a stopped training engine's model registry
/// lock to be released (the engine's thread drops it just after its last
/// save) before it reports the rebuild as failed.
pub(super) const LOCK_RELEASE_WAIT: Duration = Duration::from_secs(5);

/// The engines running from spec files: bot → its spec.
#[derive(Debug, Default)]
pub(super) struct SpecEngines {
    running: BTreeMap<String, LoadedSpec>,
}

/// What one reload did, for the operator.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Reloaded {
    pub started: Vec<String>,
    pub rebuilt: Vec<String>,
    pub stopped: Vec<String>,
    /// A problem per spec file (or engine) that was left as it was.
    pub problems: Vec<String>,
}

impl Reloaded {
    /// One line: `started beta; rebuilt gamma; stopped alpha`.
    pub fn summary(&self) -> String {
        let parts: Vec<String> = [
            ("started", &self.started),
            ("rebuilt", &self.rebuilt),
            ("stopped", &self.stopped),
        ]
        .into_iter()
        .filter(|(_, names)| !names.is_empty())
        .map(|(what, names)| format!("{what} {}", names.join(", ")))
        .collect();
        if parts.is_empty() {
            "nothing changed".into()
        } else {
            parts.join("; ")
        }
    }
}

impl SpecEngines {
    /// The specs `kaizen run` started with.
    pub fn new(specs: &[LoadedSpec]) -> Self {
        SpecEngines {
            running: specs
                .iter()
                .map(|s| (s.spec.bot.clone(), s.clone()))
                .collect(),
        }
    }

    /// Reads `dir` again and brings the registry in line with it.
    pub async fn reload(
        &mut self,
        dir: &Path,
        registry: &RegistryHandle,
        factory: &Factory,
    ) -> Reloaded {
        let mut done = Reloaded::default();
        let (specs, errors) = match load_each(dir) {
            Ok(found) => found,
            Err(e) => {
                done.problems
                    .push(format!("{e}; every engine left as it was"));
                return done;
            }
        };
        let broken: BTreeSet<PathBuf> = errors.iter().map(|e| e.file.clone()).collect();
        done.problems.extend(errors.iter().map(|e| e.to_string()));
        let described: BTreeSet<&str> = specs.iter().map(|s| s.spec.bot.as_str()).collect();
        // Gone: no good spec describes the bot, and its file is not broken.
        let gone: Vec<String> = self
            .running
            .iter()
            .filter(|(bot, s)| !described.contains(bot.as_str()) && !broken.contains(&s.file))
            .map(|(bot, _)| bot.clone())
            .collect();
        for bot in gone {
            match registry.unregister_engine(&bot).await {
                Ok(_) => {
                    self.running.remove(&bot);
                    done.stopped.push(bot);
                }
                Err(e) => done.problems.push(format!("cannot stop engine {bot}: {e}")),
            }
        }
        for spec in &specs {
            let bot = &spec.spec.bot;
            let known = self.running.get(bot);
            if known.is_some_and(|s| s.file == spec.file && s.spec == spec.spec) {
                continue;
            }
            // Its running engine holds the model registry's writer lock.
            if let Some(old) = known.filter(|s| s.training_config().is_some()).cloned() {
                match rebuild_trainer(&old, spec, registry, factory).await {
                    Ok(()) => {
                        done.rebuilt.push(bot.clone());
                        self.running.insert(bot.clone(), spec.clone());
                    }
                    Err((problem, still_running)) => {
                        done.problems.push(problem);
                        if !still_running {
                            self.running.remove(bot);
                        }
                    }
                }
                continue;
            }
            let builder = match factory
                .build(spec)
                .with_context(|| format!("{} left as it was", spec.file.display()))
            {
                Ok(b) => b,
                Err(e) => {
                    done.problems.push(format!("{e:#}"));
                    continue;
                }
            };
            let (result, list) = match known {
                Some(_) => (registry.replace_engine(builder).await, &mut done.rebuilt),
                None => (registry.register_engine(builder).await, &mut done.started),
            };
            match result {
                Ok(()) => {
                    list.push(bot.clone());
                    self.running.insert(bot.clone(), spec.clone());
                }
                Err(e) => done.problems.push(format!("engine {bot}: {e}")),
            }
        }
        done
    }
}

/// Rebuilds the engine of `old`, a bot that trains models, from `spec`: the
/// running engine saves and stops (releasing its model registry), then the
/// new one is built and started from the saved state. If the new one cannot
/// be built, `old`'s engine starts again. On failure: the problem, and
/// whether an engine of the bot runs.
async fn rebuild_trainer(
    old: &LoadedSpec,
    spec: &LoadedSpec,
    registry: &RegistryHandle,
    factory: &Factory,
) -> std::result::Result<(), (String, bool)> {
    let bot = &spec.spec.bot;
    registry.retire_engine(bot).await.map_err(|e| {
        (
            format!("cannot stop engine {bot}: {e}; left as it was"),
            true,
        )
    })?;
    let problem = match build_when_released(factory, spec).await {
        Ok(builder) => match registry.register_engine(builder).await {
            Ok(()) => return Ok(()),
            Err(e) => format!("engine {bot}: {e}"),
        },
        Err(e) => format!("{}: {e:#}", spec.file.display()),
    };
    // Back to the engine it had, from the state it just saved.
    match build_when_released(factory, old).await {
        Ok(builder) => match registry.register_engine(builder).await {
            Ok(()) => Err((format!("{problem}; its engine left as it was"), true)),
            Err(e) => Err((format!("{problem}; engine {bot} stopped: {e}"), false)),
        },
        Err(e) => Err((format!("{problem}; engine {bot} stopped: {e:#}"), false)),
    }
}

/// Builds `spec`'s engine once a stopped training engine's thread has let
/// go of the bot's model registry (waiting [`LOCK_RELEASE_WAIT`] at most;
/// after that the build reports the registry as locked).
async fn build_when_released(factory: &Factory, spec: &LoadedSpec) -> Result<EngineBuilder> {
    if spec.training_config().is_some() {
        let bot_dir = factory.state.join(&spec.spec.bot);
        let deadline = Instant::now() + LOCK_RELEASE_WAIT;
        while ModelRegistry::is_held(&bot_dir)? && Instant::now() < deadline {
            actix::clock::sleep(Duration::from_millis(10)).await;
        }
    }
    factory.build(spec)
}
