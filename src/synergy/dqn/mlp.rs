//! A small multilayer perceptron on plain `f32` loops: `inputs → hidden →
//! ReLU → hidden → ReLU → outputs`, its forward pass over a batch and the
//! backward pass of a loss that touches one output per row (a Q-learning TD
//! loss). The sizes are parameters ([`MlpDims`]), so a DQN of any width
//! reuses it.
//!
//! **Layout.** The parameters live in one flat `Vec<f32>`: `l1.weight`,
//! `l1.bias`, `l2.weight`, `l2.bias`, `l3.weight`, `l3.bias`, each weight
//! stored input-major (`[in][out]`, the transpose of candle's `Linear`
//! weight), so that a layer's output row is a sum of contiguous weight rows.
//! Gradients and optimiser moments use the same layout.
//!
//! **How it is computed.** Every product is an `axpy` over a contiguous row:
//! an output row is built as `bias + Σ_k s_k · W[k]` in a fixed-size block of
//! accumulators, so the compiler keeps the block in vector registers and
//! vectorises the loop without reordering any sum: each output element is
//! summed in a fixed order (`k` ascending), the same on every machine.
//! Rows of hidden units that the ReLU zeroed are skipped (a bit mask per row
//! and layer lists the units with `z ≥ 0`); their terms are exact zeros, so
//! skipping them changes no value. No reduction is reassociated and there is
//! no runtime CPU-feature dispatch: the same binary gives the same bits on
//! every machine. [`madd`] uses a fused multiply-add only when the build
//! enables the `fma` target feature at compile time (see its docs).
//!
//! **ReLU at 0.** Its derivative at exactly 0 is taken as 1, as candle's
//! autograd does.

use rand::Rng;

/// Multiply-add `a·b + c`: two roundings, or one (fused) when the binary is
/// built with the `fma` target feature (`-C target-cpu=x86-64-v3` or
/// `native`). The default build targets baseline x86-64 (SSE2), which runs on
/// every x86-64 machine; a build with FMA is faster and gives other (equally
/// deterministic) bits than the default build.
#[inline(always)]
pub(crate) fn madd(a: f32, b: f32, c: f32) -> f32 {
    if cfg!(target_feature = "fma") {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// The sizes of a network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MlpDims {
    /// Width of an input row.
    pub inputs: usize,
    /// Width of each of the two hidden layers.
    pub hidden: usize,
    /// Width of an output row (one per action).
    pub outputs: usize,
}

/// One tensor of the flat parameter vector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Segment {
    /// `l1.weight`, `l1.bias`, ….
    pub name: &'static str,
    /// Input width of the tensor's layer (for the initialisation bound).
    pub fan_in: usize,
    /// Output width of the tensor's layer.
    pub fan_out: usize,
    /// Whether this is a weight (`[fan_in][fan_out]`) rather than a bias.
    pub is_weight: bool,
    /// Range in the flat vector.
    pub range: std::ops::Range<usize>,
}

impl MlpDims {
    /// The six tensors in vector order.
    pub fn segments(self) -> [Segment; 6] {
        const NAMES: [&str; 6] = [
            "l1.weight",
            "l1.bias",
            "l2.weight",
            "l2.bias",
            "l3.weight",
            "l3.bias",
        ];
        let (i, h, o) = (self.inputs, self.hidden, self.outputs);
        let layers = [(i, h), (h, h), (h, o)];
        let mut at = 0;
        std::array::from_fn(|n| {
            let (fan_in, fan_out) = layers[n / 2];
            let is_weight = n % 2 == 0;
            let len = if is_weight { fan_in * fan_out } else { fan_out };
            at += len;
            Segment {
                name: NAMES[n],
                fan_in,
                fan_out,
                is_weight,
                range: at - len..at,
            }
        })
    }

    /// Number of parameters.
    pub fn param_count(self) -> usize {
        let (i, h, o) = (self.inputs, self.hidden, self.outputs);
        i * h + h + h * h + h + h * o + o
    }

    /// Start of each tensor in the flat vector, in segment order.
    fn offsets(self) -> [usize; 6] {
        self.segments().map(|s| s.range.start)
    }
}

