//! Where a training step's time goes: the MLP step (784-128-64-10, Adam) at batch 64, 256
//! and 4096 on the CPU backend (fused) and the GPU (a hardware adapter, or the software
//! one when it is all there is, at small batches), fused (the default) and unfused:
//! µs per step submitted one at a time, in submissions of 50 steps, and with new batch
//! data written before each step; launches per step, the device memory of the plan and
//! the slowest kernels. Then PyTorch's same step on the same devices, eager and (on CUDA)
//! captured in a CUDA graph, from `benches/torch_gpu.py`, and one table of both.
//!
//! cargo bench --bench step [-- --batches 64,256,4096 --no-torch]

#[path = "common/torch.rs"]
mod torch;

use std::time::Instant;

use backprop::nn::{Init, Layer, Sequential};
use backprop::{init, CompileOptions, Device, Graph, NodeId, Optimizer, Result, Session};

/// Steps in one submission for the `run_steps` column.
const STEPS_PER_SUBMISSION: usize = 50;

struct Compiled {
    session: Box<dyn Session>,
    x: NodeId,
    y: NodeId,
    loss: NodeId,
}

fn mlp_step(device: &Device, batch: usize, fuse: bool) -> Result<Compiled> {
    let model = Sequential::mlp(&[784, 128, 64, 10], Layer::Relu, Init::PyTorch, &mut init::rng(0))?;
    let mut g = Graph::new();
    let x = g.input("x", [batch, 784])?;
    let y = g.input("y", [batch, 10])?;
    let out = model.record(&mut g, x)?.output;
    let loss = g.softmax_cross_entropy(out, y)?;
    let grads = g.backward(loss)?;
    g.optimize(&grads, Optimizer::adam(1e-3))?;
    let options = CompileOptions { fuse, ..Default::default() };
    Ok(Compiled { session: device.compile_with(&g, &[loss], options)?, x, y, loss })
}

/// Microseconds per step over `rounds` calls of `step` (each making `per_call` steps),
/// after a warm-up call, waiting for the device at the end.
fn time(
    session: &mut dyn Session,
    rounds: usize,
    per_call: usize,
    mut step: impl FnMut(&mut dyn Session) -> Result<()>,
) -> Result<f64> {
    step(session)?;
    session.read_many(&[])?;
    let start = Instant::now();
    for _ in 0..rounds {
        step(session)?;
    }
    session.read_many(&[])?;
    Ok(start.elapsed().as_secs_f64() * 1e6 / (rounds * per_call) as f64)
}

/// The slowest kernels of one profiled step, where the device can time them.
fn print_profile(session: &mut dyn Session) {
    let Ok(mut times) = session.profile() else { return };
    let total: f64 = times.iter().map(|t| t.micros).sum();
    times.sort_by(|a, b| b.micros.total_cmp(&a.micros));
    println!("    device time of its {} kernels, each timed alone: {total:.1} µs; slowest:", times.len());
    for t in times.iter().take(5) {
        println!("    {:>10.1} µs  {}", t.micros, t.what);
    }
}

