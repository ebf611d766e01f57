//! Open layers (a custom activation and a user's residual block in `Sequential`, trained
//! by `Classifier`, saved and resumed) and per-step control (an epoch driven step by
//! step, a schedule followed on the device).

use std::sync::OnceLock;

use backprop::classifier::{Classifier, TrainOptions};
use backprop::custom::{register, CustomMap};
use backprop::data::{shuffled, Dataset};
use backprop::nn::{Init, Layer, Linear, Module, Scope, Sequential};
use backprop::{init, Device, Graph, Map, NodeId, Optimizer, Result, Schedule};

/// swish(x) = x·σ(x), registered once for the process.
pub fn swish() -> Map {
    static SWISH: OnceLock<Map> = OnceLock::new();
    *SWISH.get_or_init(|| {
        register(CustomMap {
            name: "layers_swish",
            arity: 1,
            cpu: |a, _, _| a / (1.0 + (-a).exp()),
            wgsl: "a / (1.0 + exp(-a))",
            vjp: Some(|g, _, x, dy, _| {
                let s = g.sigmoid(x[0])?;
                let one = g.constant([1, 1], vec![1.0])?;
                let rest = g.sub(one, s)?;
                let t = g.mul(x[0], rest)?;
                let u = g.add(t, one)?;
                let slope = g.mul(s, u)?;
                Ok(vec![Some(g.mul(dy, slope)?)])
            }),
        })
        .unwrap()
    })
}

/// `x + body(x)`, written as a user outside the crate would.
#[derive(Clone, Debug)]
pub struct Residual {
    pub body: Sequential,
}

impl Module for Residual {
    fn forward(&self, scope: &mut Scope, x: NodeId) -> Result<NodeId> {
        let y = scope.child("body", &self.body, x)?;
        scope.graph().add(x, y)
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("body".into(), &self.body)]
    }
    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module)> {
        vec![("body".into(), &mut self.body)]
    }
}

fn linear(i: usize, o: usize, seed: u64) -> Linear {
    Linear::new(i, o, Init::PyTorch, &mut init::rng(seed)).unwrap()
}

/// Linear(6, 16), swish, Residual(Linear(16, 16), ReLU), Linear(16, 3).
pub fn open_model(seed: u64) -> Sequential {
    let body = Sequential::new().with(linear(16, 16, seed + 1)).with(Layer::Relu);
    Sequential::new().with(linear(6, 16, seed)).with(Layer::Map(swish())).with(Residual { body }).with(linear(
        16,
        3,
        seed + 2,
    ))
}

/// 150 six-value samples; the class is which of the first three values is largest.
fn three_classes() -> Dataset {
    let images: Vec<f32> = init::uniform(&mut init::rng(9), [150, 6], 1.0).unwrap();
    let labels = images.chunks(6).map(|x| (0..3).max_by(|&a, &b| x[a].total_cmp(&x[b])).unwrap() as u8).collect();
    Dataset::with_classes(images, labels, 6, 3).unwrap()
}

/// The model recorded through its layers computes what the same ops recorded by hand
/// compute, and names its parameters as PyTorch would.
pub fn user_layers_record_what_they_say(device: &Device) {
    let model = open_model(0);
    let names: Vec<String> = model.parameters().into_iter().map(|p| p.name).collect();
    assert_eq!(names, ["0.weight", "0.bias", "2.body.0.weight", "2.body.0.bias", "3.weight", "3.bias"]);
    let input: Vec<f32> = init::uniform(&mut init::rng(5), [4, 6], 1.0).unwrap();
    let mut g = Graph::new();
    let x = g.constant([4, 6], input.clone()).unwrap();
    let through_layers = model.record(&mut g, x).unwrap().output;
    let by_hand = |g: &mut Graph, w: &[f32], b: &[f32], h: NodeId, o: usize, i: usize| {
        let w = g.constant([o, i], w.to_vec()).unwrap();
        let b = g.constant([1, o], b.to_vec()).unwrap();
        let z = g.matmul_t(h, w, false, true).unwrap();
        g.add(z, b).unwrap()
    };
    let p = model.parameters();
    let x2 = g.constant([4, 6], input).unwrap();
    let h = by_hand(&mut g, p[0].values, p[1].values, x2, 16, 6);
    let h = g.map(swish(), 0.0, &[h]).unwrap();
    let z = by_hand(&mut g, p[2].values, p[3].values, h, 16, 16);
    let r = g.relu(z).unwrap();
    let h = g.add(h, r).unwrap();
    let reference = by_hand(&mut g, p[4].values, p[5].values, h, 3, 16);
    let mut session = device.compile_inference(&g, &[through_layers, reference]).unwrap();
    let out = session.run_and_read(&[through_layers, reference]).unwrap();
    assert_eq!(out[0], out[1], "the same ops in the same order give the same bits");
}

