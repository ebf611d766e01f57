//! Training a [`Sequential`] classifier with softmax cross-entropy: one compiled training
//! step (forward, backward, optimizer, loss accumulated on the device) and one compiled
//! evaluation step, each replayed over mini-batches.

use std::time::Instant;

use rand::Rng;

use crate::backend::{Device, Session};
use crate::data::{shuffled, Dataset, CLASSES};
use crate::error::{Error, Result};
use crate::graph::{Graph, NodeId};
use crate::nn::{Layer, Sequential};
use crate::optim::Optimizer;

/// One compiled step and the nodes it is driven through.
struct Step {
    session: Box<dyn Session>,
    batch: usize,
    x: NodeId,
    y: NodeId,
    loss: NodeId,
    /// Training: the on-device sum of batch losses. Evaluation: correct predictions.
    tally: NodeId,
    params: Vec<(String, NodeId)>,
    x_host: Vec<f32>,
    y_host: Vec<f32>,
}

impl Step {
    fn load(&mut self, data: &Dataset, indices: &[usize]) -> Result<()> {
        data.fill_batch(indices, &mut self.x_host, &mut self.y_host);
        self.session.write(self.x, &self.x_host)?;
        self.session.write(self.y, &self.y_host)
    }
}

/// What one training epoch measured.
#[derive(Clone, Copy, Debug)]
pub struct EpochStats {
    /// Mean of the batch losses.
    pub mean_loss: f32,
    /// Training samples per second, host batching and device work included.
    pub samples_per_sec: f64,
}

/// Accuracy and loss on a data set.
#[derive(Clone, Copy, Debug)]
pub struct Evaluation {
    /// Fraction of samples whose largest logit is the right class.
    pub accuracy: f32,
    /// Mean cross-entropy per sample.
    pub loss: f32,
}

/// A classifier compiled for training and evaluation on one device.
pub struct Classifier {
    model: Sequential,
    train: Step,
    eval: Step,
}

fn features(model: &Sequential) -> Result<(usize, usize)> {
    let linears: Vec<_> =
        model.layers.iter().filter_map(|l| if let Layer::Linear(l) = l { Some(l) } else { None }).collect();
    match (linears.first(), linears.last()) {
        (Some(first), Some(last)) => Ok((first.in_features, last.out_features)),
        _ => Err(Error::InvalidArgument { op: "classifier", msg: "the model has no Linear layer".into() }),
    }
}

impl Classifier {
    /// Compiles `model` for training with `optimizer` on batches of `batch`, and for
    /// evaluation on batches of `eval_batch`.
    pub fn new(
        device: &Device,
        model: Sequential,
        optimizer: Optimizer,
        batch: usize,
        eval_batch: usize,
    ) -> Result<Self> {
        if batch == 0 || eval_batch == 0 {
            return Err(Error::InvalidArgument { op: "classifier", msg: "batch sizes must be positive".into() });
        }
        let (inputs, classes) = features(&model)?;
        if classes != CLASSES {
            let msg = format!("the last layer has {classes} outputs; the data has {CLASSES} classes");
            return Err(Error::InvalidArgument { op: "classifier", msg });
        }
        let train = Self::step(device, &model, batch, inputs, Some(optimizer))?;
        let eval = Self::step(device, &model, eval_batch, inputs, None)?;
        Ok(Classifier { model, train, eval })
    }

    fn step(device: &Device, model: &Sequential, batch: usize, inputs: usize, opt: Option<Optimizer>) -> Result<Step> {
        let mut g = Graph::new();
        let x = g.input("x", [batch, inputs])?;
        let y = g.input("y", [batch, CLASSES])?;
        let recorded = model.record(&mut g, x)?;
        let loss = g.softmax_cross_entropy(recorded.output, y)?;
        let (session, tally) = match opt {
            Some(optimizer) => {
                let grads = g.backward(loss)?;
                g.optimize(&grads, optimizer)?;
                let total = g.state("loss_total", [1, 1])?;
                g.accumulate(total, loss)?;
                (device.compile(&g, &[loss])?, total)
            }
            None => {
                let correct = g.count_correct(recorded.output, y)?;
                (device.compile_inference(&g, &[loss, correct])?, correct)
            }
        };
        let (x_host, y_host) = (vec![0.0; batch * inputs], vec![0.0; batch * CLASSES]);
        Ok(Step { session, batch, x, y, loss, tally, params: recorded.params, x_host, y_host })
    }

    /// Which backend runs the steps.
    pub fn backend_name(&self) -> String {
        self.train.session.backend_name()
    }

    fn check_data(&self, data: &Dataset) -> Result<()> {
        let (inputs, _) = features(&self.model)?;
        if data.pixels != inputs || data.is_empty() {
            let msg = format!("{} samples of {} values; the model takes {inputs}", data.len(), data.pixels);
            return Err(Error::InvalidArgument { op: "classifier", msg });
        }
        Ok(())
    }

    /// One pass over `data` in a fresh random order; `progress` hears how many samples
    /// each batch held. Nothing is read back until the epoch's summed loss at the end.
    pub fn train_epoch(
        &mut self,
        data: &Dataset,
        rng: &mut impl Rng,
        mut progress: impl FnMut(usize),
    ) -> Result<EpochStats> {
        self.check_data(data)?;
        let order = shuffled(data.len(), rng);
        let step = &mut self.train;
        step.session.write(step.tally, &[0.0])?;
        let start = Instant::now();
        let mut batches = 0;
        for chunk in order.chunks(step.batch) {
            step.load(data, chunk)?;
            step.session.run()?;
            batches += 1;
            progress(chunk.len());
        }
        let total = step.session.read(step.tally)?[0];
        let seconds = start.elapsed().as_secs_f64();
        Ok(EpochStats { mean_loss: total / batches as f32, samples_per_sec: data.len() as f64 / seconds })
    }

    /// Accuracy and mean loss on `data` with the current parameters.
    pub fn evaluate(&mut self, data: &Dataset) -> Result<Evaluation> {
        self.check_data(data)?;
        for ((_, from), (_, to)) in self.train.params.iter().zip(&self.eval.params) {
            let values = self.train.session.read(*from)?;
            self.eval.session.write(*to, &values)?;
        }
        let step = &mut self.eval;
        let (mut loss, mut correct) = (0.0f64, 0.0f64);
        let indices: Vec<usize> = (0..data.len()).collect();
        for chunk in indices.chunks(step.batch) {
            step.load(data, chunk)?;
            let out = step.session.run_and_read(&[step.loss, step.tally])?;
            loss += out[0][0] as f64 * chunk.len() as f64;
            correct += out[1][0] as f64;
        }
        let n = data.len() as f64;
        Ok(Evaluation { accuracy: (correct / n) as f32, loss: (loss / n) as f32 })
    }

    /// The model with the parameters as trained so far.
    pub fn model(&mut self) -> Result<Sequential> {
        let mut model = self.model.clone();
        for (name, id) in &self.train.params {
            model.set_parameter(name, &self.train.session.read(*id)?)?;
        }
        Ok(model)
    }
}
