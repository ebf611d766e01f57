//! The classifier's training step on a data set held on the device: compiled again the
//! first time a data set is trained on, the data uploaded once, the training state
//! carried over.

use super::{Classifier, Step, StepSpec};
use crate::backend::{Device, Session};
use crate::error::Result;
use crate::graph::op::Op;
use crate::graph::NodeId;
use crate::train::data::Dataset;
use crate::train::resident::MAX_SAMPLES;

impl Classifier {
    /// The training step (`training`) or the evaluation step compiled again, gathering its
    /// batches from `source` held on the device (uploaded here), or fed from the host.
    fn recompile(&self, training: bool, source: Option<&Dataset>) -> Result<Step> {
        let (inputs, classes) = self.features;
        let batch = if training { self.train.batch } else { self.eval.batch };
        let spec = StepSpec { batch, inputs, classes, loss: self.options.loss.as_ref() };
        let run = training.then(|| (self.optimizer, self.options.clone()));
        let mut step = Self::step(&self.device, &self.model, spec, run, source)?;
        if let (Some((_, batches)), Some(data)) = (&step.batches, source) {
            batches.upload(step.session.as_mut(), data)?;
        }
        Ok(step)
    }

    /// Makes the training step gather its batches from `data` on the device, when it fits
    /// there (`false`: batches are written from the host). The first epoch on a data set
    /// compiles the step again with the data set's nodes, uploads the data, and carries
    /// the parameters, the optimizer's state, the learning rate and the other training
    /// state over by name; later epochs on the same data (or a clone of it) upload
    /// nothing.
    pub(super) fn hold(&mut self, data: &Dataset) -> Result<bool> {
        if self.train.batches.as_ref().is_some_and(|(id, _)| *id == data.id()) {
            return Ok(true);
        }
        let held = fits(&self.device, data);
        if !held && self.train.batches.is_none() {
            return Ok(false);
        }
        let mut step = self.recompile(true, held.then_some(data))?;
        carry_state(self.train.session.as_mut(), step.session.as_mut())?;
        self.train = step;
        Ok(held)
    }
}

/// Whether `data` can be held on `device`: indices exact in f32, and (on a GPU) the
/// images within one storage binding.
fn fits(device: &Device, data: &Dataset) -> bool {
    if data.len() > MAX_SAMPLES {
        return false;
    }
    match device {
        Device::Cpu => true,
        Device::Gpu(ctx) => {
            let per_sample =
                if data.image_bytes().is_some() { data.pixels().div_ceil(4) * 4 } else { data.pixels() * 4 };
            (data.len() * per_sample) as u64 <= ctx.limits().max_storage_buffer_binding_size
        }
    }
}

impl Classifier {
    /// Makes the evaluation step gather its batches from `data` on the device, compiled
    /// again the first time a data set is evaluated (its parameters are copied from the
    /// training step before each evaluation).
    pub(super) fn hold_for_evaluation(&mut self, data: &Dataset) -> Result<bool> {
        let holds = |step: &Step| step.batches.as_ref().is_some_and(|(id, _)| *id == data.id());
        if holds(&self.eval) {
            return Ok(true);
        }
        if self.eval_spare.as_ref().is_some_and(holds) {
            std::mem::swap(&mut self.eval, self.eval_spare.as_mut().expect("checked"));
            return Ok(true);
        }
        let held = fits(&self.device, data);
        if !held && self.eval.batches.is_none() {
            return Ok(false);
        }
        let step = self.recompile(false, held.then_some(data))?;
        let previous = std::mem::replace(&mut self.eval, step);
        if previous.batches.is_some() {
            self.eval_spare = Some(previous);
        }
        Ok(held)
    }
}

/// Copies every named parameter and state of `from` into the node of the same name and
/// size in `to`.
fn carry_state(from: &mut dyn Session, to: &mut dyn Session) -> Result<()> {
    let to_stored = |id| to.is_stored(id);
    let (source, target) = (from.graph(), to.graph());
    let pairs: Vec<(NodeId, NodeId)> = source
        .nodes()
        .iter()
        .enumerate()
        .filter(|(_, node)| matches!(node.op, Op::Parameter | Op::State))
        .filter_map(|(i, node)| {
            let to = target.find(node.name.as_deref()?)?;
            let same_size = target.nodes()[to.index()].shape == node.shape;
            // A leaf one of the steps never reads (e.g. under a loss that ignores it) has
            // nothing to carry.
            let stored = from.is_stored(source.id_at(i)) && to_stored(to);
            (same_size && stored).then_some((source.id_at(i), to))
        })
        .collect();
    from.copy_values_to(to, &pairs)
}
