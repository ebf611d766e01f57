//! Where a training step's time goes: the MLP step (784-128-64-10, Adam) replayed with
//! and without new batch data, at several batch sizes, on the GPU and the CPU backend,
//! each fused (the default) and unfused (one launch per node) side by side.
//!
//! cargo bench --bench step

use std::time::Instant;

use backprop::nn::{Init, Layer, Sequential};
use backprop::{init, CompileOptions, Device, Graph, NodeId, Optimizer, Result, Session};

fn mlp_step(device: &Device, batch: usize, fuse: bool) -> Result<(Box<dyn Session>, NodeId, NodeId, NodeId)> {
    let model = Sequential::mlp(&[784, 128, 64, 10], Layer::Relu, Init::PyTorch, &mut init::rng(0))?;
    let mut g = Graph::new();
    let x = g.input("x", [batch, 784])?;
    let y = g.input("y", [batch, 10])?;
    let out = model.record(&mut g, x)?.output;
    let loss = g.softmax_cross_entropy(out, y)?;
    let grads = g.backward(loss)?;
    g.optimize(&grads, Optimizer::adam(1e-3))?;
    let options = CompileOptions { fuse, ..Default::default() };
    Ok((device.compile_with(&g, &[loss], options)?, x, y, loss))
}

/// Microseconds per step over `steps` steps, after a warm-up, waiting for the last one.
fn time(session: &mut dyn Session, steps: usize, mut before: impl FnMut(&mut dyn Session)) -> Result<f64> {
    session.run()?;
    let start = Instant::now();
    for _ in 0..steps {
        before(session);
        session.run()?;
    }
    session.read_many(&[])?;
    Ok(start.elapsed().as_secs_f64() * 1e6 / steps as f64)
}

/// The slowest kernels of one profiled step, where the device can time them.
fn print_profile(session: &mut dyn Session) {
    let Ok(mut times) = session.profile() else { return };
    let total: f64 = times.iter().map(|t| t.micros).sum();
    times.sort_by(|a, b| b.micros.total_cmp(&a.micros));
    println!("    device time of all {} kernels: {total:.1} µs; slowest:", times.len());
    for t in times.iter().take(6) {
        println!("    {:>10.1} µs  {}", t.micros, t.what);
    }
}

fn main() -> Result<()> {
    let mut devices = vec![Device::Cpu];
    if let Ok(gpu) = Device::gpu() {
        devices.push(gpu);
    }
    println!("{:<44} {:>6} {:>8} {:>16} {:>16}", "device", "batch", "fused", "µs/step (run)", "µs/step (+write)");
    for device in &devices {
        for (batch, fuse) in [(64, false), (64, true), (1024, false), (1024, true)] {
            let (mut session, x, y, loss) = mlp_step(device, batch, fuse)?;
            let xs = vec![0.5f32; batch * 784];
            let ys: Vec<f32> = (0..batch * 10).map(|i| if i % 10 == 3 { 1.0 } else { 0.0 }).collect();
            session.write(y, &ys)?;
            let steps = if matches!(device, Device::Cpu) || device.name().contains("llvmpipe") { 20 } else { 500 };
            let run_only = time(session.as_mut(), steps, |_| {})?;
            let with_write = time(session.as_mut(), steps, |s| {
                s.write(x, &xs).expect("write");
                s.write(y, &ys).expect("write");
            })?;
            session.read(loss)?;
            let fused = if fuse { "yes" } else { "no" };
            println!("{:<44} {batch:>6} {fused:>8} {run_only:>16.1} {with_write:>16.1}", device.name());
            println!("    launches per step: {}", session.launches_per_step());
            print_profile(session.as_mut());
        }
    }
    Ok(())
}
