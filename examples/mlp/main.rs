//! MLP 784-128-64-10 (ReLU) trained with Adam on Fashion-MNIST, as the classic PyTorch
//! example does, on the GPU: each mini-batch step is one submission.
//!
//! cargo run --release --example mlp [-- --data DIR --epochs 10 --batch 64 --lr 1e-3 ...]
//!
//! Without `--data` it uses Debian's `dataset-fashion-mnist` when installed, and otherwise
//! the 10k test split embedded in this binary (8,000 to train on, 2,000 to test).
//! `--save FILE` writes the model and its training state; `--resume FILE --epochs N`
//! continues it to N epochs, giving bit for bit the parameters of an uninterrupted run.

#[macro_use]
#[path = "../common/flags.rs"]
mod flags;
mod args;
#[cfg(feature = "mpi")]
#[path = "../common/data_parallel.rs"]
mod data_parallel;
#[path = "../common/datasets.rs"]
mod datasets;

use anyhow::{bail, Context};
use args::{Args, Settings};
use backprop::classifier::{Classifier, TrainOptions};
use backprop::data::Dataset;
use backprop::nn::{Init, Layer, Sequential};
use backprop::plot::{gradient_flow, training_curves, EpochRecord};
use backprop::resume::{self, TrainingState};
use backprop::{checkpoint, init};
use clap::Parser;
use datasets::datasets;
use indicatif::{ProgressBar, ProgressStyle};

fn progress_bar(len: usize, epoch: usize, epochs: usize) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    let style = ProgressStyle::with_template("epoch {msg} [{bar:30}] {pos}/{len} samples ({per_sec}, eta {eta})")
        .expect("the template is valid")
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(format!("{epoch}/{epochs}"));
    bar
}

/// The model, from --load or --resume, else freshly initialised; and the resumed state.
fn model(args: &Args) -> anyhow::Result<(Sequential, Option<TrainingState>)> {
    let seed = args.seed.unwrap_or(0);
    let mut model = Sequential::mlp(&[784, 128, 64, 10], Layer::Relu, Init::PyTorch, &mut init::rng(seed))?;
    if let Some(path) = &args.load {
        let tensors = checkpoint::load(path).context("--load")?;
        model.load_state_dict(&tensors, path).context("--load")?;
        say!("loaded parameters from {}", path.display());
    }
    let resumed = match &args.resume {
        Some(path) => {
            let state = resume::load(path, &mut model)
                .context("--resume (it reads the model and the training state that --save wrote beside it)")?;
            say!("resuming {} after epoch {}", path.display(), state.epoch);
            Some(state)
        }
        None => None,
    };
    Ok((model, resumed))
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    args.check_combinations()?;
    args.check_outputs()?;
    if args.resume.is_some() && args.save.is_none() {
        warn!("note: without --save, the continued training is not saved");
    }
    let device = args.backend.open()?;
    let (mut train, test, source) = datasets(args.data.as_deref())?;
    if let Some(limit) = args.limit {
        train = train.split_at(limit).0;
    }
    check_data(&train, &test, &source)?;
    say!("data: {source}: {} training and {} test samples", train.len(), test.len());

    let (model, resumed) = model(&args)?;
    let settings = args.settings(resumed.as_ref())?;
    if let Some(state) = &resumed {
        if state.samples != train.len() {
            let (saved, now) = (flags::count(state.samples, "sample"), flags::count(train.len(), "sample"));
            bail!("the checkpoint trained on {saved} an epoch, this run has {now}: resume with the same --data and --limit");
        }
    }
    if args.data_parallel {
        let state = resumed.map(|r| r.tensors);
        return data_parallel(&args, &settings, &device, (model, state), (&train, &test));
    }
    if args.epochs == settings.done {
        for (flag, given) in [("--grad-flow", args.grad_flow.is_some()), ("--plot", args.plot.is_some())] {
            if given {
                bail!("{flag} needs a training step, and epoch {} is already done", settings.done);
            }
        }
    }
    let options = TrainOptions {
        clip_norm: args.clip_norm,
        watch_gradients: args.grad_flow.is_some(),
        check_finite: args.check_finite,
        ..Default::default()
    };
    let eval_batch = test.len().min(1000);
    // A batch larger than the data set computes what a batch of the whole set does (the
    // rest would be padding), so it is compiled at that size.
    let batch = settings.batch.min(train.len());
    let mut classifier = Classifier::with_options(&device, model, settings.optimizer, batch, eval_batch, options)
        .with_context(|| format!("compiling the training step for --batch {}", settings.batch))?;
    if let Some(state) = &resumed {
        classifier.set_optimizer_state(&state.tensors)?;
    }
    let (records, accuracy) = train_epochs(&args, &settings, &mut classifier, &train, &test)?;
    if !records.iter().all(|r| r.train_loss.is_finite()) {
        if let Some(path) = &args.save {
            bail!(
                "training diverged (the loss was not finite), so it is not saved over {}; try a smaller --lr",
                path.display()
            );
        }
    }
    write_outputs(&args, &settings, &mut classifier, &records, train.len())?;
    say!("test accuracy: {accuracy:.4}");
    Ok(())
}

