//! AdamW over a flat parameter vector, with global gradient-norm clipping.
//!
//! The same update as `candle_nn::AdamW` (bias-corrected moments, decoupled
//! weight decay `θ ← θ·(1 − lr·λ) − lr·m̂/(√v̂ + ε)`), written as one
//! branch-free loop over `f32` slices that the compiler vectorises (every
//! element is computed on its own, so vectorising changes no bit). The tests
//! check it against candle's optimiser.
//!
//! Moments below `1e-30` are flushed to 0. Without that, the moments of a
//! dead ReLU unit decay geometrically into subnormal floats, which the CPU
//! handles about five times slower; at that size they no longer matter.

/// Moments smaller than this are set to 0.
const FLUSH_BELOW: f32 = 1e-30;

/// AdamW hyperparameters (candle-nn's `ParamsAdamW`, as `f64`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct AdamWParams {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

/// AdamW state: the two moments and the number of steps taken.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct AdamW {
    pub params: AdamWParams,
    pub m: Vec<f32>,
    pub v: Vec<f32>,
    pub steps: u64,
}

impl AdamW {
    /// Zero moments for `n` parameters.
    pub fn new(params: AdamWParams, n: usize) -> Self {
        Self {
            params,
            m: vec![0.0; n],
            v: vec![0.0; n],
            steps: 0,
        }
    }

    /// One step on `theta` with gradient `grad · grad_scale`.
    pub fn step(&mut self, theta: &mut [f32], grad: &[f32], grad_scale: f32) {
        self.steps += 1;
        let p = self.params;
        // Bias corrections in f64; for very many steps they reach 1.
        let t = self.steps as f64;
        let m_hat = (1.0 / (1.0 - p.beta1.powf(t))) as f32;
        let v_hat = (1.0 / (1.0 - p.beta2.powf(t))) as f32;
        let decay = (1.0 - p.lr * p.weight_decay) as f32;
        let (lr, eps) = (p.lr as f32, p.eps as f32);
        let (b1, b2) = (p.beta1 as f32, p.beta2 as f32);
        // 1 − β in f64: in f32, 1 − 0.999 would be off by 1e-8.
        let (c1, c2) = ((1.0 - p.beta1) as f32, (1.0 - p.beta2) as f32);
        let iter = theta
            .iter_mut()
            .zip(grad)
            .zip(self.m.iter_mut().zip(&mut self.v));
        for ((theta, &g), (m, v)) in iter {
            let g = g * grad_scale;
            let m1 = b1 * *m + c1 * g;
            let v1 = b2 * *v + c2 * g * g;
            let m1 = if m1.abs() < FLUSH_BELOW { 0.0 } else { m1 };
            let v1 = if v1 < FLUSH_BELOW { 0.0 } else { v1 };
            *m = m1;
            *v = v1;
            *theta = *theta * decay - lr * (m1 * m_hat) / ((v1 * v_hat).sqrt() + eps);
        }
    }
}

/// The Euclidean norm of all of `grad`, accumulated in `f64` in four
/// interleaved partial sums (element `i` goes to sum `i mod 4`; the sums are
/// then added as `(s0 + s1) + (s2 + s3)`): a fixed order, so the same bits on
/// every machine, without one long chain of dependent additions.
pub(crate) fn global_norm(grad: &[f32]) -> f64 {
    let mut sums = [0f64; 4];
    let chunks = grad.chunks_exact(4);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (s, &g) in sums.iter_mut().zip(chunk) {
            *s += f64::from(g) * f64::from(g);
        }
    }
    for (s, &g) in sums.iter_mut().zip(tail) {
        *s += f64::from(g) * f64::from(g);
    }
    ((sums[0] + sums[1]) + (sums[2] + sums[3])).sqrt()
}

/// The factor that brings a gradient of norm `norm` down to at most `max`.
pub(crate) fn clip_scale(norm: f64, max: f64) -> f32 {
    if norm > max { (max / norm) as f32 } else { 1.0 }
}
