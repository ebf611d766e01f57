//! MLP 784-128-64-10 (ReLU) trained with Adam on Fashion-MNIST, as the classic PyTorch
//! example does, on the GPU: each mini-batch step is one submission.
//!
//! cargo run --release --example mlp [-- --data DIR --epochs 10 --batch 64 --lr 1e-3 ...]
//!
//! Without `--data` it uses Debian's `dataset-fashion-mnist` when installed, and otherwise
//! the 10k test split embedded in this binary (8,000 to train on, 2,000 to test).

use std::path::{Path, PathBuf};

use anyhow::Context;
use backprop::checkpoint;
use backprop::classifier::{Classifier, TrainOptions};
use backprop::data::{load_mnist_dir, Dataset, DEBIAN_FASHION_MNIST};
use backprop::nn::{Init, Layer, Sequential};
use backprop::plot::{gradient_flow, training_curves, EpochRecord};
use backprop::{init, Device, Optimizer};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};

const EMBEDDED_IMAGES: &[u8] = include_bytes!("../data/t10k-images-idx3-ubyte.gz");
const EMBEDDED_LABELS: &[u8] = include_bytes!("../data/t10k-labels-idx1-ubyte.gz");

#[derive(Parser)]
struct Args {
    /// Where to run: gpu (the best adapter, falling back to cpu) or cpu.
    #[arg(long, default_value = "gpu")]
    backend: String,
    /// A directory in MNIST's format (train-/t10k- images and labels, .gz or not).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Passes over the training set.
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// Mini-batch size.
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f32,
    /// Seed of the initialisation and of the shuffles.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Train on only the first N training samples.
    #[arg(long)]
    limit: Option<usize>,
    /// Write the trained parameters here (safetensors, PyTorch names).
    #[arg(long)]
    save: Option<PathBuf>,
    /// Start from these parameters (safetensors, PyTorch names).
    #[arg(long)]
    load: Option<PathBuf>,
    /// Chart of loss and accuracy per epoch (default: beside --save, else mlp-training.png).
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Gradient-flow chart (max and mean |grad| per parameter) of the last training step.
    #[arg(long)]
    grad_flow: Option<PathBuf>,
    /// Clip gradients to this global L2 norm (PyTorch's clip_grad_norm_), on the device.
    #[arg(long)]
    clip_norm: Option<f32>,
    /// Stop with the first step and parameter where the loss or a gradient is NaN or Inf.
    #[arg(long)]
    check_finite: bool,
}

/// `(train, test, description)` from --data, Debian's package, or the embedded split.
fn datasets(dir: Option<&Path>) -> anyhow::Result<(Dataset, Dataset, String)> {
    if let Some(dir) = dir {
        let (train, test) = load_mnist_dir(dir).with_context(|| format!("loading --data {}", dir.display()))?;
        return Ok((train, test, dir.display().to_string()));
    }
    let debian = Path::new(DEBIAN_FASHION_MNIST);
    if let Ok((train, test)) = load_mnist_dir(debian) {
        return Ok((train, test, format!("{DEBIAN_FASHION_MNIST} (full Fashion-MNIST)")));
    }
    let all = Dataset::from_idx(EMBEDDED_IMAGES, EMBEDDED_LABELS, "embedded t10k")?;
    let (train, test) = all.split_at(8_000);
    let note = "embedded Fashion-MNIST test split: training on 8,000 and testing on the other 2,000 \
                (the full set was not found; install dataset-fashion-mnist or pass --data DIR)";
    Ok((train, test, note.to_owned()))
}

fn progress_bar(len: usize, epoch: usize, epochs: usize) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    let style = ProgressStyle::with_template("epoch {msg} [{bar:30}] {pos}/{len} samples ({per_sec}, eta {eta})")
        .expect("the template is valid")
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(format!("{epoch}/{epochs}"));
    bar
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let device = Device::from_name(&args.backend)?;
    let (mut train, test, source) = datasets(args.data.as_deref())?;
    if let Some(limit) = args.limit {
        train = train.split_at(limit).0;
    }
    println!("data: {source}: {} training and {} test samples", train.len(), test.len());

    let mut rng = init::rng(args.seed);
    let mut model = Sequential::mlp(&[784, 128, 64, 10], Layer::Relu, Init::PyTorch, &mut rng)?;
    if let Some(path) = &args.load {
        model.load_state_dict(&checkpoint::load(path)?, path)?;
        println!("loaded parameters from {}", path.display());
    }
    let eval_batch = test.len().min(1000);
    let options = TrainOptions {
        clip_norm: args.clip_norm,
        watch_gradients: args.grad_flow.is_some(),
        check_finite: args.check_finite,
    };
    let adam = Optimizer::adam(args.lr);
    let mut classifier = Classifier::with_options(&device, model, adam, args.batch, eval_batch, options)?;
    println!("device: {}", classifier.backend_name());

    let mut records = Vec::new();
    let mut accuracy = classifier.evaluate(&test)?.accuracy;
    for epoch in 1..=args.epochs {
        let bar = progress_bar(train.len(), epoch, args.epochs);
        let stats = classifier.train_epoch(&train, &mut rng, |n| bar.inc(n as u64))?;
        bar.finish_and_clear();
        accuracy = classifier.evaluate(&test)?.accuracy;
        let clip = match args.clip_norm {
            Some(_) => format!(", last gradient norm {:.3}", classifier.last_grad_norm()?),
            None => String::new(),
        };
        println!(
            "epoch {epoch:>2}/{}: train loss {:.4}, test accuracy {accuracy:.4}, {:.0} samples/s{clip}",
            args.epochs, stats.mean_loss, stats.samples_per_sec
        );
        records.push(EpochRecord { epoch, train_loss: stats.mean_loss, test_accuracy: accuracy });
    }
    if let Some(path) = &args.grad_flow {
        let title = format!("Gradient flow after {} epochs", args.epochs);
        gradient_flow(path, &title, &classifier.gradient_stats()?)?;
        println!("wrote {}", path.display());
    }
    if let Some(path) = &args.save {
        checkpoint::save(path, &classifier.model()?.state_dict())?;
        println!("saved parameters to {}", path.display());
    }
    let plot = args.plot.clone().unwrap_or_else(|| match &args.save {
        Some(save) => save.with_extension("png"),
        None => PathBuf::from("mlp-training.png"),
    });
    if !records.is_empty() {
        training_curves(&plot, &records)?;
        println!("wrote {}", plot.display());
    }
    println!("test accuracy: {accuracy:.4}");
    Ok(())
}
