//! Optimizers, recorded as in-place update nodes so that they run inside the same
//! submitted step as forward and backward.

use crate::autodiff::Gradients;
use crate::error::{Error, Result};
use crate::graph::{Graph, NodeId};
use crate::op::{AdamConfig, Op};

/// An optimizer and its hyper-parameters; defaults are PyTorch's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Optimizer {
    /// Stochastic gradient descent, with PyTorch's momentum (no dampening) when non-zero.
    Sgd {
        /// Learning rate.
        lr: f32,
        /// Momentum factor; 0 for plain SGD.
        momentum: f32,
    },
    /// Adam with bias correction.
    Adam(AdamConfig),
}

impl Optimizer {
    /// Plain SGD.
    pub fn sgd(lr: f32) -> Self {
        Optimizer::Sgd { lr, momentum: 0.0 }
    }

    /// Adam with PyTorch's default betas and eps.
    pub fn adam(lr: f32) -> Self {
        Optimizer::Adam(AdamConfig { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8 })
    }

    /// `Err` naming the first hyper-parameter out of range (PyTorch's ranges: lr, eps and
    /// momentum ≥ 0, betas in [0, 1), all finite).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] naming the hyper-parameter, its value and its range.
    pub fn validate(&self) -> Result<()> {
        let fields: Vec<(&str, f32, bool)> = match *self {
            Optimizer::Sgd { lr, momentum } => vec![("lr", lr, false), ("momentum", momentum, true)],
            Optimizer::Adam(AdamConfig { lr, beta1, beta2, eps }) => {
                vec![("lr", lr, false), ("beta1", beta1, true), ("beta2", beta2, true), ("eps", eps, false)]
            }
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

impl Graph {
    /// Records one update per parameter that has a gradient (with the optimizer's state,
    /// zero-initialised) and returns the update nodes.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for hyper-parameters out of range, [`Error::ForeignNode`]
    /// for gradients of another graph.
    pub fn optimize(&mut self, grads: &Gradients, optimizer: Optimizer) -> Result<Vec<NodeId>> {
        optimizer.validate()?;
        self.check_gradients(grads)?;
        let params: Vec<(NodeId, NodeId)> =
            self.parameters().into_iter().filter_map(|p| grads.get(p).map(|g| (p, g))).collect();
        match optimizer {
            Optimizer::Sgd { lr, momentum: 0.0 } => self.sgd(grads, lr),
            Optimizer::Sgd { lr, momentum } => params
                .into_iter()
                .map(|(p, g)| {
                    let v = self.state(&format!("{}.momentum", self.label(p)), self.shape(p)?)?;
                    self.push_update(Op::SgdMomentum { lr, momentum }, &[p, g, v])
                })
                .collect(),
            Optimizer::Adam(config) => {
                // [1 − β₁ᵗ, 1 − β₂ᵗ, β₁ᵗ, β₂ᵗ] at t = 0.
                let corrections = self.state_with("adam.bias_corrections", [1, 4], vec![0.0, 0.0, 1.0, 1.0])?;
                let step = self.push_update(Op::AdamCorrections(config), &[corrections])?;
                let mut updates = vec![step];
                for (p, g) in params {
                    let shape = self.shape(p)?;
                    let m = self.state(&format!("{}.exp_avg", self.label(p)), shape)?;
                    let v = self.state(&format!("{}.exp_avg_sq", self.label(p)), shape)?;
                    updates.push(self.push_update(Op::Adam(config), &[p, g, m, v, step])?);
                }
                Ok(updates)
            }
        }
    }
}
