//! Bots whose skill is a real candle model: a `[bots.model]` table makes a
//! scenario bot a **model bot** (issue 12, item 9).
//!
//! A model bot serves a binary classifier over a seeded synthetic stream
//! ([`DriftingStream`]): each tick brings `rows_per_tick` rows whose label is
//! the side of a hidden hyperplane the features fall on (flipped with
//! probability `label_noise`); at every tick of `drift_at` the hyperplane is
//! drawn anew — the relation drifts. The bot owns a
//! [`ContinuousLearner`](crate::training::ContinuousLearner) (an MLP, the
//! deploy gate, the registry with its post-deploy check and automatic
//! rollback) reading that stream.
//!
//! Each tick of a model world ([`super::model_world`]):
//! 1. the tick's rows arrive and the learner reads them (the post-deploy
//!    check of a new champion runs on them, and may roll it back);
//! 2. a cycle of energy `E` chosen by the policy trains a challenger for
//!    `E · steps_per_energy` optimizer steps on the rows buffered since the
//!    last training (once `learning_threshold` are), and the gate deploys it
//!    or keeps the champion; the cycle costs `cost_per_energy · E` either way;
//! 3. the bot's skill is its champion's **live accuracy** on the tick's rows,
//!    and it earns `demand · accuracy · (1 + noise · u)`, as any bot.
//!
//! Before tick 0 every bot reads `max_buffer` rows of the first relation and
//! trains its first version (energy [`WARMUP_ENERGY`], free), so every
//! policy starts from the same champion. The bot's `skill`, `drift`, `gain`,
//! `half_energy` and `eval_noise` have no meaning here and are refused.
//!
//! ```toml
//! [[bots]]
//! name = "fraud"
//! demand = 100.0
//! cost_per_energy = 1.0
//! [bots.model]
//! features = 4
//! rows_per_tick = 20
//! drift_at = [60, 140]
//! ```

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::{Arc, Mutex};

use super::bot::BotParams;
use crate::error::{Error, ensure_positive, ensure_unit};
use crate::persist::Durability;
use crate::training::{
    Batch, ContinuousLearner, CycleReport, DataSource, Dataset, Sample, Schema, SourceError,
    SourcePosition, TargetValue, Task, TrainingConfig, TrainingError,
};
use crate::{Result, chain};

/// The energy of the free first training before tick 0.
pub const WARMUP_ENERGY: u32 = 10;
/// The most features a model bot's stream may have.
pub const MAX_FEATURES: usize = 64;
/// The most rows a tick may bring.
pub const MAX_ROWS_PER_TICK: usize = 10_000;
/// The stream numbers of model bots' data start here (see
/// [`super::world`]'s streams, which use small numbers).
const DATA_STREAM: u64 = 256;
/// The keys of [`BotParams`] a model bot refuses.
pub const MEANINGLESS: [&str; 5] = ["skill", "drift", "gain", "half_energy", "eval_noise"];

/// A `[bots.model]` table. Every key has a default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelBotParams {
    /// Features per row, 1..=64 (default 4).
    pub features: usize,
    /// Rows arriving each tick, 1..=10000 (default 20).
    pub rows_per_tick: usize,
    /// The ticks at which the relation changes (default none).
    pub drift_at: Vec<u64>,
    /// Chance that a row's label is flipped, in [0, 0.5) (default 0.05).
    pub label_noise: f64,
    /// Hidden layer widths of the MLP, each 1..=256 (default `[16]`).
    pub hidden: Vec<usize>,
    /// The learning rate, > 0 (default 0.01).
    pub lr: f64,
    /// Optimizer steps per unit of energy, ≥ 1 (default 5).
    pub steps_per_energy: u64,
    /// Rows buffered before a cycle can train (default 100).
    pub learning_threshold: usize,
    /// The most rows buffered, ≥ `learning_threshold` (default 400).
    pub max_buffer: usize,
    /// Samples of the post-deploy check, ≥ 2 (default 100).
    pub post_deploy_window: usize,
}

impl Default for ModelBotParams {
    fn default() -> Self {
        ModelBotParams {
            features: 4,
            rows_per_tick: 20,
            drift_at: Vec::new(),
            label_noise: 0.05,
            hidden: vec![16],
            lr: 0.01,
            steps_per_energy: 5,
            learning_threshold: 100,
            max_buffer: 400,
            post_deploy_window: 100,
        }
    }
}

