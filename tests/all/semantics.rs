//! One semantics on both backends, pinned to PyTorch: NaN propagates through relu,
//! clipping and the gradient statistics, and tanh keeps its relative precision near 0.

use backprop::{Device, Graph, NodeId};

/// Runs `op` on `values` (a `[1, n]` parameter) and reads the result.
fn apply(device: &Device, values: &[f32], op: impl Fn(&mut Graph, NodeId) -> NodeId) -> Vec<f32> {
    let mut g = Graph::new();
    let x = g.parameter("x", [1, values.len()], values.to_vec()).unwrap();
    let y = op(&mut g, x);
    let mut session = device.compile_inference(&g, &[y]).unwrap();
    session.run_and_read(&[y]).unwrap().remove(0)
}

/// Elementwise: NaN where `expected` is NaN, else equal.
fn same(what: &str, got: &[f32], expected: &[f32]) {
    let ok = got.len() == expected.len()
        && got.iter().zip(expected).all(|(g, e)| if e.is_nan() { g.is_nan() } else { g == e });
    assert!(ok, "{what}: got {got:?}, expected {expected:?}");
}

pub fn nan_propagates_as_in_pytorch(device: &Device) {
    let nan = f32::NAN;
    let x = [nan, -1.0, 2.0, f32::INFINITY, f32::NEG_INFINITY];
    same("relu", &apply(device, &x, |g, x| g.relu(x).unwrap()), &[nan, 0.0, 2.0, f32::INFINITY, 0.0]);
    same("clip_value", &apply(device, &x, |g, x| g.clip_value(x, 1.5).unwrap()), &[nan, -1.0, 1.5, 1.5, -1.5]);
    let factor = |norm: f32| apply(device, &[norm], |g, x| g.clip_coefficient(x, 1.0).unwrap());
    same("clip_coefficient of NaN", &factor(nan), &[nan]);
    same("clip_coefficient of 0.5", &factor(0.5), &[1.0]);
    same("grad_stats with NaN", &apply(device, &[1.0, nan, -3.0], |g, x| g.grad_stats(x).unwrap()), &[nan, nan, nan]);
    let stats = apply(device, &[1.0, -4.0, 3.0], |g, x| g.grad_stats(x).unwrap());
    same("grad_stats", &stats[..2], &[8.0 / 3.0, 4.0]);
    let inf = apply(device, &[1.0, f32::NEG_INFINITY], |g, x| g.grad_stats(x).unwrap());
    same("grad_stats with -inf", &inf, &[f32::INFINITY, f32::INFINITY, f32::INFINITY]);
}

/// tanh within 1e-6 of the exact value, relative, from 1e-30 to 100 (PyTorch's is
/// correctly rounded there); ±1, not NaN, at ±100.
pub fn tanh_is_accurate_near_zero_and_finite_far_out(device: &Device) {
    let magnitudes = [
        1e-30, 1e-20, 1e-10, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.1, 0.2, 0.2499, 0.25, 0.2501, 0.3, 0.5, 0.55, 1.0,
        2.0, 5.0, 9.0, 10.0, 20.0, 88.0, 100.0,
    ];
    let x: Vec<f32> = magnitudes.iter().flat_map(|&m: &f32| [m, -m]).collect();
    let y = apply(device, &x, |g, x| g.tanh(x).unwrap());
    for (&x, &y) in x.iter().zip(&y) {
        let exact = (x as f64).tanh();
        let relative = ((y as f64 - exact) / exact).abs();
        assert!(relative <= 1e-6, "tanh({x:e}) = {y:e}, exact {exact:e}: relative error {relative:.2e}");
    }
}

/// Adam's bias corrections `1 − βᵗ` stay within 1e-6 of the exact values over 10,000 steps
/// (and from the first step: in f32, 1 − 0.999 would be 1.3e-5 off). The state is
/// `[1 − β₁ᵗ, 1 − β₂ᵗ, β₁ᵗ, β₂ᵗ]`, read the way the update reads it.
pub fn adam_bias_corrections_are_exact(device: &Device) {
    let mut g = Graph::new();
    let w = g.parameter("w", [1, 2], vec![0.5, -0.5]).unwrap();
    let loss = g.sum_squares(w).unwrap();
    let grads = g.backward(loss).unwrap();
    g.optimize(&grads, backprop::Optimizer::adam(1e-3)).unwrap();
    let state = g.find("adam.bias_corrections").expect("Adam records its corrections");
    let mut session = device.compile(&g, &[loss]).unwrap();
    for t in 1..=10_000u32 {
        session.run().unwrap();
        if [1, 2, 10, 100, 1000, 3000, 6000, 10_000].contains(&t) {
            let c = session.read(state).unwrap();
            for (i, beta) in [0.9f64, 0.999].into_iter().enumerate() {
                // The value the update uses: the complement while small, else 1 − βᵗ.
                let used = if c[i] < 0.5 { c[i] as f64 } else { 1.0 - c[i + 2] as f64 };
                let (got, exact) = (used, 1.0 - beta.powi(t as i32));
                let relative = ((got - exact) / exact).abs();
                assert!(relative <= 1e-6, "step {t}: 1 − {beta}ᵗ = {got:e}, exact {exact:e} ({relative:.1e})");
            }
        }
    }
}

