//! Dropout: masks drawn on the device from a hash, the same bits on both backends, a new
//! mask each step, about `p` of the elements dropped, the gradient through the same mask,
//! and off in evaluation.

use backprop::classifier::Classifier;
use backprop::nn::{Init, Layer, Linear, Sequential};
use backprop::{init, Device, Graph, Optimizer};

/// The masks of two training steps of `dropout(ones, 0.3)` on `device`.
fn two_masks(device: &Device) -> Vec<Vec<f32>> {
    let mut g = Graph::new();
    let x = g.constant([300, 333], vec![1.0; 300 * 333]).unwrap();
    let y = g.dropout(x, 0.3, 7).unwrap();
    let mut session = device.compile(&g, &[y]).unwrap();
    (0..2).map(|_| session.run_and_read(&[y]).unwrap().remove(0)).collect()
}

pub fn masks_drop_p_and_agree_with_the_reference(device: &Device) {
    let masks = two_masks(device);
    for mask in &masks {
        let dropped = mask.iter().filter(|&&v| v == 0.0).count() as f64 / mask.len() as f64;
        // 99,900 draws: the standard deviation of the fraction is 0.0015.
        assert!((dropped - 0.3).abs() < 0.01, "dropped {dropped}");
        assert!(mask.iter().all(|&v| v == 0.0 || v == 1.0 / 0.7), "kept values are scaled by 1 / (1 − p)");
    }
    assert_ne!(masks[0], masks[1], "a new mask each step");
    assert_eq!(masks, two_masks(&Device::Cpu), "the same bits as the CPU reference");
}

pub fn the_gradient_goes_through_the_same_mask(device: &Device) {
    let mut g = Graph::new();
    let w = g.parameter("w", [4, 50], (0..200).map(|i| 0.5 + i as f32 / 200.0).collect()).unwrap();
    let y = g.dropout(w, 0.5, 1).unwrap();
    let c = g.constant([4, 50], (0..200).map(|i| (i % 7) as f32 - 3.0).collect()).unwrap();
    let weighted = g.mul(y, c).unwrap();
    let loss = g.sum(weighted).unwrap();
    let grads = g.backward(loss).unwrap();
    let dw = grads.get(w).unwrap();
    let mut session = device.compile(&g, &[y, dw]).unwrap();
    let out = session.run_and_read(&[y, dw, w]).unwrap();
    let cs: Vec<f32> = (0..200).map(|i| (i % 7) as f32 - 3.0).collect();
    for i in 0..200 {
        let mask = out[0][i] / out[2][i];
        assert!((out[1][i] - cs[i] * mask).abs() < 1e-5, "element {i}: dw {} for mask {mask}", out[1][i]);
    }
    assert!(g.dropout(w, 1.0, 0).is_err() && g.dropout(w, -0.1, 0).is_err());
    assert_eq!(g.dropout(w, 0.0, 0).unwrap(), w, "p = 0 is the identity");
}

/// A classifier with dropout trains with it and evaluates without: two evaluations of the
/// same parameters agree exactly.
pub fn dropout_is_off_in_evaluation(device: &Device) {
    let data = crate::optimizers::synthetic(96);
    let mut rng = init::rng(4);
    let layers = vec![
        Layer::Linear(Linear::new(12, 32, Init::PyTorch, &mut rng).unwrap()),
        Layer::Relu,
        Layer::Dropout { p: 0.5, seed: 3 },
        Layer::Linear(Linear::new(32, 10, Init::PyTorch, &mut rng).unwrap()),
    ];
    let model = Sequential::from(layers);
    let mut c = Classifier::new(device, model, Optimizer::adam(0.01), 32, 96).unwrap();
    c.train_epoch(&data, &mut init::rng(0), |_| {}).unwrap();
    let (a, b) = (c.evaluate(&data).unwrap(), c.evaluate(&data).unwrap());
    assert_eq!((a.loss, a.accuracy), (b.loss, b.accuracy));
    let bad = Sequential::from(vec![Layer::Dropout { p: 1.5, seed: 0 }]);
    let mut g = Graph::new();
    let x = g.input("x", [2, 2]).unwrap();
    assert!(bad.record_eval(&mut g, x).is_err() && bad.record(&mut g, x).is_err());
}