impl ModelBotParams {
    /// Checks every key; an error names it as `{prefix}.{key}`.
    pub fn validate(&self, prefix: &str) -> Result<()> {
        let name = |key: &str| format!("{prefix}.{key}");
        if !(1..=MAX_FEATURES).contains(&self.features) {
            return Err(Error::invalid(
                name("features"),
                self.features,
                "a whole number in 1..=64",
            ));
        }
        if !(1..=MAX_ROWS_PER_TICK).contains(&self.rows_per_tick) {
            return Err(Error::invalid(
                name("rows_per_tick"),
                self.rows_per_tick,
                "a whole number in 1..=10000",
            ));
        }
        let noise = ensure_unit(name("label_noise"), self.label_noise)?;
        if noise >= 0.5 {
            return Err(Error::invalid(
                name("label_noise"),
                noise,
                "a number in [0, 0.5)",
            ));
        }
        if let Some(w) = self.hidden.iter().find(|w| !(1..=256).contains(*w)) {
            return Err(Error::invalid(name("hidden"), w, "layer widths in 1..=256"));
        }
        ensure_positive(name("lr"), self.lr)?;
        self.training_config(0)
            .validate()
            .map_err(|e| e.renamed(|what| name(what.trim_start_matches("training."))))
    }

    /// The learner's settings, its random numbers seeded with `seed`.
    pub fn training_config(&self, seed: u64) -> TrainingConfig {
        let mut config = TrainingConfig::new("simulated-stream", Task::Classification);
        config.seed = seed;
        config.model.hidden = self.hidden.clone();
        config.model.optimizer.lr = self.lr;
        config.steps_per_energy = self.steps_per_energy;
        config.learning_threshold = self.learning_threshold;
        config.max_buffer = self.max_buffer;
        config.post_deploy_window = self.post_deploy_window;
        config.keep_versions = 3;
        config
    }

    /// The world's parameters of a model bot with `base`'s `demand`, `noise`
    /// and `cost_per_energy`: no drift and no gain of its own (its skill is
    /// set from its model each tick).
    pub fn world_params(base: &BotParams) -> BotParams {
        BotParams {
            skill: 0.0,
            drift: 0.0,
            gain: 0.0,
            eval_noise: 0.0,
            ..base.clone()
        }
    }
}

/// The labels of the stream.
const LABELS: [&str; 2] = ["no", "yes"];

/// A seeded stream of labelled rows whose relation is drawn anew at the
/// `drift_at` ticks. See the [module docs](self).
#[derive(Debug)]
pub struct DriftingStream {
    params: ModelBotParams,
    rng: ChaCha8Rng,
    weights: Vec<f64>,
}

/// A number uniform in [−1, 1).
fn symmetric(rng: &mut ChaCha8Rng) -> f64 {
    2.0 * ((rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64) - 1.0
}

impl DriftingStream {
    /// The stream of bot `index` under `seed`.
    pub fn new(params: &ModelBotParams, seed: u64, index: usize) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream((DATA_STREAM << 32) | index as u64);
        let weights = (0..params.features).map(|_| symmetric(&mut rng)).collect();
        DriftingStream {
            params: params.clone(),
            rng,
            weights,
        }
    }

    /// The hidden relation's weights now.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// `n` rows of `tick` (`None`: before the first), drawing a new relation
    /// first when the tick is one of `drift_at`.
    pub fn rows(&mut self, tick: Option<u64>, n: usize) -> Vec<Sample> {
        if tick.is_some_and(|t| self.params.drift_at.contains(&t)) {
            self.weights = (0..self.params.features)
                .map(|_| symmetric(&mut self.rng))
                .collect();
        }
        (0..n)
            .map(|_| {
                let x: Vec<f64> = (0..self.params.features)
                    .map(|_| symmetric(&mut self.rng))
                    .collect();
                let score: f64 = x.iter().zip(&self.weights).map(|(a, b)| a * b).sum();
                let flip = (symmetric(&mut self.rng) + 1.0) / 2.0 < self.params.label_noise;
                let label = LABELS[usize::from((score > 0.0) != flip)];
                Sample {
                    features: x,
                    target: TargetValue::Text(label.into()),
                    time: None,
                    quality: None,
                }
            })
            .collect()
    }
}

/// The rows that have arrived and the learner has not read yet: the
/// learner's [`DataSource`], fed by its bot.
#[derive(Clone, Debug)]
struct Feed {
    queue: Arc<Mutex<Vec<Sample>>>,
    schema: Schema,
}

impl Feed {
    fn push(&self, rows: &[Sample]) {
        self.queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(rows);
    }
}

