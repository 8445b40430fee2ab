//! Seeded ARMA series for the forecaster's unit tests.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A standard-normal draw (Box–Muller).
pub(crate) fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let (u, v): (f64, f64) = (rng.random(), rng.random());
    (-2.0 * (1.0 - u).ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// `n` points of a zero-mean ARMA(`phi`, `theta`) with unit innovations,
/// after a burn-in of 100.
pub(crate) fn simulate(phi: &[f64], theta: &[f64], n: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let e: Vec<f64> = (0..n + 100).map(|_| normal(&mut rng)).collect();
    let mut x = vec![0.0; n + 100];
    for t in 0..n + 100 {
        let mut v = e[t];
        for (j, p) in phi.iter().enumerate() {
            if t > j {
                v += p * x[t - 1 - j];
            }
        }
        for (j, th) in theta.iter().enumerate() {
            if t > j {
                v += th * e[t - 1 - j];
            }
        }
        x[t] = v;
    }
    x.split_off(100)
}
