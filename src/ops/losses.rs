//! Losses composed from the recorded ops, so that their gradients come from the ops'
//! own rules: mean absolute error, Huber, binary cross-entropy on logits, and
//! cross-entropy with label smoothing or class weights.

use crate::error::{Error, Result};
use crate::graph::{Graph, NodeId};

impl Graph {
    fn same_shapes(&self, op: &'static str, a: NodeId, b: NodeId) -> Result<()> {
        let (sa, sb) = (self.shape(a)?, self.shape(b)?);
        if sa != sb {
            return Err(Error::Shape { op, lhs: sa, rhs: sb });
        }
        Ok(())
    }

    /// Mean absolute error `mean(|prediction − target|)`, `[1, 1]` (PyTorch's `l1_loss`).
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when the shapes differ; [`Error::ForeignNode`] for an id of
    /// another graph.
    pub fn l1_loss(&mut self, prediction: NodeId, target: NodeId) -> Result<NodeId> {
        self.same_shapes("l1_loss", prediction, target)?;
        let difference = self.sub(prediction, target)?;
        let size = self.abs(difference)?;
        self.mean(size)
    }

    /// Binary cross-entropy of `logits` against `targets` in [0, 1], averaged over the
    /// elements, `[1, 1]` (PyTorch's `binary_cross_entropy_with_logits`): `softplus(z) −
    /// z·t`, which never takes the log of a rounded probability.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when the shapes differ; [`Error::ForeignNode`] for an id of
    /// another graph.
    pub fn bce_with_logits(&mut self, logits: NodeId, targets: NodeId) -> Result<NodeId> {
        self.same_shapes("bce_with_logits", logits, targets)?;
        let soft = self.softplus(logits)?;
        let agreement = self.mul(logits, targets)?;
        let each = self.sub(soft, agreement)?;
        self.mean(each)
    }

    /// PyTorch's `huber_loss` with threshold `delta`, averaged: per element, with
    /// `a = |prediction − target|`, `a²/2` below `delta` and `delta·(a − delta/2)` above.
    /// Recorded as `q²/2 + delta·(a − q)` with `q = min(a, delta) = a − relu(a − delta)`.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when the shapes differ; [`Error::InvalidArgument`] for a `delta`
    /// that is not finite and positive; [`Error::ForeignNode`] for an id of another graph.
    pub fn huber_loss(&mut self, prediction: NodeId, target: NodeId, delta: f32) -> Result<NodeId> {
        self.same_shapes("huber_loss", prediction, target)?;
        if !(delta.is_finite() && delta > 0.0) {
            return Err(Error::InvalidArgument {
                op: "huber_loss",
                msg: format!("delta {delta} must be finite and > 0"),
            });
        }
        let difference = self.sub(prediction, target)?;
        let a = self.abs(difference)?;
        let threshold = self.constant([1, 1], vec![delta])?;
        let above = self.sub(a, threshold)?;
        let excess = self.relu(above)?;
        let q = self.sub(a, excess)?;
        let squares = self.square(q)?;
        let quadratic = self.scale(squares, 0.5)?;
        let linear = self.scale(excess, delta)?;
        let each = self.add(quadratic, linear)?;
        self.mean(each)
    }

    /// Softmax cross-entropy with PyTorch's `label_smoothing`: the one-hot `targets`
    /// become `(1 − smoothing)·t + smoothing / classes` (padding rows stay zero, and
    /// count for nothing), `[1, 1]`.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when the shapes differ; [`Error::InvalidArgument`] for a
    /// smoothing outside [0, 1]; [`Error::ForeignNode`] for an id of another graph.
    pub fn cross_entropy_smoothed(&mut self, logits: NodeId, targets: NodeId, smoothing: f32) -> Result<NodeId> {
        self.same_shapes("cross_entropy_smoothed", logits, targets)?;
        if !(0.0..=1.0).contains(&smoothing) {
            let msg = format!("label smoothing {smoothing} must be in [0, 1]");
            return Err(Error::InvalidArgument { op: "cross_entropy_smoothed", msg });
        }
        let classes = self.shape(logits)?.cols() as f32;
        let rows = self.sum_cols(targets)?;
        let uniform = self.scale(rows, smoothing / classes)?;
        let kept = self.scale(targets, 1.0 - smoothing)?;
        let smoothed = self.add(kept, uniform)?;
        self.softmax_cross_entropy(logits, smoothed)
    }

    /// Softmax cross-entropy with PyTorch's class `weights` (`[1, classes]`) for one-hot
    /// `targets`: `Σᵢ w_yᵢ·(−log p_yᵢ) / Σᵢ w_yᵢ`, `[1, 1]` (padding rows weigh nothing).
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when the logits and targets differ or `weights` is not
    /// `[1, classes]`; [`Error::ForeignNode`] for an id of another graph.
    pub fn cross_entropy_weighted(&mut self, logits: NodeId, targets: NodeId, weights: NodeId) -> Result<NodeId> {
        self.same_shapes("cross_entropy_weighted", logits, targets)?;
        let classes = self.shape(logits)?.cols();
        if self.shape(weights)? != crate::Shape::new(1, classes) {
            let (lhs, rhs) = (crate::Shape::new(1, classes), self.shape(weights)?);
            return Err(Error::Shape { op: "cross_entropy_weighted", lhs, rhs });
        }
        let weighted = self.mul(targets, weights)?;
        let log_p = self.log_softmax(logits)?;
        let picked = self.mul(weighted, log_p)?;
        let total = self.sum(picked)?;
        let weight = self.sum(weighted)?;
        let mean = self.div(total, weight)?;
        self.neg(mean)
    }
}
