//! The classic 2-4-1 sigmoid network learning XOR with SGD, as in the textbook NumPy loop,
//! but the whole step (forward, backward, update) runs as one GPU submission.
//!
//! cargo run --release --example xor [-- --backend auto|gpu|cpu --lr 0.1 --epochs 10000 --seed 42]
//!
//! `--graph FILE` draws the training step's graph (forward, loss, backward, updates) with
//! the trained values; `--boundary FILE` draws the decision regions the network learned
//! over [−0.5, 1.5]², evaluated on the device in one batch. SVG or PNG by extension.

#[macro_use]
#[path = "common/flags.rs"]
mod flags;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use backprop::models::{Xor, XOR_INPUTS, XOR_TARGETS};
use backprop::output::check_distinct;
use backprop::plot::{check_chart_path, decision_regions, grid, Regions};
use backprop::view::View;
use backprop::{Device, Session};
use clap::Parser;
use flags::{positive, whole};

/// Points per side of the decision-region grid.
const RESOLUTION: usize = 121;

#[derive(Parser)]
#[command(allow_negative_numbers = true)]
struct Args {
    #[command(flatten)]
    backend: flags::Backend,
    /// SGD learning rate.
    #[arg(long, default_value_t = 0.1, value_parser = positive(1e6))]
    lr: f32,
    /// Training steps over the four samples.
    #[arg(long, default_value_t = 10_000, value_parser = whole(1usize, 100_000_000))]
    epochs: usize,
    /// Seed of the N(0, 1) weight initialisation.
    #[arg(long, default_value_t = 42, value_parser = whole(0u64, u64::MAX))]
    seed: u64,
    /// Draw the training step's computational graph, with the trained values, here.
    #[arg(long)]
    graph: Option<PathBuf>,
    /// Draw the decision regions the network learned over [−0.5, 1.5]² here.
    #[arg(long)]
    boundary: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let outputs: Vec<(&str, &std::path::Path)> = [("--graph", &args.graph), ("--boundary", &args.boundary)]
        .into_iter()
        .filter_map(|(flag, path)| path.as_deref().map(|p| (flag, p)))
        .collect();
    check_distinct(&outputs)?;
    for (flag, path) in &outputs {
        check_chart_path(path).with_context(|| flag.to_string())?;
    }
    let device = args.backend.open()?;
    let net = Xor::new(args.seed, args.lr)?;
    let mut train = device.compile(&net.graph, &[net.loss])?;
    train.write(net.x, &XOR_INPUTS)?;
    train.write(net.y, &XOR_TARGETS)?;

    let start = Instant::now();
    for epoch in 0..args.epochs {
        if epoch % 1000 == 0 {
            // The loss of this step's forward pass, before its update (as NumPy prints).
            let loss = train.run_and_read(&[net.loss])?[0][0];
            say!("epoch {epoch:>5}, loss {loss:.4}");
        } else {
            train.run()?;
        }
    }
    // Reading a parameter waits for every queued step, so the time covers all of them.
    train.read(net.params[0])?;
    say!("training loop: {:.3} s for {} epochs", start.elapsed().as_secs_f64(), args.epochs);

    let mut infer = device.compile_inference(&net.graph, &[net.prediction])?;
    train.copy_to(infer.as_mut(), &net.params)?;
    infer.write(net.x, &XOR_INPUTS)?;
    let predictions = infer.run_and_read(&[net.prediction])?.remove(0);
    let shown: Vec<String> = predictions.iter().map(|p| format!("{p:.6}")).collect();
    say!("predictions: [{}]", shown.join(", "));
    if let Some(path) = &args.graph {
        let mut shown_nodes = vec![net.x, net.y, net.loss];
        shown_nodes.extend(&net.params);
        View::new(&net.graph).with_values(train.as_mut(), &shown_nodes)?.write(path)?;
        say!("wrote {}", path.display());
    }
    if let Some(path) = &args.boundary {
        boundary(&device, train.as_mut(), &net, path)?;
        say!("wrote {}", path.display());
    }
    Ok(())
}

/// The learned probability over a grid, evaluated on `device` in one batch, drawn with
/// the four training points.
fn boundary(device: &Device, train: &mut dyn Session, net: &Xor, path: &std::path::Path) -> anyhow::Result<()> {
    let range = (-0.5, 1.5);
    let points = grid(range, RESOLUTION);
    let (graph, x, prediction) = Xor::predictor(train.read_many(&net.params)?, RESOLUTION * RESOLUTION)?;
    let mut session = device.compile_inference(&graph, &[prediction])?;
    session.write(x, &points)?;
    let probabilities = session.run_and_read(&[prediction])?.remove(0);
    let marked: Vec<([f32; 2], f32)> = XOR_INPUTS.chunks(2).zip(XOR_TARGETS).map(|(p, t)| ([p[0], p[1]], t)).collect();
    let regions = Regions { range, resolution: RESOLUTION, probabilities: &probabilities, points: &marked };
    decision_regions(path, "What the 2-4-1 network learned: p(XOR = 1)", &regions)?;
    Ok(())
}
