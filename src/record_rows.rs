//! Recording per-row ops: sums and maxima along the feature axis, and the row-wise
//! softmax and log-softmax composed from them (each row a distribution over its columns).

use crate::error::Result;
use crate::graph::{Graph, NodeId};
use crate::op::Op;
use crate::shape::Shape;

impl Graph {
    /// Sum of each row, `[n, m] → [n, 1]`.
    ///
    /// # Errors
    ///
    /// [`crate::Error::ForeignNode`] for an id of another graph.
    pub fn sum_cols(&mut self, x: NodeId) -> Result<NodeId> {
        let s = self.shape(x)?;
        self.push(Op::SumCols, &[x], Shape::new(s.rows, 1))
    }

    /// The largest value of each row, `[n, m] → [n, 1]` (NaN for a row holding one). Not
    /// differentiable.
    ///
    /// # Errors
    ///
    /// [`crate::Error::ForeignNode`] for an id of another graph.
    pub fn max_cols(&mut self, x: NodeId) -> Result<NodeId> {
        let s = self.shape(x)?;
        self.push(Op::MaxCols, &[x], Shape::new(s.rows, 1))
    }

    /// `x − max` of each row, the max held constant: softmax's shift, which changes
    /// neither its value nor its gradient and keeps `exp` from overflowing.
    fn shifted_rows(&mut self, x: NodeId) -> Result<NodeId> {
        let max = self.max_cols(x)?;
        let max = self.stop_gradient(max)?;
        self.sub(x, max)
    }

    /// Row-wise softmax: `exp(x − max) / Σ exp(x − max)` over each row's columns.
    ///
    /// # Errors
    ///
    /// [`crate::Error::ForeignNode`] for an id of another graph.
    pub fn softmax(&mut self, x: NodeId) -> Result<NodeId> {
        let shifted = self.shifted_rows(x)?;
        let e = self.exp(shifted)?;
        let total = self.sum_cols(e)?;
        self.div(e, total)
    }

    /// Row-wise log-softmax: `(x − max) − ln Σ exp(x − max)` over each row's columns.
    ///
    /// # Errors
    ///
    /// [`crate::Error::ForeignNode`] for an id of another graph.
    pub fn log_softmax(&mut self, x: NodeId) -> Result<NodeId> {
        let shifted = self.shifted_rows(x)?;
        let e = self.exp(shifted)?;
        let total = self.sum_cols(e)?;
        let log_total = self.log(total)?;
        self.sub(shifted, log_total)
    }
}
