//! Optimizer updates: the CPU reference against PyTorch's formulas written out in f64,
//! and whole training steps of a small MLP with Adam and momentum SGD, GPU against CPU.

use backprop::classifier::Classifier;
use backprop::data::Dataset;
use backprop::nn::{Init, Layer, Sequential};
use backprop::{init, Device, Graph, NodeId, Optimizer, Shape};

use crate::common::{assert_close, Tolerance, TRAINING};

/// A graph whose loss is `sum(p ⊙ c)`, so the gradient of `p` is exactly `c`.
fn linear_loss(p0: &[f32], c: &[f32], optimizer: Optimizer) -> (Graph, NodeId) {
    let shape = Shape::new(1, p0.len());
    let mut g = Graph::new();
    let p = g.parameter("p", shape, p0.to_vec()).unwrap();
    let c = g.constant(shape, c.to_vec()).unwrap();
    let prod = g.mul(p, c).unwrap();
    let loss = g.sum(prod).unwrap();
    let grads = g.backward(loss).unwrap();
    g.optimize(&grads, optimizer).unwrap();
    (g, p)
}

const P0: [f32; 4] = [0.5, -1.0, 2.0, 0.0];
const GRAD: [f32; 4] = [0.3, -0.2, 1.5, -4.0];
const TIGHT: Tolerance = Tolerance { atol: 1e-6, rtol: 1e-5 };

fn run_steps(device: &Device, optimizer: Optimizer, steps: usize) -> Vec<f32> {
    let (g, p) = linear_loss(&P0, &GRAD, optimizer);
    let mut session = device.compile(&g, &[]).unwrap();
    for _ in 0..steps {
        session.run().unwrap();
    }
    session.read(p).unwrap()
}

pub fn adam_matches_pytorch_formula() {
    let (lr, b1, b2, eps) = (0.01f64, 0.9f64, 0.999f64, 1e-8f64);
    let mut expected: Vec<f64> = P0.iter().map(|&v| v as f64).collect();
    let (mut m, mut v) = (vec![0.0f64; 4], vec![0.0f64; 4]);
    for t in 1..=3 {
        for i in 0..4 {
            let g = GRAD[i] as f64;
            m[i] = b1 * m[i] + (1.0 - b1) * g;
            v[i] = b2 * v[i] + (1.0 - b2) * g * g;
            let m_hat = m[i] / (1.0 - b1.powi(t));
            let v_hat = v[i] / (1.0 - b2.powi(t));
            expected[i] -= lr * m_hat / (v_hat.sqrt() + eps);
        }
    }
    let expected: Vec<f32> = expected.iter().map(|&v| v as f32).collect();
    let actual = run_steps(&Device::Cpu, Optimizer::adam(0.01), 3);
    assert_close("adam after 3 steps", &actual, &expected, TIGHT);
}

pub fn sgd_momentum_matches_pytorch_formula() {
    let (lr, mu) = (0.1f32, 0.9f32);
    let mut expected = P0.to_vec();
    let mut buf = [0.0f32; 4];
    for _ in 0..3 {
        for i in 0..4 {
            buf[i] = mu * buf[i] + GRAD[i];
            expected[i] -= lr * buf[i];
        }
    }
    let actual = run_steps(&Device::Cpu, Optimizer::sgd_momentum(lr, mu), 3);
    assert_close("momentum after 3 steps", &actual, &expected, TIGHT);
}

pub fn optimizer_updates_gpu_matches_cpu(device: &Device) {
    for optimizer in [Optimizer::adam(0.01), Optimizer::sgd_momentum(0.1, 0.9), Optimizer::sgd(0.1)] {
        let expected = run_steps(&Device::Cpu, optimizer, 5);
        let actual = run_steps(device, optimizer, 5);
        assert_close(&format!("{optimizer:?}"), &actual, &expected, TIGHT);
    }
}

