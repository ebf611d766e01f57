//! Six everyday tasks written as a user writes them, each beside its PyTorch equivalent in
//! `benches/tasks_torch.py` (the same names; `python3 benches/tasks_torch.py` runs those).
//! Each function's body is the task; the line counts (without blank lines and comments)
//! are compared in `the_tasks_are_no_longer_than_pytorchs`. The data: the split shipped
//! in `data/`, 8,000 samples to train and 2,000 to test, loaded by `data()` on both sides.

use backprop::classifier::{Classifier, TrainOptions};
use backprop::data::Dataset;
use backprop::nn::{Init, Layer, Module, Scope, Sequential};
use backprop::{init, Device, NodeId, Optimizer, Result, Schedule};

fn data() -> Result<(Dataset, Dataset)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    let all = Dataset::load(&dir.join("t10k-images-idx3-ubyte.gz"), &dir.join("t10k-labels-idx1-ubyte.gz"))?;
    Ok(all.split_at(8000))
}

// task: mlp
pub fn mlp() -> Result<f32> {
    let (train, test) = data()?;
    let model = Sequential::mlp(&[784, 128, 64, 10], Layer::Relu, Init::PyTorch, &mut init::rng(0))?;
    let mut clf = Classifier::new(&Device::Cpu, model, Optimizer::adam(1e-3), 64, 1000)?;
    for epoch in 1..=2 {
        clf.train_epoch(&train, &mut init::epoch_rng(0, epoch), |_| {})?;
    }
    Ok(clf.evaluate(&test)?.accuracy)
}

// task: custom_loss
pub fn custom_loss() -> Result<f32> {
    let (train, test) = data()?;
    let model = Sequential::mlp(&[784, 128, 64, 10], Layer::Relu, Init::PyTorch, &mut init::rng(0))?;
    let options = TrainOptions::default().with_loss(|g, l| {
        let cross_entropy = g.softmax_cross_entropy(l.logits, l.targets)?;
        let penalty = g.sum_squares_of(&l.parameters())?;
        let penalty = g.scale(penalty, 1e-4)?;
        g.add(cross_entropy, penalty)
    });
    let mut clf = Classifier::with_options(&Device::Cpu, model, Optimizer::adam(1e-3), 64, 1000, options)?;
    for epoch in 1..=2 {
        clf.train_epoch(&train, &mut init::epoch_rng(0, epoch), |_| {})?;
    }
    Ok(clf.evaluate(&test)?.accuracy)
}

// task: cosine_schedule
pub fn cosine_schedule() -> Result<f32> {
    let (train, test) = data()?;
    let model = Sequential::mlp(&[784, 128, 64, 10], Layer::Relu, Init::PyTorch, &mut init::rng(0))?;
    let steps = 2 * train.len().div_ceil(64);
    let options = TrainOptions::default().with_schedule(Schedule::Cosine { steps, min_lr: 0.0 });
    let mut clf = Classifier::with_options(&Device::Cpu, model, Optimizer::adam(1e-3), 64, 1000, options)?;
    for epoch in 1..=2 {
        clf.train_epoch(&train, &mut init::epoch_rng(0, epoch), |_| {})?;
    }
    Ok(clf.evaluate(&test)?.accuracy)
}

// task: one_step_gradient
pub fn one_step_gradient() -> Result<Vec<f32>> {
    let (train, _) = data()?;
    let model = Sequential::mlp(&[784, 128, 64, 10], Layer::Relu, Init::PyTorch, &mut init::rng(0))?;
    let options = TrainOptions { keep_gradients: true, ..Default::default() };
    let mut clf = Classifier::with_options(&Device::Cpu, model, Optimizer::sgd(0.1), 64, 1000, options)?;
    let mut epoch = clf.epoch(&train, &mut init::rng(0))?;
    epoch.step()?;
    epoch.classifier().gradient("0.weight")
}

// task: custom_activation
#[derive(Clone, Debug)]
struct Swish;

impl Module for Swish {
    fn forward(&self, scope: &mut Scope, x: NodeId) -> Result<NodeId> {
        let sigmoid = scope.graph().sigmoid(x)?;
        scope.graph().mul(x, sigmoid)
    }
}

