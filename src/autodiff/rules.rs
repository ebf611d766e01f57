//! One backward rule per op: given `dy = ∂L/∂y` for a node `y`, record `∂L/∂input` for
//! each input. A gradient may still have the output's (broadcast) shape; autodiff reduces
//! it back to the input's shape in one place.

use crate::error::{Error, Result};
use crate::graph::op::{Op, Reduction};
use crate::graph::shape::Shape;
use crate::graph::{Graph, NodeId};

/// Records the vector-Jacobian products of node `y` and returns one gradient per input
/// (`None` where the op is not differentiable with respect to that input).
pub(crate) fn vjp(g: &mut Graph, y: NodeId, dy: NodeId) -> Result<Vec<Option<NodeId>>> {
    let node = g.node(y)?.clone();
    let x = &node.inputs;
    let grads = match node.op {
        // C = op(A)·op(B): dA = dC·Bᵀ and dB = Aᵀ·dC, with the transposes folded into flags.
        Op::MatMul { trans_a, trans_b } => matmul_vjp(g, x[0], x[1], dy, trans_a, trans_b)?,
        // The elementwise family states its derivatives in `map.rs`.
        Op::Map(map, s) => {
            let vjp = map.def().vjp.ok_or(Error::NotDifferentiable { op: map.def().name })?;
            return vjp(g, y, x, dy, s);
        }
        // d(Σx²) = 2x·dy: one elementwise pass, with dy folded into the factor when it is
        // a constant (a penalty's weight times the loss's seed), else read as a scalar.
        Op::SumSquares => match g.constant_value(dy) {
            Some(v) => vec![g.scale(x[0], 2.0 * v)?],
            None => {
                let twice = g.scale(dy, 2.0)?;
                vec![g.mul(x[0], twice)?]
            }
        },
        // amax: dy shared evenly among the elements equal to their row's maximum.
        Op::MaxCols => {
            let mask = g.map(crate::Map::Equal, 0.0, &[x[0], y])?;
            let count = g.sum_cols(mask)?;
            let share = g.div(dy, count)?;
            vec![g.mul(mask, share)?]
        }
        // Moving elements moves their gradients back.
        Op::Transpose => vec![g.transpose(dy)?],
        Op::SliceCols { start } => vec![g.pad_cols(dy, start, g.shape(x[0])?.cols())?],
        Op::PadCols { start } => vec![g.slice_cols(dy, start, g.shape(x[0])?.cols())?],
        Op::ConcatCols => {
            let (a, b) = (g.shape(x[0])?.cols(), g.shape(x[1])?.cols());
            vec![g.slice_cols(dy, 0, a)?, g.slice_cols(dy, a, b)?]
        }
        // Moving elements moves their gradients back; a repeated value sums its copies'
        // gradients (autodiff reduces a gradient of the expanded shape in one place).
        Op::Reshape => vec![g.reshape(dy, g.shape(x[0])?)?],
        Op::Permute { perm } => {
            let rank = g.shape(x[0])?.rank();
            let mut inverse = vec![0isize; rank];
            for (k, &p) in perm[..rank].iter().enumerate() {
                inverse[p as usize] = k as isize;
            }
            vec![g.permute(dy, &inverse)?]
        }
        Op::Expand => vec![dy],
        Op::Narrow { dim, start } => {
            let (size, len) = (g.shape(x[0])?.dims()[dim as usize], node.shape.dims()[dim as usize]);
            vec![g.pad(dy, dim as isize, start as usize, size - start as usize - len, 0.0)?]
        }
        // y = conv(x, w) + b: dx is the transposed convolution of dy with w, dw sums dy
        // against x's columns, db sums dy over images and pixels.
        Op::Conv2d(conv) => {
            let (xs, ws) = (g.shape(x[0])?, g.shape(x[1])?);
            let mut grads = vec![g.conv2d_input_grad(dy, x[1], conv, xs)?, g.conv2d_weight_grad(x[0], dy, conv, ws)?];
            if x.len() > 2 {
                let d = node.shape.dims();
                let rows = g.reshape(dy, [d[0], d[1], d[2] * d[3]])?;
                let per_image = g.sum_dim(rows, &[-1], false)?;
                grads.push(g.sum_dim(per_image, &[0], false)?);
            }
            grads
        }
        // Both gradients are linear in each input: dx = convᵀ(dy, w), so d/d(dy) is the
        // convolution of the cotangent with w and d/dw its weight gradient against dy.
        Op::Conv2dInput(conv) => {
            let ws = g.shape(x[1])?;
            vec![g.push(Op::Conv2d(conv), &[dy, x[1]], g.shape(x[0])?)?, g.conv2d_weight_grad(dy, x[0], conv, ws)?]
        }
        Op::Conv2dWeight(conv) => {
            let xs = g.shape(x[0])?;
            vec![g.conv2d_input_grad(x[1], dy, conv, xs)?, g.push(Op::Conv2d(conv), &[x[0], dy], g.shape(x[1])?)?]
        }
        // Each window's gradient goes to its first largest element.
        Op::MaxPool2d(pool) => vec![g.max_pool2d_grad(x[0], dy, pool)?],
        // The windows read the image; the image's gradient sums what each window read.
        Op::Unfold(w) => vec![g.fold(dy, w, g.shape(x[0])?)?],
        Op::Fold(w) => vec![g.unfold_as(dy, w, g.shape(x[0])?)?],
        Op::Pad { dim, start, .. } => {
            vec![g.narrow(dy, dim as isize, start as usize, g.shape(x[0])?.dims()[dim as usize])?]
        }
        // A sum spreads dy over what it summed.
        Op::Reduce { kind: Reduction::Sum, .. } => vec![g.expand(dy, g.shape(x[0])?)?],
        // amax/amin: dy shared evenly among the elements equal to the extreme.
        Op::Reduce { kind: Reduction::Max | Reduction::Min, dim } => {
            let mask = g.map(crate::Map::Equal, 0.0, &[x[0], y])?;
            let count = g.sum_dim(mask, &[dim as isize], true)?;
            let share = g.div(dy, count)?;
            vec![g.mul(mask, share)?]
        }
        // C = op(A)·op(B) per batch, as for one product; a batch-broadcast operand's
        // gradient comes back batched and autodiff sums it.
        Op::BatchMatMul { trans_a, trans_b } => batch_matmul_vjp(g, x[0], x[1], dy, trans_a, trans_b)?,
        // Selecting entries sends each entry's gradient back to where it came from,
        // summed where an index repeats. The indices are data.
        Op::IndexSelect { dim } => {
            let shape = g.shape(x[0])?;
            return Ok(vec![Some(g.push(Op::IndexAdd { dim }, &[x[1], dy], shape)?), None]);
        }
        Op::IndexAdd { dim } => return Ok(vec![None, Some(g.index_select(dy, dim as isize, x[0])?)]),
        // ∂(Σx)/∂xᵢ = 1: every element gets dy.
        Op::SumAll | Op::SumRows | Op::SumCols => vec![g.broadcast(dy, g.shape(x[0])?)?],
        // ∂(mean x)/∂xᵢ = 1/N.
        Op::Mean => {
            let shape = g.shape(x[0])?;
            let spread = g.broadcast(dy, shape)?;
            vec![g.scale(spread, 1.0 / shape.len() as f32)?]
        }
        // ∂/∂p mean((p-t)²) = 2(p-t)/N, and the negation for t.
        Op::MseLoss => {
            let diff = g.sub(x[0], x[1])?;
            let n = g.shape(x[0])?.len() as f32;
            let scaled = g.scale(diff, 2.0 / n)?;
            let dp = g.mul(scaled, dy)?;
            vec![dp, g.scale(dp, -1.0)?]
        }
        // ∂/∂z of −Σ t·log softmax(z), per row: softmax(z)·Σt − t (over the rows counted).
        // Targets are data: differentiating with respect to them is an error.
        Op::SoftmaxCrossEntropy => return Ok(vec![Some(g.softmax_cross_entropy_grad(x[0], x[1], dy)?), None]),
        op => return Err(Error::NotDifferentiable { op: op.name() }),
    };
    Ok(grads.into_iter().map(Some).collect())
}

