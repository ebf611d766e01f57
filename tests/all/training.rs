//! Training converges with a fixed seed on every backend.

use backprop::models::{Xor, XOR_INPUTS, XOR_TARGETS};
use backprop::Device;

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

pub fn xor_converges(device: &Device) {
    let (loss, predictions) = train_xor(device);
    assert!(loss < 0.02, "final loss {loss} on {}", device.name());
    for (p, t) in predictions.iter().zip(XOR_TARGETS) {
        assert!((p - t).abs() < 0.35, "prediction {p} for target {t}: {predictions:?}");
    }
}

pub fn xor_gpu_matches_cpu_to_three_decimals(device: &Device) {
    let (_, cpu) = train_xor(&Device::Cpu);
    let (_, gpu) = train_xor(device);
    for (g, c) in gpu.iter().zip(&cpu) {
        assert!((g - c).abs() < 5e-4, "gpu {gpu:?} vs cpu {cpu:?}");
    }
}

/// The first `n` samples of the Fashion-MNIST test split the repository ships in data/.
fn fashion_subset(n: usize) -> backprop::data::Dataset {
    // Relative: cargo runs tests from the package root.
    let dir = std::path::Path::new("data");
    let all =
        backprop::data::Dataset::load(&dir.join("t10k-images-idx3-ubyte.gz"), &dir.join("t10k-labels-idx1-ubyte.gz"))
            .unwrap();
    all.split_at(n).0
}

// 600 real samples: train on 400, test on 200 never seen. Ten classes make chance 10%;
// with seed 0 this network reaches about 74% on both backends.
pub fn small_mlp_learns_fashion_mnist(device: &Device) {
    use backprop::classifier::Classifier;
    use backprop::nn::{Init, Layer, Sequential};
    use backprop::{init, Optimizer};
    let (train, test) = fashion_subset(600).split_at(400);
    let mut rng = init::rng(0);
    let model = Sequential::mlp(&[784, 64, 10], Layer::Relu, Init::PyTorch, &mut rng).unwrap();
    let mut classifier = Classifier::new(device, model, Optimizer::adam(2e-3), 32, 200).unwrap();
    let before = classifier.evaluate(&test).unwrap().accuracy;
    for _ in 0..8 {
        classifier.train_epoch(&train, &mut rng, |_| {}).unwrap();
    }
    let after = classifier.evaluate(&test).unwrap();
    eprintln!("{}: accuracy {before:.3} -> {:.3}, loss {:.3}", device.name(), after.accuracy, after.loss);
    assert!(after.accuracy >= 0.70, "held-out accuracy {:.3} (was {before:.3})", after.accuracy);
}
