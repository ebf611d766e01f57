//! A transformer block learns to reverse sequences of 8 digits: it reads the digits and a
//! separator, then predicts the reversed digits one at a time (teacher-forced: each
//! position sees the true digits before it). Token and position embeddings, causal
//! self-attention over two heads with a `[T, T]` mask broadcast over the batch, layer
//! norms, an MLP and residual connections: a model that needs tensors of rank 3 and 4.
//! Prints the loss as it trains and the per-token accuracy on held-out sequences;
//! `--attention FILE` draws what each output position attends to (the anti-diagonal,
//! once it reverses), `--save FILE` writes a checkpoint PyTorch loads
//! (`benches/attention_torch.py`).
//!
//! cargo run --release --example attention [-- --backend auto|gpu|cpu --steps 600
//!     --batch 64 --lr 0.003 --width 64 --heads 2 --seed 0 --attention attention.png
//!     --save attention.safetensors]

#[macro_use]
#[path = "../common/flags.rs"]
mod flags;
mod model;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{ensure, Context};
use backprop::checkpoint::{self, Tensor};
use backprop::plot::{check_chart_path, heatmap, Heatmap};
use backprop::{init, Device, Graph, NodeId, Optimizer, Session};
use clap::Parser;
use flags::{positive, whole};
use model::{Config, Param, DIGITS, SEP, T, VOCAB};

#[derive(Parser)]
#[command(allow_negative_numbers = true)]
struct Args {
    #[command(flatten)]
    backend: flags::Backend,
    /// Training steps, each on a fresh batch of random sequences.
    #[arg(long, default_value_t = 600, value_parser = whole(1usize, 10_000_000))]
    steps: usize,
    /// Sequences per step.
    #[arg(long, default_value_t = 64, value_parser = whole(1usize, 65_536))]
    batch: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 0.003, value_parser = positive(10.0))]
    lr: f32,
    /// Width of each position's vector (a multiple of --heads).
    #[arg(long, default_value_t = 64, value_parser = whole(2usize, 1024))]
    width: usize,
    /// Attention heads.
    #[arg(long, default_value_t = 2, value_parser = whole(1usize, 16))]
    heads: usize,
    /// Held-out sequences the accuracy is measured on.
    #[arg(long, default_value_t = 1000, value_parser = whole(1usize, 100_000))]
    held_out: usize,
    /// Seed of the data and of the initialisation.
    #[arg(long, default_value_t = 0, value_parser = whole(0u64, u64::MAX))]
    seed: u64,
    /// Where to draw the attention of one held-out sequence (PNG or SVG).
    #[arg(long)]
    attention: Option<PathBuf>,
    /// Where to write the trained parameters (safetensors, PyTorch's names and shapes).
    #[arg(long)]
    save: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(args.width % args.heads == 0, "--width {} is not a multiple of --heads {}", args.width, args.heads);
    if let Some(path) = &args.attention {
        check_chart_path(path)?;
    }
    if let Some(path) = &args.save {
        backprop::output::check_writable(path)?;
    }
    let device = args.backend.open()?;
    let config = Config { width: args.width, heads: args.heads };
    let mut rng = init::rng(args.seed);
    let params = model::parameters(config, &mut rng);
    let started = Instant::now();
    let mut trainer = Trainer::new(&device, config, &params, args.batch, args.lr)?;
    for step in 1..=args.steps {
        let sequences: Vec<_> = (0..args.batch).map(|_| model::sequence(&mut rng)).collect();
        let loss = trainer.step(&sequences, step % 100 == 0 || step == args.steps)?;
        if let Some(loss) = loss {
            say!("step {step:>6}  loss {loss:.4}  ({:.1} s)", started.elapsed().as_secs_f32());
        }
    }
    let held_out: Vec<_> = (0..args.held_out).map(|_| model::sequence(&mut rng)).collect();
    let accuracy = trainer.accuracy(&device, config, &params, &held_out)?;
    say!(
        "held-out per-token accuracy: {:.2}% of {} reversed digits ({:.1} s in all)",
        100.0 * accuracy,
        held_out.len() * DIGITS,
        started.elapsed().as_secs_f32()
    );
    if let Some(path) = &args.attention {
        trainer.draw_attention(&device, config, &params, &held_out[0], path)?;
        say!("attention of one held-out sequence: {}", path.display());
    }
    if let Some(path) = &args.save {
        checkpoint::save(path, &trainer.state_dict(&params)?)?;
        say!("checkpoint: {}", path.display());
    }
    Ok(())
}

/// The training graph, compiled once, and its session.
struct Trainer {
    session: Box<dyn Session>,
    tokens: NodeId,
    targets: NodeId,
    loss: NodeId,
}

