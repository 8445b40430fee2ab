//! [`ContinuousLearner`]: the continuous-learning loop of one bot, as the
//! seed describes it (issue 12, item 2), on candle and the model registry.
//!
//! Each cycle:
//! 1. **Read** the rows the host appended ([`DataSource::read_new`]); bad
//!    rows are counted and skipped. The champion's loss on the new samples is
//!    the cycle's `recent_loss`, and — while a post-deploy check runs — the
//!    new and the previous champion's losses on them feed it
//!    ([`ModelRegistry::observe_post_deploy`]), which may roll the champion
//!    back. The samples join the buffer.
//! 2. **Train** once `learning_threshold` samples are buffered: samples whose
//!    `quality` is under `quality_threshold` are dropped, and at least
//!    `min_samples` must remain (else the buffer keeps growing and the next
//!    cycle tries again). The samples are split ([`split_for_training`](super::split_for_training)):
//!    the most recent are held out. The challenger starts from the champion's
//!    weights (`warm_start`) or fresh, and trains for
//!    `energy × steps_per_energy` steps ([`RunPlan`](super::RunPlan)).
//! 3. **Judge**: champion and challenger are scored on the same held-out
//!    samples and the [gate](super::judge) decides; with no champion, the
//!    [`NaivePredictor`] is the baseline. Every challenger is saved in the
//!    registry (`candidate` or `rejected`) with its metrics, the gate's test,
//!    the learning-curve analysis and its hyperparameters; an accepted one is
//!    deployed. The buffer is cleared.
//!
//! The learner's own state ([`LearnerState`]) is saved after each phase, so a
//! restart neither reads a row twice nor loses one.

mod copy;
mod operator;
mod report;
mod samples;
mod state;

pub use copy::CopySummary;
pub use operator::ModelAction;
pub use report::{CheckSummary, CycleReport, TrainingSummary};
pub use samples::{BadRowTally, Split, split};
pub use state::{Counters, LearnerState, STATE_FILE};

use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

use super::{
    CsvOptions, CsvSource, DataFormat, DataSource, Dataset, JsonLinesSource, Model, ModelSpec,
    NaivePredictor, Sample, Task, TrainingConfig, TrainingError, judge,
};
use crate::models::{
    CheckProgress, DataWindow, Goal, ModelRegistry, NewVersion, RegistryConfig, VersionId,
    VersionInfo, VersionStatus,
};
use crate::persist::{self, Durability};

/// One bot's continuous-learning loop: its data source, its model registry
/// and the state between cycles. Not shared: wrap it in a mutex (the
/// [`TrainingPipeline`](super::TrainingPipeline) does).
pub struct ContinuousLearner {
    bot: String,
    config: TrainingConfig,
    source: Box<dyn DataSource>,
    registry: ModelRegistry,
    champion: Option<(VersionId, Model)>,
    /// The version a post-deploy check compares the champion with.
    previous: Option<(VersionId, Model)>,
    state: LearnerState,
    state_path: PathBuf,
    durability: Durability,
}

impl std::fmt::Debug for ContinuousLearner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContinuousLearner")
            .field("bot", &self.bot)
            .field("source", &self.source.describe())
            .field("champion", &self.champion.as_ref().map(|c| c.0))
            .field("buffered", &self.state.buffer.len())
            .finish()
    }
}

