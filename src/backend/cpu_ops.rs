//! The reference kernels: plain loops, one small function per op, each writing into the
//! output slice it is given (the session's storage, allocated once). They define what
//! every GPU kernel must compute. Sums accumulate in f64.

use super::cpu_pool::{for_parts, join, Parts};
use crate::graph::op::{AdamConfig, SgdConfig};
use crate::graph::shape::Shape;
use crate::ops::total::Total;
use crate::train::data::pixel_value;
use std::sync::atomic::{AtomicU64, Ordering};

/// Elementwise loops over more values than this are split across cores, in parts of
/// about this many (whole rows): below it, a part is over before another core could help.
const ELEMENTWISE_PART: usize = 1 << 15;

/// Runs `body(rows, out_rows)` over the rows of a `shape` output in parts of about
/// [`ELEMENTWISE_PART`] values, across cores when there is more than one part. Each
/// element is computed alone, so the split changes no value.
fn by_rows(shape: Shape, out: &mut [f32], body: impl Fn(std::ops::Range<usize>, &mut [f32]) + Sync) {
    let rows = (ELEMENTWISE_PART / shape.cols().max(1)).max(1);
    let out = &mut out[..shape.len()];
    if shape.rows() <= rows {
        return body(0..shape.rows(), out);
    }
    let parts = Parts::new(out);
    for_parts(shape.rows().div_ceil(rows), |i| {
        let first = i * rows;
        // SAFETY: part i takes chunk i, once.
        body(first..(first + rows).min(shape.rows()), unsafe { parts.chunk(i, rows * shape.cols()) })
    });
}

/// An elementwise op (`f(a, b, s)` per element, see [`crate::Map`]) of `a` and `b`
/// broadcast to `shape`, into `out`. Operands of the output's own shape are read in
/// place, without the index arithmetic of broadcasting.
#[allow(clippy::too_many_arguments)] // the op, its constant, two operands with shapes, out
pub fn map<F: Fn(f32, f32, f32) -> f32 + Sync>(
    f: F,
    s: f32,
    a: &[f32],
    sa: Shape,
    b: &[f32],
    sb: Shape,
    shape: Shape,
    out: &mut [f32],
) {
    let cols = shape.cols();
    by_rows(shape, out, |rows, out| {
        let values = rows.start * cols..rows.end * cols;
        match (sa == shape, sb == shape, b.len() == 1) {
            (true, true, _) => {
                let operands = a[values.clone()].iter().zip(&b[values]);
                out.iter_mut().zip(operands).for_each(|(y, (&a, &b))| *y = f(a, b, s))
            }
            (true, _, true) => out.iter_mut().zip(&a[values]).for_each(|(y, &a)| *y = f(a, b[0], s)),
            _ => {
                for (r, row) in rows.zip(out.chunks_mut(cols)) {
                    match (operand_row(a, sa, r, cols), operand_row(b, sb, r, cols)) {
                        (Row::Full(a), Row::Full(b)) => {
                            row.iter_mut().zip(a.iter().zip(b)).for_each(|(y, (&a, &b))| *y = f(a, b, s))
                        }
                        (Row::Full(a), Row::One(b)) => row.iter_mut().zip(a).for_each(|(y, &a)| *y = f(a, b, s)),
                        (Row::One(a), Row::Full(b)) => row.iter_mut().zip(b).for_each(|(y, &b)| *y = f(a, b, s)),
                        (Row::One(a), Row::One(b)) => row.fill(f(a, b, s)),
                    }
                }
            }
        }
    })
}

/// Row `r` of an operand read through the matrix views (see
/// [`Shape::reads_by_rows`]): a whole row of the output's width, or one value repeated
/// along it.
enum Row<'a> {
    Full(&'a [f32]),
    One(f32),
}

fn operand_row(x: &[f32], shape: Shape, r: usize, cols: usize) -> Row<'_> {
    let start = (r % shape.rows()) * shape.cols();
    if shape.cols() == cols {
        Row::Full(&x[start..start + cols])
    } else {
        Row::One(x[start])
    }
}