/// Both backends run the planner's storage slots, reused by last use: a plan that reuses
/// slots gives the values of one where every node keeps its own (all kept). Were a live
/// value's slot handed to a temporary, the two would differ.
pub fn reused_slots_never_clobber_a_live_value(device: &Device) {
    let build = || {
        let mut g = Graph::new();
        let values: Vec<f32> = (0..64).map(|i| ((i * 37 % 19) as f32 - 9.0) / 7.0).collect();
        let x = g.parameter("x", [8, 8], values).unwrap();
        let a = g.relu(x).unwrap();
        let b = g.sigmoid(a).unwrap();
        let c = g.tanh(x).unwrap();
        let d = g.add(b, c).unwrap();
        let e = g.mul(d, a).unwrap(); // `a` must survive three temporaries
        let f = g.square(e).unwrap();
        let h = g.matmul(f, d).unwrap();
        let loss = g.sum(h).unwrap();
        let dx = g.backward(loss).unwrap().get(x).unwrap();
        (g, loss, dx)
    };
    let (g, loss, dx) = build();
    let mut reusing = device.compile_inference(&g, &[loss, dx]).unwrap();
    let every: Vec<NodeId> = g.ids().filter(|&id| !g.nodes()[id.index()].op.is_leaf()).collect();
    let mut keeping = device.compile_inference(&g, &every).unwrap();
    let reused = reusing.run_and_read(&[loss, dx]).unwrap();
    let kept = keeping.run_and_read(&[loss, dx]).unwrap();
    assert_eq!(reused, kept);
}

/// The state an update changes stays its own however often the update node is read: the
/// non-finite guard's step counter (read by every check) and Adam's corrections (read by
/// every parameter's update) survive the clipping temporaries recorded after them.
pub fn update_targets_are_never_handed_to_temporaries(device: &Device) {
    let mut g = Graph::new();
    let w = g.parameter("w", [1, 3], vec![0.5, -1.0, 2.0]).unwrap();
    let b = g.parameter("b", [1, 1], vec![0.1]).unwrap();
    let y = g.add(w, b).unwrap();
    let loss = g.sum_squares(y).unwrap();
    let grads = g.backward(loss).unwrap();
    let guard = g.guard_non_finite(loss, &grads).unwrap();
    let clipped = g.clip_grad_norm(&grads, 1.0).unwrap();
    g.optimize(&clipped.grads, backprop::Optimizer::adam(1e-3)).unwrap();
    let [counter, corrections] = ["guard.step", "adam.bias_corrections"].map(|n| g.find(n).unwrap());
    let mut session = device.compile(&g, &[loss, guard.node()]).unwrap();
    for _ in 0..5 {
        session.run().unwrap();
    }
    assert_eq!(session.read(counter).unwrap(), vec![5.0, 0.0], "the guard counted every step");
    let c = session.read(corrections).unwrap();
    assert!((c[0] - (1.0 - 0.9f32.powi(5))).abs() < 1e-6, "Adam's corrections after 5 steps: {c:?}");
}

/// Step counts stay exact past 2²⁴ (where one f32 stops counting): the non-finite guard
/// names step 19,726,336 when it is the first bad one.
pub fn step_counts_are_exact_past_two_to_the_24(device: &Device) {
    let mut g = Graph::new();
    let w = g.parameter("w", [1, 2], vec![1.0, 2.0]).unwrap();
    let loss = g.sum_squares(w).unwrap();
    let grads = g.backward(loss).unwrap();
    let guard = g.guard_non_finite(loss, &grads).unwrap();
    g.sgd(&grads, 0.1).unwrap();
    let counter = g.find("guard.step").unwrap();
    let mut session = device.compile(&g, &[loss, guard.node()]).unwrap();
    // 65,535 + 300 · 65,536 steps have run: the next one carries into the high word.
    session.write(counter, &[65_535.0, 300.0]).unwrap();
    session.run().unwrap();
    assert_eq!(session.read(counter).unwrap(), vec![0.0, 301.0]);
    assert!(guard.check(session.as_mut()).is_ok());
    session.write(w, &[f32::NAN, 1.0]).unwrap();
    session.run().unwrap();
    let err = guard.check(session.as_mut()).unwrap_err().to_string();
    assert!(err.contains("step 19726337"), "{err}");
}

/// Found from outside, checked against PyTorch: relu's gradient at a NaN input is the
/// incoming gradient (`threshold_backward` zeroes only where `x <= 0`), and argmax takes a
/// NaN as the largest value, in `argmax`, in the count of correct predictions (narrow and
/// wide rows) and so in a classifier's accuracy.
pub fn nan_gradients_and_argmax_follow_pytorch(device: &Device) {
    let x = [f32::NAN, -1.0, 0.0, 2.0];
    let grad = apply(device, &x, |g, x| {
        let y = g.relu(x).unwrap();
        let seed = g.constant([1, 4], vec![3.0, 3.0, 3.0, 3.0]).unwrap();
        g.backward_from(y, seed).unwrap().get(x).unwrap()
    });
    same("relu gradient", &grad, &[3.0, 0.0, 0.0, 3.0]);
    let at = apply(device, &[1.0, f32::NAN, 5.0, f32::NAN], |g, x| g.argmax(x, -1, false).unwrap());
    same("argmax", &at, &[1.0]);
    for classes in [4, 2000] {
        let mut logits = vec![0.0; 2 * classes];
        logits[1] = f32::NAN; // row 0: NaN at class 1, the target
        logits[classes + 2] = 9.0; // row 1: 9 at class 2, NaN after it, target 2
        logits[classes + 3] = f32::NAN;
        let mut targets = vec![0.0; 2 * classes];
        targets[1] = 1.0;
        targets[classes + 2] = 1.0;
        let mut g = Graph::new();
        let z = g.constant([2, classes], logits).unwrap();
        let t = g.constant([2, classes], targets).unwrap();
        let correct = g.count_correct(z, t).unwrap();
        let count = device.compile_inference(&g, &[correct]).unwrap().run_and_read(&[correct]).unwrap();
        same(&format!("correct predictions of {classes} classes"), &count[0], &[1.0]);
    }
}
