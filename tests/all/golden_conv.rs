//! Convolutions and poolings on both backends against PyTorch: every case of
//! `tests/golden/make_golden_conv.py` (odd shapes, stride, padding, dilation, groups,
//! depthwise, batch 1, pooling with padding and ties, batch norm in both modes), outputs
//! and gradients; and a batch norm's running estimates after three training steps.

use backprop::conv::{Conv2d, Pool2d};
use backprop::{Device, Graph, NodeId, Result};

use crate::golden_nd::{check_case, golden};

fn apply(name: &str, g: &mut Graph, x: &[NodeId]) -> Result<NodeId> {
    let conv = |g: &mut Graph, o: Conv2d| g.conv2d(x[0], x[1], x.get(2).copied(), o);
    let d = Conv2d::default();
    match name {
        "conv_plain" | "conv_1x1_odd_channels" => conv(g, d),
        "conv_stride2_pad1" => conv(g, Conv2d { stride: [2, 2], padding: [1, 1], ..d }),
        "conv_groups2_dil2_pad2" => conv(g, Conv2d { padding: [2, 2], dilation: [2, 2], groups: 2, ..d }),
        "conv_depthwise" => conv(g, Conv2d { padding: [1, 1], groups: 3, ..d }),
        "conv_no_bias_rect" => conv(g, Conv2d { stride: [2, 1], padding: [1, 2], ..d }),
        "max_pool_pad_ties" => g.max_pool2d(x[0], Pool2d { kernel: [3, 3], stride: [2, 2], padding: [1, 1] }),
        "max_pool_2x2" => g.max_pool2d(x[0], Pool2d::square(2)),
        "avg_pool_pad" => g.avg_pool2d(x[0], Pool2d { kernel: [2, 2], stride: [2, 2], padding: [1, 1] }),
        "adaptive_avg_1x1" => g.adaptive_avg_pool2d(x[0]),
        "batch_norm_train_4d" | "batch_norm_train_2d" => Ok(g.batch_norm_train(x[0], x[1], x[2], 1e-5)?.output),
        "batch_norm_eval_4d" => g.batch_norm_eval(x[0], x[1], x[2], [x[3], x[4]], 1e-5),
        other => panic!("golden case {other} has no op here"),
    }
}

pub fn convolutions_and_poolings_match_pytorch(device: &Device) {
    let golden = golden("conv.safetensors");
    let mut names: Vec<&str> = golden.keys().filter_map(|k| k.strip_suffix(".y")).collect();
    names.sort_unstable();
    assert_eq!(names.len(), 13, "every case of make_golden_conv.py has an op here");
    for name in names {
        check_case(device, name, &golden, apply);
    }
}

/// Bad convolutions and poolings are errors naming the op and the parameter at fault.
pub fn bad_convolutions_name_the_parameter() {
    let mut g = Graph::new();
    let x = g.input("x", [2, 4, 5, 5]).unwrap();
    let flat = g.input("flat", [2, 100]).unwrap();
    let w = g.parameter("w", [6, 2, 3, 3], vec![0.0; 108]).unwrap();
    let w6 = g.parameter("w6", [6, 4, 6, 6], vec![0.0; 864]).unwrap();
    let said = |r: Result<NodeId>| r.expect_err("an error").to_string();
    let d = Conv2d::default();
    let cases = [
        (said(g.conv2d(x, w6, None, d)), vec!["conv2d", "kernel spans [6, 6]", "[5, 5]"]),
        (said(g.conv2d(x, w, None, Conv2d { groups: 3, ..d })), vec!["conv2d", "groups 3", "4 input"]),
        (said(g.conv2d(x, w, None, d)), vec!["conv2d", "2 channels per group", "4 in 1 group"]),
        (said(g.conv2d(x, w, None, Conv2d { stride: [0, 1], groups: 2, ..d })), vec!["conv2d", "stride [0, 1]"]),
        (said(g.conv2d(flat, w, None, d)), vec!["conv2d", "[n, c, h, w]", "[2, 100]"]),
        (
            said(g.max_pool2d(x, Pool2d { kernel: [2, 2], stride: [2, 2], padding: [2, 2] })),
            vec!["max_pool2d", "padding [2, 2]"],
        ),
        (said(g.avg_pool2d(x, Pool2d::square(6))), vec!["avg_pool2d", "kernel spans [6, 6]"]),
    ];
    for (message, parts) in cases {
        for part in parts {
            assert!(message.contains(part), "'{message}' should say '{part}'");
        }
    }
}