/// An elementwise op applied in place to `value` (the running value of a fused chain, of
/// the output's shape): `f(value, other)` when `value_first`, else `f(other, value)`;
/// `other` is broadcast like any operand, and 0 for a one-operand op.
pub fn map_in_place<F: Fn(f32, f32, f32) -> f32 + Sync>(
    f: F,
    s: f32,
    value: &mut [f32],
    shape: Shape,
    other: (&[f32], Shape),
    value_first: bool,
) {
    let (b, sb) = other;
    let apply = |y: &mut f32, o: f32| *y = if value_first { f(*y, o, s) } else { f(o, *y, s) };
    let cols = shape.cols();
    by_rows(shape, value, |rows, value| {
        // The common operands (same shape, a bias row, a scalar) without the modulo
        // arithmetic of general broadcasting.
        if sb == shape {
            value.iter_mut().zip(&b[rows.start * cols..rows.end * cols]).for_each(|(y, &o)| apply(y, o));
        } else if sb.rows() == 1 && sb.cols() == cols {
            value.chunks_mut(cols).for_each(|row| row.iter_mut().zip(b).for_each(|(y, &o)| apply(y, o)));
        } else if sb.len() == 1 {
            value.iter_mut().for_each(|y| apply(y, b[0]));
        } else {
            for (r, row) in rows.zip(value.chunks_mut(cols)) {
                match operand_row(b, sb, r, cols) {
                    Row::Full(b) => row.iter_mut().zip(b).for_each(|(y, &o)| apply(y, o)),
                    Row::One(o) => row.iter_mut().for_each(|y| apply(y, o)),
                }
            }
        }
    })
}

/// The larger of two values, NaN if either is NaN (PyTorch's `max`; `f32::max` skips NaN).
pub fn max_nan(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() {
        f32::NAN
    } else {
        a.max(b)
    }
}

/// `Σ term(x, y)` over all elements in f64 (`y` empty for one operand): the whole-tensor
/// sums of [`crate::ops::total`], each specialised so that its term is inlined, and
/// compiled for AVX-512 where the CPU has it (the same lanes, so the same bits).
pub fn total(total: Total, x: &[f32], y: &[f32]) -> f64 {
    // Parts of a size fixed by the length alone, summed across cores, their sums added
    // in order: the same bits for any thread count.
    const MAX_PARTS: usize = 64;
    let size = ELEMENTWISE_PART.max(x.len().div_ceil(MAX_PARTS));
    if x.len() <= size {
        return total_part(total, x, y);
    }
    let partials: [AtomicU64; MAX_PARTS] = std::array::from_fn(|_| AtomicU64::new(0));
    let parts = x.len().div_ceil(size);
    for_parts(parts, |i| {
        let range = i * size..((i + 1) * size).min(x.len());
        let y = if y.is_empty() { y } else { &y[range.clone()] };
        partials[i].store(total_part(total, &x[range], y).to_bits(), Ordering::Relaxed);
    });
    partials[..parts].iter().map(|p| f64::from_bits(p.load(Ordering::Relaxed))).sum()
}

fn total_part(total: Total, x: &[f32], y: &[f32]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F, checked just above.
        return unsafe { total_avx512(total, x, y) };
    }
    total_any(total, x, y)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn total_avx512(total: Total, x: &[f32], y: &[f32]) -> f64 {
    total_any(total, x, y)
}

#[inline(always)]
fn total_any(total: Total, x: &[f32], y: &[f32]) -> f64 {
    match total {
        // Each sum's term on the CPU (its WGSL beside it in `Total::def`), written here as
        // closures so that each loop is compiled with its term inlined.
        Total::Sum => lanes(|a, _| a, x, y),
        Total::Squares => lanes(|a, _| a * a, x, y),
        Total::SquaredError => lanes(|a, b| (a - b) * (a - b), x, y),
    }
}

/// Thirty-two running sums, lane `i` taking elements `i`, `i + 32`, ..., added in order at the
/// end: a fixed order (the same bits every run) that the compiler can vectorise.
#[inline(always)]
fn lanes(term: impl Fn(f64, f64) -> f64, x: &[f32], y: &[f32]) -> f64 {
    const LANES: usize = 32;
    let mut sums = [0.0f64; LANES];
    let (xs, x_rest) = x.as_chunks::<LANES>();
    if y.is_empty() {
        for chunk in xs {
            for (sum, &a) in sums.iter_mut().zip(chunk) {
                *sum += term(a as f64, 0.0);
            }
        }
        x_rest.iter().zip(&mut sums).for_each(|(&a, sum)| *sum += term(a as f64, 0.0));
    } else {
        let (ys, y_rest) = y.as_chunks::<LANES>();
        for (cx, cy) in xs.iter().zip(ys) {
            for ((sum, &a), &b) in sums.iter_mut().zip(cx).zip(cy) {
                *sum += term(a as f64, b as f64);
            }
        }
        x_rest.iter().zip(y_rest).zip(&mut sums).for_each(|((&a, &b), sum)| *sum += term(a as f64, b as f64));
    }
    sums.iter().sum()
}

