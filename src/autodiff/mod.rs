//! Reverse-mode differentiation as a graph → graph transform: gradient nodes are appended
//! to the same graph, so every backend runs forward, backward and update as one plan.

pub(crate) mod gradients;
pub(crate) mod rules;

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::graph::{Graph, NodeId};

use crate::graph::shape::Shape;

/// The gradient node of every value the loss depends on through trainable parameters.
/// It belongs to the graph it was recorded in: handing it to another graph is an
/// [`Error::ForeignNode`].
#[derive(Clone, Debug)]
pub struct Gradients {
    graph: u32,
    of: BTreeMap<NodeId, NodeId>,
}

impl Gradients {
    /// No gradients yet, of `graph`.
    pub(crate) fn empty(graph: &Graph) -> Self {
        Gradients { graph: graph.identity(), of: BTreeMap::new() }
    }

    /// The node holding `∂loss/∂node`, if the loss depends on `node`.
    pub fn get(&self, node: NodeId) -> Option<NodeId> {
        self.of.get(&node).copied()
    }

    /// Sets the gradient node of `node`.
    pub(crate) fn insert(&mut self, node: NodeId, grad: NodeId) {
        self.of.insert(node, grad);
    }

    /// `(node, gradient)` pairs in node order.
    pub fn iter(&self) -> impl Iterator<Item = (NodeId, NodeId)> + '_ {
        self.of.iter().map(|(&n, &g)| (n, g))
    }
}

impl Graph {
    /// Records the gradient of the scalar `loss` with respect to every node that requires
    /// a gradient (parameters and what depends on them).
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when `loss` is not `[1, 1]`, [`Error::NotDifferentiable`] when a
    /// path to a parameter crosses an op without a backward rule; [`Error::ForeignNode`]
    /// for an id of another graph.
    pub fn backward(&mut self, loss: NodeId) -> Result<Gradients> {
        let shape = self.shape(loss)?;
        if shape.len() != 1 {
            let msg = format!(
                "the loss must be one value, but '{}' has shape {shape}: reduce it to one first (sum or mean)",
                self.label(loss)
            );
            return Err(Error::InvalidArgument { op: "backward", msg });
        }
        let seed = self.constant(shape, vec![1.0])?;
        self.mark_backward(seed.index(), loss);
        let out = self.nodes()[loss.index()].name.clone().unwrap_or_else(|| "L".into());
        self.name_gradient(seed, format!("∂{out}/∂{out}"));
        self.backward_from(loss, seed)
    }

    /// Records the vector-Jacobian product for an arbitrary cotangent `seed` of `output`'s
    /// shape (what gradient checks with a random cotangent use).
    ///
    /// # Errors
    ///
    /// As [`Graph::backward`], with `seed` of `output`'s shape.
    pub fn backward_from(&mut self, output: NodeId, seed: NodeId) -> Result<Gradients> {
        let (so, ss) = (self.shape(output)?, self.shape(seed)?);
        if so != ss {
            return Err(Error::Shape { op: "backward", lhs: so, rhs: ss });
        }
        let mut grads = BTreeMap::from([(output, seed)]);
        for index in (0..=output.index()).rev() {
            let id = self.id_at(index);
            let node = self.node(id)?;
            if node.op.is_leaf() || !node.requires_grad {
                continue;
            }
            let Some(&dy) = grads.get(&id) else { continue };
            let inputs = node.inputs.clone();
            let first_new = self.len();
            let input_grads = rules::vjp(self, id, dy)?;
            for (input, grad) in inputs.into_iter().zip(input_grads) {
                if self.node(input)?.requires_grad {
                    let op = self.node(id)?.op.name();
                    let grad = grad.ok_or(Error::NotDifferentiable { op })?;
                    let grad = self.reduce_to_shape(grad, self.shape(input)?)?;
                    self.add_gradient(&mut grads, input, grad)?;
                }
            }
            self.mark_backward(first_new, id);
        }
        self.name_gradients(output, &grads);
        Ok(Gradients { graph: self.identity(), of: grads })
    }

    /// Names the gradient of every named node `∂out/∂name` (`out` is the output's name,
    /// or `L`), for drawings.
    fn name_gradients(&mut self, output: NodeId, grads: &BTreeMap<NodeId, NodeId>) {
        let out = self.nodes()[output.index()].name.clone().unwrap_or_else(|| "L".into());
        for (&node, &grad) in grads {
            if let Some(name) = self.nodes()[node.index()].name.clone() {
                if node != output {
                    self.name_gradient(grad, format!("∂{out}/∂{name}"));
                }
            }
        }
    }

    /// Sums a broadcast gradient back to the shape of the value that was broadcast: the
    /// one place where broadcasting is undone. The matrix-view patterns (a scalar, a bias
    /// row, a per-row column) use the row kernels; any other sums each broadcast dim.
    fn reduce_to_shape(&mut self, grad: NodeId, target: Shape) -> Result<NodeId> {
        let shape = self.shape(grad)?;
        if shape == target {
            return Ok(grad);
        }
        if !target.broadcasts_to(shape) {
            return Err(Error::Shape { op: "reduce_to_shape", lhs: shape, rhs: target });
        }
        let summed = if target.len() == 1 {
            self.sum(grad)?
        } else if target.rows() == 1 && target.cols() == shape.cols() {
            self.sum_rows(grad)?
        } else if target.cols() == 1 && target.rows() == shape.rows() && target.reads_by_rows(shape) {
            self.sum_cols(grad)?
        } else {
            let lead = shape.rank() - target.rank();
            let dims: Vec<isize> = (0..shape.rank())
                .filter(|&k| shape.dims()[k] != 1 && (k < lead || target.dims()[k - lead] == 1))
                .map(|k| k as isize)
                .collect();
            if dims.is_empty() {
                return self.reshape(grad, target);
            }
            self.sum_dim(grad, &dims, true)?
        };
        self.reshape(summed, target)
    }

    /// A value used twice receives the sum of both gradients.
    fn add_gradient(&mut self, grads: &mut BTreeMap<NodeId, NodeId>, node: NodeId, grad: NodeId) -> Result<()> {
        let total = match grads.get(&node) {
            Some(&previous) => self.add(previous, grad)?,
            None => grad,
        };
        grads.insert(node, total);
        Ok(())
    }

    /// `Err` unless `grads` was recorded in this graph.
    pub(crate) fn check_gradients(&self, grads: &Gradients) -> Result<()> {
        if grads.graph == self.identity() {
            return Ok(());
        }
        let node = grads.of.keys().next().map_or("the gradients".to_owned(), |id| format!("gradient of {id}"));
        Err(Error::ForeignNode { node })
    }
}
