//! Misuse that is an error saying what to do, messages without internal node numbers or
//! debug dumps, docs whose names exist, and training-state files that are the same bytes
//! for the same training.

use backprop::classifier::{Classifier, TrainOptions};
use backprop::data::Dataset;
use backprop::nn::{Init, Layer, Module, Param, Scope, Sequential};
use backprop::{init, Device, Error, Graph, NodeId, Optimizer, Result, Schedule, Session};

fn message<T>(result: Result<T>) -> String {
    match result {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

fn data() -> Dataset {
    let images: Vec<f32> = init::uniform(&mut init::rng(1), [10, 3], 1.0).unwrap();
    let labels = (0..10).map(|i| (i % 2) as u8).collect();
    Dataset::with_classes(images, labels, 3, 2).unwrap()
}

fn mlp() -> Sequential {
    Sequential::mlp(&[3, 4, 2], Layer::Relu, Init::PyTorch, &mut init::rng(0)).unwrap()
}

/// A device-batch graph run before `upload`, before `start_epoch`, or past its epoch.
pub fn device_batches_out_of_order_are_errors() {
    let data = data();
    let mut g = Graph::new();
    let batches = g.device_batches(&data, 4).unwrap();
    let loss = g.mse_loss(batches.x, batches.x).unwrap();
    let mut session = Device::Cpu.compile(&g, &[loss]).unwrap();
    let before_upload = message(session.run());
    assert!(before_upload.contains("DeviceBatches::upload"), "{before_upload}");
    batches.upload(session.as_mut(), &data).unwrap();
    let before_epoch = message(session.run());
    assert!(before_epoch.contains("DeviceBatches::start_epoch"), "{before_epoch}");
    let order: Vec<usize> = (0..10).collect();
    batches.start_epoch(session.as_mut(), &order).unwrap();
    session.run_steps(3).unwrap();
    let past = message(session.run());
    assert!(past.contains("all 3 steps of this epoch have run") && past.contains("start_epoch"), "{past}");
    batches.start_epoch(session.as_mut(), &order).unwrap();
    let too_many = message(session.run_steps(4));
    assert!(too_many.contains("only 3"), "{too_many}");
    session.run_steps(3).unwrap();
}

/// Two leaves of one name, and schedules of zero length.
pub fn duplicate_names_and_empty_schedules_are_errors() {
    let mut g = Graph::new();
    g.parameter("w", [1, 2], vec![1.0, 2.0]).unwrap();
    let twice = message(g.parameter("w", [2, 1], vec![1.0, 2.0]));
    assert!(twice.contains("'w' names a parameter already"), "{twice}");
    assert!(message(g.input("w", [1, 1])).contains("already"));
    for bad in [Schedule::Cosine { steps: 0, min_lr: 0.0 }, Schedule::Step { every: 0, gamma: 0.5 }] {
        let said = message(bad.lr(0.1, 3));
        assert!(said.contains("give") && said.contains(">= 1"), "{said}");
        let options = TrainOptions { schedule: Some(bad), ..Default::default() };
        assert!(Classifier::with_options(&Device::Cpu, mlp(), Optimizer::sgd(0.1), 4, 4, options).is_err());
    }
    let nested =
        Schedule::Warmup { steps: 2, start_factor: 0.1, then: Box::new(Schedule::Cosine { steps: 0, min_lr: 0.0 }) };
    assert!(nested.lr(0.1, 0).is_err(), "checked all the way down");
    let scheduled = TrainOptions { schedule: Some(Schedule::Constant), ..Default::default() };
    let mut c = Classifier::with_options(&Device::Cpu, mlp(), Optimizer::sgd(0.1), 4, 4, scheduled).unwrap();
    assert!(message(c.set_learning_rate(0.5)).contains("TrainOptions::schedule"));
}

/// Each message names what the user did and what to do, with no internal node number.
pub fn messages_say_what_to_do() {
    let options = TrainOptions { keep_gradients: true, clip_norm: Some(1.0), ..Default::default() };
    let mut c = Classifier::with_options(&Device::Cpu, mlp(), Optimizer::adam(0.001), 4, 4, options).unwrap();
    for said in [message(c.gradient("0.weight")), message(c.last_grad_norm())] {
        assert!(said.contains("no training step has run yet") && !said.contains('#'), "{said}");
    }
    let empty = Dataset::with_classes(vec![], vec![], 3, 2).unwrap();
    let said = message(c.train_epoch(&empty, &mut init::rng(0), |_| {}));
    assert!(said.contains("the data set is empty"), "{said}");

    let mut g = Graph::new();
    let w = g.parameter("w", [1, 3], vec![1.0; 3]).unwrap();
    let said = message(g.backward(w));
    assert!(said.contains("the loss must be one value") && said.contains("[1, 3]") && said.contains("sum or mean"));

    let dir = std::env::temp_dir().join(format!("backprop-api-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ckpt.safetensors");
    c.train_epoch(&data(), &mut init::rng(0), |_| {}).unwrap();
    c.save(&path, 1, 0, 10).unwrap();
    let mut other = Classifier::new(&Device::Cpu, mlp(), Optimizer::adam(0.0005), 4, 4).unwrap();
    let said = message(other.load(&path));
    assert!(said.contains("Adam(lr=0.001, betas=(0.9, 0.999), eps=1e-8)"), "{said}");
    assert!(said.contains("set_learning_rate") && !said.contains("AdamConfig"), "{said}");
    std::fs::remove_file(dir.join("ckpt.train-state.safetensors")).unwrap();
    let said = message(other.load(&path));
    assert!(said.starts_with(&path.display().to_string()) && said.contains("no training state"), "{said}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An epoch driven step by step refuses a step past its end.
pub fn an_epoch_refuses_steps_past_its_end() {
    let mut c = Classifier::new(&Device::Cpu, mlp(), Optimizer::sgd(0.1), 4, 4).unwrap();
    let data = data();
    let mut epoch = c.epoch(&data, &mut init::rng(0)).unwrap();
    assert_eq!((epoch.len(), epoch.remaining()), (3, 3));
    epoch.steps(3).unwrap();
    let said = message(epoch.step());
    assert!(said.contains("finish()") && said.contains("next epoch"), "{said}");
    assert!(epoch.finish().unwrap().mean_loss.is_finite());
}

/// A layer whose listed parameters are not what it records.
#[derive(Clone, Debug)]
struct Forgetful;

impl Module for Forgetful {
    fn forward(&self, scope: &mut Scope, x: NodeId) -> Result<NodeId> {
        let w = scope.parameter("scale", [1, 1], &[2.0])?;
        scope.graph().mul(x, w)
    }
    fn parameters(&self) -> Vec<Param<'_>> {
        Vec::new()
    }
}

pub fn a_layer_must_list_what_it_records() {
    let model = mlp().with(Forgetful);
    let mut g = Graph::new();
    let x = g.input("x", [2, 3]).unwrap();
    let said = message(model.record(&mut g, x));
    assert!(said.contains("3.scale") && said.contains("parameters()"), "{said}");
}

/// Every state name the docs of `OptimizerNodes::state` give exists in the graph.
pub fn the_documented_state_names_exist() {
    let source = include_str!("../../src/train/optim.rs");
    let doc: String = source
        .lines()
        .skip_while(|l| !l.contains("The optimizer's state nodes, named"))
        .take_while(|l| l.trim_start().starts_with("///"))
        .collect();
    let names: Vec<&str> = doc.split('`').skip(1).step_by(2).collect();
    assert!(names.len() >= 4, "the doc names the states: {names:?}");
    let mut found = Vec::new();
    for optimizer in [Optimizer::sgd_momentum(0.1, 0.9), Optimizer::adam(0.1)] {
        let mut g = Graph::new();
        let w = g.parameter("w", [1, 2], vec![1.0, 2.0]).unwrap();
        let loss = g.sum(w).unwrap();
        let grads = g.backward(loss).unwrap();
        let nodes = g.optimize(&grads, optimizer).unwrap();
        found.extend(nodes.state.iter().map(|&s| g.label(s)));
    }
    for name in names {
        let name = name.replace("<parameter>", "w");
        assert!(found.contains(&name), "the docs name '{name}', the graph has {found:?}");
    }
}

/// Every parameter or state name the README, the resume docs and the optimizer docs
/// give (`0.weight`, `0.weight.exp_avg`, `adam.bias_corrections`, ...) names a node of the
/// MLP trained with Adam or with SGD's momentum.
pub fn the_names_the_docs_give_exist() {
    let mut found = Vec::new();
    for optimizer in [Optimizer::adam(0.1), Optimizer::sgd_momentum(0.1, 0.9)] {
        let model = Sequential::mlp(&[784, 128, 64, 10], Layer::Relu, Init::PyTorch, &mut init::rng(0)).unwrap();
        let mut g = Graph::new();
        let (x, y) = (g.input("x", [2, 784]).unwrap(), g.input("y", [2, 10]).unwrap());
        let out = model.record(&mut g, x).unwrap().output;
        let loss = g.softmax_cross_entropy(out, y).unwrap();
        let grads = g.backward(loss).unwrap();
        g.optimize(&grads, optimizer).unwrap();
        found.extend(g.nodes().iter().filter_map(|n| n.name.clone()));
    }
    let docs = [
        include_str!("../../README.md"),
        include_str!("../../src/train/resume.rs"),
        include_str!("../../src/train/optim.rs"),
        include_str!("../../src/train/classifier/mod.rs"),
    ];
    let is_name = |w: &str| {
        let parts: Vec<&str> = w.split('.').collect();
        let parameter = parts.len() >= 2
            && parts[0].parse::<usize>().is_ok()
            && ["weight", "bias"].contains(&parts[1])
            && parts.len() <= 3;
        parameter || (parts.len() == 2 && parts[0] == "adam")
    };
    let mut checked = 0;
    for doc in docs {
        let words = doc.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_'));
        for word in words.map(|w| w.trim_matches('.')).filter(|w| is_name(w)) {
            // Layer indices past the MLP's (3 layers: 0, 2, 4) name other models' layers.
            let index: usize = word.split('.').next().unwrap().parse().unwrap_or(0);
            if index <= 4 {
                assert!(found.iter().any(|n| n == word), "the docs name '{word}', which no node is called");
                checked += 1;
            }
        }
    }
    assert!(checked >= 5, "the docs name states: {checked}");
}

/// Two identical trainings write identical training-state files.
pub fn training_states_are_the_same_bytes() {
    let dir = std::env::temp_dir().join(format!("backprop-bytes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    for run in 0..2 {
        let mut c = Classifier::new(&Device::Cpu, mlp(), Optimizer::adamw(0.01), 4, 4).unwrap();
        c.train_epoch(&data(), &mut init::rng(5), |_| {}).unwrap();
        let path = dir.join(format!("run{run}.safetensors"));
        c.save(&path, 1, 5, 10).unwrap();
        files.push(std::fs::read(dir.join(format!("run{run}.train-state.safetensors"))).unwrap());
    }
    assert!(files[0] == files[1], "the same training wrote different training-state bytes");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[allow(dead_code)]
fn _session_is_object_safe(_: &dyn Session) {}

#[allow(dead_code)]
fn _errors_are_matchable(e: Error) -> bool {
    matches!(e, Error::InvalidArgument { .. })
}