/// The four transpose cases of `C = op(A)·op(B)`, each derived from `dA = dC·Bᵀ`,
/// `dB = Aᵀ·dC` and `(XY)ᵀ = YᵀXᵀ`.
fn matmul_vjp(g: &mut Graph, a: NodeId, b: NodeId, dc: NodeId, ta: bool, tb: bool) -> Result<Vec<NodeId>> {
    Ok(match (ta, tb) {
        (false, false) => vec![g.matmul_t(dc, b, false, true)?, g.matmul_t(a, dc, true, false)?],
        // C = A·Bᵀ: dA = dC·B, dB = dCᵀ·A.
        (false, true) => vec![g.matmul_t(dc, b, false, false)?, g.matmul_t(dc, a, true, false)?],
        // C = Aᵀ·B: dA = B·dCᵀ, dB = A·dC.
        (true, false) => vec![g.matmul_t(b, dc, false, true)?, g.matmul_t(a, dc, false, false)?],
        // C = Aᵀ·Bᵀ: dA = Bᵀ·dCᵀ, dB = dCᵀ·Aᵀ.
        (true, true) => vec![g.matmul_t(b, dc, true, true)?, g.matmul_t(dc, a, true, true)?],
    })
}

/// [`matmul_vjp`] for each batch of a batched product.
fn batch_matmul_vjp(g: &mut Graph, a: NodeId, b: NodeId, dc: NodeId, ta: bool, tb: bool) -> Result<Vec<NodeId>> {
    let mut product = |x: NodeId, y: NodeId, tx: bool, ty: bool| -> Result<NodeId> {
        let (sx, sy) = (g.shape(x)?, g.shape(y)?);
        g.push(Op::BatchMatMul { trans_a: tx, trans_b: ty }, &[x, y], batched_out(sx, sy, tx, ty))
    };
    Ok(match (ta, tb) {
        (false, false) => vec![product(dc, b, false, true)?, product(a, dc, true, false)?],
        (false, true) => vec![product(dc, b, false, false)?, product(dc, a, true, false)?],
        (true, false) => vec![product(b, dc, false, true)?, product(a, dc, false, false)?],
        (true, true) => vec![product(b, dc, true, true)?, product(dc, a, true, true)?],
    })
}

/// The output shape of a batched product of stored operands of one rank: the batch dims
/// of whichever is not broadcast, then `[n, m]`.
fn batched_out(a: Shape, b: Shape, ta: bool, tb: bool) -> Shape {
    let r = a.rank();
    let n = if ta { a.cols() } else { a.dims()[r - 2] };
    let m = if tb { b.dims()[r - 2] } else { b.cols() };
    let matrix = |s: Shape| s.len() == s.cols() * s.dims()[r - 2];
    let batch = if matrix(a) { b } else { a };
    batch.with_dim(r - 2, n).with_dim(r - 1, m)
}