/// What a forward pass keeps for the backward pass, for `rows` rows.
#[derive(Clone, Debug, Default)]
pub(crate) struct Trace {
    rows: usize,
    /// Mask words per row (`hidden / 32`, rounded up).
    words: usize,
    z1: Vec<f32>,
    z2: Vec<f32>,
    q: Vec<f32>,
    outputs: usize,
    m1: Vec<u32>,
    m2: Vec<u32>,
}

/// Scratch space of a backward pass.
#[derive(Clone, Debug, Default)]
pub(crate) struct Scratch {
    /// `l2.weight` output-major (`[out][in]`).
    w2: Vec<f32>,
    /// `l3.weight` output-major.
    w3: Vec<f32>,
    dz1: Vec<f32>,
    dz2: Vec<f32>,
    /// Per hidden unit of layer 1, the rows where it is active.
    cols: Vec<u32>,
    zeros: Vec<f32>,
}

/// A network: its sizes and flat parameters.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Mlp {
    dims: MlpDims,
    params: Vec<f32>,
}

impl Trace {
    /// The outputs of the last forward pass, `[rows][outputs]`.
    pub fn q(&self) -> &[f32] {
        &self.q[..self.rows * self.outputs]
    }
}

impl Mlp {
    /// Weights and biases drawn uniformly from `±1/√fan_in` (candle-nn's
    /// default), tensor by tensor in vector order, from `rng`.
    pub fn init(dims: MlpDims, rng: &mut impl Rng) -> Self {
        let mut params = Vec::with_capacity(dims.param_count());
        for seg in dims.segments() {
            let bound = 1.0 / (seg.fan_in as f32).sqrt();
            params.extend((0..seg.range.len()).map(|_| rng.random_range(-bound..bound)));
        }
        Self { dims, params }
    }

    /// A network from its flat parameters; `Err` says why they do not fit.
    pub fn from_params(dims: MlpDims, params: Vec<f32>) -> Result<Self, String> {
        if params.len() != dims.param_count() {
            return Err(format!(
                "{} parameters, expected {} for a {}→{}→{}→{} network",
                params.len(),
                dims.param_count(),
                dims.inputs,
                dims.hidden,
                dims.hidden,
                dims.outputs
            ));
        }
        Ok(Self { dims, params })
    }

    /// The sizes.
    #[cfg(test)]
    pub fn dims(&self) -> MlpDims {
        self.dims
    }

    /// The flat parameters.
    pub fn params(&self) -> &[f32] {
        &self.params
    }

    /// The flat parameters, to be changed in place.
    pub fn params_mut(&mut self) -> &mut [f32] {
        &mut self.params
    }

    /// The outputs of the `rows` rows of `x` (`[rows][inputs]`) into
    /// [`Trace::q`], keeping what [`backward`](Self::backward) needs.
    pub fn forward(&self, x: &[f32], rows: usize, trace: &mut Trace) {
        let (ni, h, no) = (self.dims.inputs, self.dims.hidden, self.dims.outputs);
        let [w1, b1, w2, b2, w3, b3] = self.dims.offsets();
        let p = &self.params[..];
        let words = h.div_ceil(32);
        let t = trace;
        t.rows = rows;
        t.words = words;
        t.outputs = no;
        fit(&mut t.z1, rows * h);
        fit(&mut t.z2, rows * h);
        fit(&mut t.q, rows * no);
        fit(&mut t.m1, rows * words);
        fit(&mut t.m2, rows * words);
        let x = &x[..rows * ni];
        for r in 0..rows {
            let xr = &x[r * ni..(r + 1) * ni];
            let z1 = &mut t.z1[r * h..(r + 1) * h];
            combine(
                z1,
                &p[b1..b1 + h],
                &p[w1..b1],
                h,
                xr.iter().copied().enumerate(),
            );
            let m1 = &mut t.m1[r * words..(r + 1) * words];
            mask(z1, m1);
            let z2 = &mut t.z2[r * h..(r + 1) * h];
            combine(z2, &p[b2..b2 + h], &p[w2..b2], h, Active::new(m1, z1, 1, 0));
            let m2 = &mut t.m2[r * words..(r + 1) * words];
            mask(z2, m2);
            let q = &mut t.q[r * no..(r + 1) * no];
            combine(
                q,
                &p[b3..b3 + no],
                &p[w3..b3],
                no,
                Active::new(m2, z2, 1, 0),
            );
        }
    }

