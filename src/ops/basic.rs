//! Recording methods for every op, each checking its operands' shapes.

use crate::error::{Error, Result};
use crate::graph::op::{Map, Op};
use crate::graph::shape::Shape;
use crate::graph::{Graph, NodeId};

impl Graph {
    /// Matrix product `a · b` of `[m, k]` and `[k, n]`.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when the inner dimensions differ; [`Error::ForeignNode`] for an id
    /// of another graph.
    pub fn matmul(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.matmul_t(a, b, false, false)
    }

    /// Matrix product `op(a) · op(b)` where `op` transposes when its flag is set.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when the inner dimensions differ; [`Error::ForeignNode`] for an id
    /// of another graph.
    pub fn matmul_t(&mut self, a: NodeId, b: NodeId, trans_a: bool, trans_b: bool) -> Result<NodeId> {
        let (sa, sb) = (self.shape(a)?, self.shape(b)?);
        if sa.rank() != 2 || sb.rank() != 2 {
            return self.matmul_nd(a, b, trans_a, trans_b);
        }
        let (a, trans_a) = self.fold_swap(a, trans_a)?;
        let (b, trans_b) = self.fold_swap(b, trans_b)?;
        let (sa, sb) = (self.shape(a)?, self.shape(b)?);
        let la = if trans_a { sa.transposed() } else { sa };
        let lb = if trans_b { sb.transposed() } else { sb };
        if la.cols() != lb.rows() {
            return Err(Error::Shape { op: "matmul", lhs: la, rhs: lb });
        }
        self.push(Op::MatMul { trans_a, trans_b }, &[a, b], Shape::new(la.rows(), lb.cols()))
    }

    /// `a + b`; a `[1, m]` row or `[1, 1]` scalar broadcasts.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when neither shape broadcasts to the other; [`Error::ForeignNode`]
    /// for an id of another graph.
    pub fn add(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.binary(Map::Add, a, b)
    }

    /// `a - b`, broadcasting as [`Graph::add`].
    ///
    /// # Errors
    ///
    /// As [`Graph::add`].
    pub fn sub(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.binary(Map::Sub, a, b)
    }

    /// `a ⊙ b` elementwise, broadcasting as [`Graph::add`].
    ///
    /// # Errors
    ///
    /// As [`Graph::add`].
    pub fn mul(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.binary(Map::Mul, a, b)
    }

    fn binary(&mut self, map: Map, a: NodeId, b: NodeId) -> Result<NodeId> {
        let (a, b, out) = self.broadcast_operands(map.def().name, a, b)?;
        self.push(Op::Map(map, 0.0), &[a, b], out)
    }

    /// The shape `a` and `b` broadcast to by PyTorch's rules, with each operand that the
    /// elementwise kernels cannot read through the matrix views (see
    /// [`Shape::reads_by_rows`]) expanded to it first.
    pub(crate) fn broadcast_operands(
        &mut self,
        op: &'static str,
        a: NodeId,
        b: NodeId,
    ) -> Result<(NodeId, NodeId, Shape)> {
        let (sa, sb) = (self.shape(a)?, self.shape(b)?);
        let out = Shape::broadcast_or_conflict(sa, sb).map_err(|(dim, x, y)| Error::Broadcast {
            op,
            lhs: sa,
            rhs: sb,
            dim,
            a: x,
            b: y,
        })?;
        crate::error::check_size(out, op)?;
        let a = if sa.reads_by_rows(out) { a } else { self.expand(a, out)? };
        let b = if sb.reads_by_rows(out) { b } else { self.expand(b, out)? };
        Ok((a, b, out))
    }

    fn same_shape(&mut self, op: Op, a: NodeId, b: NodeId) -> Result<NodeId> {
        let (sa, sb) = (self.shape(a)?, self.shape(b)?);
        if sa != sb {
            return Err(Error::Shape { op: op.name(), lhs: sa, rhs: sb });
        }
        self.push(op, &[a, b], sa)
    }

    fn unary(&mut self, map: Map, s: f32, x: NodeId) -> Result<NodeId> {
        let shape = self.shape(x)?;
        self.push(Op::Map(map, s), &[x], shape)
    }

