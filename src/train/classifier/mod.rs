//! Training a [`Sequential`] classifier with softmax cross-entropy (or a loss of your
//! own): one compiled training step (forward, backward, optimizer, loss accumulated on the
//! device) and an evaluation step, each replayed over mini-batches gathered on the device
//! from a data set held there (`resident.rs`), or written from the host for a data set too
//! large to hold (`host.rs`).

use std::sync::Arc;

use rand::Rng;

mod epoch;
mod host;
mod resident;
mod save;

pub use epoch::Epoch;

use crate::backend::{Device, Session};
use crate::error::{Error, Result};
use crate::graph::{Graph, NodeId};
use crate::train::checkpoint::{mismatches, Tensor};
use crate::train::data::Dataset;
use crate::train::diagnostics::{GradStat, GradWatch, NonFiniteGuard};
use crate::train::nn::{Module, Recorded, Sequential};
use crate::train::optim::Optimizer;
use crate::train::resident::DeviceBatches;
use crate::train::schedule::Schedule;

/// One compiled step and the nodes it is driven through.
struct Step {
    session: Box<dyn Session>,
    batch: usize,
    /// The batch's loss; evaluating a data set held on the device, the running sum of
    /// each batch's loss times its real rows.
    loss: NodeId,
    /// Training: the on-device sum of batch losses. Evaluation: correct predictions
    /// (their running sum over a data set held on the device).
    tally: NodeId,
    /// `(name, node)` of every parameter, then of every buffer.
    params: Vec<(String, NodeId)>,
    watch: Option<GradWatch>,
    guard: Option<NonFiniteGuard>,
    grad_norm: Option<NodeId>,
    /// `(name, node, [rows, cols])` of the optimizer's state (training only).
    optimizer_state: Vec<(String, NodeId, Vec<usize>)>,
    /// The learning-rate node the updates read (training only).
    learning_rate: Option<NodeId>,
    /// The epoch's rates, one per step, when a schedule is followed on the device.
    rate_table: Option<NodeId>,
    /// `(parameter name, gradient)` when the gradients are kept (training only).
    gradients: Vec<(String, NodeId)>,
    /// The data set this step gathers its batches from on the device ([`Dataset::id`]
    /// and its nodes); `None` while batches are written from the host.
    batches: Option<(u64, DeviceBatches)>,
    /// The inputs batches are written to from the host (when `batches` is `None`).
    host: Option<host::HostBatches>,
}

/// What a custom loss ([`TrainOptions::loss`]) is given, all nodes of the classifier's
/// graph.
pub struct LossInputs<'a> {
    /// The model's output, `[batch, classes]`.
    pub logits: NodeId,
    /// One-hot targets, `[batch, classes]`; rows of a partial last batch are all zero.
    pub targets: NodeId,
    /// `[batch, 1]`: 1 for a real row, 0 for a padding row of a partial last batch (a
    /// loss should give those no weight).
    pub rows: NodeId,
    /// `(name, node)` of every parameter, for penalties.
    pub params: &'a [(String, NodeId)],
}

impl LossInputs<'_> {
    /// Every parameter's node, in layer order (for a penalty over all of them, e.g.
    /// `g.sum_squares_of(&l.parameters())`).
    pub fn parameters(&self) -> Vec<NodeId> {
        self.params.iter().map(|(_, p)| *p).collect()
    }
}

/// A loss recorded into the classifier's graph from its [`LossInputs`]: a `[1, 1]` node,
/// the mean over the real rows by convention (the epoch's loss averages it over batches).
pub type LossFn = Arc<dyn Fn(&mut Graph, &LossInputs) -> Result<NodeId> + Send + Sync>;

/// Optional parts of the training step, all run on the device inside the step.
#[derive(Clone, Default)]
pub struct TrainOptions {
    /// Clip gradients to this global L2 norm before the optimizer sees them.
    pub clip_norm: Option<f32>,
    /// Record per-parameter gradient statistics, for [`Classifier::gradient_stats`].
    pub watch_gradients: bool,
    /// Check the loss and gradients for NaN and Inf; training stops with
    /// [`Error::NonFinite`] naming the first bad step (checked every
    /// [`NON_FINITE_CHECK_EVERY`] steps and at the end of each epoch).
    pub check_finite: bool,
    /// Keep every parameter's gradient readable after a step, for
    /// [`Classifier::gradient`]. Costs memory (and the bias gradients' fused sums).
    pub keep_gradients: bool,
    /// The loss to train and evaluate with; softmax cross-entropy (padding rows
    /// excluded) when `None`.
    pub loss: Option<LossFn>,
    /// A learning-rate schedule followed every training step, counted from the first
    /// (as PyTorch's `scheduler.step()` after each batch), from the optimizer's rate. On a
    /// data set held on the device the rates are gathered on the device (each epoch's
    /// written at its start), so whole epochs still run without the host.
    pub schedule: Option<Schedule>,
}

