//! `Classifier` beyond Fashion-MNIST: any class count (taken from the model), a loss
//! written as a closure over the recorded graph, and gradients readable by name.

use std::sync::Arc;

use backprop::classifier::{Classifier, LossFn, LossInputs, TrainOptions};
use backprop::data::Dataset;
use backprop::nn::{Init, Layer, Sequential};
use backprop::{init, Device, Graph, NodeId, Optimizer, Result};

/// 150 six-value samples; the class is which of the first three values is largest.
fn three_classes() -> Dataset {
    let mut rng = init::rng(9);
    let images: Vec<f32> = init::uniform(&mut rng, [150, 6], 1.0).unwrap();
    let labels = images.chunks(6).map(|x| (0..3).max_by(|&a, &b| x[a].total_cmp(&x[b])).unwrap() as u8).collect();
    Dataset::with_classes(images, labels, 6, 3).unwrap()
}

/// Cross-entropy from log-softmax, averaged over the real rows.
fn cross_entropy(g: &mut Graph, l: &LossInputs) -> Result<NodeId> {
    let log_p = g.log_softmax(l.logits)?;
    let picked = g.mul(log_p, l.targets)?;
    let total = g.sum(picked)?;
    let rows = g.sum(l.rows)?;
    let mean = g.div(total, rows)?;
    g.neg(mean)
}

fn classifier(device: &Device, options: TrainOptions) -> Classifier {
    let model = Sequential::mlp(&[6, 16, 3], Layer::Relu, Init::PyTorch, &mut init::rng(1)).unwrap();
    Classifier::with_options(device, model, Optimizer::adam(0.01), 32, 64, options).unwrap()
}

pub fn any_class_count_and_a_custom_loss(device: &Device) {
    let data = three_classes();
    // The same cross-entropy as a closure gives the default's losses (150 = 4 batches of
    // 32 and a padded one of 22: the row mask keeps padding out).
    let custom: LossFn = Arc::new(cross_entropy);
    let mut plain = classifier(device, TrainOptions::default());
    let mut written = classifier(device, TrainOptions { loss: Some(custom), ..Default::default() });
    for epoch in 0..3 {
        let a = plain.train_epoch(&data, &mut init::epoch_rng(0, epoch), |_| {}).unwrap().mean_loss;
        let b = written.train_epoch(&data, &mut init::epoch_rng(0, epoch), |_| {}).unwrap().mean_loss;
        assert!((a - b).abs() <= 1e-5 * a.abs().max(1.0), "epoch {epoch}: built-in {a}, closure {b}");
    }
    // An L2 penalty over the weights, and the gradients kept and read by name.
    let penalised: LossFn = Arc::new(|g, l| {
        let mut loss = cross_entropy(g, l)?;
        for (_, p) in l.params.iter().filter(|(name, _)| name.ends_with("weight")) {
            let squares = g.sum_squares(*p)?;
            let term = g.scale(squares, 1e-3)?;
            loss = g.add(loss, term)?;
        }
        Ok(loss)
    });
    let options = TrainOptions { loss: Some(penalised), keep_gradients: true, ..Default::default() };
    let mut c = classifier(device, options);
    for epoch in 0..30 {
        c.train_epoch(&data, &mut init::epoch_rng(1, epoch), |_| {}).unwrap();
    }
    let eval = c.evaluate(&data).unwrap();
    assert!(eval.accuracy >= 0.9, "accuracy {}", eval.accuracy);
    let grad = c.gradient("0.weight").unwrap();
    assert!(grad.len() == 16 * 6 && grad.iter().all(|v| v.is_finite()) && grad.iter().any(|&v| v != 0.0));
    assert!(c.gradient("5.weight").unwrap_err().to_string().contains("no parameter '5.weight'; there are 0.weight"));
    assert!(plain.gradient("0.weight").unwrap_err().to_string().contains("keep_gradients"));
    // Data of another class count, and a loss that is not a scalar.
    let ten = Dataset::new(vec![0.5; 12], vec![1, 7], 6).unwrap();
    let err = c.train_epoch(&ten, &mut init::rng(0), |_| {}).unwrap_err().to_string();
    assert!(err.contains("the data has 10 classes; the model's last layer has 3 outputs"), "{err}");
    let vector: LossFn = Arc::new(|g, l| g.sum_cols(l.logits));
    let model = Sequential::mlp(&[6, 16, 3], Layer::Relu, Init::PyTorch, &mut init::rng(1)).unwrap();
    let options = TrainOptions { loss: Some(vector), ..Default::default() };
    let err = Classifier::with_options(device, model, Optimizer::adam(0.01), 32, 64, options).err().unwrap();
    assert!(err.to_string().contains("the loss function returned [32, 1]; it must return one value"), "{err}");
    // One value of another rank (a rank-0 scalar) is a loss as well.
    let rank_zero: LossFn = Arc::new(|g, l| {
        let loss = g.softmax_cross_entropy(l.logits, l.targets)?;
        g.reshape(loss, [0usize; 0])
    });
    let model = Sequential::mlp(&[6, 16, 3], Layer::Relu, Init::PyTorch, &mut init::rng(1)).unwrap();
    let options = TrainOptions { loss: Some(rank_zero), ..Default::default() };
    let mut c = Classifier::with_options(device, model, Optimizer::adam(0.01), 32, 64, options).unwrap();
    assert!(c.train_epoch(&three_classes(), &mut init::rng(0), |_| {}).unwrap().mean_loss.is_finite());
}

