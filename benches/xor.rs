//! XOR training-loop wall time: our CPU and GPU backends side by side with the textbook
//! NumPy loop (and PyTorch eager, where installed), all measured in this one run.
//!
//! cargo bench --bench xor [-- EPOCHS]

use std::process::Command;
use std::time::Instant;

use backprop::models::{Xor, XOR_INPUTS, XOR_TARGETS};
use backprop::{Device, Result};

/// Seconds for `epochs` training steps, from the first submission to the last result.
fn ours(device: &Device, epochs: usize) -> Result<f64> {
    let net = Xor::new(42, 0.1)?;
    let mut session = device.compile(&net.graph, &[net.loss])?;
    session.write(net.x, &XOR_INPUTS)?;
    session.write(net.y, &XOR_TARGETS)?;
    session.run_and_read(&[net.loss])?; // warm-up: first submission, staging buffer
    let start = Instant::now();
    for _ in 0..epochs {
        session.run()?;
    }
    session.read(net.params[0])?;
    Ok(start.elapsed().as_secs_f64())
}

/// Runs `benches/xor_reference.py IMPL`, or says why it could not.
fn reference(implementation: &str, epochs: usize) -> std::result::Result<f64, String> {
    let local = std::path::Path::new("benches/xor_reference.py");
    let script =
        if local.exists() { local.to_path_buf() } else { std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(local) };
    let out = Command::new("python3")
        .arg(script)
        .args([implementation, &epochs.to_string()])
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(err.lines().last().unwrap_or("failed").to_owned());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or(format!("unexpected output: {text}"))
}

fn row(name: &str, seconds: std::result::Result<f64, String>, epochs: usize) {
    match seconds {
        Ok(s) => println!("{name:<52} {s:>9.3} s  {:>9.1} µs/step", s * 1e6 / epochs as f64),
        Err(why) => println!("{name:<52} {:>9}    ({why})", "n/a"),
    }
}

fn main() {
    let epochs = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(10_000);
    println!("XOR 2-4-1 sigmoid, MSE, SGD lr 0.1: {epochs} training steps");
    row("backprop cpu (reference)", ours(&Device::Cpu, epochs).map_err(|e| e.to_string()), epochs);
    match Device::gpu() {
        Ok(device) => {
            row(&format!("backprop {}", device.name()), ours(&device, epochs).map_err(|e| e.to_string()), epochs)
        }
        Err(e) => row("backprop gpu", Err(e.to_string()), epochs),
    }
    for implementation in ["numpy", "torch-cpu", "torch-cuda"] {
        row(&format!("{implementation} (python)"), reference(implementation, epochs), epochs);
    }
}
