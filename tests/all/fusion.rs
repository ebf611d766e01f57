//! Fused launches (`src/fuse.rs`) against the same graphs unfused, on each backend. The
//! fused kernels do the same arithmetic in the same order, so the values must be equal
//! bit for bit (tolerance 0); the launch count must drop; and fusion must never change
//! what a kept or a later node sees.

use backprop::fuse::Group;
use backprop::nn::{Init, Layer, Sequential};
use backprop::plan::Plan;
use backprop::{init, CompileOptions, Device, Graph, NodeId, Optimizer, Result};

use crate::common::rng;
use rand::Rng;

fn unfused() -> CompileOptions {
    CompileOptions { fuse: false, ..Default::default() }
}

/// A training step of an MLP with softmax cross-entropy, the loss summed over steps on
/// the device, and `optimizer`: `(graph, x, y, loss, total)`.
fn mlp_step(sizes: &[usize], batch: usize, activation: Layer, optimizer: Optimizer) -> Result<(Graph, [NodeId; 4])> {
    let model = Sequential::mlp(sizes, activation, Init::PyTorch, &mut init::rng(7))?;
    let mut g = Graph::new();
    let x = g.input("x", [batch, sizes[0]])?;
    let y = g.input("y", [batch, *sizes.last().unwrap()])?;
    let out = model.record(&mut g, x)?.output;
    let loss = g.softmax_cross_entropy(out, y)?;
    let total = g.state("total", [1, 1])?;
    g.accumulate(total, loss)?;
    let grads = g.backward(loss)?;
    g.optimize(&grads, optimizer)?;
    Ok((g, [x, y, loss, total]))
}

/// Random inputs and one-hot targets, the last row padding (all-zero targets).
fn batch_data(seed: u64, batch: usize, inputs: usize, classes: usize) -> (Vec<f32>, Vec<f32>) {
    let mut rng = rng(seed);
    let x = (0..batch * inputs).map(|_| rng.random_range(-1.0..1.0)).collect();
    let mut y = vec![0.0; batch * classes];
    for r in 0..batch - 1 {
        y[r * classes + rng.random_range(0..classes)] = 1.0;
    }
    (x, y)
}

/// Runs `steps` steps compiled with `options` and returns what `read` holds after each.
fn run(
    device: &Device,
    g: &Graph,
    keep: &[NodeId],
    feed: &[(NodeId, Vec<Vec<f32>>)],
    read: &[NodeId],
    options: CompileOptions,
) -> Vec<Vec<Vec<f32>>> {
    let mut session = device.compile_with(g, keep, options).unwrap();
    let steps = feed.first().map_or(1, |(_, values)| values.len());
    (0..steps)
        .map(|step| {
            for (node, values) in feed {
                session.write(*node, &values[step]).unwrap();
            }
            session.run_and_read(read).unwrap()
        })
        .collect()
}

fn assert_bitwise_equal(what: &str, fused: &[Vec<Vec<f32>>], plain: &[Vec<Vec<f32>>]) {
    for (step, (f, p)) in fused.iter().zip(plain).enumerate() {
        for (i, (f, p)) in f.iter().zip(p).enumerate() {
            let same = f.len() == p.len() && f.iter().zip(p).all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(
                same,
                "{what}: step {step}, value {i}: fused {:?}.. vs unfused {:?}..",
                &f[..4.min(f.len())],
                &p[..4.min(p.len())]
            );
        }
    }
}

