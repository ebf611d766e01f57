//! The README's library example, kept here so that it is compiled and run.
//!
//! cargo run --example readme [-- --backend auto|gpu|cpu]

#[macro_use]
#[path = "common/flags.rs"]
mod flags;

use backprop::{init, models::XOR_INPUTS, models::XOR_TARGETS, Device, Graph, Optimizer};
use clap::Parser;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    backend: flags::Backend,
}

fn main() -> anyhow::Result<()> {
    let device = Args::parse().backend.open()?;
    let (loss, predictions) = xor(&device)?;
    say!("loss {loss:.4}, predictions {predictions:.3?} (targets {XOR_TARGETS:?})");
    Ok(())
}

/// The README's example: a 2-4-1 sigmoid network learning XOR; returns the final loss and
/// the four predictions.
fn xor(device: &Device) -> backprop::Result<(f32, Vec<f32>)> {
    let mut rng = init::rng(42);
    let mut g = Graph::new();
    let x = g.input("x", [4, 2])?;
    let y = g.input("y", [4, 1])?;
    // Weights [out, in] as PyTorch's nn.Linear; x·wᵀ without a transposed copy.
    let w1 = g.parameter("0.weight", [4, 2], init::normal(&mut rng, [4, 2])?)?;
    let b1 = g.parameter("0.bias", [1, 4], vec![0.0; 4])?;
    let w2 = g.parameter("2.weight", [1, 4], init::normal(&mut rng, [1, 4])?)?;
    let b2 = g.parameter("2.bias", [1, 1], vec![0.0])?;
    let h = g.matmul_t(x, w1, false, true)?;
    let h = g.add(h, b1)?;
    let h = g.sigmoid(h)?;
    let out = g.matmul_t(h, w2, false, true)?;
    let out = g.add(out, b2)?;
    let out = g.sigmoid(out)?;
    let loss = g.mse_loss(out, y)?;
    let grads = g.backward(loss)?; // gradient nodes join the same graph
    g.optimize(&grads, Optimizer::sgd(2.0))?; // in-place updates, run inside each step
    let mut step = device.compile(&g, &[loss, out])?;
    step.write(x, &XOR_INPUTS)?;
    step.write(y, &XOR_TARGETS)?;
    for _ in 0..4999 {
        step.run()?; // one submission each, nothing read back
    }
    let mut values = step.run_and_read(&[loss, out])?;
    Ok((values[0][0], values.remove(1)))
}
