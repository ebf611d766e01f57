//! Both backends against PyTorch: every op's output and gradients at odd sizes and edge
//! values, and five Adam steps of a small MLP, as `tests/golden/make_golden.py` computed
//! them (in float64 for the ops, so the goldens are the exact answers; in float32 for
//! Adam, as a user runs it). The files are committed; the tests need no Python.

use std::collections::HashMap;
use std::path::Path;

use backprop::checkpoint::{self, Tensor};
use backprop::nn::{Init, Layer, Sequential};
use backprop::{init, Device, Graph, NodeId, Optimizer, Schedule, Shape};

use crate::common::{Tolerance, REDUCTION, TRANSCENDENTAL};

fn golden(file: &str) -> HashMap<String, Tensor> {
    let path = Path::new("tests/golden").join(file);
    checkpoint::load(&path).unwrap().into_iter().map(|t| (t.name.clone(), t)).collect()
}

fn shape(t: &Tensor) -> Shape {
    match t.shape[..] {
        [rows, cols] => Shape::new(rows, cols),
        [cols] => Shape::new(1, cols),
        _ => panic!("{}: not a matrix", t.name),
    }
}

/// The op of a golden case, applied to its inputs.
fn apply(name: &str, g: &mut Graph, x: &[NodeId]) -> NodeId {
    let op = match name {
        "matmul_nn" | "matmul_long_k" => g.matmul(x[0], x[1]),
        "matmul_nt" => g.matmul_t(x[0], x[1], false, true),
        "matmul_tn" => g.matmul_t(x[0], x[1], true, false),
        "matmul_tt" => g.matmul_t(x[0], x[1], true, true),
        "add_row" => g.add(x[0], x[1]),
        "sub_scalar" => g.sub(x[0], x[1]),
        "mul" => g.mul(x[0], x[1]),
        "scale" => g.scale(x[0], 2.5),
        "square" => g.square(x[0]),
        "sigmoid" => g.sigmoid(x[0]),
        "tanh" => g.tanh(x[0]),
        "relu" | "relu_special" => g.relu(x[0]),
        "exp" => g.exp(x[0]),
        "neg" => g.neg(x[0]),
        "abs" => g.abs(x[0]),
        "log" => g.log(x[0]),
        "div_row" => g.div(x[0], x[1]),
        "leaky_relu" => g.leaky_relu(x[0], 0.01),
        "softplus" => g.softplus(x[0]),
        "gelu_tanh" => g.gelu_tanh(x[0]),
        "pow_cube" | "pow_edges_cube" => g.pow(x[0], 3.0),
        "pow_half" | "pow_edges_half" => g.pow(x[0], 0.5),
        "pow_minus_two" => g.pow(x[0], -2.0),
        "layer_norm" => g.layer_norm(x[0], x[1], x[2], 1e-5),
        "gelu" => g.gelu(x[0]),
        "transpose" => g.transpose(x[0]),
        "slice_cols" => g.slice_cols(x[0], 2, 3),
        "pad_cols" => g.pad_cols(x[0], 2, 9),
        "concat_cols" => g.concat_cols(x[0], x[1]),
        "max_cols" | "max_cols_ties" => g.max_cols(x[0]),
        "max_rows" => g.max_rows(x[0]),
        "mean_rows" => g.mean_rows(x[0]),
        "mean_cols" => g.mean_cols(x[0]),
        "huber" => g.huber_loss(x[0], x[1], 0.5),
        "xent_smoothed" => g.cross_entropy_smoothed(x[0], x[1], 0.1),
        "xent_weighted" => g.cross_entropy_weighted(x[0], x[1], x[2]),
        "pow_edges_zero" => g.pow(x[0], 0.0),
        "add_col" => g.add(x[0], x[1]),
        "sum_cols" => g.sum_cols(x[0]),
        "softmax" => g.softmax(x[0]),
        "log_softmax" => g.log_softmax(x[0]),
        "l1_loss" => g.l1_loss(x[0], x[1]),
        "bce_with_logits" => g.bce_with_logits(x[0], x[1]),
        "stop_gradient" => {
            let detached = g.stop_gradient(x[0]).unwrap();
            g.mul(x[0], detached)
        }
        "sum" => g.sum(x[0]),
        "sum_rows" => g.sum_rows(x[0]),
        "mean" => g.mean(x[0]),
        "sum_squares" => g.sum_squares(x[0]),
        "mse" => g.mse_loss(x[0], x[1]),
        "softmax_xent" => g.softmax_cross_entropy(x[0], x[1]),
        "sqrt" => g.sqrt(x[0]),
        "clip_special" => g.clip_value(x[0], 1.0),
        "grad_stats" => g.grad_stats(x[0]),
        other => panic!("golden case {other} has no op here"),
    };
    op.unwrap()
}