/// Column sums of a `[rows, cols]` matrix, into `out`: each column summed in f64 from
/// the first row down, walking the rows in storage order (a block of columns at a time,
/// their running sums on the stack).
pub fn sum_rows(x: &[f32], shape: Shape, out: &mut [f32]) {
    const BLOCK: usize = 64;
    let block = |start: usize, out: &mut [f32]| {
        let mut sums = [0.0f64; BLOCK];
        for row in x.chunks(shape.cols()).take(shape.rows()) {
            for (sum, &v) in sums.iter_mut().zip(&row[start..start + out.len()]) {
                *sum += v as f64;
            }
        }
        out.iter_mut().zip(sums).for_each(|(y, sum)| *y = sum as f32);
    };
    let blocks = shape.cols().div_ceil(BLOCK);
    if shape.len() < ELEMENTWISE_PART || blocks == 1 {
        return (0..blocks).zip(out.chunks_mut(BLOCK)).for_each(|(i, out)| block(i * BLOCK, out));
    }
    // Blocks of columns across cores: each column's sum is still one thread's, in order.
    let parts = Parts::new(&mut out[..shape.cols()]);
    // SAFETY: part i takes chunk i, once.
    for_parts(blocks, |i| block(i * BLOCK, unsafe { parts.chunk(i, BLOCK) }));
}

/// Row sums of a `[rows, cols]` matrix, into `out`: each row in f64 in the lanes of
/// [`total`] (a fixed order the compiler vectorises), rows split across cores in parts
/// of about 32k values (each row's sum is the same whoever computes it).
pub fn sum_cols(x: &[f32], shape: Shape, out: &mut [f32]) {
    let (rows, cols) = (shape.rows(), shape.cols());
    if cols == 0 {
        return out[..rows].fill(0.0);
    }
    let per_part = ELEMENTWISE_PART.div_ceil(cols).max(1);
    let parts = Parts::new(&mut out[..rows]);
    for_parts(rows.div_ceil(per_part), |p| {
        // SAFETY: part p takes chunk p, once.
        let sums = unsafe { parts.chunk(p, per_part) };
        for (i, y) in sums.iter_mut().enumerate() {
            *y = total_part(Total::Sum, &x[(p * per_part + i) * cols..][..cols], &[]) as f32;
        }
    });
}

/// Row maxima of a `[rows, cols]` matrix, NaN for a row holding one, into `out`.
pub fn max_cols(x: &[f32], shape: Shape, out: &mut [f32]) {
    for (y, row) in out.iter_mut().zip(x.chunks(shape.cols())) {
        *y = row.iter().fold(f32::NEG_INFINITY, |m, &v| max_nan(m, v));
    }
}

/// The index of the largest value, the first of equals, NaN counted the largest (the
/// first NaN wins), as PyTorch's `argmax`.
pub fn argmax(values: impl Iterator<Item = f32>) -> usize {
    let mut best = (0, f32::NEG_INFINITY);
    for (i, v) in values.enumerate() {
        if best.1.is_nan() {
            break;
        }
        if v.is_nan() || v > best.1 || i == 0 {
            best = (i, v);
        }
    }
    best.0
}

/// Rows whose targets are not all zero (padding rows are), at least 1.
fn counted_rows(targets: &[f32], k: usize) -> f64 {
    let counted = targets.chunks(k).filter(|t| t.iter().any(|&v| v != 0.0)).count();
    counted.max(1) as f64
}

/// Rows this wide keep their exponentials on the stack between the sum and the gradient;
/// wider ones compute them again (the same values).
const CACHED_EXPS: usize = 32;