pub fn invalid_hyper_parameters_are_errors() {
    let mut g = Graph::new();
    let p = g.parameter("p", [1, 1], vec![1.0]).unwrap();
    let loss = g.sum(p).unwrap();
    let grads = g.backward(loss).unwrap();
    assert!(g.optimize(&grads, Optimizer::adam(f32::NAN)).is_err());
    assert!(g.optimize(&grads, Optimizer::sgd_momentum(0.1, 1.5)).is_err());
    let message = |o: Optimizer| g.clone().optimize(&grads, o).unwrap_err().to_string();
    assert!(message(Optimizer::sgd(0.1).with_nesterov()).contains("Nesterov momentum needs a momentum"));
    assert!(message(Optimizer::adamw(0.1).with_weight_decay(-1.0)).contains("weight_decay -1 must be finite"));
    assert!(message(Optimizer::sgd(0.1).with_weight_decay(f32::INFINITY)).contains("weight_decay inf"));
}

/// The learning rate is a value on the device: a classifier's rate changes between steps
/// without recompiling (rate 0 leaves the parameters as they are), and bad rates are
/// refused.
pub fn the_learning_rate_changes_between_steps(device: &Device) {
    let data = synthetic(64);
    let model = Sequential::mlp(&[12, 16, 10], Layer::Relu, Init::PyTorch, &mut init::rng(1)).unwrap();
    let mut classifier = Classifier::new(device, model, Optimizer::adam(0.01), 32, 64).unwrap();
    let weights = |c: &mut Classifier| -> Vec<Vec<f32>> {
        c.model().unwrap().state_dict().into_iter().map(|t| t.values).collect()
    };
    let before = weights(&mut classifier);
    classifier.set_learning_rate(0.0).unwrap();
    classifier.train_epoch(&data, &mut init::rng(2), |_| {}).unwrap();
    assert_eq!(weights(&mut classifier), before, "rate 0: nothing moves");
    classifier.set_learning_rate(0.05).unwrap();
    classifier.train_epoch(&data, &mut init::rng(2), |_| {}).unwrap();
    assert_ne!(weights(&mut classifier), before);
    for bad in [f32::NAN, -1.0, f32::INFINITY] {
        let err = classifier.set_learning_rate(bad).unwrap_err().to_string();
        assert!(err.contains("must be finite and >= 0"), "{err}");
    }
}

/// 200 synthetic 12-pixel samples; the class is the brightest of the first ten pixels.
pub fn synthetic(n: usize) -> Dataset {
    let mut rng = init::rng(5);
    let images = init::uniform(&mut rng, [n, 12], 0.5).unwrap().iter().map(|v| v + 0.5).collect::<Vec<f32>>();
    let labels = images.chunks(12).map(|x| (0..10).max_by(|&a, &b| x[a].total_cmp(&x[b])).unwrap() as u8).collect();
    Dataset::new(images, labels, 12).unwrap()
}

pub fn whole_mlp_training_gpu_matches_cpu(device: &Device) {
    let data = synthetic(150); // 150 = 4 full batches of 32 and a partial one of 22
    for optimizer in [Optimizer::adam(0.01), Optimizer::sgd_momentum(0.05, 0.9)] {
        let train = |device: &Device| {
            let model = Sequential::mlp(&[12, 16, 10], Layer::Relu, Init::PyTorch, &mut init::rng(1)).unwrap();
            let mut classifier = Classifier::new(device, model, optimizer, 32, 64).unwrap();
            let stats = classifier.train_epoch(&data, &mut init::rng(2), |_| {}).unwrap();
            let eval = classifier.evaluate(&data).unwrap();
            (stats.mean_loss, eval, classifier.model().unwrap())
        };
        let (cpu_loss, cpu_eval, cpu_model) = train(&Device::Cpu);
        let (gpu_loss, gpu_eval, gpu_model) = train(device);
        assert_close("epoch loss", &[gpu_loss], &[cpu_loss], TRAINING);
        assert_close("eval loss", &[gpu_eval.loss], &[cpu_eval.loss], TRAINING);
        assert_eq!(gpu_eval.accuracy, cpu_eval.accuracy);
        for (g, c) in gpu_model.state_dict().iter().zip(cpu_model.state_dict()) {
            assert_close(&format!("{optimizer:?} {}", c.name), &g.values, &c.values, TRAINING);
        }
    }
}