pub fn fused_training_steps_equal_unfused(device: &Device) {
    // K = 300 with a [37, 40] output splits along K on the GPU: the epilogue then runs in
    // the pass that adds the partial products.
    let sizes = [300, 40, 24, 7];
    let cases = [
        (Layer::Relu, Optimizer::adam(1e-2)),
        (Layer::Sigmoid, Optimizer::sgd_momentum(0.1, 0.9)),
        (Layer::Tanh, Optimizer::sgd(0.1)),
        (Layer::Relu, Optimizer::adamw(1e-2).with_weight_decay(0.1)),
        (Layer::Tanh, Optimizer::sgd_momentum(0.1, 0.9).with_nesterov().with_weight_decay(0.01)),
    ];
    for (activation, optimizer) in cases {
        let (g, [x, y, loss, total]) = mlp_step(&sizes, 37, activation.clone(), optimizer).unwrap();
        let data: Vec<_> = (0..3).map(|s| batch_data(s, 37, sizes[0], 7)).collect();
        let feed = [(x, data.iter().map(|d| d.0.clone()).collect()), (y, data.iter().map(|d| d.1.clone()).collect())];
        let mut read = vec![loss, total];
        read.extend(g.parameters());
        let fused = run(device, &g, &[loss], &feed, &read, CompileOptions::default());
        let plain = run(device, &g, &[loss], &feed, &read, unfused());
        assert_bitwise_equal(&format!("{activation:?} with {optimizer:?}"), &fused, &plain);
        assert!(fused[2][0][0].is_finite() && fused[2][1][0] > 0.0, "a real loss was computed");
    }
}

/// The training step of the op-families issue: 784-128-64-10, Adam, batch 64: twelve
/// launches, and one more where the 64×128×64 forward product is split along K in two (the
/// pass adding its partial products; see `MatmulShape::splits`).
pub fn the_mlp_step_takes_at_most_thirteen_launches(device: &Device) {
    let model = Sequential::mlp(&[784, 128, 64, 10], Layer::Relu, Init::PyTorch, &mut init::rng(0)).unwrap();
    let mut g = Graph::new();
    let x = g.input("x", [64, 784]).unwrap();
    let y = g.input("y", [64, 10]).unwrap();
    let out = model.record(&mut g, x).unwrap().output;
    let loss = g.softmax_cross_entropy(out, y).unwrap();
    let grads = g.backward(loss).unwrap();
    g.optimize(&grads, Optimizer::adam(1e-3)).unwrap();
    let fused = device.compile(&g, &[loss]).unwrap().launches_per_step();
    let plain = device.compile_with(&g, &[loss], unfused()).unwrap().launches_per_step();
    assert!(fused <= 13, "{fused} launches per fused step");
    assert!(plain >= 27, "{plain} launches unfused: one per node");
}

/// What the pass groups in an MLP step: each layer's product with its bias and
/// activation, the backward products with the activation's derivative, the loss with its
/// gradient and total, and one update of every parameter with the bias gradients inline.
pub fn the_pass_groups_what_a_training_step_repeats() {
    let (g, [_, _, loss, _]) = mlp_step(&[30, 20, 10, 5], 8, Layer::Relu, Optimizer::adam(1e-3)).unwrap();
    let plan = Plan::new(&g, &[loss], CompileOptions::default()).unwrap();
    let map_names = |epilogue: &[NodeId]| -> Vec<String> {
        epilogue.iter().map(|&id| g.node(id).unwrap().op.name().to_owned()).collect()
    };
    let epilogues: Vec<Vec<String>> = plan
        .groups
        .iter()
        .filter_map(|group| match group {
            Group::MatMul { epilogue, .. } => Some(map_names(epilogue)),
            _ => None,
        })
        .collect();
    let expected: Vec<Vec<&str>> =
        vec![vec!["add", "relu"], vec!["add", "relu"], vec!["add"], vec!["relu_grad"], vec!["relu_grad"]];
    assert_eq!(epilogues, expected);
    let xent = plan.groups.iter().filter(|g| matches!(g, Group::SoftmaxXent { accumulate: Some(_), .. })).count();
    assert_eq!(xent, 1, "loss, gradient and total in one launch");
    let updates: Vec<&Group> = plan.groups.iter().filter(|g| matches!(g, Group::Updates(_))).collect();
    let Group::Updates(members) = updates[0] else { unreachable!() };
    assert_eq!((updates.len(), members.len()), (1, 6));
    assert_eq!(members.iter().filter(|m| m.column_sum.is_some()).count(), 3, "the three bias gradients inline");
    // Unfused, every node is its own launch.
    let plain = Plan::new(&g, &[loss], unfused()).unwrap();
    assert!(plain.groups.iter().all(|g| matches!(g, Group::Single(_))));
    assert_eq!(plain.groups.len(), plain.order.len());
}