impl std::fmt::Debug for TrainOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainOptions")
            .field("clip_norm", &self.clip_norm)
            .field("watch_gradients", &self.watch_gradients)
            .field("check_finite", &self.check_finite)
            .field("keep_gradients", &self.keep_gradients)
            .field("loss", &if self.loss.is_some() { "custom" } else { "cross-entropy" })
            .field("schedule", &self.schedule)
            .finish()
    }
}

impl TrainOptions {
    /// These options with `loss` as the loss: a closure whose argument types need not be
    /// written (`options.with_loss(|g, l| g.softmax_cross_entropy(l.logits, l.targets))`).
    pub fn with_loss(self, loss: impl Fn(&mut Graph, &LossInputs) -> Result<NodeId> + Send + Sync + 'static) -> Self {
        TrainOptions { loss: Some(Arc::new(loss)), ..self }
    }

    /// These options with `schedule` followed every step.
    pub fn with_schedule(self, schedule: Schedule) -> Self {
        TrainOptions { schedule: Some(schedule), ..self }
    }
}

/// The shapes and loss of one compiled step.
struct StepSpec<'a> {
    batch: usize,
    inputs: usize,
    classes: usize,
    loss: Option<&'a LossFn>,
}

/// How many steps may run between two reads of the non-finite record.
pub const NON_FINITE_CHECK_EVERY: usize = 100;

/// What one training epoch measured.
#[derive(Clone, Copy, Debug)]
pub struct EpochStats {
    /// Mean of the batch losses.
    pub mean_loss: f32,
    /// Training samples per second over the epoch's steps (the upload of a data set on
    /// its first epoch is not counted).
    pub samples_per_sec: f64,
}

/// Accuracy and loss on a data set.
#[derive(Clone, Copy, Debug)]
pub struct Evaluation {
    /// Fraction of samples whose largest logit is the right class.
    pub accuracy: f32,
    /// Mean loss per sample: cross-entropy, or the [`TrainOptions::loss`] the classifier
    /// was built with.
    pub loss: f32,
}

/// A classifier compiled for training and evaluation on one device.
pub struct Classifier {
    device: Device,
    /// The training step's options, to compile it again for a data set held on the device.
    options: TrainOptions,
    model: Sequential,
    optimizer: Optimizer,
    /// The training step's global-norm clipping, recorded in saved training states.
    clip_norm: Option<f32>,
    train: Step,
    eval: Step,
    /// The evaluation step held for the data set evaluated before the current one, so
    /// that alternating between two data sets (training and test accuracy each epoch)
    /// compiles and uploads each once.
    eval_spare: Option<Step>,
    /// The model's input width and class count.
    features: (usize, usize),
    /// Training steps run so far (where the schedule stands).
    steps_done: usize,
}

/// The model's input width (its first layer that fixes one, see
/// [`Module::in_features`]) and class count (its output's width, found by recording it
/// once on one row).
fn features(model: &Sequential) -> Result<(usize, usize)> {
    let Some(inputs) = model.in_features() else {
        let msg = "cannot tell the model's input width: start it with a Linear layer, or give your first \
                   layer an in_features()";
        return Err(Error::InvalidArgument { op: "classifier", msg: msg.into() });
    };
    let mut g = Graph::new();
    let x = g.input("x", [1, inputs])?;
    let output = model.record_eval(&mut g, x)?.output;
    let shape = g.shape(output)?;
    if shape.rank() != 2 || shape.rows() != 1 {
        let msg = format!("the model turns [1, {inputs}] into {shape}; a classifier needs [1, classes]");
        return Err(Error::InvalidArgument { op: "classifier", msg });
    }
    Ok((inputs, shape.cols()))
}