/// One row of softmax cross-entropy: `e^(z − max z)` in f64, their sum, the row's loss
/// `−Σ t · (z − log Σ e^z)`, and, into `grad` when given, `(softmax(z) · Σt − t) · scale`.
/// The loss node, its gradient node and their fused launch all call this, so they agree
/// bit for bit.
fn softmax_row(z: &[f32], t: &[f32], grad: Option<(&mut [f32], f64)>) -> f64 {
    let max = z[argmax(z.iter().copied())];
    let exp = |z: f32| ((z - max) as f64).exp();
    let mut cache = [0.0f64; CACHED_EXPS];
    let cached = z.len() <= CACHED_EXPS;
    let mut sum = 0.0;
    for (i, &v) in z.iter().enumerate() {
        let e = exp(v);
        if cached {
            cache[i] = e;
        }
        sum += e;
    }
    let lse = max as f64 + sum.ln();
    let loss = -z.iter().zip(t).map(|(&z, &t)| t as f64 * (z as f64 - lse)).sum::<f64>();
    if let Some((grad, scale)) = grad {
        let mass: f64 = t.iter().map(|&v| v as f64).sum();
        for (i, ((g, &z), &t)) in grad.iter_mut().zip(z).zip(t).enumerate() {
            let e = if cached { cache[i] } else { exp(z) };
            *g = ((e / sum * mass - t as f64) * scale) as f32;
        }
    }
    loss
}

/// Rows of softmax cross-entropy summed by one thread; more are split in two (at a
/// multiple of this) and the halves run across cores. The tree of sums depends only on
/// the row count, so the loss's bits do not depend on the thread count.
const XENT_PART: usize = 256;

/// `Σ` over the rows of [`softmax_row`]'s loss, with the gradient (times `scale`) into
/// `grad` when given.
fn softmax_rows(z: &[f32], t: &[f32], k: usize, grad: Option<&mut [f32]>, scale: f64) -> f64 {
    let rows = z.len() / k;
    if rows <= XENT_PART {
        let mut grads = grad.map(|g| g.chunks_mut(k));
        let mut next_grad = || grads.as_mut().and_then(Iterator::next).map(|g| (g, scale));
        return z.chunks(k).zip(t.chunks(k)).map(|(z, t)| softmax_row(z, t, next_grad())).sum();
    }
    let split = rows.div_ceil(XENT_PART).div_ceil(2) * XENT_PART * k;
    let ((z0, z1), (t0, t1)) = (z.split_at(split), t.split_at(split));
    let (g0, g1) = match grad.map(|g| g.split_at_mut(split)) {
        Some((g0, g1)) => (Some(g0), Some(g1)),
        None => (None, None),
    };
    let (first, second) = join(|| softmax_rows(z0, t0, k, g0, scale), || softmax_rows(z1, t1, k, g1, scale));
    first + second
}

/// `mean over counted rows of −Σ t · log softmax(z)`.
pub fn softmax_cross_entropy(logits: &[f32], targets: &[f32], shape: Shape) -> f32 {
    let k = shape.cols();
    let (logits, targets) = (&logits[..shape.len()], &targets[..shape.len()]);
    (softmax_rows(logits, targets, k, None, 0.0) / counted_rows(targets, k)) as f32
}

/// `dy · (softmax(z) · Σt − t) / counted rows`, row by row, into `out`.
pub fn softmax_cross_entropy_grad(logits: &[f32], targets: &[f32], dy: f32, shape: Shape, out: &mut [f32]) {
    softmax_cross_entropy_with_grad(logits, targets, dy, shape, out);
}

/// The loss of [`softmax_cross_entropy`] and the gradient of
/// [`softmax_cross_entropy_grad`] (into `out`) in one pass over the rows: the same
/// values, bit for bit.
pub fn softmax_cross_entropy_with_grad(logits: &[f32], targets: &[f32], dy: f32, shape: Shape, out: &mut [f32]) -> f32 {
    let (k, len) = (shape.cols(), shape.len());
    let counted = counted_rows(&targets[..len], k);
    let total = softmax_rows(&logits[..len], &targets[..len], k, Some(&mut out[..len]), dy as f64 / counted);
    (total / counted) as f32
}

