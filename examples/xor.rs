//! The classic 2-4-1 sigmoid network learning XOR with SGD, as in the textbook NumPy loop,
//! but the whole step (forward, backward, update) runs as one GPU submission.
//!
//! cargo run --release --example xor [-- --backend gpu|cpu --lr 0.1 --epochs 10000 --seed 42]

use std::time::Instant;

#[path = "common/flags.rs"]
mod flags;

use backprop::models::{Xor, XOR_INPUTS, XOR_TARGETS};
use clap::Parser;
use flags::{positive, whole, BACKENDS};

#[derive(Parser)]
#[command(allow_negative_numbers = true)]
struct Args {
    /// Where to run: auto (a hardware GPU, else the CPU backend), gpu (any adapter,
    /// software rasterizers included) or cpu.
    #[arg(long, default_value = "auto", value_parser = BACKENDS)]
    backend: String,
    /// SGD learning rate.
    #[arg(long, default_value_t = 0.1, value_parser = positive(1e6))]
    lr: f32,
    /// Training steps over the four samples.
    #[arg(long, default_value_t = 10_000, value_parser = whole(1usize, 100_000_000))]
    epochs: usize,
    /// Seed of the N(0, 1) weight initialisation.
    #[arg(long, default_value_t = 42, value_parser = whole(0u64, u64::MAX))]
    seed: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let device = flags::open_device(&args.backend)?;
    let net = Xor::new(args.seed, args.lr)?;
    let mut train = device.compile(&net.graph, &[net.loss])?;
    train.write(net.x, &XOR_INPUTS)?;
    train.write(net.y, &XOR_TARGETS)?;

    let start = Instant::now();
    for epoch in 0..args.epochs {
        if epoch % 1000 == 0 {
            // The loss of this step's forward pass, before its update (as NumPy prints).
            let loss = train.run_and_read(&[net.loss])?[0][0];
            println!("epoch {epoch:>5}, loss {loss:.4}");
        } else {
            train.run()?;
        }
    }
    // Reading a parameter waits for every queued step, so the time covers all of them.
    train.read(net.params[0])?;
    println!("training loop: {:.3} s for {} epochs", start.elapsed().as_secs_f64(), args.epochs);

    let mut infer = device.compile_inference(&net.graph, &[net.prediction])?;
    train.copy_to(infer.as_mut(), &net.params)?;
    infer.write(net.x, &XOR_INPUTS)?;
    let predictions = infer.run_and_read(&[net.prediction])?.remove(0);
    let shown: Vec<String> = predictions.iter().map(|p| format!("{p:.4}")).collect();
    println!("predictions: [{}]", shown.join(", "));
    Ok(())
}
