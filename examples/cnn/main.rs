//! A small convolutional network on Fashion-MNIST: two blocks of a 3×3 convolution, ReLU
//! and 2×2 max pooling (32 and 64 channels), then a hidden layer of 128 with dropout, and
//! 10 outputs; Adam with a cosine learning rate followed every step, batch 64.
//!
//! cargo run --release --example cnn [-- --backend cpu --epochs 10 --save cnn.safetensors]
//!
//! Data as the `mlp` example finds it: `--data DIR`, Debian's `dataset-fashion-mnist`, or
//! the split shipped in `data/`. `--save FILE` writes the model (PyTorch's names; it loads
//! into `benches/cnn_torch.py`'s network) and its training state after each epoch;
//! `--resume FILE` continues exactly. `--plot FILE` draws the loss and test accuracy per
//! epoch; `--filters FILE`, `--confusion FILE` and `--saliency FILE` draw what it learned
//! (the kernels, the test set's confusion matrix, and where each decision is most
//! sensitive to the pixels). Every file is checked before training starts.

#[macro_use]
#[path = "../common/flags.rs"]
mod flags;
#[cfg(feature = "mpi")]
#[path = "../common/data_parallel.rs"]
mod data_parallel;
#[path = "../common/datasets.rs"]
mod datasets;
mod pictures;

use std::path::PathBuf;

use anyhow::{bail, Context};
use backprop::classifier::{Classifier, TrainOptions};
use backprop::data::Dataset;
use backprop::nn::Sequential;
use backprop::output::{check_distinct, check_writable};
use backprop::plot::{check_chart_path, training_curves, EpochRecord};
#[cfg(feature = "mpi")]
use backprop::resume;
use backprop::{init, models, Optimizer, Schedule};
use clap::Parser;

/// Train a convolutional network on Fashion-MNIST.
#[derive(Parser)]
#[command(allow_negative_numbers = true)]
struct Args {
    #[command(flatten)]
    backend: flags::Backend,
    /// An MNIST-format directory (default: Debian's package, else the shipped split).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Epochs to train in all (the cosine rate spans them; a resumed run needs the same).
    #[arg(long, default_value_t = 10, value_parser = flags::whole(1usize, 1000))]
    epochs: usize,
    /// Mini-batch size.
    #[arg(long, default_value_t = 64, value_parser = flags::whole(1usize, 65_536))]
    batch: usize,
    /// Adam's initial learning rate.
    #[arg(long, default_value_t = 1e-3, value_parser = flags::positive(1.0))]
    lr: f32,
    /// Train and test on the first N samples of each set only (a quick look).
    #[arg(long, value_name = "N", value_parser = flags::whole(1usize, 1 << 24))]
    limit: Option<usize>,
    /// Save the model and its training state after each epoch.
    #[arg(long, value_name = "FILE")]
    save: Option<PathBuf>,
    /// Continue from what --save wrote.
    #[arg(long, value_name = "FILE")]
    resume: Option<PathBuf>,
    /// Draw the training loss and test accuracy per epoch (PNG or SVG).
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
    /// Draw the first convolution's kernels (PNG or SVG).
    #[arg(long, value_name = "FILE")]
    filters: Option<PathBuf>,
    /// Draw the test set's confusion matrix.
    #[arg(long, value_name = "FILE")]
    confusion: Option<PathBuf>,
    /// Draw six test images beside the gradient of their predicted score.
    #[arg(long, value_name = "FILE")]
    saliency: Option<PathBuf>,
    /// Train data-parallel across the processes of an MPI job (`mpirun -n 2 ... cnn
    /// --data-parallel`), each rank on its share of every batch. Needs the `mpi` feature.
    #[arg(long)]
    data_parallel: bool,
}

const SEED: u64 = 0;

