//! The reference loops of the N-d ops: strided copies, reductions along a dim, batched
//! products and indexing. Each reads the op's description from [`crate::graph::strided`], the
//! same one the GPU's uniform is filled from.

use super::cpu_ops::{argmax, max_nan};
use super::cpu_pool::{for_parts, Parts};
use crate::graph::op::Reduction;
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
        for (i, y) in out.iter_mut().enumerate() {
            *y = plan.source(i).map_or(plan.fill, |at| x[at]);
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
    for o in 0..outer {
        for j in 0..inner {
            let values = (0..size).map(|s| x[(o * size + s) * inner + j]);
            out[o * inner + j] = match kind {
                Reduction::Sum => values.map(|v| v as f64).sum::<f64>() as f32,
                Reduction::Max => values.fold(f32::NEG_INFINITY, max_nan),
                Reduction::Min => values.fold(f32::INFINITY, min_nan),
                Reduction::ArgMax => argmax(values) as f32,
            };
        }
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

/// The adjoint of an unfold: each output element the sum of the window entries that read
/// it, in window order ([`Folding::sum`]); in parts of 32k elements across cores.
pub fn fold(dy: &[f32], plan: &Folding, out: &mut [f32]) {
    const PART: usize = 1 << 15;
    let parts = Parts::new(out);
    for_parts(parts_of(out_len(plan), PART), |p| {
        // SAFETY: part p takes chunk p, once.
        let chunk = unsafe { parts.chunk(p, PART) };
        for (j, y) in chunk.iter_mut().enumerate() {
            *y = plan.sum(dy, p * PART + j);
        }
    });
}

fn out_len(plan: &Folding) -> usize {
    let [n, _, _, c, _, _] = plan.windows;
    n * c * plan.image[0] * plan.image[1]
}

fn parts_of(len: usize, part: usize) -> usize {
    len.div_ceil(part).max(1)
}
