//! Training throughput of the Fashion-MNIST MLP (784-128-64-10, Adam): our CPU backend next
//! to PyTorch's CPU at batch 64, 256 and 1024, with the ratio; then, at batch 64, the wall
//! time of `--epochs` epochs with an evaluation of the test set after each, on our GPU
//! backend (a hardware adapter) next to PyTorch on CUDA, eager and with its step captured
//! in a CUDA graph (`benches/torch_gpu.py`). All measured in this run.
//!
//! With `--peer 'COMMAND'`, another trainer runs after ours at each batch and its figure
//! is printed beside ours with the ratio: `{batch}`, `{epochs}` and `{data}` in the
//! command are filled in, it runs through `sh -c`, and its output must hold `samples/s=N`
//! or `N samples/s`.
//!
//! cargo bench --bench mlp [-- --data DIR --epochs 1 --limit N --gpu-only --peer 'COMMAND']

use std::path::PathBuf;
use std::time::Instant;

#[path = "common/torch.rs"]
mod torch;

use backprop::classifier::Classifier;
use backprop::data::{load_mnist_dir, Dataset, DEBIAN_FASHION_MNIST};
use backprop::nn::{Init, Layer, Sequential};
use backprop::{init, Device, Optimizer, Result};

struct Options {
    data: PathBuf,
    epochs: usize,
    limit: Option<usize>,
    peer: Option<String>,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    Options {
        data: value("--data").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(DEBIAN_FASHION_MNIST)),
        epochs: value("--epochs").and_then(|v| v.parse().ok()).unwrap_or(1),
        limit: value("--limit").and_then(|v| v.parse().ok()),
        peer: value("--peer"),
    }
}

/// `(samples per second over all epochs, final test accuracy)`.
fn ours(device: &Device, train: &Dataset, test: &Dataset, epochs: usize, batch: usize) -> Result<(f64, f32)> {
    let mut rng = init::rng(0);
    let model = Sequential::mlp(&[784, 128, 64, 10], Layer::Relu, Init::PyTorch, &mut rng)?;
    let mut classifier = Classifier::new(device, model, Optimizer::adam(1e-3), batch, 1000)?;
    let mut seconds = 0.0;
    for _ in 0..epochs {
        let stats = classifier.train_epoch(train, &mut rng, |_| {})?;
        seconds += train.len() as f64 / stats.samples_per_sec;
    }
    Ok(((train.len() * epochs) as f64 / seconds, classifier.evaluate(test)?.accuracy))
}

/// Runs `benches/mlp_torch.py` and parses its per-epoch samples/s and final accuracy.
fn pytorch(device: &str, o: &Options, batch: usize) -> std::result::Result<(f64, f32), String> {
    let mut args: Vec<String> = ["--device", device, "--epochs", &o.epochs.to_string(), "--batch", &batch.to_string()]
        .map(str::to_owned)
        .to_vec();
    args.extend(["--data".to_owned(), o.data.display().to_string()]);
    if let Some(limit) = o.limit {
        args.extend(["--limit".to_owned(), limit.to_string()]);
    }
    let lines = torch::run_script("mlp_torch.py", &args)?;
    let rates: Vec<f64> =
        lines.iter().filter_map(|l| l.strip_suffix(" samples/s")?.rsplit(' ').next()?.parse().ok()).collect();
    let accuracy = lines.last().and_then(|l| l.strip_prefix("test accuracy: ")?.parse().ok());
    match (rates.is_empty(), accuracy) {
        (false, Some(a)) => Ok((rates.len() as f64 / rates.iter().map(|r| 1.0 / r).sum::<f64>(), a)),
        _ => Err(format!("unexpected output: {}", lines.join("\n"))),
    }
}

