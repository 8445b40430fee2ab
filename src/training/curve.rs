//! The learning curve of a run and what it says: over- or underfitting, trend.
//!
//! Each evaluation of a run adds a [`CurvePoint`]: the mean training loss of
//! the steps since the last one and the validation loss, both in the target's
//! units. [`LearningCurve::analyze`] then gives a [`CurveAnalysis`], kept in
//! the version's metadata:
//! - `overfitting_indicator` = mean of the last 3 validation losses − mean of
//!   the last 3 training losses (the seed's indicator; 0 with fewer than 3);
//! - `val_trend`: least-squares slope of the last ≤ 10 validation losses per
//!   evaluation, divided by their mean (scale-free: −0.01 is 1% lower per
//!   evaluation); the training losses when there is no validation set;
//! - `fit`: `too_short` with fewer than 3 evaluations; else `overfitting` when
//!   the mean of the last 3 validation losses is more than 10% above the best
//!   one while the training loss kept falling after it; else `underfitting`
//!   when the final training loss is at least 90% of the naive predictor's
//!   (the model learned little beyond the mean or the class frequencies);
//!   else `good`.

use serde::{Deserialize, Serialize};

/// One evaluation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// Optimizer steps taken so far in the run.
    pub step: u64,
    /// The learning rate at that step.
    pub lr: f64,
    /// Mean training loss over the steps since the previous point.
    pub train_loss: f64,
    /// Validation loss, when the run has a validation set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_loss: Option<f64>,
}

/// The evaluations of one run, in order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LearningCurve {
    /// The points.
    pub points: Vec<CurvePoint>,
}

/// The verdict on a run's fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fit {
    /// Fewer than 3 evaluations.
    TooShort,
    /// The validation loss rose while the training loss fell.
    Overfitting,
    /// The training loss stayed near the naive predictor's.
    Underfitting,
    /// Neither.
    Good,
}

/// What a learning curve says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CurveAnalysis {
    /// Number of evaluations.
    pub evaluations: usize,
    /// The last training loss.
    pub final_train_loss: Option<f64>,
    /// The last validation loss.
    pub final_val_loss: Option<f64>,
    /// The lowest validation loss, and the step it was seen at.
    pub best_val_loss: Option<f64>,
    /// The step of the lowest validation loss.
    pub best_step: Option<u64>,
    /// `(last − first) / n` of the training losses (the seed's "learning rate" of the curve).
    pub train_loss_slope: f64,
    /// Mean of the last 3 validation losses − mean of the last 3 training losses.
    pub overfitting_indicator: f64,
    /// Relative slope per evaluation of the last ≤ 10 validation (else training) losses.
    pub val_trend: f64,
    /// The naive predictor's training loss it was compared with, if any.
    pub baseline_loss: Option<f64>,
    /// The verdict.
    pub fit: Fit,
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Least-squares slope of `v` against 0, 1, 2, … divided by `mean(|v|)`.
fn relative_slope(v: &[f64]) -> f64 {
    let n = v.len() as f64;
    if v.len() < 2 {
        return 0.0;
    }
    let xm = (n - 1.0) / 2.0;
    let ym = mean(v);
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, y) in v.iter().enumerate() {
        let dx = i as f64 - xm;
        sxy += dx * (y - ym);
        sxx += dx * dx;
    }
    let scale = v.iter().map(|y| y.abs()).sum::<f64>() / n;
    if scale > 0.0 { sxy / sxx / scale } else { 0.0 }
}

impl LearningCurve {
    /// Adds an evaluation.
    pub fn push(&mut self, point: CurvePoint) {
        self.points.push(point);
    }