pub fn custom_activation() -> Result<f32> {
    let (train, test) = data()?;
    let model = Sequential::mlp(&[784, 128, 64, 10], Swish, Init::PyTorch, &mut init::rng(0))?;
    let mut clf = Classifier::new(&Device::Cpu, model, Optimizer::adam(1e-3), 64, 1000)?;
    for epoch in 1..=2 {
        clf.train_epoch(&train, &mut init::epoch_rng(0, epoch), |_| {})?;
    }
    Ok(clf.evaluate(&test)?.accuracy)
}

// task: save_and_resume
pub fn save_and_resume(path: &std::path::Path) -> Result<f32> {
    let (train, test) = data()?;
    let model = || Sequential::mlp(&[784, 128, 64, 10], Layer::Relu, Init::PyTorch, &mut init::rng(0));
    let mut clf = Classifier::new(&Device::Cpu, model()?, Optimizer::adam(1e-3), 64, 1000)?;
    clf.train_epoch(&train, &mut init::epoch_rng(0, 1), |_| {})?;
    clf.save(path, 1, 0, train.len())?;
    let mut resumed = Classifier::new(&Device::Cpu, model()?, Optimizer::adam(1e-3), 64, 1000)?;
    let state = resumed.load(path)?;
    resumed.train_epoch(&train, &mut init::epoch_rng(state.seed, state.epoch + 1), |_| {})?;
    Ok(resumed.evaluate(&test)?.accuracy)
}
// end of tasks

/// Each task runs and learns (two epochs of the MLP reach about 80% on the split).
pub fn the_tasks_run() {
    for (name, accuracy) in [
        ("mlp", mlp().unwrap()),
        ("custom_loss", custom_loss().unwrap()),
        ("cosine_schedule", cosine_schedule().unwrap()),
        ("custom_activation", custom_activation().unwrap()),
    ] {
        assert!(accuracy > 0.75, "{name}: {accuracy}");
    }
    let gradient = one_step_gradient().unwrap();
    assert_eq!(gradient.len(), 128 * 784);
    assert!(gradient.iter().any(|&g| g != 0.0) && gradient.iter().all(|g| g.is_finite()));
    let dir = crate::files::temp_dir("tasks");
    let resumed = save_and_resume(&dir.join("ckpt.safetensors")).unwrap();
    assert_eq!(resumed, mlp().unwrap(), "one epoch, saved, loaded and one more is the two-epoch MLP");
    std::fs::remove_dir_all(dir).unwrap();
}

/// Lines of each task (code only: no blank lines, no comments, no line of a lone closing
/// brace, which Python has no need of), from
/// the `// task: NAME` (Rust) and `# task: NAME` (Python) markers.
fn task_lines(source: &str, comment: &str, end: &str) -> Vec<(String, usize)> {
    let mut tasks: Vec<(String, usize)> = Vec::new();
    for line in source.lines().map(str::trim) {
        if line.starts_with(end) {
            break;
        }
        if let Some(name) = line.strip_prefix(&format!("{comment} task: ")) {
            tasks.push((name.to_owned(), 0));
        } else if let Some((_, count)) = tasks.last_mut() {
            let code = !line.is_empty() && !line.starts_with(comment) && line != "}";
            *count += code as usize;
        }
    }
    tasks
}

/// Every task is at most as long as PyTorch's.
pub fn the_tasks_are_no_longer_than_pytorchs() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let ours = task_lines(include_str!("tasks.rs"), "//", "// end of tasks");
    let python = std::fs::read_to_string(root.join("benches/tasks_torch.py")).unwrap();
    let theirs = task_lines(&python, "#", "# end of tasks");
    assert_eq!(ours.len(), 6, "{ours:?}");
    for ((name, lines), (their_name, their_lines)) in ours.iter().zip(&theirs) {
        assert_eq!(name, their_name);
        assert!(lines <= their_lines, "{name}: {lines} lines here, {their_lines} in PyTorch");
    }
}
