//! An epoch driven a step at a time: [`Classifier::epoch`] starts one, [`Epoch::step`]
//! runs the next training step, and between steps the classifier is at hand
//! ([`Epoch::classifier`]) to read a gradient or the loss, or to change the rate.

use web_time::Instant;

use rand::Rng;

use super::{Classifier, EpochStats};
use crate::error::{Error, Result};
use crate::train::data::{shuffled, Dataset};

/// One pass over a data set in a random order, run a step (or a few) at a time.
///
/// ```
/// use backprop::classifier::{Classifier, TrainOptions};
/// use backprop::data::Dataset;
/// use backprop::nn::{Init, Layer, Sequential};
/// use backprop::{init, Device, Optimizer};
///
/// let data = Dataset::with_classes(vec![0.0, 1.0, 1.0, 0.0, 0.5, 0.5], vec![0, 1, 1], 2, 2)?;
/// let model = Sequential::mlp(&[2, 4, 2], Layer::Relu, Init::PyTorch, &mut init::rng(0))?;
/// let options = TrainOptions { keep_gradients: true, ..Default::default() };
/// let mut clf = Classifier::with_options(&Device::Cpu, model, Optimizer::sgd(0.1), 2, 2, options)?;
/// let mut epoch = clf.epoch(&data, &mut init::rng(1))?;
/// assert_eq!(epoch.len(), 2);
/// epoch.step()?;
/// let gradient = epoch.classifier().gradient("0.weight")?; // after one step
/// assert_eq!(gradient.len(), 8);
/// epoch.step()?;
/// assert!(epoch.step().is_err(), "the epoch has two steps");
/// let stats = epoch.finish()?;
/// assert!(stats.mean_loss.is_finite());
/// # Ok::<(), backprop::Error>(())
/// ```
pub struct Epoch<'a> {
    classifier: &'a mut Classifier,
    data: &'a Dataset,
    order: Vec<usize>,
    /// Whether the batches are gathered on the device (else written from the host).
    held: bool,
    steps: usize,
    done: usize,
    start: Instant,
}

impl Classifier {
    /// Starts an epoch over `data` in a fresh random order from `rng`, to run step by step
    /// (see [`Epoch`]); [`Classifier::train_epoch`] runs a whole one.
    ///
    /// # Errors
    ///
    /// As [`Classifier::train_epoch`].
    pub fn epoch<'a>(&'a mut self, data: &'a Dataset, rng: &mut impl Rng) -> Result<Epoch<'a>> {
        self.check_data(data)?;
        let held = self.hold(data)?;
        let order = shuffled(data.len(), rng);
        let steps = data.len().div_ceil(self.train.batch);
        let step = &mut self.train;
        step.session.write(step.tally, &[0.0])?;
        if held {
            let (_, batches) = step.batches.as_ref().expect("the data set is held on the device");
            batches.start_epoch(step.session.as_mut(), &order)?;
            if let (Some(table), Some(schedule)) = (step.rate_table, &self.options.schedule) {
                let base = self.optimizer.lr();
                let rates = (self.steps_done..self.steps_done + steps).map(|t| schedule.lr(base, t));
                step.session.write(table, &rates.collect::<Result<Vec<f32>>>()?)?;
            }
        }
        Ok(Epoch { classifier: self, data, order, held, steps, done: 0, start: Instant::now() })
    }

    /// Training steps run so far, over all epochs (where a schedule stands).
    pub fn steps_done(&self) -> usize {
        self.steps_done
    }
}

impl Epoch<'_> {
    /// Steps in the whole epoch: `⌈samples / batch⌉`.
    pub fn len(&self) -> usize {
        self.steps
    }

    /// Whether the epoch has no steps (never: a data set is not empty).
    pub fn is_empty(&self) -> bool {
        self.steps == 0
    }

    /// Steps not yet run.
    pub fn remaining(&self) -> usize {
        self.steps - self.done
    }

    /// Runs the next training step.
    ///
    /// # Errors
    ///
    /// As [`Epoch::steps`].
    pub fn step(&mut self) -> Result<()> {
        self.steps(1)
    }

    /// Runs the next `n` training steps (in one submission when the data are on the
    /// device), then checks for non-finite values when that check is on.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] when fewer than `n` steps are left (start the next epoch
    /// instead); [`Error::NonFinite`] from the non-finite check; backend errors.
    pub fn steps(&mut self, n: usize) -> Result<()> {
        if n > self.remaining() {
            let msg = format!(
                "{n} step(s) asked for, {} of this epoch's {} left: call finish() and start the next epoch",
                self.remaining(),
                self.steps
            );
            return Err(Error::InvalidArgument { op: "epoch", msg });
        }
        let clf = &mut *self.classifier;
        if self.held {
            clf.train.session.run_steps(n)?;
        } else {
            let batch = clf.train.batch;
            for i in self.done..self.done + n {
                if let Some(schedule) = &clf.options.schedule {
                    let rate = schedule.lr(clf.optimizer.lr(), clf.steps_done + i - self.done)?;
                    let node = clf.train.learning_rate.expect("a training step records a learning rate");
                    clf.train.session.write(node, &[rate])?;
                }
                let indices = &self.order[i * batch..((i + 1) * batch).min(self.data.len())];
                clf.train.run_from_host(self.data, indices)?;
            }
        }
        self.done += n;
        clf.steps_done += n;
        if let Some(guard) = &clf.train.guard {
            guard.check(clf.train.session.as_mut())?;
        }
        Ok(())
    }

    /// Runs the next training step with each of its launches timed (see
    /// [`crate::Session::profile`]), to see where a step's time goes.
    ///
    /// # Errors
    ///
    /// As [`Epoch::steps`]; [`Error::InvalidArgument`] when the data set is not held on the
    /// device (one too large for it is written from the host batch by batch) or the
    /// backend cannot time its launches.
    pub fn profile_step(&mut self) -> Result<Vec<crate::backend::KernelTime>> {
        if !self.held {
            let msg = "the data set is written from the host batch by batch; a profile times held data".to_owned();
            return Err(Error::InvalidArgument { op: "profile_step", msg });
        }
        if self.remaining() == 0 {
            return self.steps(1).map(|_| Vec::new());
        }
        let clf = &mut *self.classifier;
        let times = clf.train.session.profile()?;
        self.done += 1;
        clf.steps_done += 1;
        if let Some(guard) = &clf.train.guard {
            guard.check(clf.train.session.as_mut())?;
        }
        Ok(times)
    }

    /// The classifier, between steps: read a gradient or statistics, save, evaluate.
    pub fn classifier(&mut self) -> &mut Classifier {
        self.classifier
    }

    /// Ends the epoch: the mean loss of the steps run and their speed.
    ///
    /// # Errors
    ///
    /// A backend error reading the summed loss.
    pub fn finish(self) -> Result<EpochStats> {
        let step = &mut self.classifier.train;
        let total = step.session.read(step.tally)?[0];
        let seconds = self.start.elapsed().as_secs_f64();
        let samples = (self.done * step.batch).min(self.data.len());
        Ok(EpochStats { mean_loss: total / self.done.max(1) as f32, samples_per_sec: samples as f64 / seconds })
    }
}
