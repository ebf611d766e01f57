//! The wgpu backend against the CPU reference: every op at sizes 1, 63, 65, 257 (not
//! multiples of the 64- and 256-thread workgroups), a launch past 65,535 workgroups,
//! matmuls of odd shapes in all transpose variants, and whole XOR training steps.
//! Tolerances: the presets of `common`, one per kind of arithmetic.

use backprop::models::{Xor, XOR_INPUTS, XOR_TARGETS};
use backprop::{CompileOptions, Device, Graph, MatmulTiles, NodeId, Result, Shape};

use crate::common::{assert_close, Tolerance, ELEMENTWISE, REDUCTION, TRAINING, TRANSCENDENTAL};

/// Builds `op(inputs)` from random inputs of `shapes`, runs it on both backends, compares.
fn cross(
    device: &Device,
    name: &str,
    shapes: &[Shape],
    tol: Tolerance,
    op: impl Fn(&mut Graph, &[NodeId]) -> Result<NodeId>,
) {
    let seed = shapes.iter().map(|s| s.len() as u64).sum();
    let (actual, expected) = backprop::testing::compare_backends(device, shapes, seed, op).unwrap();
    assert_close(&format!("{name} {shapes:?}"), &actual, &expected, tol);
}

/// Shapes of 1, 63, 65 and 257 elements.
const SIZES: [Shape; 4] = [Shape::new(1, 1), Shape::new(7, 9), Shape::new(5, 13), Shape::new(1, 257)];

pub fn binary_ops_with_broadcasting(device: &Device) {
    for s in SIZES {
        for rhs in [s, Shape::new(1, s.cols()), Shape::SCALAR] {
            cross(device, "add", &[s, rhs], ELEMENTWISE, |g, x| g.add(x[0], x[1]));
            cross(device, "sub", &[rhs, s], ELEMENTWISE, |g, x| g.sub(x[0], x[1]));
            cross(device, "mul", &[s, rhs], ELEMENTWISE, |g, x| g.mul(x[0], x[1]));
        }
    }
}

pub fn unary_ops(device: &Device) {
    for s in SIZES {
        cross(device, "scale", &[s], ELEMENTWISE, |g, x| g.scale(x[0], -1.5));
        cross(device, "square", &[s], ELEMENTWISE, |g, x| g.square(x[0]));
        cross(device, "broadcast row", &[Shape::new(1, s.cols())], ELEMENTWISE, |g, x| g.broadcast(x[0], s));
        cross(device, "broadcast scalar", &[Shape::SCALAR], ELEMENTWISE, |g, x| g.broadcast(x[0], s));
        cross(device, "sigmoid", &[s], TRANSCENDENTAL, |g, x| g.sigmoid(x[0]));
        cross(device, "tanh", &[s], TRANSCENDENTAL, |g, x| g.tanh(x[0]));
        cross(device, "relu", &[s], ELEMENTWISE, |g, x| g.relu(x[0]));
        cross(device, "exp", &[s], TRANSCENDENTAL, |g, x| g.exp(x[0]));
        cross(device, "neg", &[s], ELEMENTWISE, |g, x| g.neg(x[0]));
        cross(device, "abs", &[s], ELEMENTWISE, |g, x| g.abs(x[0]));
        cross(device, "sign", &[s], ELEMENTWISE, |g, x| g.sign(x[0]));
        cross(device, "log", &[s], TRANSCENDENTAL, |g, x| {
            let a = g.abs(x[0]).unwrap();
            g.log(a)
        });
        cross(device, "div", &[s, Shape::new(1, s.cols())], TRANSCENDENTAL, |g, x| g.div(x[0], x[1]));
        cross(device, "leaky_relu", &[s], ELEMENTWISE, |g, x| g.leaky_relu(x[0], 0.01));
        cross(device, "softplus", &[s], TRANSCENDENTAL, |g, x| g.softplus(x[0]));
        cross(device, "pow 3", &[s], TRANSCENDENTAL, |g, x| g.pow(x[0], 3.0));
        cross(device, "gelu", &[s], TRANSCENDENTAL, |g, x| g.gelu(x[0]));
        cross(device, "transpose", &[s], ELEMENTWISE, |g, x| g.transpose(x[0]));
        cross(device, "slice_cols", &[s], ELEMENTWISE, |g, x| {
            g.slice_cols(x[0], s.cols() / 2, s.cols() - s.cols() / 2)
        });
        cross(device, "pad_cols", &[s], ELEMENTWISE, |g, x| g.pad_cols(x[0], 3, s.cols() + 5));
        cross(device, "concat_cols", &[s, Shape::new(s.rows(), 3)], ELEMENTWISE, |g, x| g.concat_cols(x[0], x[1]));
        cross(device, "max_rows", &[s], ELEMENTWISE, |g, x| g.max_rows(x[0]));
        cross(device, "equal", &[s, Shape::new(1, s.cols())], ELEMENTWISE, |g, x| {
            let max = g.max_rows(x[0])?;
            g.map(backprop::Map::Equal, 0.0, &[x[0], max])
        });
        cross(device, "pow 2.5", &[s], TRANSCENDENTAL, |g, x| g.pow(x[0], 2.5));
        cross(device, "gelu_tanh", &[s], TRANSCENDENTAL, |g, x| g.gelu_tanh(x[0]));
        cross(device, "sub a column", &[s, Shape::new(s.rows(), 1)], ELEMENTWISE, |g, x| g.sub(x[0], x[1]));
        cross(device, "sum_cols", &[s], REDUCTION, |g, x| g.sum_cols(x[0]));
        cross(device, "max_cols", &[s], ELEMENTWISE, |g, x| g.max_cols(x[0]));
        cross(device, "softmax", &[s], TRANSCENDENTAL, |g, x| g.softmax(x[0]));
        cross(device, "log_softmax", &[s], REDUCTION, |g, x| g.log_softmax(x[0]));
    }
}