    /// Writes into `grad` (the parameter layout) the gradient of a loss
    /// whose derivative w.r.t. the outputs of the forward pass `trace` over
    /// `x` is `dq[r]` at output `actions[r]` of row `r`, and 0 elsewhere.
    pub fn backward(
        &self,
        x: &[f32],
        trace: &Trace,
        actions: &[u8],
        dq: &[f32],
        grad: &mut [f32],
        s: &mut Scratch,
    ) {
        let (ni, h, no) = (self.dims.inputs, self.dims.hidden, self.dims.outputs);
        let [w1, b1, w2, b2, w3, b3] = self.dims.offsets();
        let p = &self.params[..];
        let t = trace;
        let (rows, words) = (t.rows, t.words);
        let grad = &mut grad[..self.dims.param_count()];
        grad.fill(0.0);
        transpose(&p[w2..b2], h, h, &mut s.w2);
        transpose(&p[w3..b3], h, no, &mut s.w3);
        fit(&mut s.dz1, rows * h);
        fit(&mut s.dz2, rows * h);
        fit(&mut s.zeros, h);
        // Output layer: dz2 = dq·W3[a] where z2 ≥ 0.
        for r in 0..rows {
            let (a, g) = (usize::from(actions[r]), dq[r]);
            let z2 = &t.z2[r * h..(r + 1) * h];
            let m2 = &t.m2[r * words..(r + 1) * words];
            for (k, v) in Active::new(m2, z2, 1, 0) {
                let at = w3 + k * no + a;
                grad[at] = madd(v, g, grad[at]);
            }
            grad[b3 + a] += g;
            let w3a = &s.w3[a * h..(a + 1) * h];
            let dz2 = &mut s.dz2[r * h..(r + 1) * h];
            for ((d, &w), &z) in dz2.iter_mut().zip(w3a).zip(z2) {
                *d = if is_on(z) { g * w } else { 0.0 };
            }
        }
        // Hidden layer 2 → 1: dz1 = (Σ_o dz2[o]·W2[o]) where z1 ≥ 0.
        for r in 0..rows {
            let m2 = &t.m2[r * words..(r + 1) * words];
            let dz2 = &s.dz2[r * h..(r + 1) * h];
            let dz1 = &mut s.dz1[r * h..(r + 1) * h];
            combine(dz1, &s.zeros, &s.w2, h, Active::new(m2, dz2, 1, 0));
            for (d, &z) in dz1.iter_mut().zip(&t.z1[r * h..(r + 1) * h]) {
                *d = if is_on(z) { *d } else { 0.0 };
            }
        }
        let every_row = || (0..rows).map(|r| (r, 1.0));
        combine(&mut grad[b2..w3], &s.zeros, &s.dz2, h, every_row());
        combine(&mut grad[b1..w2], &s.zeros, &s.dz1, h, every_row());
        // l2.weight[k] = Σ_r h1[r][k]·dz2[r], over the rows where unit k is on.
        let col_words = rows.div_ceil(32);
        fit(&mut s.cols, h * col_words);
        s.cols[..h * col_words].fill(0);
        for r in 0..rows {
            let m1 = &t.m1[r * words..(r + 1) * words];
            for (k, _) in Active::new(m1, &t.z1, 0, 0) {
                s.cols[k * col_words + r / 32] |= 1 << (r % 32);
            }
        }
        for k in 0..h {
            let col = &s.cols[k * col_words..(k + 1) * col_words];
            let out = &mut grad[w2 + k * h..w2 + (k + 1) * h];
            combine(out, &s.zeros, &s.dz2, h, Active::new(col, &t.z1, h, k));
        }
        // l1.weight[i] = Σ_r x[r][i]·dz1[r].
        for i in 0..ni {
            let out = &mut grad[w1 + i * h..w1 + (i + 1) * h];
            let column = (0..rows).map(|r| (r, x[r * ni + i]));
            combine(out, &s.zeros, &s.dz1, h, column);
        }
    }
}