/// The layers of a CNN record PyTorch's names and shapes, and a `Classifier` takes the
/// image size from `Unflatten` and trains them (a few steps on the shipped split).
pub fn cnn_layers_have_pytorch_names_and_train(device: &Device) {
    use backprop::classifier::Classifier;
    use backprop::data::Dataset;
    use backprop::nn::{Conv2d as Conv, Flatten, Init, Layer, Linear, MaxPool2d, Sequential, Unflatten};
    use backprop::{init, Optimizer};
    let mut rng = init::rng(0);
    let same = Conv2d { padding: [1, 1], ..Conv2d::default() };
    let model = Sequential::new()
        .with(Unflatten(vec![1, 28, 28]))
        .with(Conv::new(1, 4, [3, 3], same, &mut rng).unwrap())
        .with(Layer::Relu)
        .with(MaxPool2d(Pool2d::square(2)))
        .with(Flatten)
        .with(Linear::new(4 * 14 * 14, 10, Init::PyTorch, &mut rng).unwrap());
    let shapes: Vec<(String, Vec<usize>)> = model.parameters().into_iter().map(|p| (p.name, p.shape)).collect();
    let expected =
        [("1.weight", vec![4, 1, 3, 3]), ("1.bias", vec![4]), ("5.weight", vec![10, 784]), ("5.bias", vec![10])];
    assert_eq!(shapes, expected.map(|(n, s)| (n.to_owned(), s)));
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    let all = Dataset::load(&dir.join("t10k-images-idx3-ubyte.gz"), &dir.join("t10k-labels-idx1-ubyte.gz")).unwrap();
    let (train, test) = all.split_at(9_600);
    let mut c = Classifier::new(device, model, Optimizer::adam(3e-3), 64, 400).unwrap();
    let before = c.evaluate(&test).unwrap().accuracy;
    let mut epoch = c.epoch(&train, &mut init::rng(1)).unwrap();
    epoch.steps(40).unwrap();
    epoch.finish().unwrap();
    let after = c.evaluate(&test).unwrap().accuracy;
    assert!(after > 0.6 && after > before + 0.3, "40 steps take {before} to {after}");
}

/// `nn::BatchNorm2d`'s running estimates after three training steps, against PyTorch's.
pub fn batch_norm_running_estimates_match_pytorch(device: &Device) {
    use backprop::nn::{BatchNorm2d, Sequential};
    let golden = golden("conv.safetensors");
    let model = Sequential::new().with(BatchNorm2d::new(3).unwrap());
    let mut g = Graph::new();
    let x = g.input("x", [2, 3, 4, 4]).unwrap();
    let recorded = model.record(&mut g, x).unwrap();
    let names = ["0.running_mean", "0.running_var", "0.num_batches_tracked"];
    let buffers: Vec<String> = recorded.buffers.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(buffers, names);
    let mut session = device.compile(&g, &[recorded.output]).unwrap();
    for i in 0..3 {
        session.write(x, &golden[&format!("bn_running.x{i}")].values).unwrap();
        session.run().unwrap();
    }
    for name in names {
        let want = &golden[&format!("bn_running.{}", name.trim_start_matches("0."))];
        crate::common::assert_close(name, &session.read_named(name).unwrap(), &want.values, crate::common::REDUCTION);
    }
}