/// Kept intermediates stay stored and readable; a node read twice is not fused away; an
/// in-place update recorded between a product and its activation keeps the two apart
/// (fused, the product would run after the update and see the new weights).
pub fn fusion_never_changes_what_other_nodes_see(device: &Device) {
    let mut r = rng(3);
    let mut g = Graph::new();
    let x = g.input("x", [6, 9]).unwrap();
    let w = g.parameter("w", [9, 5], (0..45).map(|_| r.random_range(-1.0..1.0)).collect()).unwrap();
    let b = g.parameter("b", [1, 5], (0..5).map(|_| r.random_range(-1.0..1.0)).collect()).unwrap();
    // Kept: z and a are stored although only the next op reads them.
    let z = g.matmul(x, w).unwrap();
    let a = g.add(z, b).unwrap();
    let h = g.relu(a).unwrap();
    // Read twice: the product feeds both a sigmoid and a sum.
    let z2 = g.matmul(x, w).unwrap();
    let s2 = g.sigmoid(z2).unwrap();
    let t2 = g.sum(z2).unwrap();
    // An update of w between a product and its activation.
    let z3 = g.matmul(x, w).unwrap();
    let other = g.matmul(x, w).unwrap();
    let loss = g.sum(other).unwrap();
    let grads = g.backward(loss).unwrap();
    g.optimize(&grads, Optimizer::sgd(0.5)).unwrap();
    let h3 = g.tanh(z3).unwrap();
    let keep = [z, a, h, s2, t2, h3];
    let xs: Vec<f32> = (0..54).map(|_| r.random_range(-1.0..1.0)).collect();
    let feed = [(x, vec![xs.clone(), xs])];
    let fused = run(device, &g, &keep, &feed, &keep, CompileOptions::default());
    let plain = run(device, &g, &keep, &feed, &keep, unfused());
    assert_bitwise_equal("kept, shared and updated values", &fused, &plain);
    let plan = Plan::new(&g, &keep, CompileOptions::default()).unwrap();
    let fused_away: Vec<NodeId> = keep.iter().copied().filter(|&id| plan.slot_of(id).is_none()).collect();
    assert!(fused_away.is_empty(), "kept nodes {fused_away:?} were not stored");
}

/// A convolution with its bias, the `add` of a broadcast row and ReLU fused into its
/// stores, and a max pooling whose gradient takes ReLU's derivative (which reads ReLU's
/// output) into its own (a CNN step's blocks): the same bits as unfused, in fewer
/// launches, gradients included.
pub fn fused_convolutions_equal_unfused(device: &Device) {
    use backprop::conv::{Conv2d, Pool2d};
    let mut g = Graph::new();
    let x = g.input("x", [3, 4, 9, 7]).unwrap();
    let values = |len: usize, k: usize| (0..len).map(|i| ((i * 37 + k) % 23) as f32 / 23.0 - 0.5).collect::<Vec<_>>();
    let w = g.parameter("w", [6, 2, 3, 3], values(108, 1)).unwrap();
    let b = g.parameter("b", [6], values(6, 2)).unwrap();
    let shift = g.constant([7], values(7, 3)).unwrap();
    let y = g.conv2d(x, w, Some(b), Conv2d { padding: [1, 1], groups: 2, ..Conv2d::default() }).unwrap();
    let y = g.add(y, shift).unwrap();
    let y = g.relu(y).unwrap();
    let y = g.max_pool2d(y, Pool2d::square(2)).unwrap();
    let loss = g.sum_squares(y).unwrap();
    let grads = g.backward(loss).unwrap();
    let read = [y, grads.get(w).unwrap(), grads.get(b).unwrap()];
    let feed = [(x, vec![values(3 * 4 * 9 * 7, 4)])];
    let fused = run(device, &g, &read, &feed, &read[1..], CompileOptions::default());
    let plain = run(device, &g, &read, &feed, &read[1..], unfused());
    assert_bitwise_equal("a convolution with bias, add and relu, and a max pooling", &fused, &plain);
    let launches = |options| device.compile_with(&g, &read, options).unwrap().launches_per_step();
    let (fused, plain) = (launches(CompileOptions::default()), launches(unfused()));
    assert!(
        fused + 3 <= plain,
        "add and relu fused into the convolution, relu's derivative into the pooling's gradient"
    );
}