/// Rows (padding excluded) whose largest logit sits where the target is largest.
pub fn count_correct(logits: &[f32], targets: &[f32], shape: Shape) -> f32 {
    let k = shape.cols();
    let hits = logits
        .chunks(k)
        .zip(targets.chunks(k))
        .filter(|(z, t)| t.iter().any(|&v| v != 0.0) && argmax(z.iter().copied()) == argmax(t.iter().copied()))
        .count();
    hits as f32
}

/// Adds one to a two-word count `[low, high]` (`high · 65536 + low`), carrying at 2¹⁶.
pub fn increment(counter: &mut [f32]) {
    counter[0] += 1.0;
    if counter[0] >= 65_536.0 {
        counter[0] -= 65_536.0;
        counter[1] += 1.0;
    }
}

/// `g + weight_decay · p`, PyTorch's L2 term, added only when the decay is not 0 (so an
/// infinite parameter does not turn the gradient into NaN through 0 · ∞).
fn decayed(g: f32, p: f32, weight_decay: f32) -> f32 {
    if weight_decay != 0.0 {
        g + weight_decay * p
    } else {
        g
    }
}

/// PyTorch's SGD step with learning rate `lr`: `d = g (+ weight_decay·p)`; without
/// `velocity`, `p -= lr·d`; with it (momentum, no dampening) `v = momentum·v + d` and
/// `p -= lr·v`, or `p -= lr·(d + momentum·v)` for Nesterov.
pub fn sgd(p: &mut [f32], g: &[f32], lr: f32, c: &SgdConfig, velocity: Option<&mut [f32]>) {
    match velocity {
        None => p.iter_mut().zip(g).for_each(|(p, &g)| *p -= lr * decayed(g, *p, c.weight_decay)),
        Some(velocity) => {
            for ((p, &g), v) in p.iter_mut().zip(g).zip(velocity) {
                let d = decayed(g, *p, c.weight_decay);
                *v = c.momentum * *v + d;
                let step = if c.nesterov { d + c.momentum * *v } else { *v };
                *p -= lr * step;
            }
        }
    }
}

/// Advances Adam's bias-correction state `[1 − β₁ᵗ, 1 − β₂ᵗ, β₁ᵗ, β₂ᵗ]` by one step. Both
/// `1 − βᵗ` and `βᵗ` are kept, each moved by the exact complement `1 − β` (never by β
/// rounded to f32, whose error would compound): while `1 − βᵗ` is small it is accurate
/// itself, and once it passes 0.5, `1 − βᵗ` computed from the small `βᵗ` is.
/// `complements` is `(1 − β₁, 1 − β₂)` from [`AdamConfig::complements`].
pub fn adam_corrections(state: &mut [f32], complements: (f32, f32)) {
    let (one_minus_b1, one_minus_b2) = complements;
    for (i, complement) in [one_minus_b1, one_minus_b2].into_iter().enumerate() {
        state[i] += complement * (1.0 - state[i]);
        state[i + 2] -= complement * state[i + 2];
    }
}

/// `1 − βᵗ` from the state's two forms: the accurate one for its size.
pub fn bias_correction(state: &[f32], which: usize) -> f32 {
    let (complement, power) = (state[which], state[which + 2]);
    if complement < 0.5 {
        complement
    } else {
        1.0 - power
    }
}

/// One Adam step with learning rate `lr` and the bias-correction state of
/// [`adam_corrections`], in PyTorch's order of operations:
/// `p -= (lr / (1 − β₁ᵗ)) · m / (sqrt(v) / sqrt(1 − β₂ᵗ) + eps)`, after adding
/// `weight_decay · p` to the gradient (Adam) or multiplying `p` by `1 − lr·weight_decay`
/// (AdamW, `decoupled`); `complements` as for [`adam_corrections`].
#[allow(clippy::too_many_arguments)] // four tensors, the state, the rate, the config, its complements
pub fn adam(
    p: &mut [f32],
    g: &[f32],
    m: &mut [f32],
    v: &mut [f32],
    corrections: &[f32],
    lr: f32,
    c: &AdamConfig,
    complements: (f32, f32),
) {
    let (one_minus_b1, one_minus_b2) = complements;
    let (l2, decoupled) = if c.decoupled { (0.0, c.weight_decay) } else { (c.weight_decay, 0.0) };
    let k = AdamStep {
        beta1: c.beta1,
        beta2: c.beta2,
        eps: c.eps,
        one_minus_b1,
        one_minus_b2,
        l2,
        shrink: 1.0 - lr * decoupled,
        step_size: lr / bias_correction(corrections, 0),
        bias2_sqrt: bias_correction(corrections, 1).sqrt(),
    };
    // Each element is updated alone, so splitting across cores changes no value.
    if p.len() >= PARALLEL_ELEMENTS {
        let (n, p, m, v) = (p.len(), Parts::new(p), Parts::new(m), Parts::new(v));
        for_parts(n.div_ceil(CHUNK), |i| {
            // SAFETY: part i takes chunk i of each, once.
            let (p, m, v) = unsafe { (p.chunk(i, CHUNK), m.chunk(i, CHUNK), v.chunk(i, CHUNK)) };
            adam_chunk(p, &g[i * CHUNK..][..p.len()], m, v, &k)
        });
    } else {
        adam_chunk(p, g, m, v, &k);
    }
}

