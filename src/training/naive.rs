//! [`NaivePredictor`]: the model a first version must beat — the training
//! mean (regression) or the class frequencies (classification).

use super::{Dataset, LossKind, Task};

/// A constant prediction fitted on training data.
///
/// For regression it predicts the training targets' mean, scored with the
/// model's loss (squared error for MSE, …). For classification it predicts
/// the training class frequencies, add-one smoothed so no class has
/// probability 0, scored by cross-entropy; its most likely class is the
/// majority class.
///
/// ```
/// use kaizen::training::{Dataset, LossKind, NaivePredictor, Task};
/// let mut d = Dataset::new(1);
/// for y in [1.0, 2.0, 6.0] {
///     d.push(&[0.0], y).unwrap();
/// }
/// let naive = NaivePredictor::fit(Task::Regression, LossKind::Mse, 1.0, 0, &d);
/// assert_eq!(naive.per_sample_losses(&d), [4.0, 1.0, 9.0]); // mean 3
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct NaivePredictor {
    loss: LossKind,
    huber_delta: f64,
    /// The mean, or each class's probability.
    values: Vec<f64>,
}

impl NaivePredictor {
    /// Fits on `train`; `classes` is the number of classes (classification only).
    pub fn fit(
        task: Task,
        loss: LossKind,
        huber_delta: f64,
        classes: usize,
        train: &Dataset,
    ) -> Self {
        let y = train.targets();
        let values = match task {
            Task::Regression => {
                let mean = if y.is_empty() {
                    0.0
                } else {
                    y.iter().sum::<f64>() / y.len() as f64
                };
                vec![mean]
            }
            Task::Classification => {
                let mut counts = vec![1.0; classes];
                for &c in y {
                    if let Some(n) = counts.get_mut(c as usize) {
                        *n += 1.0;
                    }
                }
                let total: f64 = counts.iter().sum();
                counts.iter().map(|n| n / total).collect()
            }
        };
        NaivePredictor {
            loss,
            huber_delta,
            values,
        }
    }

    /// Each row's loss, in the target's units.
    pub fn per_sample_losses(&self, data: &Dataset) -> Vec<f64> {
        data.targets()
            .iter()
            .map(|&y| match self.loss {
                LossKind::CrossEntropy => -self
                    .values
                    .get(y as usize)
                    .copied()
                    .unwrap_or(f64::MIN_POSITIVE)
                    .ln(),
                kind => {
                    let e = (y - self.values[0]).abs();
                    match kind {
                        LossKind::Mae => e,
                        LossKind::Huber if e > self.huber_delta => {
                            self.huber_delta * (e - 0.5 * self.huber_delta)
                        }
                        LossKind::Huber => 0.5 * e * e,
                        _ => e * e,
                    }
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_frequencies_are_add_one_smoothed() {
        let mut d = Dataset::new(1);
        for c in [0.0, 0.0, 0.0, 1.0] {
            d.push(&[0.0], c).unwrap();
        }
        // Counts 3, 1, 0 → smoothed 4, 2, 1 of 7.
        let n = NaivePredictor::fit(Task::Classification, LossKind::CrossEntropy, 1.0, 3, &d);
        let mut probe = Dataset::new(1);
        for c in [0.0, 1.0, 2.0] {
            probe.push(&[0.0], c).unwrap();
        }
        let l = n.per_sample_losses(&probe);
        let want = [
            -(4.0f64 / 7.0).ln(),
            -(2.0f64 / 7.0).ln(),
            -(1.0f64 / 7.0).ln(),
        ];
        for (a, b) in l.iter().zip(want) {
            assert!((a - b).abs() < 1e-15);
        }
    }

    #[test]
    fn regression_losses_follow_the_model_loss() {
        let mut d = Dataset::new(1);
        for y in [0.0, 4.0] {
            d.push(&[0.0], y).unwrap();
        }
        let mae = NaivePredictor::fit(Task::Regression, LossKind::Mae, 1.0, 0, &d);
        assert_eq!(mae.per_sample_losses(&d), [2.0, 2.0]);
        let huber = NaivePredictor::fit(Task::Regression, LossKind::Huber, 1.0, 0, &d);
        assert_eq!(huber.per_sample_losses(&d), [1.5, 1.5]);
    }
}
