//! `--data-parallel`, shared by the `mlp` and `cnn` examples: a classifier trained across
//! the ranks of an MPI job. Every rank holds the model and reads the whole data set; each
//! global batch (from the epoch's shared seed) is split into equal shares, one per rank;
//! the gradients are averaged across ranks before the update (`backprop::data_parallel`),
//! so every rank holds the same parameters. Running statistics are rank 0's when
//! evaluating and saving. The test set is split too and the counts summed. Only rank 0
//! prints and writes files.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use backprop::checkpoint::Tensor;
use backprop::classifier::Classifier;
use backprop::data::Dataset;
use backprop::data_parallel::{Collective, DataParallel, GradientInputs};
use backprop::nn::Sequential;
use backprop::plot::{training_curves, EpochRecord};
use backprop::resume::{self, TrainingState};
use backprop::{init, Device, Graph, NodeId, Optimizer, Schedule};
use mpi::topology::SimpleCommunicator;
use rand::Rng;

/// What to train and where its files go.
pub struct Recipe {
    pub model: Sequential,
    pub optimizer: Optimizer,
    /// Followed every step from the optimizer's rate, over all epochs' steps.
    pub schedule: Option<Schedule>,
    pub batch: usize,
    pub epochs: usize,
    /// Epochs already trained (a resumed run), and the optimizer's state then.
    pub done: usize,
    pub resumed: Option<Vec<Tensor>>,
    /// Seed of each epoch's order (`init::epoch_rng`).
    pub seed: u64,
    /// The model and training state, written by rank 0 after each epoch.
    pub save: Option<PathBuf>,
    /// The loss and accuracy per epoch, drawn by rank 0 at the end.
    pub plot: Option<PathBuf>,
}

/// Trains `recipe` across the job's ranks; an error on any rank ends the job. Rank 0
/// gets the trained model back (for pictures), the others `None`.
pub fn train(recipe: Recipe, device: &Device, train: &Dataset, test: &Dataset) -> anyhow::Result<Option<Sequential>> {
    let universe = mpi::initialize().context("MPI is already initialised")?;
    backprop::mpi::abort_on_panic();
    let world = universe.world();
    match run(&world, recipe, device, train, test) {
        Ok(model) => Ok((world.rank() == 0).then_some(model)),
        Err(e) => {
            eprintln!("rank {}: error: {e:#}", world.rank());
            // While `universe` lives: the other ranks may be waiting for this one.
            backprop::mpi::abort_with(1);
        }
    }
}

/// The graph of one rank's share: the model on `[share, pixels]`, one-hot targets, mean
/// cross-entropy, the optimizer reading the averaged gradients.
struct Step {
    graph: Graph,
    x: NodeId,
    t: NodeId,
    loss: NodeId,
    inputs: GradientInputs,
    /// `(name, node)` of every parameter, then of every buffer (running statistics).
    params: Vec<(String, NodeId)>,
    buffers: Vec<(String, NodeId)>,
    learning_rate: NodeId,
    /// The optimizer's state nodes, named as the classifier names them, so that a
    /// checkpoint resumes either way.
    state: Vec<NodeId>,
}

fn record(recipe: &Recipe, share: usize, data: &Dataset) -> anyhow::Result<Step> {
    let mut g = Graph::new();
    let x = g.input("x", [share, data.pixels()])?;
    let t = g.input("t", [share, data.classes()])?;
    let recorded = recipe.model.record(&mut g, x)?;
    let loss = g.softmax_cross_entropy(recorded.output, t)?;
    let grads = g.backward(loss)?;
    let inputs = g.gradient_inputs(&grads)?;
    let nodes = g.optimize(&inputs.gradients, recipe.optimizer)?;
    let (params, buffers) = (recorded.params, recorded.buffers);
    Ok(Step { graph: g, x, t, loss, inputs, params, buffers, learning_rate: nodes.learning_rate, state: nodes.state })
}