/// The scalars of one Adam step.
struct AdamStep {
    beta1: f32,
    beta2: f32,
    eps: f32,
    one_minus_b1: f32,
    one_minus_b2: f32,
    /// Weight decay added to the gradient (Adam).
    l2: f32,
    /// `1 − lr·weight_decay`, the parameter's decoupled decay (AdamW; 1 without).
    shrink: f32,
    step_size: f32,
    bias2_sqrt: f32,
}

/// Adam over one run of elements: compiled for AVX2 when the CPU has it (the crate
/// targets the x86-64 baseline, four floats a vector). The same IEEE operations in wider
/// registers give the same values: Rust never fuses `a * b + c` into an FMA.
fn adam_chunk(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], k: &AdamStep) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        #[target_feature(enable = "avx2")]
        unsafe fn wide(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], k: &AdamStep) {
            adam_elements(p, g, m, v, k);
        }
        // SAFETY: the CPU has AVX2, checked just above.
        return unsafe { wide(p, g, m, v, k) };
    }
    adam_elements(p, g, m, v, k);
}

#[inline(always)]
fn adam_elements(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], k: &AdamStep) {
    for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m).zip(v) {
        let g = decayed(g, *p, k.l2);
        if k.shrink != 1.0 {
            *p *= k.shrink;
        }
        *m = k.beta1 * *m + k.one_minus_b1 * g;
        *v = k.beta2 * *v + k.one_minus_b2 * g * g;
        *p -= k.step_size * *m / (v.sqrt() / k.bias2_sqrt + k.eps);
    }
}

/// Elementwise loops at least this long are split across cores.
const PARALLEL_ELEMENTS: usize = 1 << 15;
/// Elements per task of a split elementwise loop.
const CHUNK: usize = 1 << 13;

/// `[mean |x|, max |x|, ‖x‖₂]`.
pub fn grad_stats(x: &[f32]) -> [f32; 3] {
    let sum_abs: f64 = x.iter().map(|&v| v.abs() as f64).sum();
    let max_abs = x.iter().fold(0.0f32, |m, &v| max_nan(m, v.abs()));
    [(sum_abs / x.len() as f64) as f32, max_abs, (total(Total::Squares, x, &[]) as f32).sqrt()]
}

/// A 32-bit integer hash with good avalanche (the "lowbias32" mixer): the source of
/// dropout's randomness, the same operations in `shaders/random.wgsl`.
pub fn mix(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x7feb_352d);
    h ^= h >> 15;
    h = h.wrapping_mul(0x846c_a68b);
    h ^ (h >> 16)
}

/// Dropout's mask for the step counter `step` (`[low, high]`, see `increment`): element
/// `i` is 0 when the top 24 bits of `mix(i ^ mix(seed ^ mix(step)))`, as a fraction of
/// 2²⁴, fall below `p`, else `1 / (1 − p)`.
pub fn dropout_mask(step: &[f32], p: f32, seed: u32, out: &mut [f32]) {
    let count = (step[0] as u32).wrapping_add((step[1] as u32).wrapping_mul(65_536));
    let base = mix(seed ^ mix(count));
    let keep = 1.0 / (1.0 - p);
    for (i, y) in out.iter_mut().enumerate() {
        let u = (mix(i as u32 ^ base) >> 8) as f32 / 16_777_216.0;
        *y = if u < p { 0.0 } else { keep };
    }
}