    /// `s · x` for a constant scalar `s`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a factor that is not finite; [`Error::ForeignNode`]
    /// for an id of another graph.
    pub fn scale(&mut self, x: NodeId, s: f32) -> Result<NodeId> {
        if !s.is_finite() {
            return Err(Error::InvalidArgument { op: "scale", msg: format!("factor {s} is not finite") });
        }
        // A one-value constant scaled is another constant: gradients that flow from a loss
        // through scalar factors (a penalty's weight) stay constants, so the rules they
        // reach can fold them in (see `SumSquares` in `autodiff/rules.rs`).
        if let Some(v) = self.constant_value(x) {
            let shape = self.shape(x)?;
            return self.constant(shape, vec![v * s]);
        }
        self.unary(Map::Scale, s, x)
    }

    /// The value of `x` when it is a constant of one element.
    pub(crate) fn constant_value(&self, x: NodeId) -> Option<f32> {
        let node = self.node(x).ok()?;
        match (&node.op, &node.init) {
            (Op::Constant, Some(values)) if values.len() == 1 => Some(values[0]),
            _ => None,
        }
    }

    /// `x²` elementwise.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignNode`] for an id of another graph.
    pub fn square(&mut self, x: NodeId) -> Result<NodeId> {
        self.unary(Map::Square, 0.0, x)
    }

    /// Logistic sigmoid.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignNode`] for an id of another graph.
    pub fn sigmoid(&mut self, x: NodeId) -> Result<NodeId> {
        self.unary(Map::Sigmoid, 0.0, x)
    }

    /// Hyperbolic tangent.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignNode`] for an id of another graph.
    pub fn tanh(&mut self, x: NodeId) -> Result<NodeId> {
        self.unary(Map::Tanh, 0.0, x)
    }

    /// Rectified linear unit.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignNode`] for an id of another graph.
    pub fn relu(&mut self, x: NodeId) -> Result<NodeId> {
        self.unary(Map::Relu, 0.0, x)
    }

    /// `eˣ` elementwise.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignNode`] for an id of another graph.
    pub fn exp(&mut self, x: NodeId) -> Result<NodeId> {
        self.unary(Map::Exp, 0.0, x)
    }

    /// Derivative op: `dy · y · (1 - y)` for `y = sigmoid(x)`.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when the two shapes differ; [`Error::ForeignNode`] for an id of
    /// another graph.
    pub fn sigmoid_grad(&mut self, y: NodeId, dy: NodeId) -> Result<NodeId> {
        self.same_shape(Op::Map(Map::SigmoidGrad, 0.0), y, dy)
    }

    /// Derivative op: `dy · (1 - y²)` for `y = tanh(x)`.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when the two shapes differ; [`Error::ForeignNode`] for an id of
    /// another graph.
    pub fn tanh_grad(&mut self, y: NodeId, dy: NodeId) -> Result<NodeId> {
        self.same_shape(Op::Map(Map::TanhGrad, 0.0), y, dy)
    }

    /// Derivative op: `dy` where `x > 0`, else 0.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when the two shapes differ; [`Error::ForeignNode`] for an id of
    /// another graph.
    pub fn relu_grad(&mut self, x: NodeId, dy: NodeId) -> Result<NodeId> {
        self.same_shape(Op::Map(Map::ReluGrad, 0.0), x, dy)
    }

    /// Sum of all elements, `[1, 1]`.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignNode`] for an id of another graph.
    pub fn sum(&mut self, x: NodeId) -> Result<NodeId> {
        self.node(x)?;
        self.push(Op::SumAll, &[x], Shape::SCALAR)
    }

    /// Sum over the batch axis, `[n, m] → [1, m]` (for any rank: over every dim but the
    /// last).
    ///
    /// # Errors
    ///
    /// [`Error::ForeignNode`] for an id of another graph.
    pub fn sum_rows(&mut self, x: NodeId) -> Result<NodeId> {
        let s = self.shape(x)?;
        self.push(Op::SumRows, &[x], Shape::new(1, s.cols()))
    }

    /// Mean of all elements, `[1, 1]`.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignNode`] for an id of another graph.
    pub fn mean(&mut self, x: NodeId) -> Result<NodeId> {
        self.node(x)?;
        self.push(Op::Mean, &[x], Shape::SCALAR)
    }

