//! Training speed of the `cnn` example's network (`models::fashion_cnn`, Adam, the second
//! of two epochs of `--limit` Fashion-MNIST samples: the first warms up, compiling and
//! uploading here, the allocator and threads there) on our CPU backend beside PyTorch's
//! CPU (`benches/cnn_torch.py --bench`, the same network and recipe) at batch 64 and
//! 256, with the ratio: the median of `--rounds` rounds (3), ours and PyTorch's taking
//! turns, so that a slow moment of a shared machine does not decide the figure.
//!
//! Where a GPU adapter is present, a second table: our GPU's training step beside
//! PyTorch's on CUDA, eager and captured in a CUDA graph (`benches/torch_gpu.py cnn`), in
//! µs per step. Ours is the second epoch's time over its steps (the data set on the device,
//! each step gathering its batch there); PyTorch's is the step repeated on one batch
//! already on the device. On a software adapter (lavapipe, about 1 GFLOP/s) only two steps
//! an epoch at batch 64.
//!
//! cargo bench --bench cnn [-- --limit 6400 --rounds 3 --threads 2 --profile --no-gpu --data DIR]
//!
//! `--profile` also prints the slowest launches of one of our CPU steps at each batch.

#[path = "common/torch.rs"]
mod torch;

use backprop::classifier::Classifier;
use backprop::data::{load_installed, Dataset, DEBIAN_FASHION_MNIST};
use backprop::{init, models, Device, Optimizer, Result};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

/// `--data DIR` (Fashion-MNIST's IDX files), else Debian's package, else the shipped
/// test split.
fn data() -> Result<(Dataset, String)> {
    let dir = arg("--data").unwrap_or_else(|| DEBIAN_FASHION_MNIST.to_owned());
    if let Some((train, _)) = load_installed(std::path::Path::new(&dir))? {
        return Ok((train, dir));
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    let all = Dataset::load(&dir.join("t10k-images-idx3-ubyte.gz"), &dir.join("t10k-labels-idx1-ubyte.gz"))?;
    Ok((all, dir.display().to_string()))
}

/// The second of two epochs on `device` (the first compiles the step and uploads the data).
fn ours(device: &Device, train: &Dataset, batch: usize) -> Result<f64> {
    let mut c = Classifier::new(device, models::fashion_cnn(0)?, Optimizer::adam(1e-3), batch, 1000)?;
    c.train_epoch(train, &mut init::rng(0), |_| {})?;
    Ok(c.train_epoch(train, &mut init::rng(1), |_| {})?.samples_per_sec)
}

/// The slowest launches of one of our training steps at `batch`, after a warm-up epoch.
fn print_profile(train: &Dataset, batch: usize) -> Result<()> {
    let mut c = Classifier::new(&Device::Cpu, models::fashion_cnn(0)?, Optimizer::adam(1e-3), batch, 1000)?;
    c.train_epoch(train, &mut init::rng(0), |_| {})?;
    let mut epoch = c.epoch(train, &mut init::rng(1))?;
    epoch.steps(3.min(epoch.remaining() - 1))?;
    let mut times = epoch.profile_step()?;
    let total: f64 = times.iter().map(|t| t.micros).sum();
    times.sort_by(|a, b| b.micros.total_cmp(&a.micros));
    println!("one step at batch {batch}: {total:.0} µs in {} launches; the slowest:", times.len());
    for t in times.iter().take(12) {
        println!("{:>9.0} µs {:>5.1}%  {}", t.micros, 100.0 * t.micros / total, t.what);
    }
    Ok(())
}

/// PyTorch's samples/s for the same epoch, or why there is none.
fn theirs(batch: usize, limit: usize, threads: &str) -> std::result::Result<f64, String> {
    let args = ["--bench", "--batch", &batch.to_string(), "--limit", &limit.to_string(), "--threads", threads];
    let lines = torch::run_script("cnn_torch.py", &args)?;
    torch::value(&lines, "samples/s").ok_or_else(|| "it printed no samples/s".to_owned())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<()> {
    let limit: usize = arg("--limit").and_then(|v| v.parse().ok()).unwrap_or(6400);
    let rounds: usize = arg("--rounds").and_then(|v| v.parse().ok()).unwrap_or(3).max(1);
    let threads =
        arg("--threads").unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()).to_string());
    let (all, source) = data()?;
    let train = all.split_at(limit.min(all.len())).0;
    println!("cnn (conv 32, conv 64, linear 128), Adam, second epoch of {} samples of {source}", train.len());
    println!("samples/s, the median of {rounds} rounds, ours and PyTorch's taking turns");
    println!(
        "{:>6} {:>14} {:>16} {:>8}   each round (ours / pytorch)",
        "batch", "ours (cpu)", "pytorch (cpu)", "ratio"
    );
    for batch in [64usize, 256] {
        let (mut ours_all, mut theirs_all, mut rows) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            let o = ours(&Device::Cpu, &train, batch)?;
            ours_all.push(o);
            match theirs(batch, train.len(), &threads) {
                Ok(t) => {
                    theirs_all.push(t);
                    rows.push(format!("{o:.0} / {t:.0}"));
                }
                Err(why) => {
                    println!("pytorch did not run: {why}");
                    rows.push(format!("{o:.0} / -"));
                }
            }
        }
        let ours = median(ours_all);
        let (text, ratio) = match theirs_all.is_empty() {
            false => {
                let t = median(theirs_all);
                (format!("{t:.0}"), format!("{:.2}", ours / t))
            }
            true => ("-".into(), "-".into()),
        };
        println!("{batch:>6} {ours:>14.0} {text:>16} {ratio:>8}   {}", rows.join(", "));
    }
    if std::env::args().any(|a| a == "--profile") {
        for batch in [64, 256] {
            print_profile(&train, batch)?;
        }
    }
    if !std::env::args().any(|a| a == "--no-gpu") {
        gpu_table(&train)?;
    }
    Ok(())
}

/// Our GPU's step beside PyTorch's on CUDA, eager and in a CUDA graph, µs per step.
fn gpu_table(train: &Dataset) -> Result<()> {
    let gpu = match Device::gpu() {
        Ok(gpu) => gpu,
        Err(why) => {
            println!("\nno GPU comparison: {why}");
            return Ok(());
        }
    };
    let software = gpu.name().contains("llvmpipe");
    let batches: &[usize] = if software { &[64] } else { &[64, 256] };
    let list = batches.iter().map(|b| b.to_string()).collect::<Vec<_>>().join(",");
    let theirs = torch::run(&["cnn", "--batches", &list]).unwrap_or_else(|why| {
        println!("pytorch did not run: {why}");
        Vec::new()
    });
    println!("\nGPU ({}), µs per training step", gpu.name());
    println!("{:>6} {:>12} {:>14} {:>12} {:>8}", "batch", "ours", "pytorch eager", "cuda graph", "ratio");
    for &batch in batches {
        let few = software.then(|| train.split_at(2 * batch).0);
        let step_us = batch as f64 / ours(&gpu, few.as_ref().unwrap_or(train), batch)? * 1e6;
        let find = |mode: &str| torch::value(&theirs, &format!("cnn cuda {mode} {batch}"));
        let (eager, graph) = (find("eager"), find("graph"));
        let show = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.1}"));
        let ratio = graph.or(eager).map_or("-".into(), |t| format!("{:.2}", t / step_us));
        println!("{batch:>6} {step_us:>12.1} {:>14} {:>12} {ratio:>8}", show(eager), show(graph));
    }
    println!("ratio: PyTorch's best (its CUDA graph where there is one) over ours; above 1 we are faster.");
    Ok(())
}