    /// The analysis, against the naive predictor's training loss `baseline` when known.
    ///
    /// ```
    /// use kaizen::training::{CurvePoint, Fit, LearningCurve};
    /// let mut c = LearningCurve::default();
    /// for (i, (t, v)) in [(1.0, 1.0), (0.5, 0.6), (0.3, 0.5), (0.2, 0.6), (0.1, 0.7)].into_iter().enumerate() {
    ///     c.push(CurvePoint { step: 10 * (i as u64 + 1), lr: 1e-3, train_loss: t, val_loss: Some(v) });
    /// }
    /// let a = c.analyze(Some(1.0));
    /// assert_eq!(a.fit, Fit::Overfitting); // validation 0.6 above its best 0.5 while training fell
    /// assert_eq!(a.best_step, Some(30));
    /// assert!((a.overfitting_indicator - 0.4).abs() < 1e-12);
    /// ```
    pub fn analyze(&self, baseline: Option<f64>) -> CurveAnalysis {
        let train: Vec<f64> = self.points.iter().map(|p| p.train_loss).collect();
        let val: Vec<f64> = self.points.iter().filter_map(|p| p.val_loss).collect();
        let n = train.len();
        let best = self
            .points
            .iter()
            .filter_map(|p| p.val_loss.map(|v| (v, p)))
            .fold(
                None,
                |best: Option<(f64, &CurvePoint)>, (v, p)| match best {
                    Some((b, _)) if b <= v => best,
                    _ => Some((v, p)),
                },
            );
        let overfitting_indicator = if n >= 3 && val.len() >= 3 {
            mean(&val[val.len() - 3..]) - mean(&train[n - 3..])
        } else {
            0.0
        };
        let trend_of = if val.is_empty() { &train } else { &val };
        let val_trend = relative_slope(&trend_of[trend_of.len().saturating_sub(10)..]);
        let fit = if n < 3 {
            Fit::TooShort
        } else if let Some((best_v, best_p)) = best
            && val.len() >= 3
            && mean(&val[val.len() - 3..]) > 1.1 * best_v
            && train[n - 1] < best_p.train_loss
        {
            Fit::Overfitting
        } else if baseline.is_some_and(|b| train[n - 1] >= 0.9 * b) {
            Fit::Underfitting
        } else {
            Fit::Good
        };
        CurveAnalysis {
            evaluations: n,
            final_train_loss: train.last().copied(),
            final_val_loss: val.last().copied(),
            best_val_loss: best.map(|b| b.0),
            best_step: best.map(|b| b.1.step),
            train_loss_slope: if n > 1 {
                (train[n - 1] - train[0]) / n as f64
            } else {
                0.0
            },
            overfitting_indicator,
            val_trend,
            baseline_loss: baseline,
            fit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve(pairs: &[(f64, Option<f64>)]) -> LearningCurve {
        let mut c = LearningCurve::default();
        for (i, &(t, v)) in pairs.iter().enumerate() {
            c.push(CurvePoint {
                step: i as u64 + 1,
                lr: 0.1,
                train_loss: t,
                val_loss: v,
            });
        }
        c
    }

    #[test]
    fn underfitting_good_and_too_short() {
        let flat = curve(&[(0.98, Some(1.0)), (0.96, Some(1.0)), (0.95, Some(0.99))]);
        assert_eq!(flat.analyze(Some(1.0)).fit, Fit::Underfitting);
        assert_eq!(flat.analyze(None).fit, Fit::Good);
        let good = curve(&[(1.0, Some(1.1)), (0.5, Some(0.6)), (0.2, Some(0.25))]);
        let a = good.analyze(Some(1.0));
        assert_eq!(a.fit, Fit::Good);
        assert_eq!(a.final_val_loss, Some(0.25));
        assert!((a.train_loss_slope - (0.2 - 1.0) / 3.0).abs() < 1e-15);
        assert_eq!(
            curve(&[(1.0, None), (0.5, None)]).analyze(None).fit,
            Fit::TooShort
        );
    }

    #[test]
    fn trend_is_a_relative_least_squares_slope() {
        // Validation 4, 3, 2, 1: slope −1 per evaluation, mean 2.5 → −0.4.
        let c = curve(&[
            (1.0, Some(4.0)),
            (1.0, Some(3.0)),
            (1.0, Some(2.0)),
            (1.0, Some(1.0)),
        ]);
        assert!((c.analyze(None).val_trend + 0.4).abs() < 1e-12);
        // Without validation the training losses give the trend; scale does not matter.
        let c = curve(&[(400.0, None), (300.0, None), (200.0, None), (100.0, None)]);
        assert!((c.analyze(None).val_trend + 0.4).abs() < 1e-12);
        let c = curve(&[(0.0, None), (0.0, None)]);
        assert_eq!(c.analyze(None).val_trend, 0.0);
    }

    #[test]
    fn a_rise_without_falling_training_loss_is_not_overfitting() {
        let c = curve(&[
            (0.5, Some(0.5)),
            (0.6, Some(0.7)),
            (0.7, Some(0.8)),
            (0.8, Some(0.9)),
        ]);
        let a = c.analyze(None);
        assert_eq!(a.fit, Fit::Good);
        assert_eq!(a.best_val_loss, Some(0.5));
    }
}