    /// Repeats `x` to `shape` by PyTorch's broadcasting rules (as [`Graph::expand`]).
    ///
    /// # Errors
    ///
    /// [`Error::Broadcast`] when `x` does not broadcast to `shape`; [`Error::TooLarge`]
    /// beyond [`Shape::MAX_ELEMENTS`]; [`Error::ForeignNode`] for an id of another graph.
    pub fn broadcast(&mut self, x: NodeId, shape: impl Into<Shape>) -> Result<NodeId> {
        let (from, to) = (self.shape(x)?, shape.into());
        crate::ops::tensor_layout::broadcast_check("broadcast", from, to)?;
        crate::error::check_size(to, "broadcast")?;
        if !from.reads_by_rows(to) {
            return self.expand(x, to);
        }
        self.push(Op::Map(Map::Broadcast, 0.0), &[x], to)
    }

    /// Softmax cross-entropy of `logits` against `targets` (both `[n, k]`), averaged over
    /// the rows whose target is not all zeros (see [`Op::SoftmaxCrossEntropy`]).
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when the two shapes differ; [`Error::ForeignNode`] for an id of
    /// another graph.
    pub fn softmax_cross_entropy(&mut self, logits: NodeId, targets: NodeId) -> Result<NodeId> {
        self.same_shape_scalar(Op::SoftmaxCrossEntropy, logits, targets)
    }

    /// Derivative op of [`Graph::softmax_cross_entropy`] with respect to the logits.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when logits and targets differ or `dy` is not `[1, 1]`;
    /// [`Error::ForeignNode`] for an id of another graph.
    pub fn softmax_cross_entropy_grad(&mut self, logits: NodeId, targets: NodeId, dy: NodeId) -> Result<NodeId> {
        let (sl, st, sd) = (self.shape(logits)?, self.shape(targets)?, self.shape(dy)?);
        if sl != st || sd != Shape::SCALAR {
            let rhs = if sl != st { st } else { sd };
            return Err(Error::Shape { op: "softmax_cross_entropy_grad", lhs: sl, rhs });
        }
        self.push(Op::SoftmaxCrossEntropyGrad, &[logits, targets, dy], sl)
    }

    /// Number of rows whose largest logit is where the target is largest (padding rows
    /// excluded), `[1, 1]`.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when the two shapes differ; [`Error::ForeignNode`] for an id of
    /// another graph.
    pub fn count_correct(&mut self, logits: NodeId, targets: NodeId) -> Result<NodeId> {
        self.same_shape_scalar(Op::CountCorrect, logits, targets)
    }

    fn same_shape_scalar(&mut self, op: Op, a: NodeId, b: NodeId) -> Result<NodeId> {
        let (sa, sb) = (self.shape(a)?, self.shape(b)?);
        if sa != sb {
            return Err(Error::Shape { op: op.name(), lhs: sa, rhs: sb });
        }
        self.push(op, &[a, b], Shape::SCALAR)
    }

    /// Records `total += value` in place each run; `total` must be a state (or
    /// parameter) node of the same shape, and `value` must not be `total` itself. Returns
    /// the update node.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when the shapes differ, [`Error::InvalidArgument`] when `total`
    /// is not a state or parameter or `value` shares its storage.
    pub fn accumulate(&mut self, total: NodeId, value: NodeId) -> Result<NodeId> {
        let (st, sv) = (self.shape(total)?, self.shape(value)?);
        if st != sv {
            return Err(Error::Shape { op: "accumulate", lhs: st, rhs: sv });
        }
        self.push_update(Op::Accumulate, &[total, value])
    }

    /// `Σ x²`, `[1, 1]`.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignNode`] for an id of another graph.
    pub fn sum_squares(&mut self, x: NodeId) -> Result<NodeId> {
        self.node(x)?;
        self.push(Op::SumSquares, &[x], Shape::SCALAR)
    }

