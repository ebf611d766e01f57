//! Layers of your own in a network: a custom activation (swish, registered from outside
//! the crate) and a residual block (a user's `Module`) in a `Sequential`, trained by the
//! `Classifier` with a loss of your own (cross-entropy plus an L2 penalty, as a typed
//! closure) and a cosine learning rate followed every step, on the Fashion-MNIST split
//! shipped in `data/`; saved each epoch, and resumed exactly.
//!
//! cargo run --release --example layers [-- --backend cpu --epochs 4 --save layers.safetensors]
//! cargo run --release --example layers -- --resume layers.safetensors --save layers.safetensors --epochs 6

#[macro_use]
#[path = "../common/flags.rs"]
mod flags;
mod model;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use backprop::classifier::{Classifier, LossFn, LossInputs, TrainOptions};
use backprop::data::Dataset;
use backprop::{init, Graph, NodeId, Optimizer, Result, Schedule};
use clap::Parser;

/// Train a network with a custom activation and a residual block of your own.
#[derive(Parser)]
#[command(allow_negative_numbers = true)]
struct Args {
    #[command(flatten)]
    backend: flags::Backend,
    /// Epochs to train in all (a resumed run goes on to this many); the learning rate
    /// falls along a cosine over 10 epochs, so a run and its resumption share one schedule.
    #[arg(long, default_value_t = 4, value_parser = flags::whole(1usize, SCHEDULE_EPOCHS))]
    epochs: usize,
    /// Save the model (PyTorch's names) and its training state after each epoch.
    #[arg(long, value_name = "FILE")]
    save: Option<PathBuf>,
    /// Continue from what --save wrote.
    #[arg(long, value_name = "FILE")]
    resume: Option<PathBuf>,
}

const SEED: u64 = 0;
const BATCH: usize = 64;
const PENALTY: f32 = 1e-5;
const SCHEDULE_EPOCHS: usize = 10;

/// Cross-entropy over the real rows plus `PENALTY · Σ‖w‖²` over the weights.
fn loss(g: &mut Graph, l: &LossInputs) -> Result<NodeId> {
    let mut total = g.softmax_cross_entropy(l.logits, l.targets)?;
    for (_, w) in l.params.iter().filter(|(name, _)| name.ends_with("weight")) {
        let squares = g.sum_squares(*w)?;
        let term = g.scale(squares, PENALTY)?;
        total = g.add(total, term)?;
    }
    Ok(total)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.resume.is_some() && args.save.is_none() {
        bail!("--resume needs --save, to keep what the resumed epochs train");
    }
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    let all = Dataset::load(&data.join("t10k-images-idx3-ubyte.gz"), &data.join("t10k-labels-idx1-ubyte.gz"))?;
    let (train, test) = all.split_at(8000);
    let device = args.backend.open()?;
    let steps = SCHEDULE_EPOCHS * train.len().div_ceil(BATCH);
    let options = TrainOptions {
        loss: Some(Arc::new(loss) as LossFn),
        schedule: Some(Schedule::Cosine { steps, min_lr: 1e-4 }),
        ..Default::default()
    };
    let model = model::network(SEED)?;
    let names: Vec<String> = model.parameters().iter().map(|p| format!("{} {:?}", p.name, p.shape)).collect();
    say!("parameters: {}", names.join(", "));
    let mut classifier = Classifier::with_options(&device, model, Optimizer::adam(2e-3), BATCH, 1000, options)?;
    let mut first = 1;
    if let Some(path) = &args.resume {
        let state = classifier.load(path).context("--resume (it reads the files --save wrote)")?;
        say!("resumed {} after epoch {}", path.display(), state.epoch);
        first = state.epoch + 1;
    }
    for epoch in first..=args.epochs {
        let stats = classifier.train_epoch(&train, &mut init::epoch_rng(SEED, epoch), |_| {})?;
        let eval = classifier.evaluate(&test)?;
        say!(
            "epoch {epoch}: loss {:.4}, test accuracy {:.2}% ({:.0} samples/s)",
            stats.mean_loss,
            100.0 * eval.accuracy,
            stats.samples_per_sec
        );
        if let Some(path) = &args.save {
            classifier.save(path, epoch, SEED, train.len()).context("--save")?;
        }
    }
    if let Some(path) = &args.save {
        say!("saved {} and its training state beside it", path.display());
    }
    Ok(())
}