pub fn derivative_ops(device: &Device) {
    for s in SIZES {
        cross(device, "sigmoid_grad", &[s, s], ELEMENTWISE, |g, x| g.sigmoid_grad(x[0], x[1]));
        cross(device, "tanh_grad", &[s, s], ELEMENTWISE, |g, x| g.tanh_grad(x[0], x[1]));
        cross(device, "relu_grad", &[s, s], ELEMENTWISE, |g, x| g.relu_grad(x[0], x[1]));
    }
}

pub fn reductions_and_loss(device: &Device) {
    for s in SIZES.into_iter().chain([Shape::new(300, 70), Shape::new(1000, 3)]) {
        cross(device, "sum", &[s], REDUCTION, |g, x| g.sum(x[0]));
        cross(device, "sum_rows", &[s], REDUCTION, |g, x| g.sum_rows(x[0]));
        cross(device, "mean", &[s], REDUCTION, |g, x| g.mean(x[0]));
        cross(device, "mse_loss", &[s, s], REDUCTION, |g, x| g.mse_loss(x[0], x[1]));
    }
}

pub fn classification_losses(device: &Device) {
    // Random targets (not one-hot) exercise the general formula; [1, 1] and [1, 257]
    // are a single row, [300, 10] spreads rows over all 256 threads.
    for s in [Shape::new(1, 1), Shape::new(7, 9), Shape::new(1, 257), Shape::new(300, 10)] {
        cross(device, "softmax_cross_entropy", &[s, s], REDUCTION, |g, x| g.softmax_cross_entropy(x[0], x[1]));
        cross(device, "softmax_cross_entropy_grad", &[s, s, Shape::SCALAR], REDUCTION, |g, x| {
            g.softmax_cross_entropy_grad(x[0], x[1], x[2])
        });
        cross(device, "count_correct", &[s, s], ELEMENTWISE, |g, x| g.count_correct(x[0], x[1]));
    }
}

pub fn gradient_tools(device: &Device) {
    for s in SIZES.into_iter().chain([Shape::new(300, 70)]) {
        cross(device, "sum_squares", &[s], REDUCTION, |g, x| g.sum_squares(x[0]));
        cross(device, "grad_stats", &[s], REDUCTION, |g, x| g.grad_stats(x[0]));
        cross(device, "sqrt", &[s], TRANSCENDENTAL, |g, x| {
            let positive = g.square(x[0])?;
            g.sqrt(positive)
        });
        cross(device, "clip_value", &[s], ELEMENTWISE, |g, x| g.clip_value(x[0], 1.0));
    }
    for norm in [0.5f32, 2.0, 7.0] {
        cross(device, "clip_coefficient", &[Shape::SCALAR], TRANSCENDENTAL, |g, x| {
            let n = g.square(x[0])?;
            let n = g.scale(n, norm)?;
            g.clip_coefficient(n, 2.0)
        });
    }
}

pub fn accumulate_in_place(device: &Device) {
    for s in SIZES {
        cross(device, "accumulate", &[s], ELEMENTWISE, |g, x| {
            let total = g.state("total", s)?;
            g.accumulate(total, x[0])?;
            g.accumulate(total, x[0])
        });
    }
}

pub fn matmul_odd_shapes_all_transposes(device: &Device) {
    // Tiny (one thread per output), one partial 64×64 tile, several partial tiles with K
    // not a multiple of the 16-wide K step, and few tiles with a long K (split into 3 and
    // 7 K ranges whose partial products are then added).
    let shapes = [(1, 1, 1), (3, 5, 2), (63, 17, 65), (65, 33, 130), (129, 70, 67), (65, 300, 70), (64, 784, 128)];
    for (m, k, n) in shapes {
        for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
            let a = if ta { Shape::new(k, m) } else { Shape::new(m, k) };
            let b = if tb { Shape::new(n, k) } else { Shape::new(k, n) };
            // Reordering K products of magnitude up to 9 costs up to ~K·ε·9 each way; a wrong
            // index or a dropped term costs at least the smallest product, 0.15² ≈ 0.02.
            let tol = Tolerance { atol: 1e-6 * k as f32, ..REDUCTION };
            cross(device, &format!("matmul {m}x{k}x{n} ta={ta} tb={tb}"), &[a, b], tol, |g, x| {
                g.matmul_t(x[0], x[1], ta, tb)
            });
        }
    }
}

