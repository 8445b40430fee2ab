//! What cycles are worth when the host has no ledger: the value the pipeline
//! reports for each cycle, learned per energy.
//!
//! Each energy option is an arm with a Gaussian posterior on the mean
//! value of a cycle at that energy: the reported values, discounted by
//! `exp(−1/`[`MEMORY`]`)` per cycle so the arm can follow a world that
//! changes, plus one pseudo-observation of 0 (an untried energy is worth
//! nothing until shown otherwise, and a draw from it is as likely to be
//! positive as negative — so it gets tried). The spread of a cycle's value
//! is pooled over the arms, its prior the first value seen. Skipping is
//! worth 0.
//!
//! ```
//! use kaizen::decide::bandit::ValueBandit;
//! use rand::SeedableRng;
//!
//! let mut b = ValueBandit::new(3);
//! for _ in 0..50 {
//!     b.observe(0, -2.0);
//!     b.observe(2, 5.0);
//! }
//! let mean = b.means();
//! assert!(mean[2] > 4.0 && mean[0] < -1.5 && mean[1] == 0.0);
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
//! assert_eq!(b.draw(&mut rng).len(), 3);
//! ```

use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::level::normal;

/// Cycles over which an arm's evidence fades to `1/e`.
pub const MEMORY: f64 = 100.0;

/// One energy's discounted sums.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Arm {
    n: f64,
    sum: f64,
    squares: f64,
}

/// The arms. See the [module docs](self).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValueBandit {
    arms: Vec<Arm>,
    /// The first value seen, the scale of the prior spread.
    first: Option<f64>,
}

impl ValueBandit {
    /// `options` arms, none tried.
    pub fn new(options: usize) -> ValueBandit {
        ValueBandit {
            arms: vec![Arm::default(); options],
            first: None,
        }
    }

    /// Whether any value has been seen.
    pub fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    /// A cycle at option `arm` was reported worth `value`.
    pub fn observe(&mut self, arm: usize, value: f64) {
        if !value.is_finite() || arm >= self.arms.len() {
            return;
        }
        self.first.get_or_insert(value.abs().max(1e-9));
        let keep = (-1.0 / MEMORY).exp();
        let a = &mut self.arms[arm];
        a.n = keep * a.n + 1.0;
        a.sum = keep * a.sum + value;
        a.squares = keep * a.squares + value * value;
    }

    /// The variance of one cycle's value, pooled over the arms.
    fn spread(&self) -> f64 {
        let prior = self.first.unwrap_or(1.0).powi(2);
        let (mut ss, mut dof) = (prior, 1.0);
        for a in self.arms.iter().filter(|a| a.n > 1.0) {
            ss += (a.squares - a.sum * a.sum / a.n).max(0.0);
            dof += a.n - 1.0;
        }
        ss / dof
    }

    /// Each arm's posterior mean.
    pub fn means(&self) -> Vec<f64> {
        self.arms.iter().map(|a| a.sum / (a.n + 1.0)).collect()
    }

    /// One draw of every arm's mean from its posterior.
    pub fn draw(&self, rng: &mut ChaCha8Rng) -> Vec<f64> {
        let v = self.spread();
        self.arms
            .iter()
            .map(|a| a.sum / (a.n + 1.0) + (v / (a.n + 1.0)).sqrt() * normal(rng))
            .collect()
    }
}
