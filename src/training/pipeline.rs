//! [`TrainingPipeline`]: the continuous-learning loop as a [`Pipeline`] an
//! engine runs.
//!
//! `run(bot, energy)` reads the new rows (on a blocking thread: file reads
//! and model scoring are not for the engine's message thread); when a
//! training cycle is due it waits for a slot of the shared [`TrainingPool`]
//! — with the cycle's energy as its priority, the engine's measure of what
//! the cycle is worth — and trains on a blocking thread too. The result is
//! the cycle's [`CycleReport`] as an [`AutomationResult`]: its ROI is the
//! value of the improvement, its metrics the loss, improvement, p-value,
//! deployment, bad rows and alerts (see [`CycleReport::to_result`]).
//!
//! A failure of the cycle as a whole (unreadable data, a registry that
//! refuses a write) is a [`PipelineError::Failed`] naming it; the engine
//! records a failed cycle and the learner goes on with the next one.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::{
    ContinuousLearner, CycleReport, ModelAction, TrainingConfig, TrainingError, TrainingPool,
    TrainingStatus,
};
use crate::host::Clock;
use crate::models::{AliasMove, Catalog, ModelsError};
use crate::pipeline::{AutomationResult, Pipeline, PipelineError, PipelineFuture, VariantRunner};
use crate::variants::{Assignment, ModelCopy};

/// A bot's training pipeline. Cheap to clone; clones share the learner.
#[derive(Clone)]
pub struct TrainingPipeline {
    bot: String,
    learner: Arc<Mutex<ContinuousLearner>>,
    pool: Arc<TrainingPool>,
    clock: Arc<dyn Clock>,
    last: Arc<Mutex<Option<CycleReport>>>,
    /// The learner's status after its last phase, so that status never
    /// waits for a cycle under way.
    status: Arc<Mutex<TrainingStatus>>,
}

impl std::fmt::Debug for TrainingPipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainingPipeline")
            .field("bot", &self.bot)
            .field("pool", &self.pool)
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic inside a cycle is reported as a failed cycle; the learner's
    // files are consistent (each phase saves at its end), so go on.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl TrainingPipeline {
    /// The pipeline of `bot` (state folder `bot_dir`) with `config`, sharing `pool`.
    ///
    /// ```
    /// use kaizen::host::ManualClock;
    /// use kaizen::pipeline::Pipeline;
    /// use kaizen::training::{Task, TrainingConfig, TrainingPipeline, TrainingPool};
    /// use std::sync::Arc;
    /// let dir = tempfile::tempdir().unwrap();
    /// std::fs::write(dir.path().join("d.csv"), "x,target\n1,2\n").unwrap();
    /// let config = TrainingConfig::new(dir.path().join("d.csv"), Task::Regression);
    /// let pool = Arc::new(TrainingPool::new(1));
    /// let clock = Arc::new(ManualClock::new(0.0));
    /// let p = TrainingPipeline::open("bot", &dir.path().join("bot"), config, pool, clock).unwrap();
    /// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// let result = rt.block_on(p.run("bot", 5)).unwrap();
    /// assert_eq!(result.metrics["rows"], 1.0);
    /// assert_eq!(result.metrics["trained"], 0.0); // 1 of 100 samples buffered
    /// ```
    pub fn open(
        bot: &str,
        bot_dir: &Path,
        config: TrainingConfig,
        pool: Arc<TrainingPool>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, TrainingError> {
        let learner = ContinuousLearner::open(bot, bot_dir, config, clock.now())?;
        Ok(Self::new(bot, learner, pool, clock))
    }

    /// A pipeline around a learner opened by the caller.
    pub fn new(
        bot: &str,
        learner: ContinuousLearner,
        pool: Arc<TrainingPool>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        TrainingPipeline {
            bot: bot.to_string(),
            status: Arc::new(Mutex::new(learner.status())),
            learner: Arc::new(Mutex::new(learner)),
            pool,
            clock,
            last: Arc::new(Mutex::new(None)),
        }
    }

    /// The bot this pipeline trains.
    pub fn bot(&self) -> &str {
        &self.bot
    }

    /// The report of the last cycle that finished, for status.
    pub fn last_report(&self) -> Option<CycleReport> {
        lock(&self.last).clone()
    }

    /// The training status as of the last phase of a cycle (never waits for
    /// one under way), with the bot's job in the pool now.
    pub fn status(&self) -> TrainingStatus {
        let mut s = lock(&self.status).clone();
        s.job = self.pool.status().into_iter().find(|j| j.bot == self.bot);
        s
    }

    /// Carries out an operator's `action` on the bot's model registry, with
    /// `reason`; waits for a cycle under way to finish (call it off an async
    /// thread). The next cycle serves the new champion.
    pub fn change_model(
        &self,
        action: ModelAction,
        reason: &str,
    ) -> Result<AliasMove, ModelsError> {
        let mut learner = lock(&self.learner);
        let moved = learner.change_model(action, reason, self.clock.now());
        *lock(&self.status) = learner.status();
        moved
    }

    /// Runs `f` on the learner (waits for a cycle under way).
    pub fn with_learner<R>(&self, f: impl FnOnce(&ContinuousLearner) -> R) -> R {
        f(&lock(&self.learner))
    }

    /// The shared pool.
    pub fn pool(&self) -> &Arc<TrainingPool> {
        &self.pool
    }
}