/// `a·b` (transposed as asked) through bias + ReLU on `device` with `tiles`, and on the CPU.
fn tiled_product(device: &Device, tiles: MatmulTiles, a: Shape, b: Shape, t: (bool, bool)) -> (Vec<f32>, Vec<f32>) {
    let mut rng = crate::common::rng(a.len() as u64 + b.len() as u64);
    let mut g = Graph::new();
    let x = g.constant(a, crate::common::away_from_zero(&mut rng, a)).unwrap();
    let w = g.constant(b, crate::common::away_from_zero(&mut rng, b)).unwrap();
    let product = g.matmul_t(x, w, t.0, t.1).unwrap();
    let cols = g.node(product).unwrap().shape.cols();
    let bias = g.constant(Shape::new(1, cols), crate::common::away_from_zero(&mut rng, Shape::new(1, cols))).unwrap();
    let shifted = g.add(product, bias).unwrap();
    let out = g.relu(shifted).unwrap();
    let options = CompileOptions { matmul: tiles, ..Default::default() };
    let actual = device.compile_with(&g, &[out], options).unwrap().run_and_read(&[out]).unwrap().remove(0);
    let expected = Device::Cpu.compile(&g, &[out]).unwrap().run_and_read(&[out]).unwrap().remove(0);
    (actual, expected)
}

pub fn matmul_each_tiling_odd_shapes(device: &Device) {
    // Each tiled kernel forced at shapes that are not multiples of its tile (64 or 128) or
    // of its K step (16 or 8), with a fused bias + ReLU epilogue, its operands' contiguous
    // dimensions multiples of 4 (vec4 loads) and not; then a shape large enough
    // for `Auto` to choose 128×128 tiles by itself (153 of them, the last row and column of
    // tiles partial).
    let shapes = [(1, 1, 1), (5, 3, 9), (129, 37, 257), (300, 13, 130), (132, 20, 260), (64, 784, 128)];
    for tiles in [MatmulTiles::Tile64, MatmulTiles::Tile128] {
        for (m, k, n) in shapes {
            for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
                let a = if ta { Shape::new(k, m) } else { Shape::new(m, k) };
                let b = if tb { Shape::new(n, k) } else { Shape::new(k, n) };
                let (actual, expected) = tiled_product(device, tiles, a, b, (ta, tb));
                let tol = Tolerance { atol: 1e-6 * k as f32, ..REDUCTION };
                assert_close(&format!("{tiles:?} {m}x{k}x{n} ta={ta} tb={tb}"), &actual, &expected, tol);
            }
        }
    }
    let (m, k, n) = (1100, 13, 2100);
    for (ta, tb) in [(false, false), (true, true)] {
        let a = if ta { Shape::new(k, m) } else { Shape::new(m, k) };
        let b = if tb { Shape::new(n, k) } else { Shape::new(k, n) };
        let (actual, expected) = tiled_product(device, MatmulTiles::Auto, a, b, (ta, tb));
        let tol = Tolerance { atol: 1e-6 * k as f32, ..REDUCTION };
        assert_close(&format!("Auto {m}x{k}x{n} ta={ta} tb={tb}"), &actual, &expected, tol);
    }
}

pub fn elementwise_launch_past_65535_workgroups(device: &Device) {
    // 65,535 workgroups of 256 threads cover 16,776,960 elements; one row more forces the
    // launch to spill into the y dimension.
    let s = Shape::new(65_536, 256);
    cross(device, "add (2-D launch)", &[s, Shape::new(1, 256)], ELEMENTWISE, |g, x| g.add(x[0], x[1]));
}

pub fn ten_xor_training_steps(device: &Device) {
    let net = Xor::new(7, 0.5).unwrap();
    let mut watched = vec![net.loss];
    watched.extend(&net.grads);
    let mut cpu = Device::Cpu.compile(&net.graph, &watched).unwrap();
    let mut gpu = device.compile(&net.graph, &watched).unwrap();
    for session in [&mut cpu, &mut gpu] {
        session.write(net.x, &XOR_INPUTS).unwrap();
        session.write(net.y, &XOR_TARGETS).unwrap();
    }
    for step in 0..10 {
        let expected = cpu.run_and_read(&watched).unwrap();
        let actual = gpu.run_and_read(&watched).unwrap();
        for (i, (a, e)) in actual.iter().zip(&expected).enumerate() {
            assert_close(&format!("step {step}, {}", net.graph.label(watched[i])), a, e, TRAINING);
        }
    }
    for &p in &net.params {
        let (a, e) = (gpu.read(p).unwrap(), cpu.read(p).unwrap());
        assert_close(&format!("parameter {}", net.graph.label(p)), &a, &e, TRAINING);
    }
}