/// A CNN with batch norm in a `Classifier`: the running estimates move in training,
/// evaluation reads them (not the batch's statistics), and a save and load into a fresh
/// classifier carries them (the same evaluation, the buffers in the checkpoint).
pub fn batch_norm_trains_evaluates_and_saves(device: &Device) {
    use backprop::checkpoint;
    use backprop::classifier::Classifier;
    use backprop::data::Dataset;
    use backprop::nn::{BatchNorm2d, Conv2d as Conv, Flatten, Init, Layer, Linear, MaxPool2d, Sequential, Unflatten};
    use backprop::{init, Optimizer};
    let network = || {
        let mut rng = init::rng(2);
        Sequential::new()
            .with(Unflatten(vec![1, 28, 28]))
            .with(Conv::new(1, 4, [3, 3], Conv2d::default(), &mut rng).unwrap())
            .with(BatchNorm2d::new(4).unwrap())
            .with(Layer::Relu)
            .with(MaxPool2d(Pool2d::square(2)))
            .with(Flatten)
            .with(Linear::new(4 * 13 * 13, 10, Init::PyTorch, &mut rng).unwrap())
    };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    let all = Dataset::load(&dir.join("t10k-images-idx3-ubyte.gz"), &dir.join("t10k-labels-idx1-ubyte.gz")).unwrap();
    let (train, test) = all.split_at(9_700);
    let mut c = Classifier::new(device, network(), Optimizer::adam(3e-3), 64, 300).unwrap();
    let mut epoch = c.epoch(&train, &mut init::rng(1)).unwrap();
    epoch.steps(30).unwrap();
    epoch.finish().unwrap();
    let trained = c.model().unwrap();
    let tracked = trained.buffers().into_iter().find(|b| b.name == "2.num_batches_tracked").unwrap();
    assert_eq!(tracked.values, [30.0], "one count per step");
    let mean = trained.buffers().into_iter().find(|b| b.name == "2.running_mean").unwrap();
    assert!(mean.values.iter().all(|v| *v != 0.0), "the running mean moved: {:?}", mean.values);
    let accuracy = c.evaluate(&test).unwrap().accuracy;
    assert!(accuracy > 0.5, "{accuracy}");
    let path = crate::files::temp_dir("bn-save").join("bn.safetensors");
    c.save(&path, 1, 1, train.len()).unwrap();
    let names: Vec<String> = checkpoint::load(&path).unwrap().into_iter().map(|t| t.name).collect();
    for name in ["2.running_mean", "2.running_var", "2.num_batches_tracked", "2.weight", "1.weight"] {
        assert!(names.contains(&name.to_owned()), "{name} in {names:?}");
    }
    let mut fresh = Classifier::new(device, network(), Optimizer::adam(3e-3), 64, 300).unwrap();
    fresh.load(&path).unwrap();
    assert_eq!(fresh.evaluate(&test).unwrap().accuracy, accuracy, "the loaded model evaluates the same");
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

/// The cnn example's network (without its dropout, whose masks are drawn differently)
/// from PyTorch's initial weights: five Adam steps on one batch give PyTorch's losses and
/// parameters, on both backends.
pub fn five_adam_steps_of_the_cnn_match_pytorch(device: &Device) {
    use backprop::nn::{Conv2d as Conv, Flatten, Init, Layer, Linear, MaxPool2d, Sequential, Unflatten};
    use backprop::{init, Optimizer};
    let golden = golden("conv.safetensors");
    let mut rng = init::rng(0);
    let same = Conv2d { padding: [1, 1], ..Conv2d::default() };
    let mut model = Sequential::new()
        .with(Unflatten(vec![1, 28, 28]))
        .with(Conv::new(1, 32, [3, 3], same, &mut rng).unwrap())
        .with(Layer::Relu)
        .with(MaxPool2d(Pool2d::square(2)))
        .with(Conv::new(32, 64, [3, 3], same, &mut rng).unwrap())
        .with(Layer::Relu)
        .with(MaxPool2d(Pool2d::square(2)))
        .with(Flatten)
        .with(Linear::new(64 * 7 * 7, 128, Init::PyTorch, &mut rng).unwrap())
        .with(Layer::Relu)
        .with(Linear::new(128, 10, Init::PyTorch, &mut rng).unwrap());
    let names: Vec<String> = model.parameters().into_iter().map(|p| p.name).collect();
    for name in &names {
        model.set_parameter(name, &golden[&format!("cnn_adam.init.{name}")].values).unwrap();
    }
    let mut g = Graph::new();
    let (x, y) = (g.input("x", [4, 784]).unwrap(), g.input("y", [4, 10]).unwrap());
    let recorded = model.record(&mut g, x).unwrap();
    let loss = g.softmax_cross_entropy(recorded.output, y).unwrap();
    let grads = g.backward(loss).unwrap();
    g.optimize(&grads, Optimizer::adam(1e-3)).unwrap();
    let mut session = device.compile(&g, &[loss]).unwrap();
    session.write(x, &golden["cnn_adam.images"].values).unwrap();
    session.write(y, &golden["cnn_adam.targets"].values).unwrap();
    let losses: Vec<f32> = (0..5).map(|_| session.run_and_read(&[loss]).unwrap()[0][0]).collect();
    let tolerance = crate::common::Tolerance { atol: 1e-5, rtol: 1e-4 };
    crate::common::assert_close("losses", &losses, &golden["cnn_adam.losses"].values, tolerance);
    // Adam divides each gradient by its own root mean square, so a parameter whose
    // gradient is at the level of f32 rounding (a feature the pooled ReLUs leave at zero
    // for most images) moves by up to the rate each step, either way: such parameters may
    // differ by up to 5 steps × 2 × lr, and may be at most 1 in 1,000; every other is held
    // to the tight tolerance.
    for (name, id) in &recorded.params {
        let trained = session.read(*id).unwrap();
        let want = &golden[&format!("cnn_adam.final.{name}")].values;
        let loose: Vec<usize> = (0..want.len())
            .filter(|&i| (trained[i] - want[i]).abs() > tolerance.atol + tolerance.rtol * want[i].abs())
            .collect();
        assert!(loose.len() * 1000 <= want.len(), "{name}: {} of {} values off", loose.len(), want.len());
        for i in loose {
            assert!((trained[i] - want[i]).abs() <= 1e-2, "{name}[{i}]: {} against {}", trained[i], want[i]);
        }
    }
}

/// The GPU's implicit products and poolings against the CPU's at sizes the goldens do
/// not reach: odd images under a 2×2 pooling, groups with stride 2, and a weight
/// gradient summed over 4 × 33 × 29 pixels (split into ranges on the GPU); each
/// gradient through a cotangent.
pub fn convolutions_gpu_match_cpu(device: &Device) {
    use backprop::testing::compare_backends;
    use backprop::Shape;
    let image = Shape::from([4, 6, 33, 29]);
    let weights = |g: &mut Graph, shape: [usize; 4]| {
        let len = shape.iter().product();
        g.parameter("w", shape, (0..len).map(|i| ((i * 37) % 23) as f32 / 23.0 - 0.5).collect())
    };
    let block = |which: usize| {
        move |g: &mut Graph, x: &[NodeId]| -> Result<NodeId> {
            let xp = g.parameter("x", image, vec![0.25; image.len()])?;
            let input = g.add(xp, x[0])?;
            let w = weights(g, [10, 3, 3, 2])?;
            let o = Conv2d { stride: [2, 1], padding: [1, 1], groups: 2, ..Conv2d::default() };
            let y = g.conv2d(input, w, None, o)?;
            let y = g.max_pool2d(y, Pool2d::square(2))?;
            let cot = g.tanh(y)?;
            let grads = g.backward_from(y, cot)?;
            Ok(match which {
                0 => y,
                1 => grads.get(xp).expect("x takes a gradient"),
                _ => grads.get(w).expect("w takes a gradient"),
            })
        }
    };
    for (which, what) in ["output", "image gradient", "weight gradient"].iter().enumerate() {
        let (actual, expected) = compare_backends(device, &[image], 11, block(which)).unwrap();
        crate::common::assert_close(&format!("conv block {what}"), &actual, &expected, crate::common::REDUCTION);
    }
}