impl TrainingPipeline {
    /// Runs a phase `f` of a cycle on the learner, given the clock's time, on
    /// a blocking thread; then refreshes the status.
    async fn phase<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut ContinuousLearner, f64) -> T + Send + 'static,
    ) -> Result<T, PipelineError> {
        let this = self.clone();
        blocking(move || {
            let mut l = lock(&this.learner);
            let out = f(&mut l, this.clock.now());
            *lock(&this.status) = l.status();
            out
        })
        .await
    }
}

fn failed(e: TrainingError) -> PipelineError {
    PipelineError::Failed(e.to_string())
}

/// Runs `f` on a blocking thread; a panic becomes [`PipelineError::Panicked`].
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, PipelineError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| match e.try_into_panic() {
            Ok(payload) => PipelineError::Panicked(crate::pipeline::panic_message(&*payload)),
            Err(e) => PipelineError::Failed(format!("training task did not finish: {e}")),
        })
}

impl Pipeline for TrainingPipeline {
    fn run(&self, bot: &str, energy: u32) -> PipelineFuture {
        self.run_with(bot, energy, None, None)
    }
}

impl TrainingPipeline {
    /// [`Pipeline::run`], training with `hyperparameters` (a variant's
    /// configuration, see [`ContinuousLearner::use_hyperparameters`]) when
    /// a training cycle is due, after taking `copy` (population-based
    /// training, [`ContinuousLearner::adopt`]) once the cycle's rows are read.
    pub fn run_with(
        &self,
        bot: &str,
        energy: u32,
        hyperparameters: Option<TrainingConfig>,
        copy: Option<ModelCopy>,
    ) -> PipelineFuture {
        let this = self.clone();
        let asked = bot.to_string();
        Box::pin(async move {
            if asked != this.bot {
                return Err(PipelineError::Failed(format!(
                    "this training pipeline belongs to bot {:?}, not {asked:?}",
                    this.bot
                )));
            }
            let (mut report, due) = this
                .phase(move |l, now| {
                    let mut r = l.read(now)?;
                    if let Some(c) = &copy {
                        l.adopt(c, &mut r, now)?;
                    }
                    Ok((r, l.training_due()))
                })
                .await?
                .map_err(failed)?;
            if due {
                let permit = this.pool.acquire(&this.bot, f64::from(energy)).await;
                report = this
                    .phase(move |l, now| {
                        if let Some(c) = &hyperparameters {
                            l.use_hyperparameters(c)?;
                        }
                        l.train(&mut report, energy, now).map(|()| report)
                    })
                    .await?
                    .map_err(failed)?;
                drop(permit);
            }
            let result = report.to_result();
            *lock(&this.last) = Some(report);
            Ok(result)
        })
    }
}

/// A training bot's variants: each cycle trains with its variant's
/// parameters as hyperparameters ([`TrainingConfig::with_hyperparameters`]);
/// only a cycle that trained is an outcome of its variant.
pub struct TrainingVariants {
    pipeline: TrainingPipeline,
    base: TrainingConfig,
    /// The state root: the bots of a PBT group have their folders in it.
    root: PathBuf,
}

impl TrainingVariants {
    /// The runner of `pipeline`, whose own configuration is the base the
    /// variants change.
    pub fn new(pipeline: TrainingPipeline) -> Self {
        let (base, models) = pipeline.with_learner(|l| {
            (
                l.config().clone(),
                l.registry().catalog().dir().to_path_buf(),
            )
        });
        // `<root>/<bot>/models`.
        let root = models
            .parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        TrainingVariants {
            pipeline,
            base,
            root,
        }
    }