/// Gradients shaped outside the crate: an L2 penalty written with `map_gradients` trains
/// as SGD's own weight decay; halving the gradients as halving the rate; a gradient found
/// by name and replaced; shapes and names checked.
pub fn gradients_shaped_by_the_user(device: &Device) {
    let run = |shape: &dyn Fn(&mut Graph, &backprop::Gradients) -> backprop::Gradients, optimizer: Optimizer| {
        let model = Sequential::mlp(&[12, 16, 10], Layer::Relu, Init::PyTorch, &mut init::rng(1)).unwrap();
        let mut g = Graph::new();
        let x = g.input("x", [8, 12]).unwrap();
        let y = g.input("y", [8, 10]).unwrap();
        let out = model.record(&mut g, x).unwrap().output;
        let loss = g.softmax_cross_entropy(out, y).unwrap();
        let grads = g.backward(loss).unwrap();
        let shaped = shape(&mut g, &grads);
        g.optimize(&shaped, optimizer).unwrap();
        let mut session = device.compile(&g, &[loss]).unwrap();
        let data = synthetic(8);
        let (mut xs, mut ys) = (vec![0.0; 8 * 12], vec![0.0; 80]);
        data.fill_batch(&(0..8).collect::<Vec<_>>(), &mut xs, &mut ys).unwrap();
        session.write(x, &xs).unwrap();
        session.write(y, &ys).unwrap();
        for _ in 0..3 {
            session.run().unwrap();
        }
        session.read_many(&g.parameters()).unwrap().concat()
    };
    let same = |_: &mut Graph, grads: &backprop::Gradients| grads.clone();
    let penalty = |g: &mut Graph, grads: &backprop::Gradients| {
        g.map_gradients(grads, |g, p, grad| {
            let decay = g.scale(p, 0.05)?;
            g.add(grad, decay)
        })
        .unwrap()
    };
    let tol = crate::common::ELEMENTWISE;
    let built_in = run(&same, Optimizer::sgd(0.1).with_weight_decay(0.05));
    assert_close("an L2 penalty as weight decay", &run(&penalty, Optimizer::sgd(0.1)), &built_in, tol);
    let halved = |g: &mut Graph, grads: &backprop::Gradients| g.scale_gradients(grads, 0.5).unwrap();
    assert_close("half the gradient", &run(&halved, Optimizer::sgd(0.1)), &run(&same, Optimizer::sgd(0.05)), tol);

    let mut g = Graph::new();
    let w = g.parameter("w", [1, 2], vec![1.0, 2.0]).unwrap();
    let b = g.parameter("b", [1, 1], vec![0.5]).unwrap();
    let s = g.sum(w).unwrap();
    let loss = g.add(s, b).unwrap();
    let mut grads = g.backward(loss).unwrap();
    assert_eq!(g.gradient_of(&grads, "w").unwrap(), grads.get(w));
    assert!(g.gradient_of(&grads, "nope").unwrap_err().to_string().contains("no node is called 'nope'"));
    let zero = g.constant([1, 2], vec![0.0, 0.0]).unwrap();
    g.set_gradient(&mut grads, w, zero).unwrap();
    assert_eq!(grads.get(w), Some(zero));
    assert!(matches!(g.set_gradient(&mut grads, b, zero), Err(backprop::Error::Shape { .. })));
    let other = Graph::new();
    assert!(matches!(other.set_gradient(&mut grads, w, zero), Err(backprop::Error::ForeignNode { .. })));
    assert!(g.scale_gradients(&grads, f32::NAN).is_err());
}

/// Parameters, the learning rate and the optimizer's state are read by name, without
/// listing them when compiling; an unknown name and an unkept computed node are errors.
pub fn values_are_read_by_name(device: &Device) {
    let mut g = Graph::new();
    let w = g.parameter("w", [1, 3], vec![1.0, 2.0, 3.0]).unwrap();
    let squares = g.square(w).unwrap();
    g.set_name(squares, "squares").unwrap();
    let loss = g.sum(squares).unwrap();
    let grads = g.backward(loss).unwrap();
    g.optimize(&grads, Optimizer::adam(0.5)).unwrap();
    let mut session = device.compile(&g, &[loss]).unwrap();
    session.run().unwrap();
    assert_eq!(session.read_named("lr").unwrap(), vec![0.5]);
    assert_eq!(session.read_named("w.exp_avg").unwrap(), vec![0.2, 0.4, 0.6]);
    assert!(session.read_named("w").unwrap().iter().all(|&v| v < 3.0));
    assert!(session.read_named("nope").unwrap_err().to_string().contains("no node is called 'nope'"));
    assert!(matches!(session.read_named("squares"), Err(backprop::Error::NotKept { .. })));
}