/// Rows are copied in parts of this many, across cores when there is more than one part:
/// the rows of a shuffled data set are scattered through memory, and two cores waiting on
/// it get twice as many rows at a time.
const GATHER_PART: usize = 32;

/// A batch gathered from a device-resident data set (see [`crate::graph::op::Op::GatherRows`]):
/// `fill(sample, row)` writes output row `r` from the sample it holds this step; rows past
/// the end of `order` are zeros.
pub fn gather(order: &[f32], step: &[f32], shape: Shape, out: &mut [f32], fill: impl Fn(usize, &mut [f32]) + Sync) {
    let count = (step[0] as u32).wrapping_add((step[1] as u32).wrapping_mul(65_536));
    let steps = order.len().div_ceil(shape.rows()) as u32;
    let first = (count.wrapping_add(steps - 1) % steps) as usize * shape.rows();
    let part = |p: usize, rows: &mut [f32]| {
        for (r, row) in rows.chunks_mut(shape.cols()).enumerate() {
            // Past the order, or an index past the data set (an order written other than
            // by `start_epoch`): a zero row, as on the GPU.
            match order.get(first + p * GATHER_PART + r).map(|&s| s as usize) {
                Some(sample) if sample < order.len() => fill(sample, row),
                _ => row.fill(0.0),
            }
        }
    };
    let size = GATHER_PART * shape.cols();
    let out = Parts::new(&mut out[..shape.len()]);
    // SAFETY: part i takes chunk i, once.
    for_parts(shape.rows().div_ceil(GATHER_PART), |i| part(i, unsafe { out.chunk(i, size) }));
}

/// [`gather`] of rows of bytes stored four to a word (`words` per row), decoded through
/// `palette`: by arithmetic when the palette is `b / 255` (as data read from IDX files
/// are; the same f32 division, so the same bits), else by looking each byte up.
#[allow(clippy::too_many_arguments)] // the table and its row length, the palette, the gather's order, step, shape and output
pub fn gather_bytes(
    table: &[f32],
    words: usize,
    palette: &[f32],
    order: &[f32],
    step: &[f32],
    shape: Shape,
    out: &mut [f32],
) {
    let scaled = cfg!(target_endian = "little")
        && palette.iter().zip(0..=255u8).all(|(&v, b)| v.to_bits() == pixel_value(b).to_bits());
    gather(order, step, shape, out, |s, row| {
        let words = &table[s * words..][..words];
        if scaled {
            // Little-endian: the bytes of the words in storage order are the bytes in order.
            let bytes: &[u8] = bytemuck::cast_slice(words);
            row.iter_mut().zip(bytes).for_each(|(v, &b)| *v = pixel_value(b));
        } else {
            decode_bytes(words, palette, row)
        }
    })
}

/// Decodes a row of bytes stored four to a word (little-endian) through `palette`.
pub fn decode_bytes(words: &[f32], palette: &[f32], row: &mut [f32]) {
    for (values, word) in row.chunks_mut(4).zip(words) {
        let bits = word.to_bits();
        for (b, v) in values.iter_mut().enumerate() {
            *v = palette[((bits >> (8 * b)) & 255) as usize];
        }
    }
}

/// Byte `i` of `words` read as bytes, four to a word, little-endian.
pub fn byte_at(words: &[f32], i: usize) -> u32 {
    (words[i / 4].to_bits() >> (8 * (i % 4))) & 255
}

/// The layout family's index map: where output element `(r, c)` of a `[rows, cols]`
/// result reads from, as `(input, index)`, or `None` for a zero. `a` and `b` are the
/// inputs' shapes (`b` only for `ConcatCols`).
pub fn layout_source(op: crate::graph::op::Op, a: Shape, b: Shape, r: usize, c: usize) -> Option<(usize, usize)> {
    use crate::graph::op::Op;
    match op {
        Op::Transpose => Some((0, c * a.cols() + r)),
        Op::SliceCols { start } => Some((0, r * a.cols() + start + c)),
        Op::PadCols { start } => (c >= start && c < start + a.cols()).then(|| (0, r * a.cols() + c - start)),
        Op::ConcatCols if c < a.cols() => Some((0, r * a.cols() + c)),
        Op::ConcatCols => Some((1, r * b.cols() + c - a.cols())),
        _ => unreachable!("{} moves no elements", op.name()),
    }
}
