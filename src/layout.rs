//! The layout family: ops that move elements without computing on them (transpose,
//! column slices, their zero-padded adjoint, and concatenation along columns). One thread
//! per output element on the GPU (`shaders/layout.wgsl`), an index map on the CPU; each
//! one's derivative is another of the family.

use crate::error::{Error, Result};
use crate::graph::{Graph, NodeId};
use crate::op::Op;
use crate::shape::Shape;

impl Graph {
    /// `xᵀ`, `[n, m] → [m, n]`.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignNode`] for an id of another graph.
    pub fn transpose(&mut self, x: NodeId) -> Result<NodeId> {
        let s = self.shape(x)?;
        self.push(Op::Transpose, &[x], Shape::new(s.cols, s.rows))
    }

    /// Columns `start .. start + cols` of `x` (PyTorch's `x[:, start:start + cols]`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for an empty range or one past `x`'s columns;
    /// [`Error::ForeignNode`] for an id of another graph.
    pub fn slice_cols(&mut self, x: NodeId, start: usize, cols: usize) -> Result<NodeId> {
        let s = self.shape(x)?;
        if cols == 0 || start.checked_add(cols).is_none_or(|end| end > s.cols) {
            let msg = format!("columns {start}..{} of a {s} value", start.saturating_add(cols));
            return Err(Error::InvalidArgument { op: "slice_cols", msg });
        }
        self.push(Op::SliceCols { start }, &[x], Shape::new(s.rows, cols))
    }

    /// `x` at column `start` of a zero matrix `cols` wide (the gradient of a slice).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] when `x` does not fit; [`Error::ForeignNode`] for an id
    /// of another graph.
    pub fn pad_cols(&mut self, x: NodeId, start: usize, cols: usize) -> Result<NodeId> {
        let s = self.shape(x)?;
        if start.checked_add(s.cols).is_none_or(|end| end > cols) {
            let msg = format!("a {s} value at column {start} of {cols}");
            return Err(Error::InvalidArgument { op: "pad_cols", msg });
        }
        self.push(Op::PadCols { start }, &[x], Shape::new(s.rows, cols))
    }

    /// `a` and `b` side by side (PyTorch's `torch.cat([a, b], dim=1)`).
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when the row counts differ; [`Error::TooLarge`] past the size
    /// limit; [`Error::ForeignNode`] for an id of another graph.
    pub fn concat_cols(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        let (sa, sb) = (self.shape(a)?, self.shape(b)?);
        if sa.rows != sb.rows {
            return Err(Error::Shape { op: "concat_cols", lhs: sa, rhs: sb });
        }
        let cols = sa
            .cols
            .checked_add(sb.cols)
            .ok_or_else(|| Error::InvalidArgument { op: "concat_cols", msg: "too many columns".into() })?;
        crate::error::check_size(Shape::new(sa.rows, cols), "concat_cols")?;
        self.push(Op::ConcatCols, &[a, b], Shape::new(sa.rows, cols))
    }
}