impl DataSource for Feed {
    fn read_new(&mut self, max_rows: usize) -> std::result::Result<Batch, SourceError> {
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        let n = max_rows.min(queue.len());
        Ok(Batch {
            samples: queue.drain(..n).collect(),
            bad: Vec::new(),
            restarted: Vec::new(),
        })
    }

    /// The stream lives in memory: there is no place in a file to save.
    fn position(&self) -> SourcePosition {
        SourcePosition {
            files: Default::default(),
            schema: Some(self.schema.clone()),
        }
    }

    /// Nothing to go back to: a model bot's learner starts in a fresh folder.
    fn restore(&mut self, _position: SourcePosition) {}

    fn schema(&self) -> Option<&Schema> {
        Some(&self.schema)
    }

    fn describe(&self) -> String {
        "simulated drifting stream".into()
    }
}

/// One model bot: its stream and its learner. See the [module docs](self).
#[derive(Debug)]
pub struct ModelBot {
    stream: DriftingStream,
    feed: Feed,
    learner: ContinuousLearner,
    rows: Vec<Sample>,
    rows_per_tick: usize,
    /// Where errors say the bot is (`scenario.bots[1].model`).
    at: String,
}

/// A learner's error as a kaizen error, naming the bot's place for the rest.
fn plain(at: &str, e: TrainingError) -> Error {
    match e {
        TrainingError::Kaizen(e) => e,
        TrainingError::Models(e) => Error::Models(e),
        TrainingError::Persist(e) => Error::Persist(e),
        other => Error::invalid(at.to_string(), other.to_string(), "a model bot that trains"),
    }
}

impl ModelBot {
    /// Bot `index` of a world seeded with `seed`, its registry in `dir`
    /// (a fresh folder), with its first version trained on `max_buffer`
    /// rows of the first relation.
    pub fn new(params: &ModelBotParams, seed: u64, index: usize, dir: &Path) -> Result<Self> {
        let at = format!("scenario.bots[{index}].model");
        let mut stream = DriftingStream::new(params, seed, index);
        let learner_seed = stream.rng.next_u64();
        let feed = Feed {
            queue: Arc::default(),
            schema: Schema {
                features: (0..params.features).map(|j| format!("x{j}")).collect(),
            },
        };
        feed.push(&stream.rows(None, params.max_buffer));
        let mut learner = ContinuousLearner::open_with(
            &format!("bot{index}"),
            dir,
            params.training_config(learner_seed),
            Box::new(feed.clone()),
            Durability::Atomic,
            0.0,
        )
        .map_err(|e| plain(&at, e))?;
        learner
            .cycle(WARMUP_ENERGY, 0.0)
            .map_err(|e| plain(&at, e))?;
        Ok(ModelBot {
            stream,
            feed,
            learner,
            rows: Vec::new(),
            rows_per_tick: params.rows_per_tick,
            at,
        })
    }

    /// Step 1 of a tick: the tick's rows arrive and the learner reads them.
    pub fn arrive(&mut self, tick: u64, now: f64) -> Result<CycleReport> {
        self.rows = self.stream.rows(Some(tick), self.rows_per_tick);
        self.feed.push(&self.rows);
        self.learner.read(now).map_err(|e| plain(&self.at, e))
    }

    /// Step 2: a cycle of `energy` trains, gates and deploys when enough rows
    /// are buffered (else it waits).
    pub fn improve(&mut self, energy: u32, now: f64) -> Result<CycleReport> {
        let mut report = CycleReport::default();
        if self.learner.training_due() {
            self.learner
                .train(
                    &mut report,
                    energy.clamp(chain::MIN_ENERGY, chain::MAX_ENERGY),
                    now,
                )
                .map_err(|e| plain(&self.at, e))?;
        }
        Ok(report)
    }

    /// Step 3: the champion's accuracy on the tick's rows (0 with no champion).
    pub fn live_accuracy(&self) -> Result<f64> {
        let Some((_, model)) = self.learner.champion() else {
            return Ok(0.0);
        };
        let spec = model.spec();
        let mut data = Dataset::new(spec.features.len());
        for s in &self.rows {
            if let Some(y) = spec.labels.iter().position(|l| *l == s.target.label()) {
                data.push(&s.features, y as f64)?;
            }
        }
        if data.is_empty() {
            return Ok(0.0);
        }
        let predicted = model.predict(&data)?;
        let right = predicted
            .iter()
            .zip(data.targets())
            .filter(|(p, y)| p == y)
            .count();
        Ok(right as f64 / data.len() as f64)
    }

    /// The learner.
    pub fn learner(&self) -> &ContinuousLearner {
        &self.learner
    }
}