/// Sums and products: f32 accumulation against the exact value.
fn tolerance(name: &str) -> Tolerance {
    let elementwise = [
        "add_row",
        "sub_scalar",
        "mul",
        "scale",
        "square",
        "sigmoid",
        "tanh",
        "relu",
        "exp",
        "sqrt",
        "neg",
        "abs",
        "log",
        "div_row",
        "leaky_relu",
        "softplus",
        "gelu",
        "pow",
    ];
    if elementwise.iter().any(|e| name.starts_with(e)) {
        TRANSCENDENTAL
    } else {
        REDUCTION
    }
}

/// `|a − e| ≤ atol + rtol·|e|`, and NaN exactly where PyTorch has NaN.
fn check(what: &str, actual: &[f32], expected: &[f32], tol: Tolerance) {
    assert_eq!(actual.len(), expected.len(), "{what}: lengths");
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        let ok = if e.is_nan() { a.is_nan() } else { a == e || (a - e).abs() <= tol.atol + tol.rtol * e.abs() };
        assert!(ok, "{what}[{i}]: got {a:e}, PyTorch {e:e} (tolerance {tol:?})");
    }
}

/// One golden case on `device`: inputs with a golden gradient are parameters, the others
/// data; the output and the gradients of sum(y · cot) are compared.
fn check_case(device: &Device, name: &str, golden: &HashMap<String, Tensor>) {
    let mut g = Graph::new();
    let inputs: Vec<(NodeId, Option<&Tensor>)> = (0..)
        .map_while(|i| golden.get(&format!("{name}.x{i}")).map(|x| (i, x)))
        .map(|(i, x)| {
            let grad = golden.get(&format!("{name}.g{i}"));
            let node = match grad {
                Some(_) => g.parameter(&format!("x{i}"), shape(x), x.values.clone()),
                None => g.constant(shape(x), x.values.clone()),
            };
            (node.unwrap(), grad)
        })
        .collect();
    let ids: Vec<NodeId> = inputs.iter().map(|(id, _)| *id).collect();
    let y = apply(name, &mut g, &ids);
    let mut keep = vec![y];
    let mut expected = vec![(format!("{name}.y"), &golden[&format!("{name}.y")])];
    if let Some(cot) = golden.get(&format!("{name}.cot")) {
        let seed = g.constant(shape(cot), cot.values.clone()).unwrap();
        let grads = g.backward_from(y, seed).unwrap();
        for (i, (id, grad)) in inputs.iter().enumerate() {
            if let Some(grad) = grad {
                keep.push(grads.get(*id).unwrap());
                expected.push((format!("{name}.g{i}"), grad));
            }
        }
    }
    let mut session = device.compile_inference(&g, &keep).unwrap();
    let actual = session.run_and_read(&keep).unwrap();
    for (values, (what, want)) in actual.iter().zip(expected) {
        check(&what, values, &want.values, tolerance(name));
    }
}

pub fn every_op_matches_pytorch(device: &Device) {
    let golden = golden("ops.safetensors");
    let mut names: Vec<&str> = golden.keys().filter_map(|k| k.strip_suffix(".y")).collect();
    names.sort_unstable();
    assert_eq!(names.len(), 58, "every case of make_golden.py has an op here");
    for name in names {
        check_case(device, name, &golden);
    }
}