impl Classifier {
    /// Compiles `model` for training with `optimizer` on batches of `batch`, and for
    /// evaluation on batches of `eval_batch`.
    ///
    /// # Errors
    ///
    /// As [`Classifier::with_options`].
    pub fn new(
        device: &Device,
        model: Sequential,
        optimizer: Optimizer,
        batch: usize,
        eval_batch: usize,
    ) -> Result<Self> {
        Self::with_options(device, model, optimizer, batch, eval_batch, TrainOptions::default())
    }

    /// [`Classifier::new`] with clipping, gradient statistics, non-finite checks, kept
    /// gradients or another loss. The class count is the last `Linear` layer's outputs;
    /// the data must have as many classes.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a zero batch size, a model without `Linear` layers,
    /// bad hyper-parameters, or a loss that is not `[1, 1]`; [`Error::TooLarge`] for
    /// batches beyond the limits; the errors of [`Device::compile`] and of the loss.
    pub fn with_options(
        device: &Device,
        model: Sequential,
        optimizer: Optimizer,
        batch: usize,
        eval_batch: usize,
        options: TrainOptions,
    ) -> Result<Self> {
        if batch == 0 || eval_batch == 0 {
            return Err(Error::InvalidArgument { op: "classifier", msg: "batch sizes must be positive".into() });
        }
        if let Some(schedule) = &options.schedule {
            schedule.validate()?;
        }
        let (inputs, classes) = features(&model)?;
        let loss = options.loss.clone();
        let spec = |batch| StepSpec { batch, inputs, classes, loss: loss.as_ref() };
        let train = Self::step(device, &model, spec(batch), Some((optimizer, options.clone())), None)?;
        let eval = Self::step(device, &model, spec(eval_batch), None, None)?;
        let clip_norm = options.clip_norm;
        let features = (inputs, classes);
        Ok(Classifier {
            device: device.clone(),
            options,
            model,
            optimizer,
            clip_norm,
            train,
            eval,
            eval_spare: None,
            features,
            steps_done: 0,
        })
    }

    /// The loss of `spec` recorded on the model's output.
    fn record_loss(g: &mut Graph, spec: &StepSpec, recorded: &Recorded, y: NodeId) -> Result<NodeId> {
        let Some(loss_fn) = spec.loss else { return g.softmax_cross_entropy(recorded.output, y) };
        let rows = g.sum_cols(y)?;
        let inputs = LossInputs { logits: recorded.output, targets: y, rows, params: &recorded.params };
        let loss = loss_fn(g, &inputs)?;
        let shape = g.shape(loss)?;
        if shape.len() != 1 {
            let msg = format!("the loss function returned {shape}; it must return one value (sum or mean it)");
            return Err(Error::InvalidArgument { op: "classifier", msg });
        }
        // A scalar of rank 0 or 1 reads as the [1, 1] the step sums.
        if shape != crate::Shape::SCALAR {
            return g.reshape(loss, [1, 1]);
        }
        Ok(loss)
    }