/// `v` grown to at least `len` (never shrunk, so a buffer used for a batch
/// and then for one row is not refilled; every user overwrites what it reads).
fn fit<T: Default + Clone>(v: &mut Vec<T>, len: usize) {
    if v.len() < len {
        v.resize(len, T::default());
    }
}

/// `out = m` transposed, for `m` of `rows × cols`.
fn transpose(m: &[f32], rows: usize, cols: usize, out: &mut Vec<f32>) {
    fit(out, rows * cols);
    for (r, row) in m.chunks_exact(cols).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            out[c * rows + r] = v;
        }
    }
}

/// Whether a unit with pre-activation `z` is on: `z ≥ 0` (the ReLU's
/// derivative at 0 is 1), or NaN, so that a NaN flows on to the outputs and
/// the loss (and the step is skipped) instead of being dropped.
#[inline(always)]
fn is_on(z: f32) -> bool {
    // `|`, not `||`: no branch, so the mask loop vectorises.
    (z >= 0.0) | z.is_nan()
}

/// Sets bit `k` of `words` where unit `k` [is on](is_on).
fn mask(z: &[f32], words: &mut [u32]) {
    for (w, chunk) in words.iter_mut().zip(z.chunks(32)) {
        *w = match <&[f32; 32]>::try_from(chunk) {
            Ok(full) => {
                let mut m = 0u32;
                for (k, &v) in full.iter().enumerate() {
                    m |= u32::from(is_on(v)) << k;
                }
                m
            }
            Err(_) => chunk
                .iter()
                .enumerate()
                .fold(0, |m, (k, &v)| m | (u32::from(is_on(v)) << k)),
        };
    }
}

/// The set bits `k` of a mask with the values `values[k·stride + offset]`.
#[derive(Clone)]
struct Active<'a> {
    words: &'a [u32],
    values: &'a [f32],
    stride: usize,
    offset: usize,
    base: usize,
    bits: u32,
}

impl<'a> Active<'a> {
    fn new(words: &'a [u32], values: &'a [f32], stride: usize, offset: usize) -> Self {
        let (bits, words) = words.split_first().map_or((0, words), |(&b, w)| (b, w));
        Active {
            words,
            values,
            stride,
            offset,
            base: 0,
            bits,
        }
    }
}

impl Iterator for Active<'_> {
    type Item = (usize, f32);

    #[inline(always)]
    fn next(&mut self) -> Option<(usize, f32)> {
        while self.bits == 0 {
            let (&w, rest) = self.words.split_first()?;
            self.words = rest;
            self.bits = w;
            self.base += 32;
        }
        let k = self.base + self.bits.trailing_zeros() as usize;
        self.bits &= self.bits - 1;
        Some((k, self.values[k * self.stride + self.offset]))
    }
}

/// `out = bias + Σ_(k, s) s·w[k·stride ..][..out.len()]`, the terms summed in
/// the order given, in register blocks of 32, 8, 4 and 1 columns.
#[inline(always)]
fn combine(
    out: &mut [f32],
    bias: &[f32],
    w: &[f32],
    stride: usize,
    terms: impl Iterator<Item = (usize, f32)> + Clone,
) {
    let n = out.len();
    let mut c = 0;
    while n - c >= 32 {
        block::<32>(out, bias, w, stride, c, terms.clone());
        c += 32;
    }
    while n - c >= 8 {
        block::<8>(out, bias, w, stride, c, terms.clone());
        c += 8;
    }
    while n - c >= 4 {
        block::<4>(out, bias, w, stride, c, terms.clone());
        c += 4;
    }
    while c < n {
        block::<1>(out, bias, w, stride, c, terms.clone());
        c += 1;
    }
}

/// Columns `c .. c + N` of [`combine`].
#[inline(always)]
fn block<const N: usize>(
    out: &mut [f32],
    bias: &[f32],
    w: &[f32],
    stride: usize,
    c: usize,
    terms: impl Iterator<Item = (usize, f32)>,
) {
    let mut acc: [f32; N] = bias[c..c + N].try_into().expect("N values");
    for (k, s) in terms {
        let at = k * stride + c;
        let row: &[f32; N] = w[at..at + N].try_into().expect("N values");
        for j in 0..N {
            acc[j] = madd(s, row[j], acc[j]);
        }
    }
    out[c..c + N].copy_from_slice(&acc);
}
