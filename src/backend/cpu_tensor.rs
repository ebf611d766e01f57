//! The reference loops of the N-d ops: strided copies, reductions along a dim, batched
//! products and indexing. Each reads the op's description from [`crate::graph::strided`], the
//! same one the GPU's uniform is filled from.

use super::cpu_ops::{argmax, max_nan};
use super::cpu_pool::{for_parts, Parts};
use crate::graph::op::{Reduction, Window};
use crate::graph::shape::Shape;
use crate::graph::strided::{index_in, Batched, Folding, Strided};

/// A layout op's copy: each output element from where `plan` says
/// ([`Strided::source`]), or its fill. Walked a row of the output's last dim at a time,
/// the row's start found once: where a row reads contiguous input (perhaps inside a
/// padding window along the last dim), that part is one copy.
pub fn restride(x: &[f32], plan: &Strided, out: &mut [f32]) {
    let last = plan.rank.saturating_sub(1);
    let width = if plan.rank == 0 { 1 } else { plan.dims[last] };
    if plan.rank == 0 || plan.strides[last] != 1 {
        if plan.window.is_some() {
            for (i, y) in out.iter_mut().enumerate() {
                *y = plan.source(i).map_or(plan.fill, |at| x[at]);
            }
        } else {
            odometer(x, plan, out);
        }
        return;
    }
    // The part of each row that reads the input: all of it, or the window's columns.
    let (start, len) = match plan.window {
        Some((dim, start, len)) if dim == last => (start, len),
        _ => (0, width),
    };
    for (r, row) in out.chunks_mut(width).enumerate() {
        match plan.source(r * width + start) {
            Some(at) => {
                row[..start].fill(plan.fill);
                row[start..start + len].copy_from_slice(&x[at..at + len]);
                row[start + len..].fill(plan.fill);
            }
            None => row.fill(plan.fill),
        }
    }
}

/// A strided copy without padding, walking the output in order with its input index
/// carried along (one add per element, no division), in parts of 32k values across cores
/// (each part finds where it starts once).
fn odometer(x: &[f32], plan: &Strided, out: &mut [f32]) {
    const PART: usize = 1 << 15;
    let len = out.len();
    let parts = Parts::new(out);
    for_parts(len.div_ceil(PART), |p| {
        // SAFETY: part p takes chunk p, once.
        let chunk = unsafe { parts.chunk(p, PART) };
        let mut index = [0usize; Shape::MAX_RANK];
        let mut rest = p * PART;
        for k in (0..plan.rank).rev() {
            index[k] = rest % plan.dims[k];
            rest /= plan.dims[k];
        }
        let mut at = plan.offset + (0..plan.rank).map(|k| index[k] * plan.strides[k]).sum::<usize>();
        for y in chunk.iter_mut() {
            *y = x[at];
            for k in (0..plan.rank).rev() {
                index[k] += 1;
                at += plan.strides[k];
                if index[k] < plan.dims[k] {
                    break;
                }
                at -= plan.strides[k] * plan.dims[k];
                index[k] = 0;
            }
        }
    });
}

/// Every window of `x` (`[n, c, h, w]`) as `[n, oh, ow, c, kh, kw]` ([`Op::Unfold`]), a
/// batch per part across cores.
pub fn unfold(x: &[f32], [n, c, h, w]: [usize; 4], window: Window, out: &mut [f32]) {
    let [kh, kw] = window.kernel.map(usize::from);
    let (st, dl) = (window.stride.map(usize::from), window.dilation.map(usize::from));
    let [oh, ow] = window.output(h, w).expect("recorded for this size");
    let per_batch = oh * ow * c * kh * kw;
    let parts = Parts::new(&mut out[..n * per_batch]);
    for_parts(n, |b| {
        // SAFETY: part b takes chunk b, once.
        let mut out = unsafe { parts.chunk(b, per_batch) }.iter_mut();
        for oy in 0..oh {
            for ox in 0..ow {
                for ci in 0..c {
                    for ky in 0..kh {
                        let row = ((b * c + ci) * h + oy * st[0] + ky * dl[0]) * w + ox * st[1];
                        for kx in 0..kw {
                            *out.next().expect("sized") = x[row + kx * dl[1]];
                        }
                    }
                }
            }
        }
    });
}

/// The smaller of two values, NaN if either is NaN (PyTorch's `min`).
fn min_nan(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() {
        f32::NAN
    } else {
        a.min(b)
    }
}

/// `x` seen as `[outer, size, inner]` reduced along the middle, into `out` (`[outer,
/// inner]`), each output walking its `size` values in order (sums in f64).
pub fn reduce(kind: Reduction, x: &[f32], [outer, size, inner]: [usize; 3], out: &mut [f32]) {
    // Parts of whole `outer` rows across cores; each output still walks its dim in order.
    let rows = ((1 << 15) / (size * inner).max(1)).max(1);
    let parts = Parts::new(&mut out[..outer * inner]);
    for_parts(outer.div_ceil(rows), |p| {
        // SAFETY: part p takes chunk p, once.
        let chunk = unsafe { parts.chunk(p, rows * inner) };
        let x = &x[p * rows * size * inner..];
        match kind {
            Reduction::Sum => reduce_part(x, size, inner, chunk, 0.0f64, |a, _, v| a + v as f64, |a| a as f32),
            Reduction::Max => reduce_part(x, size, inner, chunk, f32::NEG_INFINITY, |a, _, v| max_nan(a, v), |a| a),
            Reduction::Min => reduce_part(x, size, inner, chunk, f32::INFINITY, |a, _, v| min_nan(a, v), |a| a),
            Reduction::ArgMax => {
                for (i, y) in chunk.iter_mut().enumerate() {
                    let (o, j) = (i / inner, i % inner);
                    *y = argmax((0..size).map(|s| x[(o * size + s) * inner + j])) as f32;
                }
            }
        }
    });
}