/// The data source `config` describes.
pub fn open_source(config: &TrainingConfig) -> Box<dyn DataSource> {
    match config.resolved_format() {
        DataFormat::Jsonl => Box::new(JsonLinesSource::new(&config.data)),
        _ => Box::new(CsvSource::new(
            &config.data,
            CsvOptions {
                target: config.target.clone(),
                time: config.time.clone(),
                quality: config.quality.clone(),
            },
        )),
    }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

impl ContinuousLearner {
    /// Opens the loop of `bot` whose state folder is `bot_dir`: the data
    /// source of `config`, the registry at `bot_dir/models` (its writer lock
    /// is held while the learner lives), and `bot_dir/training.json`.
    pub fn open(
        bot: &str,
        bot_dir: &Path,
        config: TrainingConfig,
        now: f64,
    ) -> Result<Self, TrainingError> {
        let source = open_source(&config);
        Self::open_with(bot, bot_dir, config, source, Durability::Fsync, now)
    }

    /// [`open`](Self::open) with a source of the host's own and a durability.
    pub fn open_with(
        bot: &str,
        bot_dir: &Path,
        config: TrainingConfig,
        mut source: Box<dyn DataSource>,
        durability: Durability,
        now: f64,
    ) -> Result<Self, TrainingError> {
        config.validate()?;
        let registry = ModelRegistry::open(
            bot_dir,
            RegistryConfig {
                keep_last: config.keep_versions,
                post_deploy_window: config.post_deploy_window,
                alpha: config.gate.alpha,
                durability,
            },
            now,
        )?;
        let state_path = bot_dir.join(STATE_FILE);
        let state = persist::load_json::<LearnerState>(&state_path)?
            .unwrap_or_else(|| LearnerState::new(config.seed));
        source.restore(state.source.clone());
        let mut learner = ContinuousLearner {
            bot: bot.to_string(),
            config,
            source,
            registry,
            champion: None,
            previous: None,
            state,
            state_path,
            durability,
        };
        learner.sync_champion()?;
        Ok(learner)
    }

    /// The serving version and its model.
    pub fn champion(&self) -> Option<(VersionId, &Model)> {
        self.champion.as_ref().map(|(v, m)| (*v, m))
    }

    /// The bot's model registry.
    pub fn registry(&self) -> &ModelRegistry {
        &self.registry
    }

    /// The state kept between cycles.
    pub fn state(&self) -> &LearnerState {
        &self.state
    }

    /// The settings.
    pub fn config(&self) -> &TrainingConfig {
        &self.config
    }

    /// Trains from the next cycle on with `config`'s hyperparameters (a
    /// variant's, from [`TrainingConfig::with_hyperparameters`]): the
    /// model's shape and optimizer, the steps, clipping and schedules. The
    /// data, registry and state settings stay those the learner was opened
    /// with.
    ///
    /// # Errors
    /// A configuration [`TrainingConfig::validate`] refuses (nothing changes).
    pub fn use_hyperparameters(&mut self, config: &TrainingConfig) -> Result<(), TrainingError> {
        config.validate()?;
        let c = &mut self.config;
        c.model = config.model.clone();
        c.steps_per_energy = config.steps_per_energy;
        c.max_steps = config.max_steps;
        c.clip_grad_norm = config.clip_grad_norm;
        c.eval_every = config.eval_every;
        c.schedule = config.schedule.clone();
        c.early_stopping = config.early_stopping.clone();
        Ok(())
    }

    /// Whether enough samples are buffered for a training cycle.
    pub fn training_due(&self) -> bool {
        self.state.buffer.len() >= self.config.learning_threshold
    }

    fn load_version(&self, id: VersionId) -> Result<Model, TrainingError> {
        let bytes = self.registry.catalog().weights(id)?;
        Model::from_safetensors(&bytes).map_err(|e| TrainingError::Champion {
            version: id.to_string(),
            reason: e.to_string(),
        })
    }

    /// Makes the cached champion the registry's.
    fn sync_champion(&mut self) -> Result<(), TrainingError> {
        let id = self.registry.catalog().champion();
        if self.champion.as_ref().map(|c| c.0) != id {
            self.champion = match id {
                Some(id) => Some((id, self.load_version(id)?)),
                None => None,
            };
        }
        Ok(())
    }

    fn save_state(&mut self) -> Result<(), TrainingError> {
        self.state.source = self.source.position();
        persist::save_json(&self.state_path, &self.state, self.durability)?;
        Ok(())
    }

    fn passes_quality(&self, s: &Sample) -> bool {
        s.quality.is_none_or(|q| q >= self.config.quality_threshold)
    }

    /// The buffered samples of enough quality.
    fn quality_buffer(&self) -> Vec<Sample> {
        self.state
            .buffer
            .iter()
            .filter(|s| self.passes_quality(s))
            .cloned()
            .collect()
    }

    /// The model's labels, once fixed.
    fn labels(&self) -> Option<Vec<String>> {
        match self.config.task {
            Task::Regression => Some(Vec::new()),
            Task::Classification => self.state.labels.clone(),
        }
    }

    /// Runs one whole cycle with `energy` at time `now`.
    pub fn cycle(&mut self, energy: u32, now: f64) -> Result<CycleReport, TrainingError> {
        let mut report = self.read(now)?;
        if self.training_due() {
            self.train(&mut report, energy, now)?;
        }
        Ok(report)
    }

    /// Step 1: reads new rows, feeds the post-deploy check, buffers. Sets
    /// `waiting` when no training is due.
    pub fn read(&mut self, now: f64) -> Result<CycleReport, TrainingError> {
        self.sync_champion()?;
        let mut report = CycleReport::default();
        let batch = self.source.read_new(self.config.max_buffer)?;
        for b in &batch.bad {
            report.bad_rows.add(b);
        }
        let labels = self.labels();
        let mut fresh = Vec::with_capacity(batch.samples.len());
        for (i, s) in batch.samples.into_iter().enumerate() {
            match samples::check_target(
                self.config.task,
                labels.as_deref(),
                &s,
                &self.config.target,
            ) {
                Ok(()) => fresh.push(s),
                Err(reason) => report.bad_rows.add(&super::BadRow {
                    at: format!("{}: new row {}", self.source.describe(), i + 1),
                    reason,
                }),
            }
        }
        report.rows = fresh.len() as u64;
        self.state.counters.rows += report.rows;
        self.state.counters.bad_rows += report.bad_rows.total;
        self.state.counters.cycles += 1;
        let live: Vec<Sample> = fresh
            .iter()
            .filter(|s| self.passes_quality(s))
            .cloned()
            .collect();
        if let Some((_, champion)) = &self.champion
            && !live.is_empty()
        {
            self.check_schema(champion.spec())?;
            let data = self.encode(champion.spec(), &live)?;
            if !data.is_empty() {
                let losses = champion.per_sample_losses(&data)?;
                report.recent_loss = Some(mean(&losses));
                report.check = self.feed_check(&data, losses, now)?;
            }
        }
        self.state.buffer.extend(fresh);
        let excess = self
            .state
            .buffer
            .len()
            .saturating_sub(self.config.max_buffer);
        self.state.buffer.drain(..excess);
        report.buffered = self.state.buffer.len();
        if !self.training_due() {
            report.waiting = Some(format!(
                "{} of {} samples buffered",
                report.buffered, self.config.learning_threshold
            ));
        }
        report.champion = self.registry.catalog().champion();
        self.save_state()?;
        Ok(report)
    }

    fn check_schema(&self, spec: &ModelSpec) -> Result<(), TrainingError> {
        match self.source.schema() {
            Some(s) if s.features != spec.features => Err(TrainingError::Schema {
                data: s.features.clone(),
                model: spec.features.clone(),
            }),
            _ => Ok(()),
        }
    }

    fn encode(&self, spec: &ModelSpec, samples: &[Sample]) -> Result<Dataset, TrainingError> {
        Ok(samples::encode(
            spec.task,
            &spec.labels,
            samples,
            spec.features.len(),
        )?)
    }

    /// Feeds the post-deploy check with the champion's `losses` on `data` and
    /// the previous champion's; reloads the champion if the check rolled it back.
    fn feed_check(
        &mut self,
        data: &Dataset,
        losses: Vec<f64>,
        now: f64,
    ) -> Result<Option<CheckSummary>, TrainingError> {
        let Some(check) = self.registry.catalog().pending_check() else {
            return Ok(None);
        };
        let against = check.against;
        if self.previous.as_ref().map(|p| p.0) != Some(against) {
            self.previous = Some((against, self.load_version(against)?));
        }
        let previous = &self.previous.as_ref().expect("loaded above").1;
        let before = previous.per_sample_losses(data)?;
        let summary = match self.registry.observe_post_deploy(&losses, &before, now)? {
            CheckProgress::Idle => None,
            CheckProgress::Pending {
                version,
                samples,
                window,
            } => Some(CheckSummary {
                version,
                samples,
                window,
                finished: None,
                rolled_back_to: None,
            }),
            CheckProgress::Finished(f) => Some(CheckSummary {
                version: f.version,
                samples: f.outcome.samples as usize,
                window: self.config.post_deploy_window,
                finished: Some(format!("{:?}", f.outcome.result).to_lowercase()),
                rolled_back_to: f.rollback.as_ref().and_then(|m| m.to),
            }),
        };
        self.sync_champion()?;
        Ok(summary)
    }

    /// Steps 2 and 3: trains a challenger on the buffer, judges it, saves
    /// it, deploys it if the gate says so.
    pub fn train(
        &mut self,
        report: &mut CycleReport,
        energy: u32,
        now: f64,
    ) -> Result<(), TrainingError> {
        self.sync_champion()?;
        let quality = self.quality_buffer();
        if quality.len() < self.config.min_samples {
            report.waiting = Some(format!(
                "{} of {} buffered samples have quality ≥ {}; at least {} are needed",
                quality.len(),
                self.state.buffer.len(),
                self.config.quality_threshold,
                self.config.min_samples
            ));
            return Ok(());
        }
        let Some(spec) = self.challenger_spec(&quality)? else {
            report.waiting = Some("classification needs at least two distinct labels".into());
            return Ok(());
        };
        let ordered = samples::in_time_order(quality);
        let data = self.encode(&spec, &ordered)?;
        let parts = split(
            data.len(),
            self.config.holdout_fraction,
            self.config.validation_fraction,
            &mut self.state.rng,
        );
        let (train, val, hold) = (
            data.subset(&parts.train),
            data.subset(&parts.validation),
            data.subset(&parts.holdout),
        );
        let naive = NaivePredictor::fit(
            spec.task,
            spec.loss,
            spec.huber_delta,
            spec.labels.len(),
            &train,
        );
        let baseline = match &self.champion {
            Some((_, m)) => m.per_sample_losses(&hold)?,
            None => naive.per_sample_losses(&hold),
        };
        let challenger = match &self.champion {
            Some((_, m)) if self.config.warm_start && *m.spec() == spec => m.deep_clone()?,
            _ => Model::fit_new(spec.clone(), &train, &mut self.state.rng)?,
        };
        let difficulty = match (&self.champion, self.config.curriculum.enabled) {
            (_, false) => None,
            (Some((_, m)), true) => Some(m.per_sample_losses(&train)?),
            (None, true) => Some(naive.per_sample_losses(&train)),
        };
        let steps = (u64::from(energy) * self.config.steps_per_energy).min(self.config.max_steps);
        let plan = self.config.run_plan(steps);
        let run = plan.run(
            &challenger,
            &train,
            &val,
            difficulty.as_deref(),
            &mut self.state.rng,
        )?;
        let gate = judge(
            &self.config.gate,
            &baseline,
            &challenger.per_sample_losses(&hold)?,
        );
        let analysis = run
            .curve
            .analyze(Some(mean(&naive.per_sample_losses(&train))));
        let accuracy = match spec.task {
            Task::Classification => {
                let pred = challenger.predict(&hold)?;
                let right = pred
                    .iter()
                    .zip(hold.targets())
                    .filter(|(p, y)| p == y)
                    .count();
                Some(right as f64 / hold.len() as f64)
            }
            Task::Regression => None,
        };
        let parent = self
            .champion
            .as_ref()
            .filter(|_| self.config.warm_start)
            .map(|c| c.0);
        let mut summary = TrainingSummary {
            version: VersionId(0),
            baseline: self.champion.as_ref().map(|c| c.0),
            samples: [train.len(), val.len(), hold.len()],
            run,
            analysis,
            gate,
            accuracy,
        };
        let times: Vec<f64> = ordered.iter().filter_map(|s| s.time).collect();
        let window = DataWindow {
            rows: ordered.len() as u64,
            offsets: None,
            times: (times.len() == ordered.len() && !times.is_empty())
                .then(|| [times[0], times[times.len() - 1]]),
        };
        let new = self.new_version(&challenger, &summary, parent, window, energy, steps)?;
        let id = self.registry.save(new, now)?;
        summary.version = id;
        self.state.counters.trainings += 1;
        if summary.gate.deploy {
            self.registry.deploy(id, &summary.gate.reason, now)?;
            self.previous = self.champion.take();
            self.champion = Some((id, challenger));
            self.state.counters.deployments += 1;
            report.value = self.config.value_per_unit
                * (summary.gate.baseline_loss - summary.gate.challenger_loss);
        }
        if self.state.labels.is_none() && spec.task == Task::Classification {
            self.state.labels = Some(spec.labels.clone());
        }
        report.new_alerts = self
            .state
            .alerts
            .record(&self.bot, &summary.run.alerts, now);
        report.training = Some(summary);
        report.waiting = None;
        report.champion = self.registry.catalog().champion();
        self.state.buffer.clear();
        report.buffered = 0;
        self.save_state()
    }

    /// The spec of the next challenger: the champion's, or a new one on the
    /// data's features (fixing the labels); `None` when a classification has
    /// fewer than two labels.
    fn challenger_spec(&self, quality: &[Sample]) -> Result<Option<ModelSpec>, TrainingError> {
        if let Some((_, m)) = &self.champion {
            // The champion's inputs and labels, with the configured shape
            // (a variant may change it; then the challenger starts fresh).
            self.check_schema(m.spec())?;
            let old = m.spec();
            return Ok(Some(ModelSpec::new(
                self.config.task,
                old.features.clone(),
                old.labels.clone(),
                &self.config.model,
            )));
        }
        let features = match self.source.schema() {
            Some(s) => s.features.clone(),
            None => (0..quality[0].features.len())
                .map(|i| format!("features[{i}]"))
                .collect(),
        };
        let labels = match self.config.task {
            Task::Regression => Vec::new(),
            Task::Classification => {
                let l = self
                    .state
                    .labels
                    .clone()
                    .unwrap_or_else(|| samples::labels_of(quality));
                if l.len() < 2 {
                    return Ok(None);
                }
                l
            }
        };
        Ok(Some(ModelSpec::new(
            self.config.task,
            features,
            labels,
            &self.config.model,
        )))
    }

    fn new_version(
        &self,
        model: &Model,
        s: &TrainingSummary,
        parent: Option<VersionId>,
        data_window: DataWindow,
        energy: u32,
        steps: u64,
    ) -> Result<NewVersion, TrainingError> {
        let mut info = VersionInfo {
            parent,
            status: if s.gate.deploy {
                VersionStatus::Candidate
            } else {
                VersionStatus::Rejected
            },
            data_window,
            significance: s.gate.significance.clone(),
            ..VersionInfo::default()
        };
        let mut metric = |name: &str, v: Option<f64>| {
            if let Some(v) = v.filter(|v| v.is_finite()) {
                info.metrics.insert(name.to_string(), v);
            }
        };
        metric("holdout_loss", Some(s.gate.challenger_loss));
        metric("baseline_loss", Some(s.gate.baseline_loss));
        metric("improvement", Some(s.gate.improvement));
        metric("p_value", s.gate.p_value());
        metric("train_loss", s.analysis.final_train_loss);
        metric("val_loss", s.analysis.final_val_loss);
        metric("accuracy", s.accuracy);
        info.goals.insert("p_value".into(), Goal::Minimize);
        let c = &self.config;
        let hyper = json!({
            "task": c.task, "model": c.model, "energy": energy, "steps": steps,
            "steps_per_energy": c.steps_per_energy, "warm_start": c.warm_start,
            "clip_grad_norm": c.clip_grad_norm, "eval_every": c.eval_every,
            "holdout_fraction": c.holdout_fraction, "validation_fraction": c.validation_fraction,
            "schedule": c.schedule, "early_stopping": c.early_stopping,
            "curriculum": c.curriculum, "monitor": c.monitor, "gate": c.gate, "seed": c.seed,
        });
        info.hyperparameters = into_map(hyper);
        info.extra = into_map(json!({
            "learning_curve": s.analysis,
            "curve": s.run.curve.points,
            "run": {"stop": s.run.stop, "steps": s.run.steps, "alerts": s.run.alerts,
                    "clipped_steps": s.run.clipped_steps, "restored_from": s.run.restored_from},
            "gate": s.gate.reason,
            "samples": {"train": s.samples[0], "validation": s.samples[1], "holdout": s.samples[2]},
            "standardization": {"input": model.input_scale(), "target": model.target_scale()},
        }));
        Ok(NewVersion {
            weights: model.to_safetensors()?,
            info,
        })
    }
}

fn into_map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests;
