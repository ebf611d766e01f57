//! The layout family: ops that move elements without computing on them (transpose,
//! column slices, their zero-padded adjoint, and concatenation along columns). One thread
//! per output element on the GPU (`shaders/layout.wgsl`), an index map on the CPU; each
//! one's derivative is another of the family.

use crate::error::{Error, Result};
use crate::graph::op::Op;
use crate::graph::shape::Shape;
use crate::graph::{Graph, NodeId};

impl Graph {
    /// `xᵀ`, `[n, m] → [m, n]`.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignNode`] for an id of another graph.
    pub fn transpose(&mut self, x: NodeId) -> Result<NodeId> {
        let s = self.shape(x)?;
        if s.rank() != 2 {
            let msg = format!("{s} is not a matrix; swap two dims of it with transpose_dims");
            return Err(Error::InvalidArgument { op: "transpose", msg });
        }
        self.push(Op::Transpose, &[x], Shape::new(s.cols(), s.rows()))
    }

    /// Columns `start .. start + cols` of `x` (PyTorch's `x[:, start:start + cols]`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for an empty range or one past `x`'s columns;
    /// [`Error::ForeignNode`] for an id of another graph.
    pub fn slice_cols(&mut self, x: NodeId, start: usize, cols: usize) -> Result<NodeId> {
        let s = self.shape(x)?;
        if cols == 0 || start.checked_add(cols).is_none_or(|end| end > s.cols()) {
            let msg = format!("columns {start}..{} of a {s} value", start.saturating_add(cols));
            return Err(Error::InvalidArgument { op: "slice_cols", msg });
        }
        self.push(Op::SliceCols { start }, &[x], with_cols(s, cols))
    }

    /// `x` at column `start` of a zero matrix `cols` wide (the gradient of a slice).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] when `x` does not fit; [`Error::ForeignNode`] for an id
    /// of another graph.
    pub fn pad_cols(&mut self, x: NodeId, start: usize, cols: usize) -> Result<NodeId> {
        let s = self.shape(x)?;
        if start.checked_add(s.cols()).is_none_or(|end| end > cols) {
            let msg = format!("a {s} value at column {start} of {cols}");
            return Err(Error::InvalidArgument { op: "pad_cols", msg });
        }
        self.push(Op::PadCols { start }, &[x], with_cols(s, cols))
    }

    /// `a` and `b` side by side (PyTorch's `torch.cat([a, b], dim=1)`).
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when the row counts differ; [`Error::TooLarge`] past the size
    /// limit; [`Error::ForeignNode`] for an id of another graph.
    pub fn concat_cols(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        let (sa, sb) = (self.shape(a)?, self.shape(b)?);
        if sa.rank() != sb.rank() || with_cols(sa, 1) != with_cols(sb, 1) {
            return Err(Error::Shape { op: "concat_cols", lhs: sa, rhs: sb });
        }
        let cols = sa
            .cols()
            .checked_add(sb.cols())
            .ok_or_else(|| Error::InvalidArgument { op: "concat_cols", msg: "too many columns".into() })?;
        crate::error::check_size(with_cols(sa, cols), "concat_cols")?;
        self.push(Op::ConcatCols, &[a, b], with_cols(sa, cols))
    }
}

/// `shape` with its last dim (its columns) `cols`; a rank-0 shape becomes `[cols]`.
fn with_cols(shape: Shape, cols: usize) -> Shape {
    match shape.rank() {
        0 => Shape::from([cols]),
        r => shape.with_dim(r - 1, cols),
    }
}
