//! One training run: the optimizer steps a cycle's energy bought, watched by
//! the monitor and steered by the schedule, early stopping and curriculum.
//!
//! Per step `t` (0-based): the rate of [`LrSchedule::lr_at`]`(t)`; a batch —
//! the next slice of a seeded shuffle of the training set, reshuffled each
//! epoch (the last batch of an epoch may be smaller), or, with a curriculum,
//! drawn without replacement from the samples it makes available; one
//! [`Optim::step`] with gradient-norm clipping; the [`TrainingMonitor`].
//!
//! Every `eval_every` steps, and after the last, an evaluation: the mean
//! training loss since the previous one and the validation loss (both in the
//! target's units) join the [`LearningCurve`]; the validation loss (the
//! training loss when there is no validation set) steps the plateau
//! scheduler and early stopping; the weights become the run's last good
//! checkpoint, and its best one when the loss improved.
//!
//! A run ends when its steps are spent, when early stopping says so, or when
//! the monitor sees an explosion or a non-finite loss or gradient — then the
//! last good checkpoint is restored. A run that ends otherwise goes back to
//! its best checkpoint when `restore_best` is set.

use candle_core::Tensor;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{
    Alert, AlertKind, Curriculum, CurriculumConfig, CurvePoint, Dataset, EarlyStopping,
    EarlyStoppingConfig, LearningCurve, LrSchedule, Model, MonitorConfig, Optim, OptimizerConfig,
    ScheduleConfig, TrainingMonitor, Verdict,
};
use crate::error::Result;

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "reason", content = "alert")]
pub enum StopReason {
    /// Its steps were spent.
    Budget,
    /// The validation loss stopped improving.
    EarlyStopping,
    /// The monitor stopped it (explosion or a non-finite value).
    Monitor(AlertKind),
}

/// Everything a run needs besides the model and the data.
#[derive(Clone, Debug, PartialEq)]
pub struct RunPlan {
    /// Optimizer steps to take at most.
    pub steps: u64,
    /// Samples per step.
    pub batch_size: usize,
    /// Clip the gradient's global norm to this (`None`: no clipping).
    pub clip_grad_norm: Option<f64>,
    /// Steps between evaluations.
    pub eval_every: u64,
    /// The optimizer.
    pub optimizer: OptimizerConfig,
    /// The monitor.
    pub monitor: MonitorConfig,
    /// The learning-rate schedule.
    pub schedule: ScheduleConfig,
    /// Early stopping.
    pub early_stopping: EarlyStoppingConfig,
    /// The curriculum.
    pub curriculum: CurriculumConfig,
}

/// What a run did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// Optimizer steps taken (a refused non-finite step counts).
    pub steps: u64,
    /// Why it ended.
    pub stop: StopReason,
    /// The monitor's alerts, one per kind.
    pub alerts: Vec<Alert>,
    /// The evaluations.
    pub curve: LearningCurve,
    /// Steps whose gradient was clipped.
    pub clipped_steps: u64,
    /// The step of the checkpoint the run ended on, when it went back to one.
    pub restored_from: Option<u64>,
    /// The learning rate of the last step.
    pub final_lr: f64,
}

/// The whole training set as one batch, built once.
type Whole = Option<(Tensor, Tensor)>;

/// The loss on all of `train` (standardised scale) of `model`'s outputs, or
/// of a constant zero output when `constant`; NaN when it cannot be computed.
fn loss_on_all(model: &Model, train: &Dataset, all: &mut Whole, constant: bool) -> f64 {
    let go = |all: &mut Whole| -> Result<f64> {
        if all.is_none() {
            let idx: Vec<usize> = (0..train.len()).collect();
            *all = Some(model.batch(train, &idx)?);
        }
        let (x, y) = all.as_ref().expect("built above");
        let out = if constant {
            Tensor::zeros((train.len(), model.spec().outputs()), x.dtype(), x.device())?
        } else {
            model.forward(x)?
        };
        Ok(f64::from(model.loss(&out, y)?.to_scalar::<f32>()?))
    };
    go(all).unwrap_or(f64::NAN)
}

/// The monitor's confirmation: the current weights' loss on all the training data.
fn whole_loss(model: &Model, train: &Dataset, all: &mut Whole) -> f64 {
    loss_on_all(model, train, all, false)
}

/// The run's reference loss: a constant prediction's — zero on the
/// standardised scale, i.e. the mean the model was first fitted on, or equal
/// odds for every class.
fn reference_loss(model: &Model, train: &Dataset, all: &mut Whole) -> f64 {
    if train.is_empty() {
        return f64::NAN;
    }
    loss_on_all(model, train, all, true)
}