#[cfg(feature = "mpi")]
fn data_parallel(
    args: &Args,
    settings: &Settings,
    device: &backprop::Device,
    model: (Sequential, Option<Vec<checkpoint::Tensor>>),
    (train, test): (&Dataset, &Dataset),
) -> anyhow::Result<()> {
    let recipe = data_parallel::Recipe {
        model: model.0,
        optimizer: settings.optimizer,
        schedule: None,
        batch: settings.batch,
        epochs: args.epochs,
        done: settings.done,
        resumed: model.1,
        seed: settings.seed,
        save: args.save.clone(),
        plot: Some(args.plot_path()),
    };
    data_parallel::train(recipe, device, train, test)?;
    Ok(())
}

#[cfg(not(feature = "mpi"))]
fn data_parallel(
    _: &Args,
    _: &Settings,
    _: &backprop::Device,
    _: (Sequential, Option<Vec<checkpoint::Tensor>>),
    _: (&Dataset, &Dataset),
) -> anyhow::Result<()> {
    bail!("--data-parallel needs MPI: build with `cargo build --release --features mpi --example mlp` and run under mpirun")
}

/// Data the model can train and be tested on: images of 28 × 28 pixels, neither set empty.
fn check_data(train: &Dataset, test: &Dataset, source: &str) -> anyhow::Result<()> {
    for (set, data) in [("training", train), ("test", test)] {
        if data.is_empty() {
            bail!("{source}: the {set} set has no samples");
        }
        if data.pixels() != 784 {
            bail!("{source}: the {set} images have {} pixels; this MLP takes 28 × 28 = 784", data.pixels());
        }
    }
    Ok(())
}

/// Epochs `done + 1 ..= epochs`, each shuffled by its own seeded generator.
fn train_epochs(
    args: &Args,
    settings: &Settings,
    classifier: &mut Classifier,
    train: &Dataset,
    test: &Dataset,
) -> anyhow::Result<(Vec<EpochRecord>, f32)> {
    let mut records = Vec::new();
    let mut accuracy = classifier.evaluate(test)?.accuracy;
    for epoch in settings.done + 1..=args.epochs {
        let bar = progress_bar(train.len(), epoch, args.epochs);
        let mut rng = init::epoch_rng(settings.seed, epoch);
        let stats = classifier.train_epoch(train, &mut rng, |n| bar.inc(n as u64))?;
        bar.finish_and_clear();
        accuracy = classifier.evaluate(test)?.accuracy;
        let clip = match args.clip_norm {
            Some(_) => format!(", last gradient norm {:.3}", classifier.last_grad_norm()?),
            None => String::new(),
        };
        say!(
            "epoch {epoch:>2}/{}: train loss {:.4}, test accuracy {accuracy:.4}, {:.0} samples/s{clip}",
            args.epochs,
            stats.mean_loss,
            stats.samples_per_sec
        );
        if !stats.mean_loss.is_finite() {
            warn!("warning: the loss is not finite; training diverged (try a smaller --lr, or --check-finite to find where)");
        }
        records.push(EpochRecord { epoch, train_loss: stats.mean_loss, test_accuracy: accuracy });
    }
    Ok((records, accuracy))
}

/// The checkpoint first (nothing optional may cost it), then the charts.
fn write_outputs(
    args: &Args,
    settings: &Settings,
    classifier: &mut Classifier,
    records: &[EpochRecord],
    samples: usize,
) -> anyhow::Result<()> {
    if let Some(path) = &args.save {
        let state = TrainingState {
            epoch: args.epochs,
            seed: settings.seed,
            batch: settings.batch,
            samples,
            optimizer: classifier.optimizer(),
            clip_norm: args.clip_norm,
            tensors: classifier.optimizer_state()?,
        };
        let model = classifier.model()?;
        if model.state_dict().iter().any(|t| t.values.iter().any(|v| !v.is_finite())) {
            bail!("the trained parameters hold NaN or infinity, so they are not saved over {}", path.display());
        }
        resume::save(path, &model, &state).context("--save: the trained model could not be saved")?;
        say!("saved parameters to {} and the training state to {}", path.display(), resume::state_path(path).display());
    }
    if let Some(path) = &args.grad_flow {
        let title = format!("Gradient flow after {}", flags::count(args.epochs, "epoch"));
        gradient_flow(path, &title, &classifier.gradient_stats()?)?;
        say!("wrote {}", path.display());
    }
    if !records.is_empty() {
        let plot = args.plot_path();
        training_curves(&plot, records)?;
        say!("wrote {}", plot.display());
    }
    Ok(())
}
