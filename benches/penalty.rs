//! An L2 penalty three ways, side by side on the MLP step (784-128-64-10, Adam, batch 64
//! on the CPU backend, and on the GPU when there is one): none (the baseline), written
//! as a loss term (`cross-entropy + λ·Σ‖w‖²`, as `TrainOptions::loss` would record it),
//! and the same gradient added through `map_gradients` (`g + 2λ·w`). µs per step in
//! submissions of 50 steps, and launches per step.
//!
//! cargo bench --bench penalty [-- --batch 64]

use std::time::Instant;

use backprop::nn::{Init, Layer, Sequential};
use backprop::{init, Device, Graph, Optimizer, Result, Session};

const LAMBDA: f32 = 1e-4;
const STEPS: usize = 50;

#[derive(Clone, Copy, Debug)]
enum Penalty {
    None,
    LossTerm,
    MapGradients,
}

fn step(device: &Device, batch: usize, penalty: Penalty) -> Result<Box<dyn Session>> {
    let model = Sequential::mlp(&[784, 128, 64, 10], Layer::Relu, Init::PyTorch, &mut init::rng(0))?;
    let mut g = Graph::new();
    let x = g.input("x", [batch, 784])?;
    let y = g.input("y", [batch, 10])?;
    let recorded = model.record(&mut g, x)?;
    let mut loss = g.softmax_cross_entropy(recorded.output, y)?;
    if let Penalty::LossTerm = penalty {
        for (_, p) in &recorded.params {
            let squares = g.sum_squares(*p)?;
            let term = g.scale(squares, LAMBDA)?;
            loss = g.add(loss, term)?;
        }
    }
    let mut grads = g.backward(loss)?;
    if let Penalty::MapGradients = penalty {
        grads = g.map_gradients(&grads, |g, p, grad| {
            let decay = g.scale(p, 2.0 * LAMBDA)?;
            g.add(grad, decay)
        })?;
    }
    g.optimize(&grads, Optimizer::adam(1e-3))?;
    let mut session = device.compile(&g, &[loss])?;
    let images: Vec<f32> = (0..batch * 784).map(|i| (i % 251) as f32 / 251.0).collect();
    let targets: Vec<f32> = (0..batch * 10).map(|i| if i % 10 == (i / 10) % 10 { 1.0 } else { 0.0 }).collect();
    session.write(x, &images)?;
    session.write(y, &targets)?;
    Ok(session)
}

fn micros_per_step(session: &mut dyn Session) -> Result<f64> {
    session.run_steps(STEPS)?;
    session.read_many(&[])?;
    let rounds = 10;
    let start = Instant::now();
    for _ in 0..rounds {
        session.run_steps(STEPS)?;
    }
    session.read_many(&[])?;
    Ok(start.elapsed().as_secs_f64() * 1e6 / (rounds * STEPS) as f64)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let batch = args.iter().position(|a| a == "--batch").and_then(|i| args.get(i + 1)?.parse().ok()).unwrap_or(64);
    let mut devices = vec![("cpu", Device::Cpu)];
    if let Ok(gpu) = Device::gpu() {
        devices.push(("gpu", gpu));
    }
    println!("L2 penalty λ = {LAMBDA} on every parameter, MLP 784-128-64-10 + Adam, batch {batch}");
    println!("{:<6} {:<14} {:>10} {:>9} {:>12}", "device", "penalty", "µs/step", "launches", "vs none");
    for (name, device) in devices {
        let mut baseline = None;
        for penalty in [Penalty::None, Penalty::LossTerm, Penalty::MapGradients] {
            let mut session = step(&device, batch, penalty)?;
            let micros = micros_per_step(session.as_mut())?;
            let base = *baseline.get_or_insert(micros);
            let launches = session.launches_per_step();
            println!("{name:<6} {:<14} {micros:>10.1} {launches:>9} {:>11.2}×", format!("{penalty:?}"), micros / base);
        }
    }
    Ok(())
}
