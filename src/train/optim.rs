//! Optimizers, recorded as in-place update nodes so that they run inside the same
//! submitted step as forward and backward.

use crate::autodiff::Gradients;
use crate::error::{Error, Result};
use crate::graph::op::{AdamConfig, Op, SgdConfig};
use crate::graph::{Graph, NodeId};

/// An optimizer and its hyper-parameters; defaults are PyTorch's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Optimizer {
    /// Stochastic gradient descent, with PyTorch's momentum (no dampening), Nesterov
    /// momentum and weight decay as configured.
    Sgd(SgdConfig),
    /// Adam with bias correction; AdamW when its weight decay is `decoupled`.
    Adam(AdamConfig),
}

impl Optimizer {
    /// Plain SGD.
    pub fn sgd(lr: f32) -> Self {
        Optimizer::Sgd(SgdConfig { lr, momentum: 0.0, nesterov: false, weight_decay: 0.0 })
    }

    /// SGD with momentum (PyTorch's: no dampening).
    pub fn sgd_momentum(lr: f32, momentum: f32) -> Self {
        Optimizer::Sgd(SgdConfig { lr, momentum, nesterov: false, weight_decay: 0.0 })
    }

    /// Adam with PyTorch's default betas and eps, no weight decay.
    pub fn adam(lr: f32) -> Self {
        Optimizer::Adam(AdamConfig { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0, decoupled: false })
    }

    /// AdamW: Adam with decoupled weight decay, PyTorch's default 0.01.
    pub fn adamw(lr: f32) -> Self {
        Optimizer::Adam(AdamConfig { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.01, decoupled: true })
    }

    /// The same optimizer with weight decay `weight_decay` (an L2 term of the gradient for
    /// SGD and Adam, decoupled for AdamW).
    pub fn with_weight_decay(self, weight_decay: f32) -> Self {
        match self {
            Optimizer::Sgd(c) => Optimizer::Sgd(SgdConfig { weight_decay, ..c }),
            Optimizer::Adam(c) => Optimizer::Adam(AdamConfig { weight_decay, ..c }),
        }
    }

    /// SGD with Nesterov momentum (PyTorch requires a momentum above 0 for it; so does
    /// [`Optimizer::validate`]). Adam is returned unchanged.
    pub fn with_nesterov(self) -> Self {
        match self {
            Optimizer::Sgd(c) => Optimizer::Sgd(SgdConfig { nesterov: true, ..c }),
            adam => adam,
        }
    }

    /// The initial learning rate.
    pub fn lr(&self) -> f32 {
        match self {
            Optimizer::Sgd(c) => c.lr,
            Optimizer::Adam(c) => c.lr,
        }
    }

    /// `Err` naming the first hyper-parameter out of range (PyTorch's ranges: lr, eps,
    /// momentum and weight decay ≥ 0, betas in [0, 1), all finite; Nesterov needs a
    /// momentum).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] naming the hyper-parameter, its value and its range.
    pub fn validate(&self) -> Result<()> {
        let fields: Vec<(&str, f32, bool)> = match *self {
            Optimizer::Sgd(SgdConfig { lr, momentum, weight_decay, nesterov }) => {
                if nesterov && momentum == 0.0 {
                    let msg = "Nesterov momentum needs a momentum above 0".to_owned();
                    return Err(Error::InvalidArgument { op: "optimizer", msg });
                }
                vec![("lr", lr, false), ("momentum", momentum, true), ("weight_decay", weight_decay, false)]
            }
            Optimizer::Adam(AdamConfig { lr, beta1, beta2, eps, weight_decay, .. }) => vec![
                ("lr", lr, false),
                ("beta1", beta1, true),
                ("beta2", beta2, true),
                ("eps", eps, false),
                ("weight_decay", weight_decay, false),
            ],
        };
        for (name, value, below_one) in fields {
            let fine = value.is_finite() && value >= 0.0 && (!below_one || value < 1.0);
            if !fine {
                let range = if below_one { "in [0, 1)" } else { "finite and >= 0" };
                return Err(Error::InvalidArgument { op: "optimizer", msg: format!("{name} {value} must be {range}") });
            }
        }
        Ok(())
    }
}

/// PyTorch's spelling, e.g. `Adam(lr=0.001, betas=(0.9, 0.999), eps=1e-8)`, with weight
/// decay, momentum and Nesterov shown only when set.
impl std::fmt::Display for Optimizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Optimizer::Sgd(SgdConfig { lr, momentum, nesterov, weight_decay }) => {
                write!(f, "SGD(lr={lr}")?;
                if momentum != 0.0 {
                    write!(f, ", momentum={momentum}")?;
                }
                if nesterov {
                    write!(f, ", nesterov=True")?;
                }
                if weight_decay != 0.0 {
                    write!(f, ", weight_decay={weight_decay}")?;
                }
            }
            Optimizer::Adam(AdamConfig { lr, beta1, beta2, eps, weight_decay, decoupled }) => {
                let name = if decoupled { "AdamW" } else { "Adam" };
                write!(f, "{name}(lr={lr}, betas=({beta1}, {beta2}), eps={eps:e}")?;
                if weight_decay != 0.0 {
                    write!(f, ", weight_decay={weight_decay}")?;
                }
            }
        }
        write!(f, ")")
    }
}