/// Each output of `out` (rows of `inner`): its `size` values in `x` folded in order by
/// `step` from `init`, then `finish`ed.
fn reduce_part<A: Copy>(
    x: &[f32],
    size: usize,
    inner: usize,
    out: &mut [f32],
    init: A,
    step: impl Fn(A, usize, f32) -> A,
    finish: impl Fn(A) -> f32,
) {
    for (i, y) in out.iter_mut().enumerate() {
        let (o, j) = (i / inner, i % inner);
        let mut acc = init;
        for s in 0..size {
            acc = step(acc, s, x[(o * size + s) * inner + j]);
        }
        *y = finish(acc);
    }
}

/// Batched products: batch `p` of `out` is `op(a_p) · op(b_p)`, an operand with batch
/// stride 0 repeated over the batch.
pub fn batch_matmul(a: &[f32], b: &[f32], layout: Batched, trans_a: bool, trans_b: bool, out: &mut [f32]) {
    let Batched { batches, m, n, k, a_stride, b_stride } = layout;
    let sa = if trans_a { Shape::new(k, m) } else { Shape::new(m, k) };
    let sb = if trans_b { Shape::new(n, k) } else { Shape::new(k, n) };
    for p in 0..batches {
        let (a, b) = (&a[p * a_stride..][..m * k], &b[p * b_stride..][..k * n]);
        super::cpu_matmul::matmul(a, sa, b, sb, trans_a, trans_b, &mut out[p * m * n..][..m * n]);
    }
}

/// `x` seen as `[outer, size, inner]`: output `[outer, count, inner]` takes entry
/// `indices[i]` of the middle dim, zeros for an index outside `0 .. size`.
pub fn index_select(x: &[f32], [outer, size, inner]: [usize; 3], indices: &[f32], out: &mut [f32]) {
    let count = indices.len();
    for o in 0..outer {
        for (i, &index) in indices.iter().enumerate() {
            let row = &mut out[(o * count + i) * inner..][..inner];
            match index_in(index, size) {
                Some(s) => row.copy_from_slice(&x[(o * size + s) * inner..][..inner]),
                None => row.fill(0.0),
            }
        }
    }
}

/// The adjoint of [`index_select`]: entry `s` of the middle dim of `out` (`[outer, size,
/// inner]`) is the sum, in index order, of the rows of `dy` whose index is `s`.
pub fn index_add(indices: &[f32], dy: &[f32], [outer, size, inner]: [usize; 3], out: &mut [f32]) {
    out.fill(0.0);
    let count = indices.len();
    for o in 0..outer {
        for (i, &index) in indices.iter().enumerate() {
            if let Some(s) = index_in(index, size) {
                let from = &dy[(o * count + i) * inner..][..inner];
                let to = &mut out[(o * size + s) * inner..][..inner];
                to.iter_mut().zip(from).for_each(|(t, &f)| *t += f);
            }
        }
    }
}

/// The adjoint of an unfold ([`Op::Fold`]): each image element the sum of the window
/// entries that read it, a batch per part across cores. The windows are scattered last
/// to first, so each element receives its terms `ky` then `kx` ascending: the order
/// (and so the bits) of the GPU's kernel, which sums them per element.
pub fn fold(dy: &[f32], plan: &Folding, out: &mut [f32]) {
    let [n, oh, ow, c, kh, kw] = plan.windows;
    let [h, w] = plan.image;
    let (st, dl) = (plan.window.stride.map(usize::from), plan.window.dilation.map(usize::from));
    let (per_image, per_batch) = (c * h * w, oh * ow * c * kh * kw);
    let parts = Parts::new(&mut out[..out_len(plan)]);
    for_parts(n, |b| {
        // SAFETY: part b takes chunk b, once.
        let image = unsafe { parts.chunk(b, per_image) };
        image.fill(0.0);
        let dy = &dy[b * per_batch..][..per_batch];
        for oy in (0..oh).rev() {
            for ox in (0..ow).rev() {
                let window = &dy[(oy * ow + ox) * c * kh * kw..][..c * kh * kw];
                for ci in 0..c {
                    for ky in 0..kh {
                        let row = (ci * h + oy * st[0] + ky * dl[0]) * w + ox * st[1];
                        for kx in 0..kw {
                            image[row + kx * dl[1]] += window[(ci * kh + ky) * kw + kx];
                        }
                    }
                }
            }
        }
    });
}

fn out_len(plan: &Folding) -> usize {
    let [n, _, _, c, _, _] = plan.windows;
    n * c * plan.image[0] * plan.image[1]
}