    /// Compiles a training step (with `training`) or an evaluation step, its batches
    /// written from the host, or gathered on the device from `source`.
    fn step(
        device: &Device,
        model: &Sequential,
        spec: StepSpec,
        training: Option<(Optimizer, TrainOptions)>,
        source: Option<&Dataset>,
    ) -> Result<Step> {
        let batch = spec.batch;
        let mut g = Graph::new();
        // Both backends hold images as bytes where they can: a quarter of the memory and of
        // the upload, and on the CPU a quarter of the memory a step's scattered rows are
        // read from (decoded by vectorised arithmetic, faster than copying f32 rows).
        let batches = source.map(|data| Ok::<_, Error>((data.id(), g.device_batches(data, batch)?)));
        let batches = batches.transpose()?;
        let host = match batches {
            Some(_) => None,
            None => Some(host::HostBatches::record(&mut g, batch, spec.inputs, spec.classes)?),
        };
        let (x, y) = match (&batches, &host) {
            (Some((_, b)), _) => (b.x, b.y),
            (None, Some(h)) => (h.x, h.y),
            (None, None) => unreachable!("one of the two is recorded"),
        };
        // Dropout only in the training step.
        let recorded = if training.is_some() { model.record(&mut g, x)? } else { model.record_eval(&mut g, x)? };
        let loss = Self::record_loss(&mut g, &spec, &recorded, y)?;
        let (mut watch, mut guard, mut grad_norm, mut optimizer_state) = (None, None, None, vec![]);
        let (mut learning_rate, mut gradients, mut summed_loss, mut rate_table) = (None, vec![], None, None);
        let (session, tally) = match training {
            Some((optimizer, options)) => {
                let raw = g.backward(loss)?;
                let mut keep = vec![loss];
                if options.keep_gradients {
                    gradients =
                        recorded.params.iter().filter_map(|(n, p)| raw.get(*p).map(|g| (n.clone(), g))).collect();
                    keep.extend(gradients.iter().map(|(_, g)| *g));
                }
                if options.watch_gradients {
                    let w = g.watch_gradients(&raw)?;
                    keep.extend(w.nodes());
                    watch = Some(w);
                }
                if options.check_finite {
                    let guarded = g.guard_non_finite(loss, &raw)?;
                    keep.push(guarded.node());
                    guard = Some(guarded);
                }
                let grads = match options.clip_norm {
                    Some(max_norm) => {
                        let clipped = g.clip_grad_norm(&raw, max_norm)?;
                        keep.push(clipped.norm);
                        grad_norm = Some(clipped.norm);
                        clipped.grads
                    }
                    None => raw,
                };
                let nodes = match (&options.schedule, &batches) {
                    (Some(_), Some((_, b))) => {
                        let (table, lr) = b.per_step(&mut g, "lr.schedule")?;
                        rate_table = Some(table);
                        g.optimize_with_rate(&grads, optimizer, lr)?
                    }
                    _ => g.optimize(&grads, optimizer)?,
                };
                optimizer_state = state_nodes(&g, &nodes.state);
                learning_rate = Some(nodes.learning_rate);
                let total = g.state("loss_total", [1, 1])?;
                g.accumulate(total, loss)?;
                (device.compile(&g, &keep)?, total)
            }
            None if batches.is_some() => {
                // Over a data set held on the device: the loss (times the batch's real
                // rows) and the correct predictions summed on the device, read once.
                let correct = g.count_correct(recorded.output, y)?;
                let rows = g.sum(y)?;
                let weighted = g.mul(loss, rows)?;
                let (loss_total, correct_total) =
                    (g.state("eval.loss_total", [1, 1])?, g.state("eval.correct", [1, 1])?);
                g.accumulate(loss_total, weighted)?;
                g.accumulate(correct_total, correct)?;
                summed_loss = Some(loss_total);
                (device.compile(&g, &[])?, correct_total)
            }
            None => {
                let correct = g.count_correct(recorded.output, y)?;
                (device.compile_inference(&g, &[loss, correct])?, correct)
            }
        };
        // Buffers (running estimates) travel with the parameters: read back into the
        // model, copied to the evaluation step, written when loading.
        let params = [recorded.params, recorded.buffers].concat();
        Ok(Step {
            session,
            batch,
            loss: summed_loss.unwrap_or(loss),
            tally,
            params,
            watch,
            guard,
            grad_norm,
            optimizer_state,
            learning_rate,
            rate_table,
            gradients,
            batches,
            host,
        })
    }

    /// Per-parameter gradient statistics of the last training step (needs
    /// [`TrainOptions::watch_gradients`]).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] unless compiled with `watch_gradients`,
    /// [`Error::NotComputed`] before the first training step.
    pub fn gradient_stats(&mut self) -> Result<Vec<GradStat>> {
        let step = &mut self.train;
        let watch = step.watch.as_ref().ok_or(Error::InvalidArgument {
            op: "gradient_stats",
            msg: "compile with TrainOptions { watch_gradients: true, .. }".into(),
        })?;
        watch.read(step.session.as_mut()).map_err(before_training("gradient_stats"))
    }

    /// The global gradient norm of the last step before clipping (needs
    /// [`TrainOptions::clip_norm`]).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] unless compiled with `clip_norm`, [`Error::NotComputed`]
    /// before the first training step.
    pub fn last_grad_norm(&mut self) -> Result<f32> {
        let step = &mut self.train;
        let norm = step.grad_norm.ok_or(Error::InvalidArgument {
            op: "last_grad_norm",
            msg: "compile with TrainOptions { clip_norm: Some(..), .. }".into(),
        })?;
        Ok(step.session.read(norm).map_err(before_training("last_grad_norm"))?[0])
    }

    /// The optimizer the training step applies.
    pub fn optimizer(&self) -> Optimizer {
        self.optimizer
    }

