//! Losses composed from the recorded ops, so that their gradients come from the ops'
//! own rules: mean absolute error, and binary cross-entropy on logits.

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
}