/// Five steps of an MLP 4-5-3 on one batch with `optimizer`, the learning rate set before
/// each step from `schedule`: every loss and the final parameters against PyTorch's, from
/// the entries of `golden` under `prefix` (`init.*`, `loss`, `final.*`).
fn five_steps(
    device: &Device,
    golden: &HashMap<String, Tensor>,
    prefix: &str,
    optimizer: Optimizer,
    schedule: Schedule,
) {
    let mut model = Sequential::mlp(&[4, 5, 3], Layer::Relu, Init::PyTorch, &mut init::rng(0)).unwrap();
    let init_prefix = format!("{prefix}init.");
    let start: Vec<Tensor> = golden
        .values()
        .filter_map(|t| t.name.strip_prefix(&init_prefix).map(|n| Tensor { name: n.to_owned(), ..t.clone() }))
        .collect();
    model.load_state_dict(&start, Path::new("golden")).unwrap();
    let mut g = Graph::new();
    let x = g.input("x", [8, 4]).unwrap();
    let y = g.input("y", [8, 3]).unwrap();
    let recorded = model.record(&mut g, x).unwrap();
    let loss = g.softmax_cross_entropy(recorded.output, y).unwrap();
    let grads = g.backward(loss).unwrap();
    let lr = g.optimize(&grads, optimizer).unwrap().learning_rate;
    let mut session = device.compile(&g, &[loss]).unwrap();
    session.write(x, &golden["x"].values).unwrap();
    session.write(y, &golden["y"].values).unwrap();
    let losses: Vec<f32> = (0..5)
        .map(|t| {
            session.write(lr, &[schedule.lr(optimizer.lr(), t).unwrap()]).unwrap();
            session.run_and_read(&[loss]).unwrap()[0][0]
        })
        .collect();
    let tol = Tolerance { atol: 1e-6, rtol: 1e-5 };
    check(&format!("{prefix}losses"), &losses, &golden[&format!("{prefix}loss")].values, tol);
    for (name, id) in &recorded.params {
        let final_values = session.read(*id).unwrap();
        check(&format!("{prefix}{name}"), &final_values, &golden[&format!("{prefix}final.{name}")].values, tol);
    }
}

/// Five Adam steps of an MLP 4-5-3 on one batch: every loss and the final parameters.
pub fn five_adam_steps_match_pytorch(device: &Device) {
    five_steps(device, &golden("adam.safetensors"), "", Optimizer::adam(0.01), Schedule::Constant);
}

/// Weight decay (L2 and decoupled), Nesterov momentum, and a learning rate changed
/// between steps by a cosine schedule, each five steps against PyTorch.
pub fn weight_decay_nesterov_and_schedules_match_pytorch(device: &Device) {
    let golden = golden("optimizers.safetensors");
    let cases = [
        ("adam_l2.", Optimizer::adam(0.01).with_weight_decay(0.1), Schedule::Constant),
        ("adamw.", Optimizer::adamw(0.01).with_weight_decay(0.1), Schedule::Constant),
        ("sgd_wd.", Optimizer::sgd(0.1).with_weight_decay(0.05), Schedule::Constant),
        (
            "sgd_nesterov.",
            Optimizer::sgd_momentum(0.1, 0.9).with_nesterov().with_weight_decay(0.05),
            Schedule::Constant,
        ),
        ("adamw_cosine.", Optimizer::adamw(0.01), Schedule::Cosine { steps: 5, min_lr: 0.001 }),
    ];
    for (prefix, optimizer, schedule) in cases {
        five_steps(device, &golden, prefix, optimizer, schedule);
    }
}

/// The schedules' rates against PyTorch's `StepLR` and a `LinearLR` warm-up followed by
/// `CosineAnnealingLR` (`SequentialLR`), over 12 steps from 0.1.
pub fn schedules_match_pytorch_schedulers() {
    let golden = golden("optimizers.safetensors");
    let warmup =
        Schedule::Warmup { steps: 3, start_factor: 0.1, then: Box::new(Schedule::Cosine { steps: 7, min_lr: 0.001 }) };
    for (name, schedule) in [("step", Schedule::Step { every: 3, gamma: 0.5 }), ("warmup_cosine", warmup)] {
        let rates: Vec<f32> = (0..12).map(|t| schedule.lr(0.1, t).unwrap()).collect();
        check(
            &format!("schedule {name}"),
            &rates,
            &golden[&format!("schedule.{name}")].values,
            Tolerance { atol: 1e-7, rtol: 1e-6 },
        );
    }
}
