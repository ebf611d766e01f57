//! Recording the elementwise family: a generic [`Graph::map`] for any [`Map`] op, and a
//! method for each op users reach for.

use crate::error::{Error, Result};
use crate::graph::op::{Map, Op};
use crate::graph::{Graph, NodeId};

impl Graph {
    /// Records elementwise op `map` with constant `s` (0 for ops that take none) on one
    /// operand (the output has its shape) or two (a `[1, m]` row or `[1, 1]` scalar
    /// broadcasts, as in [`Graph::add`]).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for the wrong number of operands, a constant that is
    /// not finite, [`Map::Broadcast`] (record it with [`Graph::broadcast`]), or a
    /// `Map::Custom` that was never registered;
    /// [`Error::Shape`] for operands that do not broadcast; [`Error::ForeignNode`] for
    /// an id of another graph.
    pub fn map(&mut self, map: Map, s: f32, inputs: &[NodeId]) -> Result<NodeId> {
        if let Map::Custom(index) = map {
            if !crate::ops::elementwise::is_registered(index) {
                let msg = format!("Map::Custom({index}) was not returned by custom::register");
                return Err(Error::InvalidArgument { op: "map", msg });
            }
        }
        let def = map.def();
        if inputs.len() != def.arity || map == Map::Broadcast || !s.is_finite() {
            let msg = format!("takes {} operands and a finite constant, got {} and {s}", def.arity, inputs.len());
            return Err(Error::InvalidArgument { op: def.name, msg });
        }
        match *inputs {
            [x] => {
                let shape = self.shape(x)?;
                self.push(Op::Map(map, s), inputs, shape)
            }
            [a, b] => {
                let (a, b, shape) = self.broadcast_operands(def.name, a, b)?;
                self.push(Op::Map(map, s), &[a, b], shape)
            }
            _ => unreachable!("arity is 1 or 2"),
        }
    }

    /// `xˢ` elementwise for a constant exponent, as PyTorch's `pow`: NaN for a negative
    /// `x` and a fractional exponent, `x⁰ = 1` (NaN included).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for an exponent that is not finite;
    /// [`Error::ForeignNode`] for an id of another graph.
    pub fn pow(&mut self, x: NodeId, exponent: f32) -> Result<NodeId> {
        self.map(Map::Pow, exponent, &[x])
    }

    /// GELU in its exact (erf) form, PyTorch's default `gelu`.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignNode`] for an id of another graph.
    pub fn gelu(&mut self, x: NodeId) -> Result<NodeId> {
        self.map(Map::Gelu, 0.0, &[x])
    }

    /// `−x` elementwise.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignNode`] for an id of another graph.
    pub fn neg(&mut self, x: NodeId) -> Result<NodeId> {
        self.map(Map::Neg, 0.0, &[x])
    }

    /// `|x|` elementwise; its gradient at 0 is 0, as in PyTorch.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignNode`] for an id of another graph.
    pub fn abs(&mut self, x: NodeId) -> Result<NodeId> {
        self.map(Map::Abs, 0.0, &[x])
    }

    /// `sign x` elementwise (−1, 0 or 1). Not differentiable.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignNode`] for an id of another graph.
    pub fn sign(&mut self, x: NodeId) -> Result<NodeId> {
        self.map(Map::Sign, 0.0, &[x])
    }

    /// `ln x` elementwise.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignNode`] for an id of another graph.
    pub fn log(&mut self, x: NodeId) -> Result<NodeId> {
        self.map(Map::Log, 0.0, &[x])
    }

    /// `a / b` elementwise, broadcasting as [`Graph::add`].
    ///
    /// # Errors
    ///
    /// As [`Graph::add`].
    pub fn div(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.map(Map::Div, 0.0, &[a, b])
    }

    /// PyTorch's `leaky_relu`: `x` where `x > 0`, else `negative_slope · x`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a slope that is not finite; [`Error::ForeignNode`]
    /// for an id of another graph.
    pub fn leaky_relu(&mut self, x: NodeId, negative_slope: f32) -> Result<NodeId> {
        self.map(Map::LeakyRelu, negative_slope, &[x])
    }

    /// PyTorch's `softplus` (β = 1, threshold 20): `ln(1 + eˣ)`, and `x` above 20.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignNode`] for an id of another graph.
    pub fn softplus(&mut self, x: NodeId) -> Result<NodeId> {
        self.map(Map::Softplus, 0.0, &[x])
    }

    /// `x` as a value only: no gradient flows back through it (PyTorch's `detach`), e.g.
    /// a target computed from the model's own output.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignNode`] for an id of another graph.
    pub fn stop_gradient(&mut self, x: NodeId) -> Result<NodeId> {
        let id = self.map(Map::StopGradient, 0.0, &[x])?;
        self.stop_gradients_at(id);
        Ok(id)
    }

    /// PyTorch's `gelu(x, approximate="tanh")`.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignNode`] for an id of another graph.
    pub fn gelu_tanh(&mut self, x: NodeId) -> Result<NodeId> {
        self.map(Map::GeluTanh, 0.0, &[x])
    }
}