/// Runs the `--peer` command for `batch`: `(its name, samples per second)`.
fn peer(command: &str, o: &Options, batch: usize) -> std::result::Result<(String, f64), String> {
    let filled = command
        .replace("{batch}", &batch.to_string())
        .replace("{epochs}", &o.epochs.to_string())
        .replace("{data}", &o.data.display().to_string());
    let program = filled.split_whitespace().next().ok_or("an empty command")?;
    let output = std::process::Command::new("sh").args(["-c", &filled]).output().map_err(|e| format!("sh: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let number = |w: &str| w.trim_matches(|c: char| !c.is_ascii_digit() && c != '.').parse::<f64>().ok();
    let words: Vec<&str> = text.split_whitespace().collect();
    let rate = words.iter().enumerate().find_map(|(i, w)| match w.strip_prefix("samples/s=") {
        Some(value) => number(value),
        None if *w == "samples/s" && i > 0 => number(words[i - 1]),
        None => None,
    });
    let name = std::path::Path::new(program).file_name().map_or(program.into(), |n| n.to_string_lossy().into_owned());
    match rate {
        Some(rate) if output.status.success() => Ok((name, rate)),
        _ => Err(format!("{name} gave no samples/s ({})", output.status)),
    }
}

fn row(name: &str, result: &std::result::Result<(f64, f32), String>) {
    match result {
        Ok((rate, accuracy)) => println!("{name:<52} {rate:>10.0} samples/s   test accuracy {accuracy:.4}"),
        Err(why) => println!("{name:<52} {:>10}             ({why})", "n/a"),
    }
}

/// `(seconds, final test accuracy)` of `epochs` epochs on `device` at batch 64 with an
/// evaluation after each, as `torch_gpu.py train` times PyTorch's.
fn ours_with_evaluation(device: &Device, train: &Dataset, test: &Dataset, epochs: usize) -> Result<(f64, f32)> {
    let mut rng = init::rng(0);
    let model = Sequential::mlp(&[784, 128, 64, 10], Layer::Relu, Init::PyTorch, &mut rng)?;
    let mut classifier = Classifier::new(device, model, Optimizer::adam(1e-3), 64, 1000)?;
    let start = Instant::now();
    let mut accuracy = 0.0;
    for _ in 0..epochs {
        classifier.train_epoch(train, &mut rng, |_| {})?;
        accuracy = classifier.evaluate(test)?.accuracy;
    }
    Ok((start.elapsed().as_secs_f64(), accuracy))
}

/// Our GPU beside PyTorch on CUDA, eager and graph-captured: wall time of whole epochs.
fn gpu_epochs(o: &Options, train: &Dataset, test: &Dataset) {
    println!("\n{} epoch(s) at batch 64 with an evaluation after each, wall time:", o.epochs);
    match Device::auto().device {
        d @ Device::Gpu(_) => match ours_with_evaluation(&d, train, test, o.epochs) {
            Ok((s, a)) => println!("{:<44} {s:>8.2} s   test accuracy {a:.4}", format!("backprop {}", d.name())),
            Err(e) => println!("backprop gpu: {e}"),
        },
        // A software rasterizer is no GPU to measure: only a hardware adapter is timed.
        Device::Cpu => println!("backprop gpu: no hardware GPU adapter"),
    }
    let mut args = vec!["train".to_owned(), "--epochs".into(), o.epochs.to_string(), "--data".into()];
    args.push(o.data.display().to_string());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match torch::run(&args) {
        Ok(lines) => {
            for mode in ["eager", "graph"] {
                for device in ["cuda", "cpu"] {
                    let seconds = torch::value(&lines, &format!("train {device} {mode} 64"));
                    let accuracy = torch::value(&lines, &format!("accuracy {device} {mode} 64"));
                    if let (Some(s), Some(a)) = (seconds, accuracy) {
                        println!("{:<44} {s:>8.2} s   test accuracy {a:.4}", format!("pytorch {mode} {device}"));
                    }
                }
            }
        }
        Err(why) => println!("pytorch: not run ({why})"),
    }
}

fn main() {
    let o = options();
    let (mut train, test) = match load_mnist_dir(&o.data) {
        Ok(data) => data,
        Err(e) => return eprintln!("needs the full data set ({e}); install dataset-fashion-mnist or pass --data DIR"),
    };
    if let Some(limit) = o.limit {
        train = train.split_at(limit).0;
    }
    println!("MLP 784-128-64-10, Adam lr 1e-3: {} epoch(s) of {} samples", o.epochs, train.len());
    if std::env::args().any(|a| a == "--gpu-only") {
        return gpu_epochs(&o, &train, &test);
    }
    for batch in [64, 256, 1024] {
        let mine = ours(&Device::Cpu, &train, &test, o.epochs, batch).map_err(|e| e.to_string());
        let theirs = pytorch("cpu", &o, batch);
        row(&format!("batch {batch:>4}: backprop cpu"), &mine);
        row(&format!("batch {batch:>4}: pytorch eager cpu"), &theirs);
        if let (Ok((a, _)), Ok((b, _))) = (&mine, &theirs) {
            println!("batch {batch:>4}: backprop / pytorch on the cpu = {:.2}", a / b);
        }
        match o.peer.as_deref().map(|command| peer(command, &o, batch)) {
            Some(Ok((name, rate))) => {
                println!("{:<52} {rate:>10.0} samples/s", format!("batch {batch:>4}: {name}"));
                if let Ok((a, _)) = &mine {
                    println!("batch {batch:>4}: backprop / {name} = {:.2}", a / rate);
                }
            }
            Some(Err(why)) => println!("batch {batch:>4}: peer not measured ({why})"),
            None => {}
        }
    }
    gpu_epochs(&o, &train, &test);
}