impl Trainer {
    fn new(device: &Device, config: Config, params: &[Param], batch: usize, lr: f32) -> anyhow::Result<Self> {
        let mut g = Graph::new();
        let tokens = g.input("tokens", [batch, T])?;
        let targets = g.input("targets", [batch, T, VOCAB])?;
        let recorded = model::record(&mut g, config, params, tokens)?;
        let loss = g.softmax_cross_entropy(recorded.logits, targets)?;
        let grads = g.backward(loss)?;
        g.optimize(&grads, Optimizer::adam(lr))?;
        let session = device.compile(&g, &[loss])?;
        Ok(Trainer { session, tokens, targets, loss })
    }

    /// One step on `sequences`; the loss when `read` (reading waits for the device).
    fn step(&mut self, sequences: &[([usize; T], [Option<usize>; T])], read: bool) -> anyhow::Result<Option<f32>> {
        let (tokens, targets) = model::batch(sequences);
        self.session.write(self.tokens, &tokens)?;
        self.session.write(self.targets, &targets)?;
        if !read {
            self.session.run()?;
            return Ok(None);
        }
        let loss = self.session.run_and_read(&[self.loss])?[0][0];
        ensure!(loss.is_finite(), "the loss went {loss}: try a smaller --lr");
        Ok(Some(loss))
    }

    /// The trained parameters copied into `session`, a graph of the same model.
    fn copy_parameters(&mut self, session: &mut dyn Session, params: &[Param]) -> anyhow::Result<()> {
        let mut pairs = Vec::new();
        for p in params {
            let from = self.session.graph().find(&p.name).context("a trained parameter")?;
            let to = session.graph().find(&p.name).context("a parameter of the copy")?;
            pairs.push((from, to));
        }
        self.session.copy_values_to(session, &pairs)?;
        Ok(())
    }

    /// Correctly predicted digits over all the digits of `sequences`.
    fn accuracy(
        &mut self,
        device: &Device,
        config: Config,
        params: &[Param],
        sequences: &[([usize; T], [Option<usize>; T])],
    ) -> anyhow::Result<f32> {
        let mut g = Graph::new();
        let tokens = g.input("tokens", [sequences.len(), T])?;
        let targets = g.input("targets", [sequences.len(), T, VOCAB])?;
        let recorded = model::record(&mut g, config, params, tokens)?;
        let correct = g.count_correct(recorded.logits, targets)?;
        let mut session = device.compile_inference(&g, &[correct])?;
        self.copy_parameters(session.as_mut(), params)?;
        let (token_values, target_values) = model::batch(sequences);
        session.write(tokens, &token_values)?;
        session.write(targets, &target_values)?;
        let correct = session.run_and_read(&[correct])?[0][0];
        Ok(correct / (sequences.len() * DIGITS) as f32)
    }

    /// Draws the attention, averaged over the heads, of the positions that predict a
    /// digit over every position of `sequence`.
    fn draw_attention(
        &mut self,
        device: &Device,
        config: Config,
        params: &[Param],
        sequence: &([usize; T], [Option<usize>; T]),
        path: &Path,
    ) -> anyhow::Result<()> {
        let mut g = Graph::new();
        let tokens = g.input("tokens", [1, T])?;
        let recorded = model::record(&mut g, config, params, tokens)?;
        let mean = g.mean_dim(recorded.attention, &[1], false)?;
        let mut session = device.compile_inference(&g, &[mean])?;
        self.copy_parameters(session.as_mut(), params)?;
        let (token_values, _) = model::batch(std::slice::from_ref(sequence));
        session.write(tokens, &token_values)?;
        let weights = session.run_and_read(&[mean])?.remove(0);
        let name = |t: usize| if t == SEP { "|".to_owned() } else { t.to_string() };
        let col_labels: Vec<String> = sequence.0.iter().enumerate().map(|(i, &t)| format!("{i}:{}", name(t))).collect();
        let row_labels: Vec<String> = (DIGITS..T).map(|i| format!("→{}", sequence.1[i].unwrap_or(0))).collect();
        let title = "attention of each predicting position (mean of heads)";
        let map = Heatmap {
            title,
            values: &weights[DIGITS * T..],
            row_labels: &row_labels,
            col_labels: &col_labels,
            row_desc: "position predicting the digit shown",
            col_desc: "position read (index: token)",
        };
        heatmap(path, &map)?;
        Ok(())
    }

    /// The trained parameters under their PyTorch names and shapes.
    fn state_dict(&mut self, params: &[Param]) -> anyhow::Result<Vec<Tensor>> {
        params
            .iter()
            .map(|p| {
                let values = self.session.read_named(&p.name)?;
                Ok(Tensor { name: p.name.clone(), shape: p.shape.clone(), values })
            })
            .collect()
    }
}
