//! Recording products by PyTorch's `matmul` rules beyond two matrices: 1-D operands (a
//! vector is a row on the left, a column on the right, its dim dropped from the result),
//! and batched products whose batch dims broadcast. `[.., n, k]·[k, m]` runs as one
//! matrix product of the matrix view (the fast tiled kernels, fused epilogues included);
//! other batched products run as [`Op::BatchMatMul`], every batch in one launch.

use crate::error::{Error, Result};
use crate::graph::op::Op;
use crate::graph::shape::Shape;
use crate::graph::{Graph, NodeId};
use crate::ops::tensor_layout::shape_of;

impl Graph {
    /// `op(a) · op(b)` for operands of any rank (`matmul_t` sends everything but two
    /// matrices here).
    pub(crate) fn matmul_nd(&mut self, a: NodeId, b: NodeId, trans_a: bool, trans_b: bool) -> Result<NodeId> {
        let (sa, sb) = (self.shape(a)?, self.shape(b)?);
        if sa.rank() == 0 || sb.rank() == 0 {
            return Err(Error::Shape { op: "matmul", lhs: sa, rhs: sb });
        }
        let (a, trans_a) = if sa.rank() == 1 { (self.unsqueeze(a, 0)?, false) } else { (a, trans_a) };
        let (b, trans_b) = if sb.rank() == 1 { (self.unsqueeze(b, -1)?, false) } else { (b, trans_b) };
        let mut y = self.matmul_batched(a, b, trans_a, trans_b)?;
        if sa.rank() == 1 {
            y = self.squeeze(y, -2)?;
        }
        if sb.rank() == 1 {
            y = self.squeeze(y, -1)?;
        }
        Ok(y)
    }

    fn matmul_batched(&mut self, a: NodeId, b: NodeId, trans_a: bool, trans_b: bool) -> Result<NodeId> {
        let (a, trans_a) = self.fold_swap(a, trans_a)?;
        let (b, trans_b) = self.fold_swap(b, trans_b)?;
        let (sa, sb) = (self.shape(a)?, self.shape(b)?);
        if sa.rank() == 2 && sb.rank() == 2 {
            return self.matmul_t(a, b, trans_a, trans_b);
        }
        let (la, lb) = (if trans_a { sa.transposed() } else { sa }, if trans_b { sb.transposed() } else { sb });
        let (n, k) = (la.dims()[la.rank() - 2], la.cols());
        let (k2, m) = (lb.dims()[lb.rank() - 2], lb.cols());
        if k != k2 {
            return Err(Error::Shape { op: "matmul", lhs: la, rhs: lb });
        }
        if sb.rank() == 2 && !trans_a {
            // Every row of every batch times one matrix: one product of the matrix view.
            let rows = self.reshape(a, [sa.rows(), k])?;
            let y = self.matmul_t(rows, b, false, trans_b)?;
            let dims: Vec<usize> = sa.dims()[..sa.rank() - 1].iter().copied().chain([m]).collect();
            return self.reshape(y, shape_of("matmul", &dims)?);
        }
        let batch_a = Shape::from_dims(&sa.dims()[..sa.rank() - 2]).expect("fewer dims");
        let batch_b = Shape::from_dims(&sb.dims()[..sb.rank() - 2]).expect("fewer dims");
        let batch = Shape::broadcast_or_conflict(batch_a, batch_b).map_err(|(dim, x, y)| Error::Broadcast {
            op: "matmul",
            lhs: sa,
            rhs: sb,
            dim: dim - 2,
            a: x,
            b: y,
        })?;
        let a = self.batch_operand(a, sa, batch)?;
        let b = self.batch_operand(b, sb, batch)?;
        let out = shape_of("matmul", &[&batch.dims()[..], &[n, m]].concat())?;
        crate::error::check_size(out, "matmul")?;
        self.push(Op::BatchMatMul { trans_a, trans_b }, &[a, b], out)
    }

    /// A stored operand `x` of shape `s` as [`Op::BatchMatMul`] reads it: with the output's
    /// batch dims, or as one matrix repeated over the batch; else expanded.
    fn batch_operand(&mut self, x: NodeId, s: Shape, batch: Shape) -> Result<NodeId> {
        let matrix = &s.dims()[s.rank() - 2..];
        let own = &s.dims()[..s.rank() - 2];
        let full = shape_of("matmul", &[&batch.dims()[..], matrix].concat())?;
        if own.iter().product::<usize>() == 1 {
            let ones = vec![1; batch.rank()];
            return self.reshape(x, shape_of("matmul", &[&ones, matrix].concat())?);
        }
        if own.len() == batch.rank() && own == &batch.dims()[..] {
            return Ok(x);
        }
        let padded =
            self.reshape(x, shape_of("matmul", &[&vec![1; batch.rank() - own.len()][..], &s.dims()[..]].concat())?)?;
        self.expand(padded, full)
    }

    /// A product reading `x` = its input with the last two dims swapped reads the input
    /// with the transpose flag flipped instead: the swap costs no copy.
    pub(crate) fn fold_swap(&mut self, x: NodeId, trans: bool) -> Result<(NodeId, bool)> {
        let node = self.node(x)?;
        if let Op::Permute { perm } = node.op {
            let r = node.shape.rank();
            let swaps_last = r >= 2
                && perm[..r - 2].iter().enumerate().all(|(k, &p)| k == p as usize)
                && perm[r - 2] as usize == r - 1
                && perm[r - 1] as usize == r - 2;
            if swaps_last {
                return Ok((node.inputs[0], !trans));
            }
        }
        Ok((x, trans))
    }
}
