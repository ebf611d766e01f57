//! Binary classification of two interleaving half-moons (noise 0.1, generated from a
//! seed): a 2-32-32-1 network with a layer norm, binary cross-entropy on logits, AdamW,
//! and a cosine learning-rate schedule written to the device before each step. Prints the
//! accuracy on 1,000 held-out points and draws the decision regions.
//!
//! cargo run --release --example moons [-- --backend auto|gpu|cpu --steps 1000 --lr 0.01
//!     --samples 1000 --seed 0 --boundary moons.png]

#[macro_use]
#[path = "common/flags.rs"]
mod flags;

use std::path::PathBuf;

use anyhow::Context;
use backprop::nn::{Init, Layer, LayerNorm, Linear, Sequential};
use backprop::plot::{check_chart_path, decision_regions, grid, Regions};
use backprop::{init, Device, Graph, Optimizer, Schedule};
use clap::Parser;
use flags::{positive, whole};
use rand::Rng;
use rand_distr::{Distribution, Normal};

/// Points per side of the decision-region grid.
const RESOLUTION: usize = 161;
/// Both axes of the picture.
const RANGE: (f32, f32) = (-1.5, 2.5);

#[derive(Parser)]
#[command(allow_negative_numbers = true)]
struct Args {
    #[command(flatten)]
    backend: flags::Backend,
    /// Full-batch training steps.
    #[arg(long, default_value_t = 1000, value_parser = whole(1usize, 10_000_000))]
    steps: usize,
    /// AdamW's initial learning rate (a cosine schedule takes it to a tenth).
    #[arg(long, default_value_t = 0.01, value_parser = positive(1e6))]
    lr: f32,
    /// Training points (as many again are held out).
    #[arg(long, default_value_t = 1000, value_parser = whole(2usize, 1_000_000))]
    samples: usize,
    /// Seed of the data and of the initialisation.
    #[arg(long, default_value_t = 0, value_parser = whole(0u64, u64::MAX))]
    seed: u64,
    /// Where to draw the decision regions (PNG or SVG by extension).
    #[arg(long, default_value = "moons.png")]
    boundary: PathBuf,
}

/// `n` points of scikit-learn's `make_moons`: the upper moon (label 0) and the lower one
/// (label 1), each point moved by Gaussian noise of deviation `noise`, in shuffled order.
fn two_moons(n: usize, noise: f32, rng: &mut impl Rng) -> anyhow::Result<(Vec<f32>, Vec<f32>)> {
    let normal = Normal::new(0.0, noise)?;
    let upper = n / 2;
    let mut points: Vec<([f32; 2], f32)> = (0..n)
        .map(|i| {
            let (k, count, label) = if i < upper { (i, upper, 0.0) } else { (i - upper, n - upper, 1.0) };
            let angle = std::f32::consts::PI * k as f32 / (count.max(2) - 1) as f32;
            let (x, y) = if label == 0.0 { (angle.cos(), angle.sin()) } else { (1.0 - angle.cos(), 0.5 - angle.sin()) };
            ([x + normal.sample(rng), y + normal.sample(rng)], label)
        })
        .collect();
    for i in (1..points.len()).rev() {
        points.swap(i, rng.random_range(0..=i));
    }
    Ok((points.iter().flat_map(|p| p.0).collect(), points.iter().map(|p| p.1).collect()))
}

fn model(seed: u64) -> anyhow::Result<Sequential> {
    let mut rng = init::rng(seed);
    let layers = vec![
        Layer::Linear(Linear::new(2, 32, Init::PyTorch, &mut rng)?),
        Layer::LayerNorm(LayerNorm::new(32)?),
        Layer::Relu,
        Layer::Linear(Linear::new(32, 32, Init::PyTorch, &mut rng)?),
        Layer::Relu,
        Layer::Linear(Linear::new(32, 1, Init::PyTorch, &mut rng)?),
    ];
    Ok(layers.into())
}

/// Trains `net` on the points, full batch, and returns it with the trained parameters.
fn train(device: &Device, mut net: Sequential, x: &[f32], t: &[f32], args: &Args) -> anyhow::Result<Sequential> {
    let mut g = Graph::new();
    let input = g.input("x", [t.len(), 2])?;
    let target = g.input("t", [t.len(), 1])?;
    let recorded = net.record(&mut g, input)?;
    let loss = g.bce_with_logits(recorded.output, target)?;
    let grads = g.backward(loss)?;
    let optimizer = g.optimize(&grads, Optimizer::adamw(args.lr))?;
    let mut session = device.compile(&g, &[loss])?;
    session.write(input, x)?;
    session.write(target, t)?;
    let schedule = Schedule::Cosine { steps: args.steps, min_lr: args.lr / 10.0 };
    for step in 0..args.steps {
        let lr = schedule.lr(args.lr, step)?;
        session.write(optimizer.learning_rate, &[lr])?;
        if (step + 1) % (args.steps / 5).max(1) == 0 || step + 1 == args.steps {
            let value = session.run_and_read(&[loss])?[0][0];
            say!("step {:>6}/{}: loss {value:.4}, learning rate {lr:.5}", step + 1, args.steps);
        } else {
            session.run()?;
        }
    }
    for (name, id) in &recorded.params {
        net.set_parameter(name, &session.read(*id)?)?;
    }
    Ok(net)
}

/// The network's probability of the lower moon for each point of `x`.
fn probabilities(device: &Device, net: &Sequential, x: &[f32]) -> anyhow::Result<Vec<f32>> {
    let mut g = Graph::new();
    let input = g.input("x", [x.len() / 2, 2])?;
    let logits = net.record(&mut g, input)?.output;
    let p = g.sigmoid(logits)?;
    let mut session = device.compile_inference(&g, &[p])?;
    session.write(input, x)?;
    Ok(session.run_and_read(&[p])?.remove(0))
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    check_chart_path(&args.boundary).context("--boundary")?;
    backprop::output::check_writable(&args.boundary).context("--boundary")?;
    let device = args.backend.open()?;
    let mut rng = init::rng(args.seed);
    let (x, t) = two_moons(args.samples, 0.1, &mut rng)?;
    let (x_test, t_test) = two_moons(1000, 0.1, &mut rng)?;
    let net = train(&device, model(args.seed)?, &x, &t, &args)?;
    let p = probabilities(&device, &net, &x_test)?;
    let correct = p.iter().zip(&t_test).filter(|(p, t)| (**p > 0.5) == (**t > 0.5)).count();
    say!("test accuracy: {:.4} ({correct} of {})", correct as f32 / t_test.len() as f32, t_test.len());
    let regions_p = probabilities(&device, &net, &grid(RANGE, RESOLUTION))?;
    let marked: Vec<([f32; 2], f32)> = x.chunks(2).zip(&t).map(|(p, &t)| ([p[0], p[1]], t)).collect();
    let regions = Regions { range: RANGE, resolution: RESOLUTION, probabilities: &regions_p, points: &marked };
    decision_regions(&args.boundary, "Two moons: p(lower moon), LayerNorm MLP trained with AdamW", &regions)?;
    say!("wrote {}", args.boundary.display());
    Ok(())
}