/// Draws each step's batch.
enum Batches {
    Shuffled { order: Vec<usize>, at: usize },
    Paced(Curriculum, Vec<usize>),
}

impl Batches {
    fn next(&mut self, step: u64, batch: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
        match self {
            Batches::Shuffled { order, at } => {
                if *at >= order.len() {
                    order.shuffle(rng);
                    *at = 0;
                }
                let end = (*at + batch).min(order.len());
                let idx = order[*at..end].to_vec();
                *at = end;
                idx
            }
            Batches::Paced(cur, scratch) => {
                scratch.clear();
                scratch.extend_from_slice(cur.available(step, batch));
                let (picked, _) = scratch.partial_shuffle(rng, batch);
                picked.to_vec()
            }
        }
    }
}

impl RunPlan {
    /// Trains `model` on `train`, judged on `val` (may be empty). With a
    /// curriculum, `difficulty` gives each training sample's difficulty
    /// (ignored otherwise). Returns an error only when a tensor operation
    /// fails; a diverging run is a [`StopReason::Monitor`].
    pub fn run(
        &self,
        model: &Model,
        train: &Dataset,
        val: &Dataset,
        difficulty: Option<&[f64]>,
        rng: &mut ChaCha8Rng,
    ) -> Result<RunReport> {
        let mut optim = Optim::new(&self.optimizer, model)?;
        let mut schedule = LrSchedule::new(self.optimizer.lr, &self.schedule);
        let mut all = None;
        let reference = reference_loss(model, train, &mut all);
        let mut monitor = TrainingMonitor::new(self.monitor.clone()).with_reference(reference);
        let mut early = EarlyStopping::new(&self.early_stopping);
        let mut batches = match difficulty {
            Some(d) if self.curriculum.enabled => {
                Batches::Paced(Curriculum::new(d, &self.curriculum, self.steps), Vec::new())
            }
            _ => Batches::Shuffled {
                order: (0..train.len()).collect(),
                at: usize::MAX,
            },
        };
        let loss_unit = model.loss_unit();
        let mut report = RunReport {
            steps: 0,
            stop: StopReason::Budget,
            alerts: Vec::new(),
            curve: LearningCurve::default(),
            clipped_steps: 0,
            restored_from: None,
            final_lr: schedule.lr_at(0),
        };
        let mut last_good = (0, model.checkpoint()?);
        let mut best: Option<(u64, super::Checkpoint)> = None;
        let (mut period_loss, mut period_steps) = (0.0, 0u64);
        if train.is_empty() {
            return Ok(report);
        }
        for t in 0..self.steps {
            let lr = schedule.lr_at(t);
            optim.set_lr(lr);
            report.final_lr = lr;
            let idx = batches.next(t, self.batch_size, rng);
            let (x, y) = model.batch(train, &idx)?;
            let stats = optim.step(model, &x, &y, self.clip_grad_norm)?;
            report.steps = t + 1;
            report.clipped_steps += u64::from(stats.clipped);
            let whole = || whole_loss(model, train, &mut all);
            if let Verdict::Stop(kind) = monitor.observe(t + 1, stats.loss, stats.grad_norm, whole)
            {
                model.restore(&last_good.1)?;
                report.restored_from = Some(last_good.0);
                report.stop = StopReason::Monitor(kind);
                break;
            }
            period_loss += stats.loss * loss_unit;
            period_steps += 1;
            if (t + 1) % self.eval_every != 0 && t + 1 != self.steps {
                continue;
            }
            let train_loss = period_loss / period_steps as f64;
            (period_loss, period_steps) = (0.0, 0);
            let val_loss = if val.is_empty() {
                None
            } else {
                let l = model.per_sample_losses(val)?;
                Some(l.iter().sum::<f64>() / l.len() as f64)
            };
            report.curve.push(CurvePoint {
                step: t + 1,
                lr,
                train_loss,
                val_loss,
            });
            let metric = val_loss.unwrap_or(train_loss);
            schedule.on_evaluation(metric);
            let seen = early.observe(metric);
            last_good = (t + 1, model.checkpoint()?);
            if seen.improved && self.early_stopping.restore_best {
                best = Some((t + 1, last_good.1.clone()));
            }
            if seen.stop {
                report.stop = StopReason::EarlyStopping;
                break;
            }
        }
        if !matches!(report.stop, StopReason::Monitor(_))
            && let Some((step, cp)) = best
            && step != report.steps
        {
            model.restore(&cp)?;
            report.restored_from = Some(step);
        }
        report.alerts = monitor.into_alerts();
        Ok(report)
    }
}

#[cfg(test)]
mod tests;
