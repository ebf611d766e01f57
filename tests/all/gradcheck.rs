//! Finite differences against autodiff on the CPU reference backend, with a random
//! cotangent so that a rule that ignores its incoming gradient fails.
//!
//! For parameters p and output y = f(p), autodiff gives the vector-Jacobian product
//! ∂(c·y)/∂p for a random c. Central differences of L(p) = Σ c·y (accumulated in f64) with
//! step H = 1e-2 must agree within 1e-3 + 1e-2·|analytic|: f32 rounding costs about
//! 1e-5 here and truncation H²·f'''/6 under 1e-4, while a wrong rule (a missing factor,
//! a sign, a dropped term) is off by far more.

use backprop::models::{XOR_INPUTS, XOR_TARGETS};
use backprop::testing::check_gradients;
use backprop::{Graph, NodeId, Result, Shape};

/// Checks every gradient of `build(params)` with parameters of `shapes` with the library's
/// own checker (`backprop::testing::check_gradients`), which users get too.
fn check(name: &str, shapes: &[Shape], build: impl Fn(&mut Graph, &[NodeId]) -> Result<NodeId>) {
    let mismatches = check_gradients(shapes, name.len() as u64, build).unwrap();
    assert!(mismatches.is_empty(), "{name}: {mismatches:?}");
}

const M: Shape = Shape::new(3, 4);
const ROW: Shape = Shape::new(1, 4);

pub fn matmul_all_transpose_variants() {
    for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
        let a = if ta { Shape::new(5, 3) } else { Shape::new(3, 5) };
        let b = if tb { Shape::new(2, 5) } else { Shape::new(5, 2) };
        check(&format!("matmul {ta} {tb}"), &[a, b], |g, p| g.matmul_t(p[0], p[1], ta, tb));
    }
}

pub fn add_sub_mul_with_broadcasting() {
    for rhs in [M, ROW, Shape::SCALAR] {
        check("add", &[M, rhs], |g, p| g.add(p[0], p[1]));
        check("sub", &[M, rhs], |g, p| g.sub(p[0], p[1]));
        check("mul", &[M, rhs], |g, p| g.mul(p[0], p[1]));
        check("sub reversed", &[rhs, M], |g, p| g.sub(p[0], p[1]));
    }
}

pub fn unary_ops() {
    check("scale", &[M], |g, p| g.scale(p[0], -2.5));
    check("square", &[M], |g, p| g.square(p[0]));
    check("sigmoid", &[M], |g, p| g.sigmoid(p[0]));
    check("tanh", &[M], |g, p| g.tanh(p[0]));
    check("relu", &[M], |g, p| g.relu(p[0]));
    check("exp", &[M], |g, p| g.exp(p[0]));
    check("neg", &[M], |g, p| g.neg(p[0]));
    check("abs", &[M], |g, p| g.abs(p[0]));
    check("log of |x|", &[M], |g, p| {
        let a = g.abs(p[0])?;
        g.log(a)
    });
    // Divisors kept in [1.05, 2] (|p| + 1): near 0 the finite differences themselves fail.
    let away = |g: &mut Graph, p: NodeId| -> backprop::Result<NodeId> {
        let a = g.abs(p)?;
        let one = g.constant(Shape::SCALAR, vec![1.0])?;
        g.add(a, one)
    };
    check("div", &[M, M], |g, p| {
        let b = away(g, p[1])?;
        g.div(p[0], b)
    });
    check("div by a row", &[M, ROW], |g, p| {
        let b = away(g, p[1])?;
        g.div(p[0], b)
    });
    check("leaky_relu", &[M], |g, p| g.leaky_relu(p[0], 0.1));
    check("softplus", &[M], |g, p| g.softplus(p[0]));
    check("pow 3", &[M], |g, p| g.pow(p[0], 3.0));
    check("gelu", &[M], |g, p| g.gelu(p[0]));
    check("transpose", &[M], |g, p| g.transpose(p[0]));
    check("slice_cols", &[M], |g, p| g.slice_cols(p[0], 1, 2));
    check("pad_cols", &[M], |g, p| g.pad_cols(p[0], 2, 9));
    check("concat_cols", &[M, Shape::new(M.rows(), 2)], |g, p| g.concat_cols(p[0], p[1]));
    check("max_cols", &[M], |g, p| g.max_cols(p[0]));
    check("max_rows", &[M], |g, p| g.max_rows(p[0]));
    check("mean_rows", &[M], |g, p| g.mean_rows(p[0]));
    check("mean_cols", &[M], |g, p| g.mean_cols(p[0]));
    check("huber", &[M, M], |g, p| g.huber_loss(p[0], p[1], 0.3));
    check("layer_norm", &[M, Shape::new(1, M.cols()), Shape::new(1, M.cols())], |g, p| {
        g.layer_norm(p[0], p[1], p[2], 1e-5)
    });
    check("pow -1.5 of a positive", &[M], |g, p| {
        let b = away(g, p[0])?;
        let positive = g.abs(b)?;
        g.pow(positive, -1.5)
    });
    check("sqrt of a positive", &[M], |g, p| {
        let b = away(g, p[0])?;
        let positive = g.abs(b)?;
        g.sqrt(positive)
    });
    check("gelu_tanh", &[M], |g, p| g.gelu_tanh(p[0]));
    let column = Shape::new(M.rows(), 1);
    check("add a column", &[M, column], |g, p| g.add(p[0], p[1]));
    check("mul by a column", &[M, column], |g, p| g.mul(p[0], p[1]));
    check("sum_cols", &[M], |g, p| g.sum_cols(p[0]));
    check("softmax", &[M], |g, p| g.softmax(p[0]));
    check("log_softmax", &[M], |g, p| g.log_softmax(p[0]));
    check("broadcast row", &[ROW], |g, p| g.broadcast(p[0], M));
    check("broadcast scalar", &[Shape::SCALAR], |g, p| g.broadcast(p[0], M));
}

