//! Training converges with a fixed seed on every backend.

use backprop::models::{Xor, XOR_INPUTS, XOR_TARGETS};
use backprop::Device;

use crate::backend_test;

/// Trains XOR as the example does (seed 42, lr 0.1, 10,000 steps) and returns the final
/// loss and the predictions of the trained network.
fn train_xor(device: &Device) -> (f32, Vec<f32>) {
    let net = Xor::new(42, 0.1).unwrap();
    let mut train = device.compile(&net.graph, &[net.loss]).unwrap();
    train.write(net.x, &XOR_INPUTS).unwrap();
    train.write(net.y, &XOR_TARGETS).unwrap();
    for _ in 0..9_999 {
        train.run().unwrap();
    }
    let loss = train.run_and_read(&[net.loss]).unwrap()[0][0];
    let mut infer = device.compile_inference(&net.graph, &[net.prediction]).unwrap();
    train.copy_to(infer.as_mut(), &net.params).unwrap();
    infer.write(net.x, &XOR_INPUTS).unwrap();
    (loss, infer.run_and_read(&[net.prediction]).unwrap().remove(0))
}

backend_test!(xor_converges, |device| {
    let (loss, predictions) = train_xor(&device);
    assert!(loss < 0.02, "final loss {loss} on {}", device.name());
    for (p, t) in predictions.iter().zip(XOR_TARGETS) {
        assert!((p - t).abs() < 0.35, "prediction {p} for target {t}: {predictions:?}");
    }
});

#[test]
fn xor_gpu_matches_cpu_to_three_decimals() {
    let Some(device) = crate::common::gpu("xor_gpu_matches_cpu_to_three_decimals") else { return };
    let (_, cpu) = train_xor(&Device::Cpu);
    let (_, gpu) = train_xor(&device);
    for (g, c) in gpu.iter().zip(&cpu) {
        assert!((g - c).abs() < 5e-4, "gpu {gpu:?} vs cpu {cpu:?}");
    }
}
