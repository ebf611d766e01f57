//! Adding ops without touching the crate: `swish` registered as a new elementwise op (its
//! CPU function, WGSL expression and derivative), `mish` composed from existing ops, both
//! checked with the crate's own test helpers (finite differences, and the GPU against the
//! CPU reference when there is an adapter), then a 1-32-32-1 swish network fitting sin(x)
//! on [−3, 3] with Adam.
//!
//! cargo run --release --example custom_op [-- --backend auto|gpu|cpu --steps 2000]

#[macro_use]
#[path = "common/flags.rs"]
mod flags;

use backprop::custom::{register, CustomMap};
use backprop::nn::{Init, Linear};
use backprop::testing::{check_gradients, compare_backends};
use backprop::{init, Device, Graph, Map, NodeId, Optimizer, Result, Shape};
use clap::Parser;
use flags::whole;

#[derive(Parser)]
#[command(allow_negative_numbers = true)]
struct Args {
    #[command(flatten)]
    backend: flags::Backend,
    /// Full-batch Adam steps.
    #[arg(long, default_value_t = 2000, value_parser = whole(1usize, 10_000_000))]
    steps: usize,
}

/// swish(x) = x·σ(x), with swish'(x) = σ(x)·(1 + x·(1 − σ(x))) recorded from the graph's
/// own ops.
fn swish() -> Result<Map> {
    register(CustomMap {
        name: "swish",
        arity: 1,
        cpu: |a, _, _| a / (1.0 + (-a).exp()),
        wgsl: "a / (1.0 + exp(-a))",
        vjp: Some(|g, _, x, dy, _| {
            let s = g.sigmoid(x[0])?;
            let one = g.constant([1, 1], vec![1.0])?;
            let rest = g.sub(one, s)?;
            let t = g.mul(x[0], rest)?;
            let u = g.add(t, one)?;
            let slope = g.mul(s, u)?;
            Ok(vec![Some(g.mul(dy, slope)?)])
        }),
    })
}

/// mish(x) = x·tanh(softplus(x)), composed: its gradient comes from the parts' rules.
fn mish(g: &mut Graph, x: NodeId) -> Result<NodeId> {
    let soft = g.softplus(x)?;
    let t = g.tanh(soft)?;
    g.mul(x, t)
}

/// Records one of the example's ops on `x` (given swish's `Map`).
type Op = fn(&mut Graph, NodeId, Map) -> Result<NodeId>;

/// Both ops against finite differences, and the device against the CPU reference.
fn check(device: &Device, swish: Map) -> anyhow::Result<()> {
    let shape = [Shape::new(4, 5)];
    let ops: [(&str, Op); 2] = [("swish", |g, x, swish| g.map(swish, 0.0, &[x])), ("mish", |g, x, _| mish(g, x))];
    for (name, op) in ops {
        let mismatches = check_gradients(&shape, 1, |g, x| op(g, x[0], swish))?;
        anyhow::ensure!(mismatches.is_empty(), "{name}: autodiff and finite differences disagree: {mismatches:?}");
        say!("{name}: the gradient of 20 values agrees with central differences");
        if matches!(device, Device::Gpu(_)) {
            let (gpu, cpu) = compare_backends(device, &shape, 2, |g, x| op(g, x[0], swish))?;
            let worst = gpu.iter().zip(&cpu).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            anyhow::ensure!(worst <= 1e-5, "{name}: the GPU is {worst} from the CPU reference");
            say!("{name}: the GPU agrees with the CPU reference (largest difference {worst:.1e})");
        }
    }
    Ok(())
}

/// A 1-32-32-1 network with swish between its layers, fitting sin(x) at 256 points.
fn fit_sine(device: &Device, swish: Map, steps: usize) -> anyhow::Result<f32> {
    let xs: Vec<f32> = (0..256).map(|i| -3.0 + 6.0 * i as f32 / 255.0).collect();
    let ys: Vec<f32> = xs.iter().map(|x| x.sin()).collect();
    let mut g = Graph::new();
    let x = g.input("x", [256, 1])?;
    let y = g.input("y", [256, 1])?;
    let mut rng = init::rng(0);
    let mut h = x;
    for (i, (inputs, outputs)) in [(1, 32), (32, 32), (32, 1)].into_iter().enumerate() {
        let layer = Linear::new(inputs, outputs, Init::PyTorch, &mut rng)?;
        let w = g.parameter(&format!("{i}.weight"), [outputs, inputs], layer.weight)?;
        let b = g.parameter(&format!("{i}.bias"), [1, outputs], layer.bias)?;
        let z = g.matmul_t(h, w, false, true)?;
        h = g.add(z, b)?;
        if i < 2 {
            h = g.map(swish, 0.0, &[h])?;
        }
    }
    let loss = g.mse_loss(h, y)?;
    let grads = g.backward(loss)?;
    g.optimize(&grads, Optimizer::adam(0.01))?;
    let mut session = device.compile(&g, &[loss])?;
    session.write(x, &xs)?;
    session.write(y, &ys)?;
    for _ in 1..steps {
        session.run()?;
    }
    Ok(session.run_and_read(&[loss])?[0][0])
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let device = args.backend.open()?;
    let swish = swish()?;
    check(&device, swish)?;
    let loss = fit_sine(&device, swish, args.steps)?;
    say!("a swish network fit sin(x) on [-3, 3]: mean squared error {loss:.2e} after {} steps", args.steps);
    Ok(())
}
