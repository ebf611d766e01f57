//! Misuses of the public API, each an `Err` naming the cause: never a panic, an abort, or
//! silently another node.

use backprop::checkpoint::{self, Tensor};
use backprop::classifier::Classifier;
use backprop::data::Dataset;
use backprop::models::Block;
use backprop::models::DeepNet;
use backprop::nn::{Init, Layer, Linear, Sequential};
use backprop::{init, Device, Error, Graph, Optimizer, Shape};

fn message<T>(result: backprop::Result<T>) -> (Error, String) {
    match result {
        Ok(_) => panic!("expected an error"),
        Err(err) => {
            let text = err.to_string();
            (err, text)
        }
    }
}

pub fn sizes_beyond_the_limit_are_errors_naming_size_and_limit() {
    let mut g = Graph::new();
    for shape in [[1 << 20, 1 << 20], [1 << 40, 1 << 40], [usize::MAX, 784], [10_000_000_000, 784]] {
        let (err, text) = message(g.input("x", shape));
        assert!(matches!(err, Error::TooLarge { .. }), "{shape:?}: {text}");
        assert!(text.contains("values") && text.contains(&Shape::MAX_ELEMENTS.to_string()), "{text}");
    }
    let (err, _) = message(g.state("s", [1 << 40, 1 << 40]));
    assert!(matches!(err, Error::TooLarge { .. }));
    assert!(g.input("x", [0, 3]).unwrap_err().to_string().contains("empty shape"));
    let (err, _) = message(init::normal(&mut init::rng(0), [1 << 33, 1]));
    assert!(matches!(err, Error::TooLarge { .. }));
}

pub fn a_classifier_with_an_absurd_batch_is_an_error() {
    let model = Sequential::mlp(&[784, 16, 10], Layer::Relu, Init::PyTorch, &mut init::rng(0)).unwrap();
    for batch in [usize::MAX, 10_000_000_000] {
        let (err, text) = message(Classifier::new(&Device::Cpu, model.clone(), Optimizer::adam(1e-3), batch, 10));
        assert!(matches!(err, Error::TooLarge { .. }), "{text}");
    }
}

/// Eight live tensors of 2³² − 1 values: 137 GB, more than any test machine can allocate.
/// The CPU session says so before allocating, instead of aborting the process.
pub fn a_cpu_session_beyond_memory_is_an_error() {
    let mut g = Graph::new();
    let x = g.input("x", [65_535, 65_537]).unwrap();
    let mut keep = vec![];
    let mut h = x;
    for _ in 0..8 {
        h = g.relu(h).unwrap();
        keep.push(h);
    }
    let (err, text) = message(Device::Cpu.compile(&g, &keep));
    assert!(matches!(err, Error::TooLarge { .. }), "{text}");
    assert!(text.contains("bytes"), "{text}");
}

pub fn layers_and_initialisers_reject_bad_sizes() {
    let mut rng = init::rng(0);
    for (i, o) in [(0, 3), (3, 0), (0, 0)] {
        let (err, text) = message(Linear::new(i, o, Init::PyTorch, &mut rng));
        assert!(matches!(err, Error::InvalidArgument { .. }) && text.contains("at least 1"), "{text}");
    }
    assert_eq!(init::uniform(&mut rng, [2, 3], 0.0).unwrap(), vec![0.0; 6]);
    for bound in [-1.0, f32::NAN, f32::INFINITY] {
        assert!(message(init::uniform(&mut rng, [2, 3], bound)).1.contains("bound"));
    }
    assert!(Sequential::mlp(&[4, 0, 2], Layer::Relu, Init::He, &mut rng).is_err());
    let (_, text) = message(DeepNet::new(Block::Sigmoid, 0, 100, 32, 0));
    assert!(text.contains("depth 0"), "{text}");
}