    fn run(
        &self,
        bot: &str,
        energy: u32,
        assignment: &Assignment,
        copy: Option<ModelCopy>,
    ) -> PipelineFuture {
        match self.base.with_hyperparameters(&assignment.params) {
            Ok(config) => self.pipeline.run_with(bot, energy, Some(config), copy),
            Err(e) => Box::pin(async move { Err(PipelineError::Failed(e.to_string())) }),
        }
    }
}

impl VariantRunner for TrainingVariants {
    fn run_variant(&self, bot: &str, energy: u32, assignment: &Assignment) -> PipelineFuture {
        self.run(bot, energy, assignment, None)
    }

    fn checkpoint(&self, member: &str) -> Option<(u64, Vec<u8>)> {
        let catalog = Catalog::read(&self.root.join(member)).ok()?;
        let version = catalog.champion()?;
        let weights = catalog.weights(version).ok()?;
        Some((version.0, weights))
    }

    fn run_copy(
        &self,
        bot: &str,
        energy: u32,
        assignment: &Assignment,
        copy: ModelCopy,
    ) -> PipelineFuture {
        self.run(bot, energy, assignment, Some(copy))
    }

    fn is_outcome(&self, result: &AutomationResult) -> bool {
        result.metrics.get("trained") == Some(&1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::ManualClock;
    use crate::models::VersionId;
    use crate::training::testing::append_csv;
    use crate::training::{JobState, Task};

    fn rows(path: &Path, n: usize, from: usize) {
        let rows = (from..from + n).map(|i| {
            let x = (i % 17) as f64 / 17.0;
            format!("{x},{}", 3.0 * x + 1.0 + 0.01 * ((i * 7) % 5) as f64)
        });
        append_csv(path, "x,target", rows);
    }

    fn pipeline(dir: &Path, bot: &str, pool: &Arc<TrainingPool>) -> TrainingPipeline {
        let data = dir.join(format!("{bot}.csv"));
        rows(&data, 120, 0);
        let mut config = TrainingConfig::new(&data, Task::Regression);
        config.model.hidden = vec![8];
        config.steps_per_energy = 10;
        TrainingPipeline::open(
            bot,
            &dir.join(bot),
            config,
            Arc::clone(pool),
            Arc::new(ManualClock::new(1.0)),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn a_cycle_trains_and_reports_through_the_pipeline_trait() {
        let dir = tempfile::tempdir().unwrap();
        let pool = Arc::new(TrainingPool::new(1));
        let p = pipeline(dir.path(), "alpha", &pool);
        let r = p.run("alpha", 4).await.unwrap();
        assert_eq!(r.metrics["trained"], 1.0);
        assert_eq!(r.metrics["steps"], 40.0);
        assert!(r.check_numbers().is_ok());
        let last = p.last_report().unwrap();
        assert_eq!(last.rows, 120);
        assert!(pool.status().is_empty(), "the slot was given back");
        let err = p.run("beta", 1).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "pipeline failed: this training pipeline belongs to bot \"alpha\", not \"beta\""
        );
    }

    /// Each variant's parameters are the hyperparameters its cycle trains
    /// with, and the cycle's value goes back to that variant.
    #[tokio::test]
    async fn variants_train_with_their_own_hyperparameters() {
        use crate::pipeline::{SharedFleet, VariantPipeline};
        use crate::variants::{Fleet, VariantsSpec};
        let dir = tempfile::tempdir().unwrap();
        let pool = Arc::new(TrainingPool::new(1));
        let p = pipeline(dir.path(), "alpha", &pool);
        let spec: VariantsSpec = toml::from_str(
            "seed = 5\n[evolution]\nsize = 3\n[space]\nsteps_per_energy = { int = [1, 9] }\nhidden = { int = [2, 6] }\n",
        )
        .unwrap();
        let fleet = SharedFleet::open(Fleet::new(0.05, None).unwrap(), None).unwrap();
        let runner = Arc::new(TrainingVariants::new(p.clone()));
        let v = VariantPipeline::with_runner("alpha", spec, runner, None, fleet).unwrap();
        let data = dir.path().join("alpha.csv");
        for i in 0..3 {
            let a = v.variants().assign().unwrap();
            let steps = a.params["steps_per_energy"].as_f64().unwrap();
            let hidden = a.params["hidden"].as_f64().unwrap() as usize;
            if i > 0 {
                rows(&data, 120, 120 * i);
            }
            let r = v.run("alpha", 2).await.unwrap();
            assert_eq!(r.metrics["trained"], 1.0, "cycle {i}");
            assert_eq!(r.metrics["steps"], 2.0 * steps, "cycle {i}: {:?}", a.params);
            // The version it trained has the variant's shape.
            let version = VersionId(r.metrics["version"] as u64);
            let shape = p.with_learner(|l| {
                let info = &l.registry().catalog().version(version).unwrap().info;
                info.hyperparameters["model"]["hidden"].clone()
            });
            assert_eq!(shape, serde_json::json!([hidden]), "cycle {i}");
            // The outcome went to its variant (unless the generation that
            // ended with it replaced the variant).
            if let Some(m) = v.variants().population().get(a.variant) {
                assert_eq!(m.outcomes.count, 1, "cycle {i}");
            }
        }
    }

    #[tokio::test]
    async fn a_due_cycle_waits_for_the_shared_pool_and_is_visible_meanwhile() {
        let dir = tempfile::tempdir().unwrap();
        let pool = Arc::new(TrainingPool::new(1));
        let p = pipeline(dir.path(), "alpha", &pool);
        let held = pool.acquire("other", 100.0).await;
        let run = tokio::spawn(p.run("alpha", 3));
        // Wait for the job to show, woken by the pool on each change.
        let mut changes = pool.watch();
        let job = loop {
            if let Some(j) = pool.status().into_iter().find(|j| j.bot == "alpha") {
                break j;
            }
            changes.changed().await.unwrap();
        };
        assert_eq!(job.state, JobState::Waiting { position: 1 });
        assert_eq!(job.priority, 3.0);
        // The pipeline's status shows it too, and the read phase's buffer.
        let status = p.status();
        assert_eq!(status.job, Some(job));
        assert_eq!(status.buffered, 120);
        drop(held);
        let r = run.await.unwrap().unwrap();
        assert_eq!(r.metrics["trained"], 1.0);
        let status = p.status();
        assert_eq!((status.job, status.buffered), (None, 0));
        assert_eq!(status.champion.unwrap().version, VersionId(1));
    }

    #[tokio::test]
    async fn an_operator_changes_the_champion_through_the_live_pipeline() {
        let dir = tempfile::tempdir().unwrap();
        let pool = Arc::new(TrainingPool::new(1));
        let p = pipeline(dir.path(), "alpha", &pool);
        p.run("alpha", 4).await.unwrap(); // v1 deploys
        rows(&dir.path().join("alpha.csv"), 120, 120);
        p.run("alpha", 4).await.unwrap(); // v2: deployed or not
        let first = p.status().champion.unwrap().version;
        let other = if first == VersionId(1) {
            VersionId(2)
        } else {
            VersionId(1)
        };
        let moved = p
            .change_model(ModelAction::Activate { version: other }, "op: try it")
            .unwrap();
        assert_eq!((moved.from, moved.to), (Some(first), Some(other)));
        let status = p.status();
        assert_eq!(status.champion.unwrap().version, other);
        assert_eq!(status.last_move.unwrap().reason, "op: try it");
        assert_eq!(
            status.check.unwrap().against,
            first,
            "a post-deploy check starts"
        );
        let back = p
            .change_model(ModelAction::Activate { version: first }, "op: undo")
            .unwrap();
        assert_eq!(back.to, Some(first));
        let err = p
            .change_model(ModelAction::Activate { version: first }, "again")
            .unwrap_err();
        assert!(
            matches!(err, ModelsError::AlreadyChampion(v) if v == first),
            "{err}"
        );
        // The learner serves the champion the operator chose at its next cycle.
        let r = p.run("alpha", 1).await.unwrap();
        assert_eq!(r.metrics["champion_version"], first.0 as f64);
        // A second writer is refused while the pipeline lives.
        let err = crate::models::ModelRegistry::open(
            &dir.path().join("alpha"),
            crate::models::RegistryConfig::default(),
            0.0,
        )
        .unwrap_err();
        assert!(matches!(err, ModelsError::Locked { .. }), "{err}");
    }

    #[tokio::test]
    async fn an_unreadable_source_fails_the_cycle_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let config = TrainingConfig::new(dir.path().join("missing.csv"), Task::Regression);
        let p = TrainingPipeline::open(
            "bot",
            &dir.path().join("bot"),
            config,
            Arc::new(TrainingPool::new(1)),
            Arc::new(ManualClock::new(0.0)),
        )
        .unwrap();
        let err = p.run("bot", 1).await.unwrap_err().to_string();
        assert!(err.contains("missing.csv does not exist"), "{err}");
    }
}