    /// Sets the learning rate of the following training steps, without recompiling
    /// (for a schedule, see [`crate::Schedule`]). Four bytes are written to the
    /// device; [`Classifier::optimizer`] keeps the initial rate.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a rate that is negative or not finite.
    pub fn set_learning_rate(&mut self, lr: f32) -> Result<()> {
        if !(lr.is_finite() && lr >= 0.0) {
            let msg = format!("learning rate {lr} must be finite and >= 0");
            return Err(Error::InvalidArgument { op: "set_learning_rate", msg });
        }
        if self.options.schedule.is_some() {
            let msg = "this classifier follows TrainOptions::schedule, which sets the rate every step".to_owned();
            return Err(Error::InvalidArgument { op: "set_learning_rate", msg });
        }
        let node = self.train.learning_rate.expect("a training step records a learning rate");
        self.train.session.write(node, &[lr])
    }

    /// The training batch size.
    pub fn batch(&self) -> usize {
        self.train.batch
    }

    /// The optimizer's state as it stands (Adam's moments and step count, momentum
    /// buffers), named after the parameters, in one transfer.
    ///
    /// # Errors
    ///
    /// A backend error when reading fails.
    pub fn optimizer_state(&mut self) -> Result<Vec<Tensor>> {
        let ids: Vec<NodeId> = self.train.optimizer_state.iter().map(|(_, id, _)| *id).collect();
        let values = self.train.session.read_many(&ids)?;
        let named = self.train.optimizer_state.iter().zip(values);
        Ok(named
            .map(|((name, _, shape), values)| Tensor { name: name.clone(), shape: shape.clone(), values })
            .collect())
    }

    /// Replaces the optimizer's state with `tensors` (as [`Classifier::optimizer_state`]
    /// returned them), strictly: a missing, unexpected, misshapen or non-finite tensor is
    /// an error and nothing changes.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] listing every tensor that does not fit.
    pub fn set_optimizer_state(&mut self, tensors: &[Tensor]) -> Result<()> {
        let expected = self.optimizer_state()?;
        let problems = mismatches(&expected, tensors);
        if !problems.is_empty() {
            let msg = format!("the optimizer state does not fit: {}", problems.join("; "));
            return Err(Error::InvalidArgument { op: "set_optimizer_state", msg });
        }
        for (name, id, _) in &self.train.optimizer_state {
            let tensor = tensors.iter().find(|t| &t.name == name).expect("checked above");
            self.train.session.write(*id, &tensor.values)?;
        }
        Ok(())
    }

    /// Which backend runs the steps.
    pub fn backend_name(&self) -> String {
        self.train.session.backend_name()
    }

    fn check_data(&self, data: &Dataset) -> Result<()> {
        let (inputs, classes) = self.features;
        if data.is_empty() {
            let msg = "the data set is empty: give it at least one sample".to_owned();
            return Err(Error::InvalidArgument { op: "classifier", msg });
        }
        if data.pixels() != inputs {
            let msg = format!("{} samples of {} values; the model takes {inputs}", data.len(), data.pixels());
            return Err(Error::InvalidArgument { op: "classifier", msg });
        }
        if data.classes() != classes {
            let msg = format!("the data has {} classes; the model's last layer has {classes} outputs", data.classes());
            return Err(Error::InvalidArgument { op: "classifier", msg });
        }
        Ok(())
    }

    /// The gradient of parameter `name` (e.g. `0.weight`, in the parameter's shape) in the
    /// last training step; needs [`TrainOptions::keep_gradients`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] without `keep_gradients` or for an unknown name;
    /// [`Error::NotComputed`] before the first training step.
    pub fn gradient(&mut self, name: &str) -> Result<Vec<f32>> {
        let step = &mut self.train;
        if step.gradients.is_empty() {
            let msg = "compile with TrainOptions { keep_gradients: true, .. }".to_owned();
            return Err(Error::InvalidArgument { op: "gradient", msg });
        }
        let Some((_, id)) = step.gradients.iter().find(|(n, _)| n == name) else {
            let names: Vec<&str> = step.gradients.iter().map(|(n, _)| n.as_str()).collect();
            let msg = format!("no parameter '{name}'; there are {}", names.join(", "));
            return Err(Error::InvalidArgument { op: "gradient", msg });
        };
        step.session.read(*id).map_err(before_training("gradient"))
    }

