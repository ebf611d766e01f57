//! `--data-parallel`: the MLP trained across the ranks of an MPI job. Every rank holds the
//! model and reads the whole data set; each global batch (from the epoch's shared seed)
//! is split into equal shares, one per rank; the gradients are averaged across ranks
//! before the update (`backprop::data_parallel`), so every rank holds the same
//! parameters. The test set is split too and the counts summed. Only rank 0 prints and
//! writes files.

use std::time::Instant;

use anyhow::{bail, Context};
use backprop::checkpoint::Tensor;
use backprop::classifier::Classifier;
use backprop::data::Dataset;
use backprop::data_parallel::{Collective, DataParallel};
use backprop::nn::Sequential;
use backprop::plot::{training_curves, EpochRecord};
use backprop::resume::{self, TrainingState};
use backprop::{init, Device, Graph, NodeId};
use mpi::topology::SimpleCommunicator;
use rand::Rng;

use crate::args::{Args, Settings};

/// Trains as `args` say across the job's ranks; an error on any rank ends the job.
pub fn train(
    args: &Args,
    settings: &Settings,
    device: &Device,
    model: (Sequential, Option<Vec<Tensor>>),
    data: (&Dataset, &Dataset),
) -> anyhow::Result<()> {
    let universe = mpi::initialize().context("MPI is already initialised")?;
    backprop::mpi::abort_on_panic();
    let world = universe.world();
    if let Err(e) = run(&world, args, settings, device, model, data) {
        eprintln!("rank {}: error: {e:#}", world.rank());
        // While `universe` lives: the other ranks may be waiting for this one.
        backprop::mpi::abort_with(1);
    }
    Ok(())
}

/// The graph of one rank's share: x `[share, 784]`, one-hot t, mean cross-entropy, the
/// optimizer reading the averaged gradients.
struct Step {
    graph: Graph,
    x: NodeId,
    t: NodeId,
    loss: NodeId,
    inputs: backprop::data_parallel::GradientInputs,
    names: Vec<(String, NodeId)>,
    /// The optimizer's state nodes, named as the classifier names them, so that a
    /// checkpoint resumes either way.
    state: Vec<NodeId>,
}

fn record(model: &Sequential, share: usize, settings: &Settings) -> anyhow::Result<Step> {
    let mut g = Graph::new();
    let x = g.input("x", [share, 784])?;
    let t = g.input("t", [share, 10])?;
    let recorded = model.record(&mut g, x)?;
    let loss = g.softmax_cross_entropy(recorded.output, t)?;
    let grads = g.backward(loss)?;
    let inputs = g.gradient_inputs(&grads)?;
    let state = g.optimize(&inputs.gradients, settings.optimizer)?.state;
    Ok(Step { graph: g, x, t, loss, inputs, names: recorded.params, state })
}

