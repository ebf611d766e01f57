//! The native `xor` example's run, awaited instead of blocking: the page's proof that
//! training in the browser computes what a native program does.

use backprop::models::{Xor, XOR_INPUTS, XOR_TARGETS};
use backprop::Device;

/// Trains the 2-4-1 network of `cargo run --example xor` (seed 42, SGD 0.1) for `epochs`
/// steps on `device` and returns its predictions for the four inputs.
///
/// # Errors
///
/// The library's errors, in words.
pub async fn train_and_predict(device: &Device, epochs: usize) -> Result<Vec<f32>, String> {
    let words = |e: backprop::Error| e.to_string();
    let net = Xor::new(42, 0.1).map_err(words)?;
    let mut train = device.compile(&net.graph, &[net.loss]).map_err(words)?;
    train.write(net.x, &XOR_INPUTS).map_err(words)?;
    train.write(net.y, &XOR_TARGETS).map_err(words)?;
    // The same steps as the example's loop, recorded a thousand to a submission.
    for done in (0..epochs).step_by(1000) {
        train.run_steps((epochs - done).min(1000)).map_err(words)?;
    }
    let mut infer = device.compile_inference(&net.graph, &[net.prediction]).map_err(words)?;
    train.copy_to(infer.as_mut(), &net.params).map_err(words)?;
    infer.write(net.x, &XOR_INPUTS).map_err(words)?;
    Ok(infer.run_and_read_async(&[net.prediction]).await.map_err(words)?.remove(0))
}
