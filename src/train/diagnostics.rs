//! Watching backpropagation: per-parameter gradient statistics, clipping by global norm
//! or by value, and non-finite detection. All of it is recorded into the graph, so it
//! runs on the device inside the step; only reading the results costs a transfer.

use crate::autodiff::Gradients;
use crate::backend::Session;
use crate::error::{Error, Result};
use crate::graph::{Graph, NodeId};

/// `mean |g|`, `max |g|` and `‖g‖₂` of one parameter's gradient.
#[derive(Clone, Debug, PartialEq)]
pub struct GradStat {
    /// The parameter's name.
    pub name: String,
    /// Mean absolute gradient.
    pub mean_abs: f32,
    /// Largest absolute gradient.
    pub max_abs: f32,
    /// L2 norm of the gradient.
    pub norm: f32,
}

/// The statistics nodes of every watched parameter; keep [`GradWatch::nodes`] when
/// compiling, then [`GradWatch::read`] whenever you want to look.
#[derive(Clone, Debug)]
pub struct GradWatch {
    names: Vec<String>,
    stats: Vec<NodeId>,
}

impl GradWatch {
    /// The `[1, 3]` statistics nodes, to pass in `keep`.
    pub fn nodes(&self) -> &[NodeId] {
        &self.stats
    }

    /// The statistics as of the last run, in one transfer.
    ///
    /// # Errors
    ///
    /// The errors of [`Session::read_many`], e.g. [`Error::NotComputed`] before the first
    /// run.
    pub fn read(&self, session: &mut dyn Session) -> Result<Vec<GradStat>> {
        let values = session.read_many(&self.stats)?;
        let stat =
            |(name, v): (&String, Vec<f32>)| GradStat { name: name.clone(), mean_abs: v[0], max_abs: v[1], norm: v[2] };
        Ok(self.names.iter().zip(values).map(stat).collect())
    }
}

/// Gradients after clipping by global norm, and the norm before clipping.
#[derive(Clone, Debug)]
pub struct Clipped {
    /// The clipped gradient of every parameter.
    pub grads: Gradients,
    /// `[1, 1]` global L2 norm over all gradients, before clipping.
    pub norm: NodeId,
}

/// Where the first NaN or ±Inf appeared.
#[derive(Clone, Debug)]
pub struct NonFiniteGuard {
    record: NodeId,
    names: Vec<String>,
}

impl NonFiniteGuard {
    /// The record node, to pass in `keep`.
    pub fn node(&self) -> NodeId {
        self.record
    }

    /// `Err(Error::NonFinite)` naming the first step (1-based) and the loss or parameter
    /// where a non-finite value appeared, if any has so far.
    ///
    /// # Errors
    ///
    /// [`Error::NonFinite`] as described; the errors of [`Session::read`].
    pub fn check(&self, session: &mut dyn Session) -> Result<()> {
        let record = session.read(self.record)?;
        if record[0] == 0.0 && record[1] == 0.0 {
            return Ok(());
        }
        let step = record[1] as u64 * 65_536 + record[0] as u64;
        let what = self.names.get(record[2] as usize).cloned().unwrap_or_else(|| format!("tag {}", record[2]));
        Err(Error::NonFinite { step, what })
    }
}

impl Graph {
    fn parameter_grads(&self, grads: &Gradients) -> Result<Vec<(NodeId, NodeId)>> {
        self.check_gradients(grads)?;
        Ok(self.parameters().into_iter().filter_map(|p| grads.get(p).map(|g| (p, g))).collect())
    }

    /// Records `[mean |g|, max |g|, ‖g‖₂]` for every parameter's gradient.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignNode`] for gradients of another graph.
    pub fn watch_gradients(&mut self, grads: &Gradients) -> Result<GradWatch> {
        let mut watch = GradWatch { names: vec![], stats: vec![] };
        for (p, g) in self.parameter_grads(grads)? {
            watch.names.push(self.label(p));
            watch.stats.push(self.grad_stats(g)?);
        }
        Ok(watch)
    }

    /// PyTorch's `clip_grad_norm_`: one L2 norm over all parameter gradients, and every
    /// gradient scaled by `min(1, max_norm / (norm + 1e-6))`. The norm is summed in
    /// parameter order, so the result is deterministic.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a `max_norm` that is not positive and finite or no
    /// gradients, [`Error::ForeignNode`] for gradients of another graph.
    pub fn clip_grad_norm(&mut self, grads: &Gradients, max_norm: f32) -> Result<Clipped> {
        let pairs = self.parameter_grads(grads)?;
        let mut total: Option<NodeId> = None;
        for &(_, g) in &pairs {
            let squares = self.sum_squares(g)?;
            total = Some(match total {
                Some(t) => self.add(t, squares)?,
                None => squares,
            });
        }
        let total = total.ok_or(Error::InvalidArgument { op: "clip_grad_norm", msg: "no gradients".into() })?;
        let norm = self.sqrt(total)?;
        let coefficient = self.clip_coefficient(norm, max_norm)?;
        let mut clipped = Gradients::empty(self);
        for (p, g) in pairs {
            clipped.insert(p, self.mul(g, coefficient)?);
        }
        Ok(Clipped { grads: clipped, norm })
    }

    /// PyTorch's `clip_grad_value_`: every gradient clamped to `[-limit, limit]`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a `limit` that is not positive and finite,
    /// [`Error::ForeignNode`] for gradients of another graph.
    pub fn clip_grad_value(&mut self, grads: &Gradients, limit: f32) -> Result<Gradients> {
        let mut clipped = Gradients::empty(self);
        for (p, g) in self.parameter_grads(grads)? {
            clipped.insert(p, self.clip_value(g, limit)?);
        }
        Ok(clipped)
    }

    /// Records checks that the loss and every parameter's gradient norm are finite; the
    /// guard reports the first step and quantity that was not.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignNode`] for a loss or gradients of another graph.
    pub fn guard_non_finite(&mut self, loss: NodeId, grads: &Gradients) -> Result<NonFiniteGuard> {
        let counter = self.state("guard.step", [1, 2])?;
        let step = self.push_update(crate::graph::op::Op::Increment, &[counter])?;
        let record = self.state("guard.first_non_finite", [1, 3])?;
        self.first_non_finite(record, loss, step, 0)?;
        let mut names = vec!["the loss".to_owned()];
        for (i, (p, g)) in self.parameter_grads(grads)?.into_iter().enumerate() {
            let squares = self.sum_squares(g)?;
            self.first_non_finite(record, squares, step, i as u32 + 1)?;
            names.push(format!("the gradient of {}", self.label(p)));
        }
        Ok(NonFiniteGuard { record, names })
    }
}
