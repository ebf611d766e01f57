//! Shaping gradients outside the crate: transform every parameter's gradient with
//! recorded ops (a penalty, a custom clipping rule), scale them, replace one, or find one
//! by its parameter's name; the result is handed to [`Graph::optimize`] as usual.

use crate::autodiff::Gradients;
use crate::error::{Error, Result};
use crate::graph::{Graph, NodeId};

impl Graph {
    /// Gradients with each parameter's gradient `g` replaced by `f(graph, parameter, g)`,
    /// recorded into this graph: e.g. `g + λ·p` for an L2 penalty, or any clipping rule.
    /// Gradients of values that are not parameters are kept as they are.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignNode`] for gradients of another graph; [`Error::Shape`] when `f`
    /// returns a value of another shape than the gradient; `f`'s own errors.
    pub fn map_gradients(
        &mut self,
        grads: &Gradients,
        mut f: impl FnMut(&mut Graph, NodeId, NodeId) -> Result<NodeId>,
    ) -> Result<Gradients> {
        self.check_gradients(grads)?;
        let parameters = self.parameters();
        let mut out = grads.clone();
        for (node, grad) in grads.iter().filter(|(n, _)| parameters.contains(n)) {
            let new = f(self, node, grad)?;
            self.set_gradient(&mut out, node, new)?;
        }
        Ok(out)
    }

    /// Every parameter's gradient times `factor` (e.g. averaging over accumulated
    /// batches).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a factor that is not finite; [`Error::ForeignNode`]
    /// for gradients of another graph.
    pub fn scale_gradients(&mut self, grads: &Gradients, factor: f32) -> Result<Gradients> {
        if !factor.is_finite() {
            return Err(Error::InvalidArgument {
                op: "scale_gradients",
                msg: format!("factor {factor} is not finite"),
            });
        }
        self.map_gradients(grads, |g, _, grad| g.scale(grad, factor))
    }

    /// Makes `grad` the gradient of `node` in `grads` (the optimizer then uses it).
    ///
    /// # Errors
    ///
    /// [`Error::ForeignNode`] when `grads`, `node` or `grad` belong to another graph;
    /// [`Error::Shape`] when `grad`'s shape is not `node`'s.
    pub fn set_gradient(&self, grads: &mut Gradients, node: NodeId, grad: NodeId) -> Result<()> {
        self.check_gradients(grads)?;
        let (want, got) = (self.shape(node)?, self.shape(grad)?);
        if want != got {
            return Err(Error::Shape { op: "set_gradient", lhs: want, rhs: got });
        }
        grads.insert(node, grad);
        Ok(())
    }

    /// The gradient of the parameter (or other named node) called `name`, if the loss
    /// depends on it.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignNode`] for gradients of another graph; [`Error::InvalidArgument`]
    /// when no node is called `name`.
    pub fn gradient_of(&self, grads: &Gradients, name: &str) -> Result<Option<NodeId>> {
        self.check_gradients(grads)?;
        let node = self
            .find(name)
            .ok_or_else(|| Error::InvalidArgument { op: "gradient_of", msg: format!("no node is called '{name}'") })?;
        Ok(grads.get(node))
    }
}