fn run(
    world: &SimpleCommunicator,
    args: &Args,
    settings: &Settings,
    device: &Device,
    (mut model, resumed): (Sequential, Option<Vec<Tensor>>),
    (train, test): (&Dataset, &Dataset),
) -> anyhow::Result<()> {
    let (rank, size) = (world.rank(), world.size());
    let batch = settings.batch;
    if !batch.is_multiple_of(size) || batch > train.len() {
        bail!(
            "--batch {batch} must be a multiple of the {size} ranks and at most the {} training samples",
            train.len()
        );
    }
    let share = batch / size;
    let step = record(&model, share, settings)?;
    let mut dp = DataParallel::new(world, device, &step.graph, &step.inputs, &[step.loss])?;
    if let Some(tensors) = &resumed {
        restore(&mut dp, &step, tensors)?;
    }
    let steps = train.len() / batch;
    let (mut x, mut t) = (vec![0.0; share * 784], vec![0.0; share * 10]);
    let mut records = Vec::new();
    let mut accuracy = 0.0;
    if rank == 0 {
        say!(
            "data-parallel: {size} ranks × {share} samples a step (global batch {batch}), {steps} steps an epoch on {}",
            device.name()
        );
    }
    for epoch in settings.done + 1..=args.epochs {
        let start = Instant::now();
        let order = shuffled(train.len(), settings.seed, epoch);
        let mut loss_sum = 0.0;
        for s in 0..steps {
            train.fill_batch(&order[s * batch + rank * share..][..share], &mut x, &mut t)?;
            dp.session().write(step.x, &x)?;
            dp.session().write(step.t, &t)?;
            dp.step()?;
            loss_sum += dp.session().read(step.loss)?[0];
        }
        let mut totals = [loss_sum];
        world.all_reduce_sum(&mut totals)?;
        let mean_loss = totals[0] / (steps * size) as f32;
        set_parameters(&mut model, &step, &mut dp)?;
        accuracy = evaluate(world, device, &model, settings, test)?;
        let rate = (steps * batch) as f64 / start.elapsed().as_secs_f64();
        if rank == 0 {
            say!(
                "epoch {epoch:>2}/{}: train loss {mean_loss:.4}, test accuracy {accuracy:.4}, {rate:.0} samples/s",
                args.epochs
            );
        }
        records.push(EpochRecord { epoch, train_loss: mean_loss, test_accuracy: accuracy });
    }
    if rank == 0 {
        let state = TrainingState {
            epoch: args.epochs,
            seed: settings.seed,
            batch,
            samples: train.len(),
            optimizer: settings.optimizer,
            clip_norm: None,
            tensors: optimizer_state(&mut dp, &step)?,
        };
        write_outputs(args, &model, &state, &records)?;
        say!("test accuracy: {accuracy:.4}");
    }
    Ok(())
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

/// The epoch's order of the training samples: the same on every rank (its seed is shared).
fn shuffled(len: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut rng = init::epoch_rng(seed, epoch);
    let mut order: Vec<usize> = (0..len).collect();
    for i in (1..len).rev() {
        order.swap(i, rng.random_range(0..=i));
    }
    order
}

fn set_parameters<C: Collective>(
    model: &mut Sequential,
    step: &Step,
    dp: &mut DataParallel<'_, C>,
) -> anyhow::Result<()> {
    let values = dp.parameters()?;
    for ((param, _, _), values) in step.inputs.pairs.iter().zip(values) {
        let name =
            step.names.iter().find(|(_, id)| id == param).map(|(n, _)| n.as_str()).context("a parameter's name")?;
        model.set_parameter(name, &values)?;
    }
    Ok(())
}

/// Test accuracy over the whole test set: each rank evaluates its share, the correct
/// counts are summed across ranks.
fn evaluate(
    world: &SimpleCommunicator,
    device: &Device,
    model: &Sequential,
    settings: &Settings,
    test: &Dataset,
) -> anyhow::Result<f32> {
    let (rank, size) = (world.rank(), world.size());
    let (from, to) = (test.len() * rank / size, test.len() * (rank + 1) / size);
    let part = test.split_at(to).0.split_at(from).1;
    let mut correct = [0.0f32];
    if !part.is_empty() {
        let mut classifier = Classifier::new(device, model.clone(), settings.optimizer, 1, part.len().min(1000))?;
        correct[0] = (classifier.evaluate(&part)?.accuracy * part.len() as f32).round();
    }
    world.all_reduce_sum(&mut correct)?;
    Ok(correct[0] / test.len() as f32)
}

fn write_outputs(
    args: &Args,
    model: &Sequential,
    state: &TrainingState,
    records: &[EpochRecord],
) -> anyhow::Result<()> {
    if let Some(path) = &args.save {
        resume::save(path, model, state).context("--save: the trained model could not be saved")?;
        say!("saved parameters to {} and the training state to {}", path.display(), resume::state_path(path).display());
    }
    if !records.is_empty() {
        let plot = args.plot_path();
        training_curves(&plot, records)?;
        say!("wrote {}", plot.display());
    }
    Ok(())
}