/// `(one per submission, 50 per submission, with writes)` µs per step.
fn measure(device: &Device, batch: usize, fuse: bool, slow: bool) -> Result<[f64; 3]> {
    let Compiled { mut session, x, y, loss } = mlp_step(device, batch, fuse)?;
    let xs: Vec<f32> = (0..batch * 784).map(|i| (i % 255) as f32 / 255.0).collect();
    let ys: Vec<f32> = (0..batch * 10).map(|i| if i % 10 == (i / 10) % 10 { 1.0 } else { 0.0 }).collect();
    session.write(x, &xs)?;
    session.write(y, &ys)?;
    // About the same work per configuration: fewer rounds for larger batches.
    let rounds = if slow {
        3
    } else if matches!(device, Device::Cpu) {
        20
    } else {
        (200_000 / batch).clamp(20, 2000)
    };
    let single = time(session.as_mut(), rounds, 1, |s| s.run())?;
    let batched = time(session.as_mut(), rounds.div_ceil(STEPS_PER_SUBMISSION), STEPS_PER_SUBMISSION, |s| {
        s.run_steps(STEPS_PER_SUBMISSION)
    })?;
    let with_writes = time(session.as_mut(), rounds, 1, |s| {
        s.write(x, &xs)?;
        s.write(y, &ys)?;
        s.run()
    })?;
    let fused = if fuse { "fused" } else { "unfused" };
    println!(
        "{:<28} {batch:>6} {fused:>8} {single:>12.1} {batched:>12.1} {with_writes:>12.1} {:>9} {:>9.1}",
        device.name().chars().take(28).collect::<String>(),
        session.launches_per_step(),
        session.storage_bytes() as f64 / (1 << 20) as f64
    );
    let loss = session.read(loss)?[0];
    if !loss.is_finite() {
        println!("    the loss is {loss} after these steps");
    }
    print_profile(session.as_mut());
    Ok([single, batched, with_writes])
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let batches: Vec<usize> = args
        .iter()
        .position(|a| a == "--batches")
        .and_then(|i| args.get(i + 1))
        .map(|v| v.split(',').filter_map(|b| b.parse().ok()).collect())
        .unwrap_or_else(|| vec![64, 256, 4096]);
    let gpu = Device::gpu().ok();
    println!("MLP 784-128-64-10 + Adam, µs per step: one step per submission (run), 50 per submission");
    println!("(run_steps), and with x and y written before each step (run + write)\n");
    println!(
        "{:<28} {:>6} {:>8} {:>12} {:>12} {:>12} {:>9} {:>9}",
        "device", "batch", "", "run", "run_steps", "run + write", "launches", "MiB"
    );
    let mut ours = vec![];
    for &batch in &batches {
        let cpu = measure(&Device::Cpu, batch, true, false)?;
        ours.push(("cpu", batch, cpu));
        if let Some(gpu) = &gpu {
            // A software rasterizer runs the WGSL at about 1 GFLOP/s: a few steps at small
            // batches only.
            let software = gpu.name().contains("llvmpipe");
            if software && batch > 256 {
                continue;
            }
            measure(gpu, batch, false, software)?;
            let fused = measure(gpu, batch, true, software)?;
            ours.push(("gpu", batch, fused));
        }
    }
    if args.iter().any(|a| a == "--no-torch") {
        return Ok(());
    }
    println!("\nPyTorch, the same step (nn.Sequential, CrossEntropyLoss, Adam), µs per step:");
    let theirs =
        torch::run(&["step", "--batches", &batches.iter().map(|b| b.to_string()).collect::<Vec<_>>().join(",")]);
    let theirs = match theirs {
        Ok(lines) => lines,
        Err(why) => {
            println!("    not run: {why}");
            return Ok(());
        }
    };
    println!(
        "\n{:<6} {:>6} {:>12} {:>14} {:>16} {:>14} {:>12}",
        "device", "batch", "ours run", "ours run_steps", "pytorch eager", "cuda graph", "ratio"
    );
    for (device, batch, [single, batched, _]) in ours {
        let torch_device = if device == "gpu" { "cuda" } else { "cpu" };
        let find = |mode: &str| torch::value(&theirs, &format!("step {torch_device} {mode} {batch}"));
        let eager = find("eager");
        let graph = find("graph");
        let best_ours = single.min(batched);
        let reference = graph.or(eager);
        let ratio = reference.map_or("n/a".into(), |r| format!("{:.2}×", r / best_ours));
        let show = |v: Option<f64>| v.map_or("n/a".into(), |v| format!("{v:.1}"));
        println!(
            "{device:<6} {batch:>6} {single:>12.1} {batched:>14.1} {:>16} {:>14} {ratio:>12}",
            show(eager),
            show(graph)
        );
    }
    println!("\nratio: PyTorch's best (the CUDA graph where there is one) over our best, µs per step; above 1 we are faster.");
    Ok(())
}
