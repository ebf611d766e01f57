//! Recording reductions along chosen dims, with PyTorch's `keepdim`, and the ops built on
//! them: `sum_dim`, `mean_dim`, `amax`, `amin`, `argmax`, `logsumexp`, `var`, and
//! `softmax_dim`, `log_softmax_dim` over one dim. A reduction along the last dim runs on
//! the row kernels (many workgroups per row set); along another dim, on
//! [`Op::Reduce`], one thread per output walking the dim in order. Both are deterministic.

use crate::error::{Error, Result};
use crate::graph::op::{Op, Reduction};
use crate::graph::{Graph, NodeId};
use crate::ops::tensor_layout::{axis, shape_of};

impl Graph {
    /// `x` reduced along dim `dim` (already checked), kept with size 1.
    pub(crate) fn reduce_kept(&mut self, kind: Reduction, x: NodeId, dim: usize) -> Result<NodeId> {
        let s = self.shape(x)?;
        let last = dim + 1 == s.rank();
        match kind {
            Reduction::Sum if last => self.sum_cols(x),
            Reduction::Max if last => self.max_cols(x),
            _ => self.push(Op::Reduce { kind, dim: dim as u8 }, &[x], s.with_dim(dim, 1)),
        }
    }

    /// Reduces `x` along each of `dims` (negative from the end; all dims when empty),
    /// then drops them unless `keepdim`.
    fn reduce_dims(
        &mut self,
        op: &'static str,
        kind: Reduction,
        x: NodeId,
        dims: &[isize],
        keep: bool,
    ) -> Result<NodeId> {
        let s = self.shape(x)?;
        let mut axes: Vec<usize> = if dims.is_empty() {
            (0..s.rank()).collect()
        } else {
            dims.iter().map(|&d| axis(op, s, d)).collect::<Result<_>>()?
        };
        axes.sort_unstable();
        if axes.windows(2).any(|w| w[0] == w[1]) {
            return Err(Error::InvalidArgument { op, msg: format!("a dim is named twice in {dims:?}") });
        }
        let mut y = x;
        for &a in &axes {
            y = self.reduce_kept(kind, y, a)?;
        }
        if keep {
            return Ok(y);
        }
        let left: Vec<usize> =
            s.dims().iter().enumerate().filter(|(k, _)| !axes.contains(k)).map(|(_, &d)| d).collect();
        self.reshape(y, shape_of(op, &left)?)
    }

    /// Sum along `dims` (all when empty), PyTorch's `sum(dim, keepdim)`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a dim out of range or named twice.
    pub fn sum_dim(&mut self, x: NodeId, dims: &[isize], keepdim: bool) -> Result<NodeId> {
        self.reduce_dims("sum_dim", Reduction::Sum, x, dims, keepdim)
    }

    /// Mean along `dims` (all when empty), PyTorch's `mean(dim, keepdim)`.
    ///
    /// # Errors
    ///
    /// As [`Graph::sum_dim`].
    pub fn mean_dim(&mut self, x: NodeId, dims: &[isize], keepdim: bool) -> Result<NodeId> {
        let before = self.shape(x)?.len();
        let sum = self.reduce_dims("mean_dim", Reduction::Sum, x, dims, keepdim)?;
        let after = self.shape(sum)?.len();
        self.scale(sum, after as f32 / before as f32)
    }

    /// The largest value along `dim` (NaN where one is NaN), PyTorch's `amax`; its gradient
    /// is shared evenly among the maxima.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a dim out of range.
    pub fn amax(&mut self, x: NodeId, dim: isize, keepdim: bool) -> Result<NodeId> {
        self.reduce_dims("amax", Reduction::Max, x, &[dim], keepdim)
    }

    /// The smallest value along `dim`, PyTorch's `amin`.
    ///
    /// # Errors
    ///
    /// As [`Graph::amax`].
    pub fn amin(&mut self, x: NodeId, dim: isize, keepdim: bool) -> Result<NodeId> {
        self.reduce_dims("amin", Reduction::Min, x, &[dim], keepdim)
    }

