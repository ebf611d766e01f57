//! Saving and loading a classifier with its optimizer's state, in the files of
//! [`crate::train::resume`]: the model as a PyTorch state dict, the training state beside it.

use std::path::Path;

use super::Classifier;
use crate::error::{Error, Result};
use crate::train::resume::{self, TrainingState};

impl Classifier {
    /// Saves the trained model to `path` (PyTorch's names; `load_state_dict(strict=True)`
    /// takes it) and beside it the training state: the optimizer's tensors, and `epoch`,
    /// the data-order `seed` and the sample count for resuming (see [`resume`]).
    ///
    /// # Errors
    ///
    /// The errors of [`resume::save`], and backend errors reading the values.
    pub fn save(&mut self, path: &Path, epoch: usize, seed: u64, samples: usize) -> Result<()> {
        let state = TrainingState {
            epoch,
            seed,
            batch: self.batch(),
            samples,
            optimizer: self.optimizer(),
            clip_norm: self.clip_norm,
            tensors: self.optimizer_state()?,
        };
        resume::save(path, &self.model()?, &state)
    }

    /// Loads what [`Classifier::save`] wrote into this classifier: the parameters and the
    /// optimizer's state, so training continues exactly; returns the training state (its
    /// epoch and seed say where to continue).
    ///
    /// # Errors
    ///
    /// The errors of [`resume::load`]; [`Error::InvalidArgument`] when the files belong
    /// to a model or an optimizer of another shape.
    pub fn load(&mut self, path: &Path) -> Result<TrainingState> {
        let mut model = self.model()?;
        let state = resume::load(path, &mut model)?;
        if state.optimizer != self.optimizer() {
            let msg = format!(
                "{} was saved with {}, but this classifier has {}: build the classifier with the saved \
                 optimizer (a different learning rate can be set after loading, with set_learning_rate)",
                path.display(),
                state.optimizer,
                self.optimizer()
            );
            return Err(Error::InvalidArgument { op: "classifier load", msg });
        }
        self.set_optimizer_state(&state.tensors)?;
        // Saved at the end of an epoch: a schedule goes on from the next one's first step.
        self.steps_done = state.epoch * state.samples.div_ceil(state.batch);
        for p in model.parameters().into_iter().chain(model.buffers()) {
            if let Some((_, id)) = self.train.params.iter().find(|(n, _)| *n == p.name) {
                self.train.session.write(*id, p.values)?;
            }
        }
        Ok(state)
    }
}
