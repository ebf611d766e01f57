//! The reference kernels: plain loops, one small function per op. They define what every
//! GPU kernel must compute.

use crate::shape::Shape;

/// Element `(r, c)` of a value of shape `from` broadcast to a wider shape.
fn broadcast_index(from: Shape, r: usize, c: usize) -> usize {
    (r % from.rows) * from.cols + c % from.cols
}

/// Applies `f` elementwise to `a` and `b` broadcast to `out`.
pub fn binary(a: &[f32], sa: Shape, b: &[f32], sb: Shape, out: Shape, f: impl Fn(f32, f32) -> f32) -> Vec<f32> {
    let mut y = Vec::with_capacity(out.len());
    for r in 0..out.rows {
        for c in 0..out.cols {
            y.push(f(a[broadcast_index(sa, r, c)], b[broadcast_index(sb, r, c)]));
        }
    }
    y
}

/// Applies `f` to every element.
pub fn unary(x: &[f32], f: impl Fn(f32) -> f32) -> Vec<f32> {
    x.iter().map(|&v| f(v)).collect()
}

/// Repeats `x` of shape `from` to `out`.
pub fn broadcast(x: &[f32], from: Shape, out: Shape) -> Vec<f32> {
    binary(x, from, &[0.0], Shape::SCALAR, out, |v, _| v)
}

/// Logistic sigmoid.
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// `max(x, 0)`.
pub fn relu(x: f32) -> f32 {
    x.max(0.0)
}

/// Row-major transpose of a `[rows, cols]` matrix.
pub fn transpose(x: &[f32], shape: Shape) -> Vec<f32> {
    let mut t = vec![0.0; x.len()];
    for r in 0..shape.rows {
        for c in 0..shape.cols {
            t[c * shape.rows + r] = x[r * shape.cols + c];
        }
    }
    t
}

/// `op(A)·op(B)`: transposed operands are copied upright first, then an i-k-j loop.
pub fn matmul(a: &[f32], sa: Shape, b: &[f32], sb: Shape, trans_a: bool, trans_b: bool) -> Vec<f32> {
    let (a, sa) = if trans_a { (transpose(a, sa), sa.transposed()) } else { (a.to_vec(), sa) };
    let (b, sb) = if trans_b { (transpose(b, sb), sb.transposed()) } else { (b.to_vec(), sb) };
    let (m, k, n) = (sa.rows, sa.cols, sb.cols);
    let mut c = vec![0.0f32; m * n];
    for i in 0..m {
        let row = &mut c[i * n..(i + 1) * n];
        for p in 0..k {
            let aip = a[i * k + p];
            for (out, &bpj) in row.iter_mut().zip(&b[p * n..(p + 1) * n]) {
                *out += aip * bpj;
            }
        }
    }
    c
}

/// Sum of all elements, accumulated in f64.
pub fn sum_all(x: &[f32]) -> f32 {
    x.iter().map(|&v| v as f64).sum::<f64>() as f32
}

/// Column sums of a `[rows, cols]` matrix.
pub fn sum_rows(x: &[f32], shape: Shape) -> Vec<f32> {
    let mut acc = vec![0.0f64; shape.cols];
    for row in x.chunks(shape.cols) {
        for (a, &v) in acc.iter_mut().zip(row) {
            *a += v as f64;
        }
    }
    acc.into_iter().map(|v| v as f32).collect()
}

/// `mean((p - t)²)`.
pub fn mse(p: &[f32], t: &[f32]) -> f32 {
    let total: f64 = p.iter().zip(t).map(|(&a, &b)| ((a - b) as f64).powi(2)).sum();
    (total / p.len() as f64) as f32
}