    /// `Σ Σx²` over every node of `nodes` (an L2 penalty over parameters): one
    /// `sum_squares` each, added in order.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for no nodes, [`Error::ForeignNode`] for an id of
    /// another graph.
    pub fn sum_squares_of(&mut self, nodes: &[NodeId]) -> Result<NodeId> {
        let Some((&first, rest)) = nodes.split_first() else {
            return Err(Error::InvalidArgument { op: "sum_squares_of", msg: "needs at least one node".into() });
        };
        let mut total = self.sum_squares(first)?;
        for &x in rest {
            let squares = self.sum_squares(x)?;
            total = self.add(total, squares)?;
        }
        Ok(total)
    }

    /// `sqrt(x)` elementwise.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignNode`] for an id of another graph.
    pub fn sqrt(&mut self, x: NodeId) -> Result<NodeId> {
        self.unary(Map::Sqrt, 0.0, x)
    }

    /// `[mean |g|, max |g|, ‖g‖₂]` of `grad`, `[1, 3]`.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignNode`] for an id of another graph.
    pub fn grad_stats(&mut self, grad: NodeId) -> Result<NodeId> {
        self.node(grad)?;
        self.push(Op::GradStats, &[grad], Shape::new(1, 3))
    }

    /// `clamp(x, -limit, limit)` elementwise.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a limit that is not positive and finite;
    /// [`Error::ForeignNode`] for an id of another graph.
    pub fn clip_value(&mut self, x: NodeId, limit: f32) -> Result<NodeId> {
        if !(limit.is_finite() && limit > 0.0) {
            return Err(Error::InvalidArgument { op: "clip_value", msg: format!("limit {limit} must be positive") });
        }
        self.unary(Map::ClipValue, limit, x)
    }

    /// `min(1, max_norm / (norm + 1e-6))` of a `[1, 1]` norm.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a `max_norm` that is not positive and finite,
    /// [`Error::Shape`] when `norm` is not `[1, 1]`; [`Error::ForeignNode`] for an id of
    /// another graph.
    pub fn clip_coefficient(&mut self, norm: NodeId, max_norm: f32) -> Result<NodeId> {
        if !(max_norm.is_finite() && max_norm > 0.0) {
            let msg = format!("max_norm {max_norm} must be positive");
            return Err(Error::InvalidArgument { op: "clip_coefficient", msg });
        }
        let shape = self.shape(norm)?;
        if shape != Shape::SCALAR {
            return Err(Error::Shape { op: "clip_coefficient", lhs: shape, rhs: Shape::SCALAR });
        }
        self.push(Op::Map(Map::ClipCoefficient, max_norm), &[norm], Shape::SCALAR)
    }

    /// Records `[step low, step high, tag]` into the `[1, 3]` state `record` the first
    /// time `value` holds a NaN or ±Inf; `step` is a `[1, 2]` counter (see
    /// [`Op::FirstNonFinite`] and [`Op::Increment`]).
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when `record` is not `[1, 3]` or `step` not `[1, 2]`,
    /// [`Error::InvalidArgument`] when `value` holds more than 65,536 values (watch a
    /// reduction of it, such as `sum_squares`), `record` is not a state or two inputs share
    /// storage; [`Error::ForeignNode`] for an id of another graph.
    pub fn first_non_finite(&mut self, record: NodeId, value: NodeId, step: NodeId, tag: u32) -> Result<NodeId> {
        let (sr, ss) = (self.shape(record)?, self.shape(step)?);
        if sr != Shape::new(1, 3) || ss != Shape::new(1, 2) {
            return Err(Error::Shape { op: "first_non_finite", lhs: sr, rhs: ss });
        }
        // One thread scans the value: keep it to what one loop may walk everywhere.
        if self.shape(value)?.len() > 65_536 {
            let msg = format!("{} holds more than 65,536 values; watch a reduction of it", self.label(value));
            return Err(Error::InvalidArgument { op: "first_non_finite", msg });
        }
        self.push_update(Op::FirstNonFinite { tag }, &[record, value, step])
    }

    /// Mean squared error `mean((prediction - target)²)`, `[1, 1]`.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when the two shapes differ; [`Error::ForeignNode`] for an id of
    /// another graph.
    pub fn mse_loss(&mut self, prediction: NodeId, target: NodeId) -> Result<NodeId> {
        self.same_shape_scalar(Op::MseLoss, prediction, target)
    }
}