/// What [`Graph::optimize`] recorded.
#[derive(Clone, Debug)]
pub struct OptimizerNodes {
    /// The update nodes, one per parameter with a gradient (and Adam's corrections first).
    pub updates: Vec<NodeId>,
    /// The learning rate, a `[1, 1]` state node every update reads: write it between
    /// steps ([`crate::Session::write`]) to follow a schedule without recompiling.
    pub learning_rate: NodeId,
    /// The optimizer's state nodes, named `<parameter>.momentum` (SGD), `<parameter>.exp_avg`,
    /// `<parameter>.exp_avg_sq` and `adam.bias_corrections` (Adam): readable, and writable to restore a
    /// saved state.
    pub state: Vec<NodeId>,
}

impl Graph {
    /// Records one update per parameter that has a gradient (with the optimizer's state,
    /// zero-initialised, and a learning-rate node) and returns what it recorded.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for hyper-parameters out of range, [`Error::ForeignNode`]
    /// for gradients of another graph.
    pub fn optimize(&mut self, grads: &Gradients, optimizer: Optimizer) -> Result<OptimizerNodes> {
        optimizer.validate()?;
        self.check_gradients(grads)?;
        let lr = self.state_with("lr", [1, 1], vec![optimizer.lr()])?;
        self.optimize_with_rate(grads, optimizer, lr)
    }

    /// [`Graph::optimize`] with updates that read their learning rate from `lr`, a
    /// `[1, 1]` node computed in the graph (a schedule followed on the device, e.g. from
    /// [`crate::train::resident::DeviceBatches::per_step`]); the optimizer's own rate is
    /// then unused.
    ///
    /// # Errors
    ///
    /// As [`Graph::optimize`], and [`Error::InvalidArgument`] for an `lr` of another shape.
    pub fn optimize_with_rate(
        &mut self,
        grads: &Gradients,
        optimizer: Optimizer,
        lr: NodeId,
    ) -> Result<OptimizerNodes> {
        optimizer.validate()?;
        self.check_gradients(grads)?;
        if self.shape(lr)?.len() != 1 {
            let msg = format!("the learning rate must be one value, not {}", self.shape(lr)?);
            return Err(Error::InvalidArgument { op: "optimize", msg });
        }
        let params: Vec<(NodeId, NodeId)> =
            self.parameters().into_iter().filter_map(|p| grads.get(p).map(|g| (p, g))).collect();
        let mut nodes = OptimizerNodes { updates: Vec::new(), learning_rate: lr, state: Vec::new() };
        match optimizer {
            Optimizer::Sgd(config) => {
                for (p, g) in params {
                    let mut inputs = vec![p, g, lr];
                    if config.momentum != 0.0 {
                        let v = self.state(&format!("{}.momentum", self.label(p)), self.shape(p)?)?;
                        nodes.state.push(v);
                        inputs.push(v);
                    }
                    nodes.updates.push(self.push_update(Op::Sgd(config), &inputs)?);
                }
            }
            Optimizer::Adam(config) => {
                // [1 − β₁ᵗ, 1 − β₂ᵗ, β₁ᵗ, β₂ᵗ] at t = 0.
                let corrections = self.state_with("adam.bias_corrections", [1, 4], vec![0.0, 0.0, 1.0, 1.0])?;
                nodes.state.push(corrections);
                let step = self.push_update(Op::AdamCorrections(config), &[corrections])?;
                nodes.updates.push(step);
                for (p, g) in params {
                    let shape = self.shape(p)?;
                    let m = self.state(&format!("{}.exp_avg", self.label(p)), shape)?;
                    let v = self.state(&format!("{}.exp_avg_sq", self.label(p)), shape)?;
                    nodes.state.extend([m, v]);
                    nodes.updates.push(self.push_update(Op::Adam(config), &[p, g, m, v, step, lr])?);
                }
            }
        }
        Ok(nodes)
    }
}

impl Graph {
    /// Records `param -= lr · grad` for every parameter that has a gradient; returns the
    /// update nodes (each aliases its parameter).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a learning rate that is negative or not finite,
    /// [`Error::ForeignNode`] for gradients of another graph.
    pub fn sgd(&mut self, grads: &Gradients, lr: f32) -> Result<Vec<NodeId>> {
        self.check_gradients(grads)?;
        if !(lr.is_finite() && lr >= 0.0) {
            return Err(Error::InvalidArgument {
                op: "sgd",
                msg: format!("learning rate {lr} must be finite and >= 0"),
            });
        }
        Ok(self.optimize(grads, Optimizer::sgd(lr))?.updates)
    }
}