pub fn reductions_and_loss() {
    check("sum", &[M], |g, p| g.sum(p[0]));
    check("sum_rows", &[M], |g, p| g.sum_rows(p[0]));
    check("mean", &[M], |g, p| g.mean(p[0]));
    check("mse_loss", &[M, M], |g, p| g.mse_loss(p[0], p[1]));
    check("l1_loss", &[M, M], |g, p| g.l1_loss(p[0], p[1]));
    check("bce_with_logits", &[M, M], |g, p| g.bce_with_logits(p[0], p[1]));
}

pub fn value_used_twice_accumulates() {
    // y = x·x + sigmoid(x): x reaches y along three paths.
    check("reuse", &[M], |g, p| {
        let sq = g.mul(p[0], p[0])?;
        let s = g.sigmoid(p[0])?;
        g.add(sq, s)
    });
}

pub fn xor_network_gradients() {
    // The 2-4-1 sigmoid network with MSE loss (as in `models::Xor`), its data as constants.
    let shapes = [Shape::new(2, 4), Shape::new(1, 4), Shape::new(4, 1), Shape::SCALAR];
    check("xor", &shapes, |g, p| {
        let x = g.constant([4, 2], XOR_INPUTS.to_vec())?;
        let y = g.constant([4, 1], XOR_TARGETS.to_vec())?;
        let z1 = g.matmul(x, p[0])?;
        let z1 = g.add(z1, p[1])?;
        let a1 = g.sigmoid(z1)?;
        let z2 = g.matmul(a1, p[2])?;
        let z2 = g.add(z2, p[3])?;
        let out = g.sigmoid(z2)?;
        g.mse_loss(out, y)
    });
}

/// One-hot rows for `rows × k`, with row 1 all zeros (padding) when `pad` is set.
fn one_hot(rows: usize, k: usize, pad: bool) -> Vec<f32> {
    let mut t = vec![0.0; rows * k];
    for r in 0..rows {
        if !(pad && r == 1) {
            t[r * k + (r * 7 + 3) % k] = 1.0;
        }
    }
    t
}

pub fn softmax_cross_entropy_wrt_logits() {
    for pad in [false, true] {
        check(&format!("softmax_cross_entropy pad={pad}"), &[M], |g, p| {
            let t = g.constant(M, one_hot(M.rows(), M.cols(), pad))?;
            g.softmax_cross_entropy(p[0], t)
        });
    }
    // Soft targets (a distribution per row) follow the same rule.
    check("softmax_cross_entropy soft", &[M], |g, p| {
        let t = g.constant(M, vec![0.25; M.len()])?;
        g.softmax_cross_entropy(p[0], t)
    });
}

pub fn small_mlp_with_cross_entropy() {
    let shapes = [Shape::new(5, 6), Shape::new(1, 5), Shape::new(4, 5), Shape::new(1, 4)];
    check("mlp", &shapes, |g, p| {
        let x = g.constant([3, 6], (0..18).map(|i| ((i * 5 % 11) as f32 - 5.0) / 5.0).collect())?;
        let t = g.constant([3, 4], one_hot(3, 4, false))?;
        let h = g.matmul_t(x, p[0], false, true)?;
        let h = g.add(h, p[1])?;
        let h = g.tanh(h)?;
        let z = g.matmul_t(h, p[2], false, true)?;
        let z = g.add(z, p[3])?;
        g.softmax_cross_entropy(z, t)
    });
}
