//! Reductions and products at sizes where one workgroup, or one thread looping over
//! everything, is wrong on lavapipe (which stops a shader loop after 65,535 iterations)
//! and slow on a real GPU: 16.8M elements, 70,000 rows, K = 70,000, 30,000 classes. The
//! expected values are exact (sums of ones).

use backprop::{Device, Graph, NodeId};

fn run(device: &Device, g: &Graph, nodes: &[NodeId]) -> Vec<Vec<f32>> {
    let mut session = device.compile_inference(g, nodes).unwrap();
    session.run_and_read(nodes).unwrap()
}

pub fn reductions_of_16_million_elements(device: &Device) {
    let n = 1 << 24;
    let mut g = Graph::new();
    let ones = g.constant([4096, 4096], vec![1.0; n]).unwrap();
    let zeros = g.constant([4096, 4096], vec![0.0; n]).unwrap();
    let nodes = [
        g.sum(ones).unwrap(),
        g.mean(ones).unwrap(),
        g.sum_squares(ones).unwrap(),
        g.mse_loss(zeros, ones).unwrap(),
        g.grad_stats(ones).unwrap(),
    ];
    let out = run(device, &g, &nodes);
    assert_eq!(out[..4], [vec![16_777_216.0], vec![1.0], vec![16_777_216.0], vec![1.0]]);
    assert_eq!(out[4], vec![1.0, 1.0, 4096.0], "grad_stats: mean |g|, max |g|, norm");
}

pub fn column_sums_over_70000_rows(device: &Device) {
    let mut g = Graph::new();
    let x = g.constant([70_000, 3], vec![1.0; 210_000]).unwrap();
    let sums = g.sum_rows(x).unwrap();
    assert_eq!(run(device, &g, &[sums])[0], vec![70_000.0; 3]);
}

pub fn products_with_k_of_70000(device: &Device) {
    let mut g = Graph::new();
    let a = g.constant([2, 70_000], vec![1.0; 140_000]).unwrap();
    let b = g.constant([70_000, 3], vec![1.0; 210_000]).unwrap();
    let small = g.matmul(a, b).unwrap();
    let at = g.constant([70_000, 2], vec![1.0; 140_000]).unwrap();
    let transposed = g.matmul_t(at, b, true, false).unwrap();
    let out = run(device, &g, &[small, transposed]);
    assert_eq!(out[0], vec![70_000.0; 6]);
    assert_eq!(out[1], vec![70_000.0; 6]);
}

pub fn cross_entropy_over_30000_classes(device: &Device) {
    let classes = 30_000;
    let mut g = Graph::new();
    let logits = g.constant([2, classes], vec![0.0; 2 * classes]).unwrap();
    let mut targets = vec![0.0; 2 * classes];
    targets[7] = 1.0;
    targets[classes + 29_999] = 1.0;
    let targets = g.constant([2, classes], targets).unwrap();
    let loss = g.softmax_cross_entropy(logits, targets).unwrap();
    let correct = g.count_correct(logits, targets).unwrap();
    let out = run(device, &g, &[loss, correct]);
    let expected = (classes as f32).ln();
    assert!((out[0][0] - expected).abs() < 1e-5, "loss {} expected ln 30000 = {expected}", out[0][0]);
    assert_eq!(out[1], vec![0.0], "ties go to the first logit, which no target is at");
}

/// The same width with logits that differ (found from outside: on lavapipe the loss came
/// out 11.45 against PyTorch's 10.81, and gradient entries 0 against 0.38): the loss, its
/// gradient and the count on `device` against the CPU's.
pub fn cross_entropy_over_30000_varied_classes(device: &Device) {
    let classes = 30_000;
    let rows = 3;
    let logits: Vec<f32> = (0..rows * classes).map(|i| ((i * 7919) % 1000) as f32 / 100.0 - 5.0).collect();
    let mut targets = vec![0.0; rows * classes];
    for (r, hot) in [11, 29_999, 15_000].into_iter().enumerate() {
        targets[r * classes + hot] = 1.0;
    }
    let mut g = Graph::new();
    let z = g.parameter("z", [rows, classes], logits).unwrap();
    let t = g.constant([rows, classes], targets).unwrap();
    let loss = g.softmax_cross_entropy(z, t).unwrap();
    let dz = g.backward(loss).unwrap().get(z).unwrap();
    let correct = g.count_correct(z, t).unwrap();
    let keep = [loss, dz, correct];
    let expected = run(&Device::Cpu, &g, &keep);
    // Fused (loss and gradient in one launch) and unfused (each its own).
    for fuse in [true, false] {
        let options = backprop::CompileOptions { updates: false, fuse, ..Default::default() };
        let actual = device.compile_with(&g, &keep, options).unwrap().run_and_read(&keep).unwrap();
        for (what, (a, e)) in ["loss", "gradient", "count"].iter().zip(actual.iter().zip(&expected)) {
            crate::common::assert_close(&format!("{what}, fused {fuse}"), a, e, crate::common::REDUCTION);
        }
    }
}