    /// The index of the largest value along `dim` (the first of equals; NaN counts as the
    /// largest, as in PyTorch), as exact f32 integers. Not differentiable.
    ///
    /// # Errors
    ///
    /// As [`Graph::amax`].
    pub fn argmax(&mut self, x: NodeId, dim: isize, keepdim: bool) -> Result<NodeId> {
        let s = self.shape(x)?;
        let d = axis("argmax", s, dim)?;
        let y = self.push(Op::Reduce { kind: Reduction::ArgMax, dim: d as u8 }, &[x], s.with_dim(d, 1))?;
        self.stop_gradients_at(y);
        if keepdim {
            return Ok(y);
        }
        self.squeeze(y, d as isize)
    }

    /// `log Σ exp(x)` along `dim`, computed as `max + log Σ exp(x − max)`.
    ///
    /// # Errors
    ///
    /// As [`Graph::amax`].
    pub fn logsumexp(&mut self, x: NodeId, dim: isize, keepdim: bool) -> Result<NodeId> {
        let (max, shifted) = self.shifted(x, dim)?;
        let e = self.exp(shifted)?;
        let d = axis("logsumexp", self.shape(x)?, dim)? as isize;
        let sum = self.sum_dim(e, &[d], true)?;
        let log = self.log(sum)?;
        let y = self.add(log, max)?;
        if keepdim {
            return Ok(y);
        }
        self.squeeze(y, d)
    }

    /// `x − max` along `dim`, the max held constant (it changes neither softmax's value
    /// nor its gradient and keeps `exp` from overflowing); returns `(max, x − max)`.
    fn shifted(&mut self, x: NodeId, dim: isize) -> Result<(NodeId, NodeId)> {
        let max = self.amax(x, dim, true)?;
        let max = self.stop_gradient(max)?;
        Ok((max, self.sub(x, max)?))
    }

    /// Variance along `dims` (all when empty) with PyTorch's `correction`: the sum of
    /// squared deviations divided by `N − correction` (1, Bessel's, is PyTorch's default).
    ///
    /// # Errors
    ///
    /// As [`Graph::sum_dim`].
    pub fn var(&mut self, x: NodeId, dims: &[isize], correction: usize, keepdim: bool) -> Result<NodeId> {
        let mean = self.mean_dim(x, dims, true)?;
        let centered = self.sub(x, mean)?;
        let squares = self.square(centered)?;
        let sum = self.sum_dim(squares, dims, keepdim)?;
        let n = self.shape(x)?.len() / self.shape(sum)?.len();
        // PyTorch divides by max(0, N − correction): a zero gives Inf or NaN, as there.
        let denominator = self.constant([], vec![n.saturating_sub(correction) as f32])?;
        self.div(sum, denominator)
    }

    /// Softmax along `dim`: `exp(x − max) / Σ exp(x − max)`.
    ///
    /// # Errors
    ///
    /// As [`Graph::amax`].
    pub fn softmax_dim(&mut self, x: NodeId, dim: isize) -> Result<NodeId> {
        let (_, shifted) = self.shifted(x, dim)?;
        let e = self.exp(shifted)?;
        let total = self.sum_dim(e, &[dim], true)?;
        self.div(e, total)
    }

    /// Log-softmax along `dim`: `(x − max) − log Σ exp(x − max)`.
    ///
    /// # Errors
    ///
    /// As [`Graph::amax`].
    pub fn log_softmax_dim(&mut self, x: NodeId, dim: isize) -> Result<NodeId> {
        let (_, shifted) = self.shifted(x, dim)?;
        let e = self.exp(shifted)?;
        let total = self.sum_dim(e, &[dim], true)?;
        let log_total = self.log(total)?;
        self.sub(shifted, log_total)
    }
}