fn run(
    world: &SimpleCommunicator,
    mut recipe: Recipe,
    device: &Device,
    train: &Dataset,
    test: &Dataset,
) -> anyhow::Result<Sequential> {
    let (rank, size, batch) = (world.rank(), world.size(), recipe.batch);
    if !batch.is_multiple_of(size) || batch > train.len() {
        bail!(
            "--batch {batch} must be a multiple of the {size} ranks and at most the {} training samples",
            train.len()
        );
    }
    let share = batch / size;
    let step = record(&recipe, share, train)?;
    let mut dp = DataParallel::new(world, device, &step.graph, &step.inputs, &[step.loss])?;
    if let Some(tensors) = &recipe.resumed {
        restore(&mut dp, &step, tensors)?;
    }
    let steps = train.len() / batch;
    let (mut x, mut t) = (vec![0.0; share * train.pixels()], vec![0.0; share * train.classes()]);
    let mut records = Vec::new();
    if rank == 0 {
        say!(
            "data-parallel: {size} ranks × {share} samples a step (global batch {batch}), {steps} steps an epoch on {}",
            device.name()
        );
    }
    for epoch in recipe.done + 1..=recipe.epochs {
        let start = Instant::now();
        let order = shuffled(train.len(), recipe.seed, epoch);
        let mut loss_sum = 0.0;
        for s in 0..steps {
            if let Some(schedule) = &recipe.schedule {
                let lr = schedule.lr(recipe.optimizer.lr(), (epoch - 1) * steps + s)?;
                dp.updates().write(step.learning_rate, &[lr])?;
            }
            train.fill_batch(&order[s * batch + rank * share..][..share], &mut x, &mut t)?;
            dp.session().write(step.x, &x)?;
            dp.session().write(step.t, &t)?;
            dp.step()?;
            loss_sum += dp.session().read(step.loss)?[0];
        }
        let mut totals = [loss_sum];
        world.all_reduce_sum(&mut totals)?;
        let mean_loss = totals[0] / (steps * size) as f32;
        take_values(&mut recipe.model, &step, &mut dp)?;
        let accuracy = evaluate(world, device, &recipe, test)?;
        let rate = (steps * batch) as f64 / start.elapsed().as_secs_f64();
        say!(
            "epoch {epoch:>2}/{}: train loss {mean_loss:.4}, test accuracy {accuracy:.4}, {rate:.0} samples/s",
            recipe.epochs
        );
        records.push(EpochRecord { epoch, train_loss: mean_loss, test_accuracy: accuracy });
        if let (Some(path), 0) = (&recipe.save, rank) {
            let tensors = optimizer_state(&mut dp, &step)?;
            let state = TrainingState {
                epoch,
                seed: recipe.seed,
                batch,
                samples: train.len(),
                optimizer: recipe.optimizer,
                clip_norm: None,
                tensors,
            };
            resume::save(path, &recipe.model, &state).context("--save: the trained model could not be saved")?;
        }
    }
    if rank == 0 {
        if let Some(path) = &recipe.save {
            say!(
                "saved parameters to {} and the training state to {}",
                path.display(),
                resume::state_path(path).display()
            );
        }
        if let (Some(path), false) = (&recipe.plot, records.is_empty()) {
            training_curves(path, &records)?;
            say!("wrote {}", path.display());
        }
    }
    Ok(recipe.model)
}

/// The epoch's order of the training samples: the same on every rank (its seed is shared).
fn shuffled(len: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut rng = init::epoch_rng(seed, epoch);
    let mut order: Vec<usize> = (0..len).collect();
    for i in (1..len).rev() {
        order.swap(i, rng.random_range(0..=i));
    }
    order
}

/// The model takes the trained parameters and rank 0's running statistics.
fn take_values<C: Collective>(model: &mut Sequential, step: &Step, dp: &mut DataParallel<'_, C>) -> anyhow::Result<()> {
    let buffers: Vec<NodeId> = step.buffers.iter().map(|(_, id)| *id).collect();
    dp.broadcast_from_rank_0(&buffers)?;
    let values = dp.parameters()?;
    for ((param, _, _), values) in step.inputs.pairs.iter().zip(values) {
        let name =
            step.params.iter().find(|(_, id)| id == param).map(|(n, _)| n.as_str()).context("a parameter's name")?;
        model.set_parameter(name, &values)?;
    }
    for ((name, _), values) in step.buffers.iter().zip(dp.session().read_many(&buffers)?) {
        model.set_parameter(name, &values)?;
    }
    Ok(())
}

/// Test accuracy over the whole test set: each rank evaluates its share, the correct
/// counts are summed across ranks.
fn evaluate(world: &SimpleCommunicator, device: &Device, recipe: &Recipe, test: &Dataset) -> anyhow::Result<f32> {
    let (rank, size) = (world.rank(), world.size());
    let (from, to) = (test.len() * rank / size, test.len() * (rank + 1) / size);
    let part = test.split_at(to).0.split_at(from).1;
    let mut correct = [0.0f32];
    if !part.is_empty() {
        let mut classifier = Classifier::new(device, recipe.model.clone(), recipe.optimizer, 1, part.len().min(1000))?;
        correct[0] = (classifier.evaluate(&part)?.accuracy * part.len() as f32).round();
    }
    world.all_reduce_sum(&mut correct)?;
    Ok(correct[0] / test.len() as f32)
}

/// The optimizer's state from the update session, named and shaped as the classifier
/// saves it.
fn optimizer_state<C: Collective>(dp: &mut DataParallel<'_, C>, step: &Step) -> anyhow::Result<Vec<Tensor>> {
    let values = dp.updates().read_many(&step.state)?;
    let named = step.state.iter().zip(values).map(|(&id, values)| {
        let shape = step.graph.shape(id)?;
        Ok(Tensor { name: step.graph.label(id), shape: vec![shape.rows(), shape.cols()], values })
    });
    named.collect::<backprop::Result<_>>().map_err(Into::into)
}

/// Writes a saved optimizer state into the update session, strictly: every tensor this
/// optimizer has, of its shape, and no other.
fn restore<C: Collective>(dp: &mut DataParallel<'_, C>, step: &Step, tensors: &[Tensor]) -> anyhow::Result<()> {
    let expected = optimizer_state(dp, step)?;
    for want in &expected {
        let Some(given) = tensors.iter().find(|t| t.name == want.name && t.shape == want.shape) else {
            bail!(
                "--resume: the training state has no {} of shape {:?} (it was saved with another optimizer)",
                want.name,
                want.shape
            );
        };
        let id = step.graph.find(&want.name).context("a state node")?;
        dp.updates().write(id, &given.values)?;
    }
    if let Some(extra) = tensors.iter().find(|t| !expected.iter().any(|e| e.name == t.name)) {
        bail!("--resume: the training state holds {}, which this optimizer does not have", extra.name);
    }
    Ok(())
}