/// `save` then `load` into a fresh classifier continues training exactly: one epoch, save,
/// load, one more equals two epochs straight (parameters bit for bit).
pub fn save_and_load_continue_exactly(device: &Device) {
    let data = three_classes();
    let dir = crate::files::temp_dir("classifier-save");
    let path = dir.join("model.safetensors");
    let weights = |c: &mut Classifier| -> Vec<Vec<f32>> {
        c.model().unwrap().state_dict().into_iter().map(|t| t.values).collect()
    };
    let mut straight = classifier(device, TrainOptions::default());
    for epoch in 0..2 {
        straight.train_epoch(&data, &mut init::epoch_rng(0, epoch), |_| {}).unwrap();
    }
    let mut first = classifier(device, TrainOptions::default());
    first.train_epoch(&data, &mut init::epoch_rng(0, 0), |_| {}).unwrap();
    first.save(&path, 1, 0, data.len()).unwrap();
    let mut second = classifier(device, TrainOptions::default());
    let state = second.load(&path).unwrap();
    assert_eq!((state.epoch, state.seed, state.samples), (1, 0, 150));
    second.train_epoch(&data, &mut init::epoch_rng(0, 1), |_| {}).unwrap();
    assert_eq!(weights(&mut second), weights(&mut straight));
    // Another optimizer is refused.
    let model = Sequential::mlp(&[6, 16, 3], Layer::Relu, Init::PyTorch, &mut init::rng(1)).unwrap();
    let mut sgd = Classifier::new(device, model, Optimizer::sgd(0.1), 32, 64).unwrap();
    assert!(sgd.load(&path).unwrap_err().to_string().contains("saved with Adam"));
    std::fs::remove_dir_all(dir).unwrap();
}

/// Accuracy and mean loss computed on the host from the trained model, one sample at a
/// time: what `Classifier::evaluate` (summed on the device) must give.
fn evaluate_on_the_host(model: &Sequential, data: &Dataset) -> (f32, f64) {
    let mut g = Graph::new();
    let x = g.input("x", [1, data.pixels()]).unwrap();
    let out = model.record_eval(&mut g, x).unwrap().output;
    let mut session = Device::Cpu.compile_inference(&g, &[out]).unwrap();
    let (mut correct, mut loss) = (0usize, 0.0f64);
    for (image, &label) in data.images().chunks(data.pixels()).zip(data.labels()) {
        session.write(x, image).unwrap();
        let logits = session.run_and_read(&[out]).unwrap().remove(0);
        let best = (0..logits.len()).max_by(|&a, &b| logits[a].total_cmp(&logits[b])).unwrap();
        correct += (best == label as usize) as usize;
        let max = logits.iter().copied().fold(f32::MIN, f32::max) as f64;
        let lse = max + logits.iter().map(|&z| (z as f64 - max).exp()).sum::<f64>().ln();
        loss += lse - logits[label as usize] as f64;
    }
    (correct as f32 / data.len() as f32, loss / data.len() as f64)
}

pub fn evaluation_on_the_device_equals_the_host(device: &Device) {
    // 150 samples in evaluation batches of 64: the last one padded.
    let data = three_classes();
    let mut c = classifier(device, TrainOptions::default());
    for epoch in 0..5 {
        c.train_epoch(&data, &mut init::epoch_rng(2, epoch), |_| {}).unwrap();
    }
    let (accuracy, loss) = evaluate_on_the_host(&c.model().unwrap(), &data);
    let got = c.evaluate(&data).unwrap();
    assert_eq!(got.accuracy, accuracy, "the same predictions");
    // f32 sums on the device against f64 on the host: 1e-5 relative; a padding row
    // counted or a batch weighted wrongly costs a few percent.
    assert!(((got.loss as f64) - loss).abs() <= 1e-5 * loss, "loss {} against {loss}", got.loss);
    assert!(accuracy > 0.5, "trained: {accuracy}");
    // A second data set evaluates on its own (held anew), the first again after it.
    let (first, second) = data.split_at(100);
    assert_eq!(c.evaluate(&second).unwrap().accuracy, evaluate_on_the_host(&c.model().unwrap(), &second).0);
    assert_eq!(c.evaluate(&first).unwrap().accuracy, evaluate_on_the_host(&c.model().unwrap(), &first).0);
    // Back to the one before (kept aside, not compiled again), after more training.
    c.train_epoch(&data, &mut init::rng(5), |_| {}).unwrap();
    assert_eq!(c.evaluate(&second).unwrap().accuracy, evaluate_on_the_host(&c.model().unwrap(), &second).0);
}

/// More samples than an f32 order indexes exactly (2²⁴ + 1): the classifier writes the
/// batches from the host instead of holding the data set, and trains and evaluates.
pub fn data_sets_too_large_to_hold_are_fed_from_the_host() {
    let n = (1 << 24) + 1;
    let images: Vec<f32> = (0..n).map(|i| if i % 2 == 0 { 1.0 } else { -1.0 }).collect();
    let labels: Vec<u8> = (0..n).map(|i| (i % 2) as u8).collect();
    let data = Dataset::with_classes(images, labels, 1, 2).unwrap();
    let model = Sequential::mlp(&[1, 2], Layer::Relu, Init::PyTorch, &mut init::rng(3)).unwrap();
    let mut c = Classifier::new(&Device::Cpu, model, Optimizer::sgd(0.5), 1 << 16, 1 << 16).unwrap();
    let stats = c.train_epoch(&data, &mut init::rng(4), |_| {}).unwrap();
    assert!(stats.mean_loss.is_finite());
    let evaluation = c.evaluate(&data).unwrap();
    assert_eq!(evaluation.accuracy, 1.0, "the sign decides the class");
}