impl Args {
    /// Every file asked for is checked before any training: a chart's name and folder,
    /// the checkpoint's folder, no two flags naming one file.
    fn check_outputs(&self) -> anyhow::Result<()> {
        let charts = [("--plot", &self.plot), ("--filters", &self.filters), ("--confusion", &self.confusion)];
        let charts = charts.into_iter().chain([("--saliency", &self.saliency)]);
        let mut named: Vec<(&str, &std::path::Path)> = Vec::new();
        for (flag, path) in charts.filter_map(|(flag, path)| Some((flag, path.as_deref()?))) {
            check_chart_path(path).map_err(|e| anyhow::anyhow!("{flag}: {e}"))?;
            named.push((flag, path));
        }
        if let Some(path) = &self.save {
            check_writable(path).map_err(|e| anyhow::anyhow!("--save: {e}"))?;
            named.push(("--save", path));
        }
        check_distinct(&named).map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(())
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.resume.is_some() && args.save.is_none() {
        bail!("--resume needs --save, to keep what the resumed epochs train");
    }
    args.check_outputs()?;
    let (mut train, mut test, source) = datasets::datasets(args.data.as_deref())?;
    say!("data: {source}");
    if let Some(n) = args.limit {
        train = train.split_at(n.min(train.len())).0;
        test = test.split_at(n.min(test.len())).0;
        say!("limited to {} training and {} test samples", train.len(), test.len());
    }
    let device = args.backend.open()?;
    let model = match args.data_parallel {
        true => match data_parallel(&args, &device, &train, &test)? {
            Some(model) => model,
            None => return Ok(()),
        },
        false => train_here(&args, &device, &train, &test)?,
    };
    draw(&args, &device, &model, &test)
}

/// Training in this process, with the classifier.
fn train_here(args: &Args, device: &backprop::Device, train: &Dataset, test: &Dataset) -> anyhow::Result<Sequential> {
    let steps = args.epochs * train.len().div_ceil(args.batch);
    let options = TrainOptions::default().with_schedule(Schedule::Cosine { steps, min_lr: 0.0 });
    let optimizer = Optimizer::adam(args.lr);
    let mut classifier =
        Classifier::with_options(device, models::fashion_cnn(SEED)?, optimizer, args.batch, 1000, options)?;
    let mut first = 1;
    if let Some(path) = &args.resume {
        let state = classifier.load(path).context("--resume (it reads the files --save wrote)")?;
        say!("resumed {} after epoch {}", path.display(), state.epoch);
        first = state.epoch + 1;
    }
    let mut records = Vec::new();
    for epoch in first..=args.epochs {
        let stats = classifier.train_epoch(train, &mut init::epoch_rng(SEED, epoch), |_| {})?;
        let eval = classifier.evaluate(test)?;
        say!(
            "epoch {epoch}/{}: loss {:.4}, test accuracy {:.2}% ({:.0} samples/s)",
            args.epochs,
            stats.mean_loss,
            100.0 * eval.accuracy,
            stats.samples_per_sec
        );
        if let Some(path) = &args.save {
            classifier.save(path, epoch, SEED, train.len()).context("--save")?;
        }
        records.push(EpochRecord { epoch, train_loss: stats.mean_loss, test_accuracy: eval.accuracy });
    }
    if let Some(path) = &args.plot {
        training_curves(path, &records).context("--plot")?;
        say!("drew the training curves to {}", path.display());
    }
    Ok(classifier.model()?)
}

#[cfg(feature = "mpi")]
fn data_parallel(
    args: &Args,
    device: &backprop::Device,
    train: &Dataset,
    test: &Dataset,
) -> anyhow::Result<Option<Sequential>> {
    let mut model = models::fashion_cnn(SEED)?;
    let (done, resumed) = match &args.resume {
        Some(path) => {
            let state = resume::load(path, &mut model).context("--resume (it reads the files --save wrote)")?;
            (state.epoch, Some(state.tensors))
        }
        None => (0, None),
    };
    let steps = args.epochs * (train.len() / args.batch.max(1));
    let recipe = data_parallel::Recipe {
        model,
        optimizer: Optimizer::adam(args.lr),
        schedule: Some(Schedule::Cosine { steps, min_lr: 0.0 }),
        batch: args.batch,
        epochs: args.epochs,
        done,
        resumed,
        seed: SEED,
        save: args.save.clone(),
        plot: args.plot.clone(),
    };
    data_parallel::train(recipe, device, train, test)
}

#[cfg(not(feature = "mpi"))]
fn data_parallel(_: &Args, _: &backprop::Device, _: &Dataset, _: &Dataset) -> anyhow::Result<Option<Sequential>> {
    bail!("--data-parallel needs MPI: build with `cargo build --release --features mpi --example cnn` and run under mpirun")
}

/// The pictures of what the trained model learned.
fn draw(args: &Args, device: &backprop::Device, model: &Sequential, test: &Dataset) -> anyhow::Result<()> {
    if let Some(path) = &args.filters {
        pictures::filters(path, model).context("--filters")?;
        say!("drew the first layer's kernels to {}", path.display());
    }
    if let Some(path) = &args.confusion {
        pictures::confusion(path, device, model, test).context("--confusion")?;
        say!("drew the confusion matrix to {}", path.display());
    }
    if let Some(path) = &args.saliency {
        pictures::saliency(path, device, model, test, 6).context("--saliency")?;
        say!("drew saliency maps to {}", path.display());
    }
    Ok(())
}