/// A custom activation and a user's block train in `Classifier`; saved and loaded into a
/// fresh classifier, training goes on exactly as without the interruption.
pub fn user_layers_train_save_and_resume(device: &Device) {
    let data = three_classes();
    let build = |seed| Classifier::new(device, open_model(seed), Optimizer::adam(0.01), 32, 64).unwrap();
    let mut straight = build(0);
    for epoch in 1..=6 {
        straight.train_epoch(&data, &mut init::epoch_rng(7, epoch), |_| {}).unwrap();
    }
    let accuracy = straight.evaluate(&data).unwrap().accuracy;
    assert!(accuracy > 0.8, "the model learns the largest of three values: {accuracy}");

    let dir = std::env::temp_dir().join(format!("backprop-layers-{}-{}", std::process::id(), device.name().len()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("open.safetensors");
    let mut first = build(0);
    for epoch in 1..=3 {
        first.train_epoch(&data, &mut init::epoch_rng(7, epoch), |_| {}).unwrap();
    }
    first.save(&path, 3, 7, data.len()).unwrap();
    let mut resumed = build(1);
    assert_eq!(resumed.load(&path).unwrap().epoch, 3);
    for epoch in 4..=6 {
        resumed.train_epoch(&data, &mut init::epoch_rng(7, epoch), |_| {}).unwrap();
    }
    assert_eq!(resumed.model().unwrap(), straight.model().unwrap(), "resumed training is exact");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn mlp(seed: u64) -> Sequential {
    Sequential::mlp(&[6, 16, 3], Layer::Relu, Init::PyTorch, &mut init::rng(seed)).unwrap()
}

/// A schedule in `TrainOptions`, followed on the device, gives the parameters of the same
/// schedule applied by hand before each step of an epoch driven step by step.
pub fn a_schedule_is_followed_every_step(device: &Device) {
    let data = three_classes();
    let schedule =
        Schedule::Warmup { steps: 3, start_factor: 0.1, then: Box::new(Schedule::Cosine { steps: 12, min_lr: 0.001 }) };
    let options = TrainOptions { schedule: Some(schedule.clone()), ..Default::default() };
    let mut scheduled = Classifier::with_options(device, mlp(2), Optimizer::adam(0.05), 32, 64, options).unwrap();
    let mut by_hand = Classifier::new(device, mlp(2), Optimizer::adam(0.05), 32, 64).unwrap();
    for epoch in 1..=3 {
        scheduled.train_epoch(&data, &mut init::epoch_rng(3, epoch), |_| {}).unwrap();
        let mut steps = by_hand.epoch(&data, &mut init::epoch_rng(3, epoch)).unwrap();
        while steps.remaining() > 0 {
            let t = steps.classifier().steps_done();
            steps.classifier().set_learning_rate(schedule.lr(0.05, t).unwrap()).unwrap();
            steps.step().unwrap();
        }
        steps.finish().unwrap();
    }
    assert_eq!(scheduled.steps_done(), 15, "5 steps an epoch");
    assert_eq!(scheduled.model().unwrap(), by_hand.model().unwrap());
    let unscheduled = {
        let mut c = Classifier::new(device, mlp(2), Optimizer::adam(0.05), 32, 64).unwrap();
        for epoch in 1..=3 {
            c.train_epoch(&data, &mut init::epoch_rng(3, epoch), |_| {}).unwrap();
        }
        c.model().unwrap()
    };
    assert_ne!(scheduled.model().unwrap(), unscheduled, "the schedule changed the rates");
}

/// One step of an epoch, then a gradient: the gradient of the first batch of the
/// epoch's order, as a graph recorded by hand computes it.
pub fn one_step_then_a_gradient(device: &Device) {
    let data = three_classes();
    let options = TrainOptions { keep_gradients: true, ..Default::default() };
    let mut clf = Classifier::with_options(device, mlp(4), Optimizer::sgd(0.1), 32, 64, options).unwrap();
    let mut epoch = clf.epoch(&data, &mut init::rng(11)).unwrap();
    epoch.step().unwrap();
    let gradient = epoch.classifier().gradient("0.weight").unwrap();

    let order = shuffled(data.len(), &mut init::rng(11));
    let (mut x, mut y) = (vec![0.0; 32 * 6], vec![0.0; 32 * 3]);
    data.fill_batch(&order[..32], &mut x, &mut y).unwrap();
    let mut g = Graph::new();
    let (xi, yi) = (g.input("x", [32, 6]).unwrap(), g.input("y", [32, 3]).unwrap());
    let recorded = mlp(4).record(&mut g, xi).unwrap();
    let loss = g.softmax_cross_entropy(recorded.output, yi).unwrap();
    let grads = g.backward(loss).unwrap();
    let w = g.gradient_of(&grads, "0.weight").unwrap().unwrap();
    let mut session = Device::Cpu.compile(&g, &[w]).unwrap();
    session.write(xi, &x).unwrap();
    session.write(yi, &y).unwrap();
    let expected = session.run_and_read(&[w]).unwrap().remove(0);
    for (a, b) in gradient.iter().zip(&expected) {
        assert!((a - b).abs() <= 1e-6 + 1e-5 * b.abs(), "{a} against {b} (atol 1e-6, rtol 1e-5)");
    }
}

/// On the host-fed path (a data set too large to hold), the schedule is written before
/// each step: the same parameters as the rate set by hand.
pub fn a_schedule_is_followed_on_the_host_path() {
    let n = (1 << 24) + 1;
    let images: Vec<f32> = (0..n).map(|i| if i % 2 == 0 { 1.0 } else { -1.0 }).collect();
    let labels: Vec<u8> = (0..n).map(|i| (i % 2) as u8).collect();
    let data = Dataset::with_classes(images, labels, 1, 2).unwrap();
    let model = || Sequential::mlp(&[1, 2], Layer::Relu, Init::PyTorch, &mut init::rng(3)).unwrap();
    let schedule = Schedule::Step { every: 4, gamma: 0.5 };
    let options = TrainOptions { schedule: Some(schedule.clone()), ..Default::default() };
    let batch = 1 << 20;
    let mut scheduled =
        Classifier::with_options(&Device::Cpu, model(), Optimizer::sgd(0.5), batch, batch, options).unwrap();
    scheduled.train_epoch(&data, &mut init::rng(4), |_| {}).unwrap();
    let mut by_hand = Classifier::new(&Device::Cpu, model(), Optimizer::sgd(0.5), batch, batch).unwrap();
    let mut epoch = by_hand.epoch(&data, &mut init::rng(4)).unwrap();
    while epoch.remaining() > 0 {
        let t = epoch.classifier().steps_done();
        epoch.classifier().set_learning_rate(schedule.lr(0.5, t).unwrap()).unwrap();
        epoch.step().unwrap();
    }
    assert_eq!(scheduled.model().unwrap(), by_hand.model().unwrap());
}

/// `nn::Embedding` is PyTorch's: `weight [count, dim]`, each index a row, and the
/// gradient of a sum over its output counts each row's uses.
pub fn an_embedding_layer_looks_up_rows(device: &Device) {
    use backprop::nn::Embedding;
    let table = Embedding::new(6, 3, &mut init::rng(1)).unwrap();
    let model = Sequential::new().with(table.clone());
    let p = model.parameters();
    assert_eq!((p[0].name.as_str(), p[0].shape.clone()), ("0.weight", vec![6, 3]));
    let mut g = Graph::new();
    let indices = g.input("tokens", [2, 4]).unwrap();
    let recorded = model.record(&mut g, indices).unwrap();
    assert_eq!(g.shape(recorded.output).unwrap().dims().to_vec(), vec![2, 4, 3]);
    let loss = g.sum(recorded.output).unwrap();
    let grads = g.backward(loss).unwrap();
    let dw = g.gradient_of(&grads, "0.weight").unwrap().unwrap();
    let mut session = device.compile(&g, &[recorded.output, dw]).unwrap();
    let tokens = [0.0, 5.0, 5.0, 2.0, 2.0, 2.0, 0.0, 1.0];
    session.write(indices, &tokens).unwrap();
    let out = session.run_and_read(&[recorded.output, dw]).unwrap();
    for (row, &t) in out[0].chunks(3).zip(&tokens) {
        assert_eq!(row, &table.weight[t as usize * 3..][..3]);
    }
    let uses = [2.0, 1.0, 3.0, 0.0, 0.0, 2.0];
    for (row, &n) in out[1].chunks(3).zip(&uses) {
        assert_eq!(row, [n; 3]);
    }
}
