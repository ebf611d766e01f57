//! Recording per-row ops: sums and maxima along the feature axis, and the row-wise
//! softmax and log-softmax composed from them (each row a distribution over its columns),
//! and layer normalisation.

use crate::error::{Error, Result};
use crate::graph::op::Op;
use crate::graph::shape::Shape;
use crate::graph::{Graph, NodeId};

impl Graph {
    /// Sum of each row, `[n, m] → [n, 1]` (for any rank: over the last dim, kept).
    ///
    /// # Errors
    ///
    /// [`crate::Error::ForeignNode`] for an id of another graph.
    pub fn sum_cols(&mut self, x: NodeId) -> Result<NodeId> {
        let s = self.shape(x)?;
        self.push(Op::SumCols, &[x], last_dim_kept(s))
    }

    /// The largest value of each row, `[n, m] → [n, 1]` (NaN for a row holding one), as
    /// PyTorch's `amax(dim=1, keepdim=True)`: its gradient is shared evenly among a row's
    /// maxima.
    ///
    /// # Errors
    ///
    /// [`crate::Error::ForeignNode`] for an id of another graph.
    pub fn max_cols(&mut self, x: NodeId) -> Result<NodeId> {
        let s = self.shape(x)?;
        self.push(Op::MaxCols, &[x], last_dim_kept(s))
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

    /// Layer normalisation of each row of `x` (`[.., m]`), as PyTorch's `layer_norm` over
    /// the last dimension: `(x − mean) / sqrt(var + eps) · weight + bias`, with `weight`
    /// and `bias` `[m]` (or `[1, m]`) and the variance biased (divided by `m`). Composed
    /// of the row ops, so its gradient comes from theirs.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] unless `weight` and `bias` are `[m]` or `[1, m]`;
    /// [`Error::InvalidArgument`] for an `eps` that is not finite and positive;
    /// [`Error::ForeignNode`] for an id of another graph.
    pub fn layer_norm(&mut self, x: NodeId, weight: NodeId, bias: NodeId, eps: f32) -> Result<NodeId> {
        let shape = self.shape(x)?;
        for p in [weight, bias] {
            let ps = self.shape(p)?;
            if ps != Shape::new(1, shape.cols()) && ps != Shape::from([shape.cols()]) {
                return Err(Error::Shape { op: "layer_norm", lhs: shape, rhs: self.shape(p)? });
            }
        }
        if !(eps.is_finite() && eps > 0.0) {
            return Err(Error::InvalidArgument { op: "layer_norm", msg: format!("eps {eps} must be finite and > 0") });
        }
        let inv_m = 1.0 / shape.cols() as f32;
        let sum = self.sum_cols(x)?;
        let mean = self.scale(sum, inv_m)?;
        let centered = self.sub(x, mean)?;
        let squares = self.square(centered)?;
        let sum_squares = self.sum_cols(squares)?;
        let variance = self.scale(sum_squares, inv_m)?;
        let eps = self.constant([], vec![eps])?;
        let shifted = self.add(variance, eps)?;
        let deviation = self.sqrt(shifted)?;
        let normalized = self.div(centered, deviation)?;
        let scaled = self.mul(normalized, weight)?;
        self.add(scaled, bias)
    }

    /// Dropout for training: each element of `x` zeroed with probability `p` and the rest
    /// scaled by `1 / (1 − p)`, a fresh mask every step (drawn on the device from `seed`
    /// and a step counter this records and advances with each run of the updates), the
    /// same mask on both backends. The gradient is `dy` times the same mask. `p = 0`
    /// returns `x`. Leave it out of evaluation graphs (`Sequential::record_eval` does).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for `p` outside [0, 1); [`Error::ForeignNode`] for an id
    /// of another graph.
    pub fn dropout(&mut self, x: NodeId, p: f32, seed: u32) -> Result<NodeId> {
        if !(0.0..1.0).contains(&p) {
            return Err(Error::InvalidArgument { op: "dropout", msg: format!("p {p} must be in [0, 1)") });
        }
        let shape = self.shape(x)?;
        if p == 0.0 {
            return Ok(x);
        }
        // Named by the dropout's place among the graph's dropouts, not by node id, so that
        // the same model recorded into another graph (e.g. one gathering its batches on the
        // device) has the same state names.
        let earlier = self.nodes().iter().filter(|n| n.name.as_deref().is_some_and(is_dropout_counter)).count();
        let counter = self.state(&format!("dropout.{earlier}.step"), [1, 2])?;
        let step = self.push_update(Op::Increment, &[counter])?;
        let mask = self.push(Op::DropoutMask { p, seed }, &[step], shape)?;
        self.mul(x, mask)
    }

    /// Mean over the batch axis, `[n, m] → [1, m]`.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignNode`] for an id of another graph.
    pub fn mean_rows(&mut self, x: NodeId) -> Result<NodeId> {
        let rows = self.shape(x)?.rows() as f32;
        let sum = self.sum_rows(x)?;
        self.scale(sum, 1.0 / rows)
    }

    /// Mean of each row, `[n, m] → [n, 1]`.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignNode`] for an id of another graph.
    pub fn mean_cols(&mut self, x: NodeId) -> Result<NodeId> {
        let cols = self.shape(x)?.cols() as f32;
        let sum = self.sum_cols(x)?;
        self.scale(sum, 1.0 / cols)
    }

    /// The largest value of each column, `[n, m] → [1, m]` (PyTorch's
    /// `amax(dim=0, keepdim=True)`), as the transpose of [`Graph::max_cols`] of the
    /// transpose.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignNode`] for an id of another graph.
    pub fn max_rows(&mut self, x: NodeId) -> Result<NodeId> {
        let t = self.transpose(x)?;
        let max = self.max_cols(t)?;
        self.transpose(max)
    }
}

/// `shape` with its last dim 1 (a rank-0 shape stays as it is).
fn last_dim_kept(shape: Shape) -> Shape {
    match shape.rank() {
        0 => shape,
        r => shape.with_dim(r - 1, 1),
    }
}

/// Whether `name` is a dropout's step counter (`dropout.<k>.step`).
fn is_dropout_counter(name: &str) -> bool {
    name.strip_prefix("dropout.").and_then(|r| r.strip_suffix(".step")).is_some_and(|k| k.parse::<usize>().is_ok())
}
