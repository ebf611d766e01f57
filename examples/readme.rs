//! The README's 20-line library example, kept here so that it is compiled and run.
//!
//! cargo run --example readme

use backprop::{init, models::XOR_INPUTS, models::XOR_TARGETS, Device, Graph};

fn main() -> backprop::Result<()> {
    let mut rng = init::rng(42);
    let mut g = Graph::new();
    let x = g.input("x", [4, 2])?;
    let y = g.input("y", [4, 1])?;
    let w1 = g.parameter("w1", [2, 4], init::normal(&mut rng, [2, 4]))?;
    let w2 = g.parameter("w2", [4, 1], init::normal(&mut rng, [4, 1]))?;
    let h = g.matmul(x, w1)?;
    let h = g.sigmoid(h)?;
    let out = g.matmul(h, w2)?;
    let out = g.sigmoid(out)?;
    let loss = g.mse_loss(out, y)?;
    let grads = g.backward(loss)?; // gradient nodes join the same graph
    g.sgd(&grads, 0.5)?; // in-place updates, run inside each step
    let mut step = Device::best().compile(&g, &[loss])?;
    step.write(x, &XOR_INPUTS)?;
    step.write(y, &XOR_TARGETS)?;
    for _ in 0..999 {
        step.run()?; // one submission each, nothing read back
    }
    println!("loss {}", step.run_and_read(&[loss])?[0][0]);
    Ok(())
}