pub fn datasets_keep_their_invariants() {
    let (_, text) = message(Dataset::new(vec![0.5; 8], vec![1, 200], 4));
    assert!(text.contains("label 200"), "{text}");
    let (_, text) = message(Dataset::new(vec![0.5; 7], vec![1, 2], 4));
    assert!(text.contains("7 values are not 2 images of 4 pixels"), "{text}");
    assert!(Dataset::new(vec![], vec![], 0).is_err());
    assert!(Dataset::new(vec![f32::NAN; 4], vec![1], 4).unwrap_err().to_string().contains("not finite"));
    let data = Dataset::new(vec![0.5; 8], vec![1, 2], 4).unwrap();
    let (mut x, mut y) = (vec![0.0; 8], vec![0.0; 20]);
    assert!(data.fill_batch(&[0, 2], &mut x, &mut y).unwrap_err().to_string().contains("sample 2"));
    assert!(data.fill_batch(&[0, 1, 1], &mut x, &mut y).is_err(), "more samples than rows");
    assert!(data.fill_batch(&[0], &mut x[..5], &mut y).is_err(), "buffers that disagree");
}

pub fn checkpoints_refuse_duplicate_names_and_non_finite_weights() {
    let dir = crate::files::temp_dir("duplicates");
    let t = |name: &str| Tensor { name: name.into(), shape: vec![2], values: vec![1.0, 2.0] };
    let path = dir.join("m.safetensors");
    let (_, text) = message(checkpoint::save(&path, &[t("a"), t("b"), t("a")]));
    assert!(text.contains("two tensors are named a"), "{text}");
    assert!(!path.exists());
    let mut model = Sequential::mlp(&[3, 2], Layer::Relu, Init::PyTorch, &mut init::rng(0)).unwrap();
    let mut tensors = model.state_dict();
    tensors[0].values[1] = f32::NAN;
    let (_, text) = message(model.load_state_dict(&tensors, &path));
    assert!(text.contains("0.weight holds NaN or infinite values"), "{text}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// Ids of another graph are errors in recording, gradients, sessions and copies, even
/// when their index is in range of this graph.
pub fn node_ids_know_their_graph(device: &Device) {
    let build = || {
        let mut g = Graph::new();
        let x = g.input("x", [1, 2]).unwrap();
        let w = g.parameter("w", [1, 2], vec![0.5, -0.5]).unwrap();
        let y = g.mul(x, w).unwrap();
        let loss = g.sum(y).unwrap();
        (g, x, w, loss)
    };
    let (mut a, ax, aw, a_loss) = build();
    let (mut b, bx, bw, b_loss) = build();
    assert_eq!((ax.index(), aw.index()), (bx.index(), bw.index()), "same positions, different graphs");
    assert!(matches!(a.add(ax, bw), Err(Error::ForeignNode { .. })));
    assert!(matches!(a.shape(bx), Err(Error::ForeignNode { .. })));
    let b_grads = b.backward(b_loss).unwrap();
    assert!(matches!(a.sgd(&b_grads, 0.1), Err(Error::ForeignNode { .. })));
    assert!(matches!(a.optimize(&b_grads, Optimizer::adam(0.1)), Err(Error::ForeignNode { .. })));
    assert!(matches!(a.clip_grad_norm(&b_grads, 1.0), Err(Error::ForeignNode { .. })));
    assert!(matches!(device.compile(&a, &[b_loss]), Err(Error::ForeignNode { .. })));
    let a_grads = a.backward(a_loss).unwrap();
    a.sgd(&a_grads, 0.1).unwrap();
    b.sgd(&b_grads, 0.1).unwrap();
    let mut sa = device.compile(&a, &[a_loss]).unwrap();
    let mut sb = device.compile(&b, &[b_loss]).unwrap();
    assert!(matches!(sa.write(bx, &[1.0, 1.0]), Err(Error::ForeignNode { .. })));
    assert!(matches!(sa.read(bw), Err(Error::ForeignNode { .. })));
    assert!(matches!(sa.run_and_read(&[b_loss]), Err(Error::ForeignNode { .. })));
    assert!(matches!(sa.copy_to(sb.as_mut(), &[aw]), Err(Error::ForeignNode { .. })));
    assert_eq!(sb.read(bw).unwrap(), vec![0.5, -0.5], "nothing was written into the other session");
}

/// Reading a computed node before the first run is the same error on both backends;
/// reading a node that was not kept says so (not "another graph").
pub fn reads_before_the_first_run_and_of_unkept_nodes(device: &Device) {
    let mut g = Graph::new();
    let x = g.parameter("x", [1, 3], vec![1.0, -2.0, 3.0]).unwrap();
    let y = g.relu(x).unwrap();
    let z = g.sum(y).unwrap();
    let mut session = device.compile(&g, &[z]).unwrap();
    assert!(matches!(session.read(z), Err(Error::NotComputed { .. })));
    assert!(matches!(session.read(y), Err(Error::NotKept { .. })));
    assert_eq!(session.read(x).unwrap(), vec![1.0, -2.0, 3.0], "leaves are readable at once");
    session.run().unwrap();
    assert_eq!(session.read(z).unwrap(), vec![4.0]);
    assert!(session.read(y).unwrap_err().to_string().contains("not kept"));
}

pub fn update_ops_are_checked_like_every_other_op() {
    let mut g = Graph::new();
    let total = g.state("total", [1, 1]).unwrap();
    let x = g.parameter("x", [1, 1], vec![2.0]).unwrap();
    let text = message(g.accumulate(total, total)).1;
    assert!(text.contains("read and written by one update"), "{text}");
    let first = g.accumulate(total, x).unwrap();
    assert!(g.accumulate(total, first).is_err(), "an update of total shares its storage");
    let sq = g.square(x).unwrap();
    assert!(message(g.accumulate(sq, x)).1.contains("not a state or parameter"));
    let row = g.state("row", [1, 3]).unwrap();
    assert!(matches!(g.accumulate(row, x), Err(Error::Shape { .. })));
    let loss = g.sum(sq).unwrap();
    let grads = g.backward(loss).unwrap();
    for lr in [f32::NAN, f32::INFINITY, -0.1] {
        assert!(message(g.sgd(&grads, lr)).1.contains("learning rate"), "lr {lr}");
    }
    let step = g.state("step", [1, 2]).unwrap();
    let record = g.state("record", [1, 3]).unwrap();
    assert!(g.first_non_finite(record, step, step, 0).is_err(), "one node read twice");
    assert!(g.first_non_finite(row, loss, step, 0).is_ok());
}

/// The generic recording of the elementwise family checks operands and its constant.
pub fn map_checks_operands_and_constant() {
    use backprop::Map;
    let mut g = Graph::new();
    let x = g.input("x", [2, 3]).unwrap();
    let row = g.input("row", [1, 3]).unwrap();
    let col = g.input("col", [2, 1]).unwrap();
    let bad = g.input("bad", [3, 2]).unwrap();
    assert!(g.map(Map::Div, 0.0, &[x, row]).is_ok(), "a row broadcasts");
    assert!(g.map(Map::Div, 0.0, &[x, col]).is_ok(), "a column broadcasts");
    let err = g.map(Map::Div, 0.0, &[x, bad]).unwrap_err();
    assert!(matches!(err, Error::Broadcast { .. }), "{err}");
    assert_eq!(err.to_string(), "div: [2, 3] and [3, 2] do not broadcast: dim -1 is 3 against 2");
    assert!(message(g.map(Map::Exp, 0.0, &[x, x])).1.contains("takes 1 operands"));
    assert!(message(g.map(Map::Broadcast, 0.0, &[x])).1.contains("takes"));
    assert!(message(g.leaky_relu(x, f32::NAN)).1.contains("finite constant"));
    let other = Graph::new().input("y", [2, 3]).unwrap();
    assert!(matches!(g.map(Map::Neg, 0.0, &[other]), Err(Error::ForeignNode { .. })));
}

/// Column ranges out of bounds and mismatched rows are errors naming the op.
pub fn layout_ops_check_their_ranges() {
    let mut g = Graph::new();
    let x = g.input("x", [3, 4]).unwrap();
    let y = g.input("y", [2, 4]).unwrap();
    for (result, expected) in [
        (g.slice_cols(x, 2, 3), "columns 2..5 of a [3, 4] value"),
        (g.slice_cols(x, 0, 0), "columns 0..0"),
        (g.slice_cols(x, usize::MAX, 2), "slice_cols"),
        (g.pad_cols(x, 1, 4), "a [3, 4] value at column 1 of 4"),
    ] {
        let err = result.unwrap_err().to_string();
        assert!(err.contains(expected), "{err}");
    }
    assert!(matches!(g.concat_cols(x, y), Err(Error::Shape { op: "concat_cols", .. })));
}

/// N-d misuse: each an error that names the op, the shapes and the rule broken.
pub fn tensor_ops_name_the_rule_they_break() {
    let mut g = Graph::new();
    let x = g.input("x", [2, 3, 4]).unwrap();
    let y = g.input("y", [3, 5]).unwrap();
    let idx = g.input("idx", [3]).unwrap();
    let seven = g.input("seven", [1, 1, 1, 1, 1, 1]).unwrap();
    let cases = [
        (g.add(x, y), "add: [2, 3, 4] and [3, 5] do not broadcast: dim -1 is 4 against 5"),
        (g.sum_dim(x, &[3], false), "sum_dim: dim 3 is out of range for [2, 3, 4] (rank 3)"),
        (g.softmax_dim(x, -4), "amax: dim -4 is out of range for [2, 3, 4] (rank 3)"),
        (g.reshape(x, [5, 5]), "reshape: [2, 3, 4] holds 24 values, [5, 5] holds 25"),
        (g.cat(&[x, y], 0), "cat: incompatible shapes [2, 3, 4] and [3, 5]"),
        (g.narrow(x, 1, 2, 2), "narrow: entries 2..4 of dim 1 of [2, 3, 4]"),
        (g.permute(x, &[0, 0, 1]), "permute: dim 0 is named twice"),
        (g.unsqueeze(seven, 0), "unsqueeze: 7 dims; tensors have at most 6"),
        (g.matmul(x, y), "matmul: incompatible shapes [2, 3, 4] and [3, 5]"),
        (g.transpose(x), "transpose: [2, 3, 4] is not a matrix"),
        (g.expand(y, [2, 4, 5]), "expand: [3, 5] and [2, 4, 5] do not broadcast: dim -2 is 3 against 4"),
        (g.index_select(x, 3, idx), "index_select: dim 3 is out of range"),
    ];
    for (result, expected) in cases {
        let err = result.unwrap_err().to_string();
        assert!(err.starts_with(expected), "{err}\n  expected: {expected}");
    }
    let err = g.check_indices(x, 1, &[0.0, 2.0, 3.0]).unwrap_err().to_string();
    assert!(err.contains("index 3 at position 2 is not an integer in 0..3 (dim 1 of [2, 3, 4])"), "{err}");
    assert!(g.check_indices(x, 1, &[1.5]).is_err() && g.check_indices(x, -1, &[3.0]).is_ok());
}

/// Indices from the host are checked when written; from the device (computed), an index
/// outside the table reads zeros on both backends, never a fault.
pub fn bad_indices_are_refused_from_the_host_and_defined_from_the_device(device: &Device) {
    let mut g = Graph::new();
    let table = g.parameter("table", [4, 2], (0..8).map(|v| v as f32).collect()).unwrap();
    let tokens = g.input("tokens", [3]).unwrap();
    let looked_up = g.embedding(table, tokens).unwrap();
    let computed = g.scale(tokens, 2.0).unwrap(); // 2·index: past the table for 2 and 3
    let far = g.embedding(table, computed).unwrap();
    let mut session = device.compile_inference(&g, &[looked_up, far]).unwrap();
    for bad in [[0.0, 4.0, 1.0], [0.0, -1.0, 1.0], [0.5, 1.0, 2.0], [f32::NAN, 1.0, 2.0]] {
        let err = session.write(tokens, &bad).unwrap_err().to_string();
        assert!(err.contains("is not an integer in 0..4 (dim 0 of table)"), "{err}");
    }
    session.write(tokens, &[1.0, 2.0, 3.0]).unwrap();
    let out = session.run_and_read(&[looked_up, far]).unwrap();
    assert_eq!(out[0], [2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
    assert_eq!(out[1], [4.0, 5.0, 0.0, 0.0, 0.0, 0.0], "indices 4 and 6 read zeros");
}