    /// One pass over `data` in a fresh random order; `progress` hears how many samples
    /// were sent to the device since it was last called (after each submission of up to
    /// [`NON_FINITE_CHECK_EVERY`] batches). The data set is held on the device when it
    /// fits there (uploaded on its first epoch, see [`crate::train::resident`]), and written
    /// batch by batch from the host otherwise. Nothing is read back until the epoch's
    /// summed loss at the end, except the non-finite record when that check is on.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for an empty data set or one whose images do not fit the
    /// model, [`Error::NonFinite`] when checking non-finite values finds one, and backend
    /// errors.
    pub fn train_epoch(
        &mut self,
        data: &Dataset,
        rng: &mut impl Rng,
        mut progress: impl FnMut(usize),
    ) -> Result<EpochStats> {
        let mut epoch = self.epoch(data, rng)?;
        let batch = epoch.classifier().batch();
        // NON_FINITE_CHECK_EVERY steps at a time, one submission each when the data are on
        // the device; nothing waits for the device until the non-finite check (when asked
        // for) or the epoch's loss.
        while epoch.remaining() > 0 {
            let first = epoch.len() - epoch.remaining();
            let n = NON_FINITE_CHECK_EVERY.min(epoch.remaining());
            epoch.steps(n)?;
            progress(((first + n) * batch).min(data.len()) - first * batch);
        }
        epoch.finish()
    }

    /// Accuracy and mean loss on `data` with the current parameters.
    ///
    /// # Errors
    ///
    /// As [`Classifier::train_epoch`], without the non-finite check.
    pub fn evaluate(&mut self, data: &Dataset) -> Result<Evaluation> {
        self.check_data(data)?;
        let held = self.hold_for_evaluation(data)?;
        // Parameter to parameter, on the device when both steps run there.
        let pairs: Vec<(NodeId, NodeId)> =
            self.train.params.iter().zip(&self.eval.params).map(|((_, from), (_, to))| (*from, *to)).collect();
        self.train.session.copy_values_to(self.eval.session.as_mut(), &pairs)?;
        let step = &mut self.eval;
        if !held {
            return step.evaluate_from_host(data);
        }
        let (_, batches) = step.batches.as_ref().expect("the data set is held on the device");
        let in_order: Vec<usize> = (0..data.len()).collect();
        batches.start_epoch(step.session.as_mut(), &in_order)?;
        step.session.write(step.loss, &[0.0])?;
        step.session.write(step.tally, &[0.0])?;
        let mut left = batches.steps_per_epoch();
        // Bounded submissions: a long one can trip a driver's watchdog.
        while left > 0 {
            let n = left.min(NON_FINITE_CHECK_EVERY);
            step.session.run_steps(n)?;
            left -= n;
        }
        let totals = step.session.read_many(&[step.loss, step.tally])?;
        let n = data.len() as f32;
        Ok(Evaluation { accuracy: totals[1][0] / n, loss: totals[0][0] / n })
    }

    /// The model with the parameters as trained so far.
    ///
    /// # Errors
    ///
    /// A backend error when reading the parameters fails.
    pub fn model(&mut self) -> Result<Sequential> {
        let mut model = self.model.clone();
        let trained = self.trained_parameters()?;
        for ((name, _), values) in self.train.params.iter().zip(trained) {
            model.set_parameter(name, &values)?;
        }
        Ok(model)
    }

    /// Every parameter of the training step, in one transfer.
    fn trained_parameters(&mut self) -> Result<Vec<Vec<f32>>> {
        let ids: Vec<NodeId> = self.train.params.iter().map(|(_, id)| *id).collect();
        self.train.session.read_many(&ids)
    }
}

/// Turns "not computed yet" (which names an internal node) into what the user must do.
fn before_training(op: &'static str) -> impl Fn(Error) -> Error {
    move |e| match e {
        Error::NotComputed { .. } => Error::InvalidArgument {
            op,
            msg: "no training step has run yet: train first (train_epoch, or epoch(..) and step() for one step)".into(),
        },
        e => e,
    }
}

/// `(name, node, [rows, cols])` of the optimizer's state nodes (from
/// [`crate::OptimizerNodes::state`]).
fn state_nodes(g: &Graph, states: &[NodeId]) -> Vec<(String, NodeId, Vec<usize>)> {
    states
        .iter()
        .map(|&id| {
            let shape = g.nodes()[id.index()].shape;
            (g.label(id), id, vec![shape.rows(), shape.cols()])
        })
        .collect()
}
