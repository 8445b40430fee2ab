//! [`Standardizer`]: per-column mean and standard deviation, kept with a model version.

use serde::{Deserialize, Serialize};

/// Maps each column to `(v − mean) / std`. Fitted once, on the data the model
/// was first trained on, and saved with every version that descends from it,
/// so a version always reads its inputs the way it was trained to.
///
/// The standard deviation is the population one (ddof 0); a column that is
/// constant in the fitting data gets 1, so it maps to 0 rather than to ∞.
///
/// ```
/// use kaizen::training::Standardizer;
/// let s = Standardizer::fit(2, &[1.0, 5.0, 3.0, 5.0]);
/// assert_eq!(s.mean, [2.0, 5.0]);
/// assert_eq!(s.std, [1.0, 1.0]);
/// assert_eq!(s.apply(0, 4.0), 2.0);
/// assert_eq!(s.invert(0, 2.0), 4.0);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Standardizer {
    /// Per column, its mean.
    pub mean: Vec<f64>,
    /// Per column, its standard deviation (1 for a constant column).
    pub std: Vec<f64>,
}

impl Standardizer {
    /// Fits `width` columns of the row-major values `x` (an empty `x` gives
    /// mean 0 and std 1).
    pub fn fit(width: usize, x: &[f64]) -> Self {
        let n = x.len().checked_div(width).unwrap_or(0);
        let mut mean = vec![0.0; width];
        let mut std = vec![1.0; width];
        if n == 0 {
            return Standardizer { mean, std };
        }
        for (j, (m, s)) in mean.iter_mut().zip(&mut std).enumerate() {
            let col = || x.iter().skip(j).step_by(width);
            *m = col().sum::<f64>() / n as f64;
            let var = col().map(|v| (v - *m).powi(2)).sum::<f64>() / n as f64;
            let sd = var.sqrt();
            *s = if sd > 1e-12 * m.abs().max(1.0) {
                sd
            } else {
                1.0
            };
        }
        Standardizer { mean, std }
    }

    /// Number of columns.
    pub fn width(&self) -> usize {
        self.mean.len()
    }

    /// `v` of column `j`, standardised.
    pub fn apply(&self, j: usize, v: f64) -> f64 {
        (v - self.mean[j]) / self.std[j]
    }

    /// A standardised value of column `j`, back in its own units.
    pub fn invert(&self, j: usize, z: f64) -> f64 {
        z * self.std[j] + self.mean[j]
    }
}
