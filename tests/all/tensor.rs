//! The N-d ops beyond their goldens: finite differences of composed N-d graphs (an
//! attention head among them) on the CPU, and the GPU against the CPU at sizes off the
//! 256-thread workgroups, with every index map (permute, expand, narrow, pad, gather,
//! scatter-add) and a strided copy whose launch spills past 65,535 workgroups; and the
//! planner's views: a reshape shares storage and never hands a live value's slot away.

use backprop::testing::check_gradients;
use backprop::{Device, Graph, NodeId, Result, Shape};

use crate::common::{assert_close, ELEMENTWISE, REDUCTION, TRANSCENDENTAL};

fn check(name: &str, shapes: &[Shape], build: impl Fn(&mut Graph, &[NodeId]) -> Result<NodeId>) {
    let mismatches = check_gradients(shapes, name.len() as u64, build).unwrap();
    assert!(mismatches.is_empty(), "{name}: {mismatches:?}");
}

pub fn composed_nd_graphs_match_finite_differences() {
    let s3 = Shape::from([2, 3, 4]);
    check("broadcast both ways", &[Shape::from([2, 1, 4]), Shape::from([3, 1])], |g, p| g.mul(p[0], p[1]));
    check("softmax over a middle dim", &[s3], |g, p| g.softmax_dim(p[0], 1));
    check("log_softmax over dim 0", &[s3], |g, p| g.log_softmax_dim(p[0], 0));
    check("logsumexp", &[s3], |g, p| g.logsumexp(p[0], -2, false));
    check("var", &[s3], |g, p| g.var(p[0], &[0, 2], 1, true));
    check("amin", &[s3], |g, p| g.amin(p[0], 1, false));
    check("permute then narrow", &[s3], |g, p| {
        let q = g.permute(p[0], &[2, 0, 1])?;
        g.narrow(q, 0, 1, 2)
    });
    check("pad and cat", &[s3, Shape::from([2, 1, 4])], |g, p| {
        let padded = g.pad(p[0], -1, 1, 2, 0.25)?;
        let summed = g.sum_dim(padded, &[-1], true)?;
        let scaled = g.mul(p[0], summed)?;
        g.cat(&[scaled, p[1]], 1)
    });
    check("batched products", &[Shape::from([2, 3, 5]), Shape::from([1, 5, 4])], |g, p| g.matmul(p[0], p[1]));
    check("an attention head", &[Shape::from([2, 4, 6]), Shape::from([6, 6])], |g, p| attention(g, p[0], p[1]));
}

/// `softmax(q·kᵀ/√d + causal mask)·v` with `q = x·w`, `k = x`, `v = x·wᵀ`.
fn attention(g: &mut Graph, x: NodeId, w: NodeId) -> Result<NodeId> {
    let t = g.shape(x)?.dims()[1];
    let q = g.matmul(x, w)?;
    let kt = g.transpose_dims(x, -2, -1)?;
    let scores = g.matmul(q, kt)?;
    let scores = g.scale(scores, 0.4)?;
    let mask: Vec<f32> = (0..t * t).map(|i| if i % t > i / t { -1e9 } else { 0.0 }).collect();
    let mask = g.constant([t, t], mask)?;
    let scores = g.add(scores, mask)?;
    let weights = g.softmax_dim(scores, -1)?;
    let v = g.matmul_t(x, w, false, true)?;
    g.matmul(weights, v)
}

fn cross(
    device: &Device,
    name: &str,
    shapes: &[Shape],
    tol: crate::common::Tolerance,
    op: impl Fn(&mut Graph, &[NodeId]) -> Result<NodeId>,
) {
    let seed = shapes.iter().map(|s| s.len() as u64).sum();
    let (actual, expected) = backprop::testing::compare_backends(device, shapes, seed, op).unwrap();
    assert_close(&format!("{name} {shapes:?}"), &actual, &expected, tol);
}

pub fn nd_ops_gpu_matches_cpu(device: &Device) {
    let big = Shape::from([3, 67, 5, 7]);
    cross(device, "permute", &[big], ELEMENTWISE, |g, x| g.permute(x[0], &[3, 1, 0, 2]));
    cross(device, "expand", &[Shape::from([67, 1, 7])], ELEMENTWISE, |g, x| g.expand(x[0], [3, 67, 5, 7]));
    cross(device, "narrow", &[big], ELEMENTWISE, |g, x| g.narrow(x[0], 1, 13, 41));
    cross(device, "pad", &[big], ELEMENTWISE, |g, x| g.pad(x[0], 2, 3, 1, -2.0));
    cross(device, "broadcast both ways", &[Shape::from([3, 1, 5, 7]), Shape::from([67, 1, 1])], ELEMENTWISE, |g, x| {
        g.sub(x[0], x[1])
    });
    for kind in 0..4 {
        cross(device, "reduce over dim 1", &[big], REDUCTION, |g, x| match kind {
            0 => g.sum_dim(x[0], &[1], false),
            1 => g.amax(x[0], 1, true),
            2 => g.amin(x[0], -2, false),
            _ => g.argmax(x[0], 1, false),
        });
    }
    cross(device, "softmax over dim 0", &[big], TRANSCENDENTAL, |g, x| g.softmax_dim(x[0], 0));
    let (a, b) = (Shape::from([5, 33, 17]), Shape::from([5, 17, 65]));
    cross(device, "batched product", &[a, b], REDUCTION, |g, x| g.matmul(x[0], x[1]));
    cross(device, "batched product, transposed", &[a, Shape::from([1, 65, 17])], REDUCTION, |g, x| {
        let bt = g.transpose_dims(x[1], -1, -2)?;
        g.matmul(x[0], bt)
    });
    cross(device, "index_select and its scatter-add", &[Shape::from([3, 29, 5])], REDUCTION, |g, x| {
        let values: Vec<f32> = (0..3 * 29 * 5).map(|v| (v % 17) as f32 * 0.1 - 0.8).collect();
        let table = g.parameter("table", [3, 29, 5], values)?;
        let indices: Vec<f32> = (0..300).map(|i| ((i * 7) % 31) as f32).collect(); // 29 and 30 read zeros
        let indices = g.constant([300], indices)?;
        let picked = g.index_select(table, 1, indices)?;
        let seed = g.square(picked)?;
        let grads = g.backward_from(picked, seed)?;
        let dtable = grads.get(table).expect("the table takes a gradient");
        g.mul(dtable, x[0])
    });
    // 65,535 workgroups of 256 cover 16,776,960 values; this copy has 16,777,216.
    cross(device, "expand past 65,535 workgroups", &[Shape::from([1, 4096])], ELEMENTWISE, |g, x| {
        g.expand(x[0], [4096, 4096])
    });
}

/// A reshape shares its input's storage: the value stays readable through both, and a
/// temporary read only through a reshape keeps its slot until the reshape's last reader.
pub fn reshapes_share_storage_and_keep_it_alive(device: &Device) {
    let mut g = Graph::new();
    let x = g.parameter("x", [2, 3, 4], (0..24).map(|v| v as f32).collect()).unwrap();
    let y = g.exp(x).unwrap();
    let flat = g.reshape(y, [6, 4]).unwrap();
    // Temporaries recorded after the reshape must not take y's slot while flat is live.
    let noise = g.scale(x, 0.5).unwrap();
    let noise = g.sigmoid(noise).unwrap();
    let noise = g.reshape(noise, [6, 4]).unwrap();
    let out = g.add(flat, noise).unwrap();
    let mut session = device.compile_inference(&g, &[out, flat]).unwrap();
    let values = session.run_and_read(&[out, flat]).unwrap();
    for (i, (&o, &f)) in values[0].iter().zip(&values[1]).enumerate() {
        let e = (i as f32).exp();
        assert!(
            (f - e).abs() <= 1e-5 * e && (o - e - 1.0 / (1.0 + (-0.5 * i as f32).exp())).abs() <= 2e-5 * e.max(1.0)
        );
    }
}

/// A binary op registered from outside broadcasts by PyTorch's rules as the built-in ones
/// do (here both ways, through an expansion the rows cannot read), on either backend,
/// and its gradient comes back summed to each operand's shape.
pub fn custom_binary_ops_broadcast_in_n_dims(device: &Device) {
    use std::sync::OnceLock;
    static OP: OnceLock<backprop::Map> = OnceLock::new();
    let op = *OP.get_or_init(|| {
        backprop::custom::register(backprop::custom::CustomMap {
            name: "nd_sum_of_squares",
            arity: 2,
            cpu: |a, b, _| a * a + b * b,
            wgsl: "a * a + b * b",
            vjp: Some(|g, _, x, dy, _| {
                let da = g.mul(dy, x[0])?;
                let db = g.mul(dy, x[1])?;
                Ok(vec![Some(g.scale(da, 2.0)?), Some(g.scale(db, 2.0)?)])
            }),
        })
        .unwrap()
    });
    let a: Vec<f32> = (0..8).map(|v| v as f32 * 0.5 - 1.0).collect(); // [2, 1, 4]
    let b: Vec<f32> = vec![0.25, -1.5, 2.0]; // [3, 1]
    let mut g = Graph::new();
    let pa = g.parameter("a", [2, 1, 4], a.clone()).unwrap();
    let pb = g.parameter("b", [3, 1], b.clone()).unwrap();
    let y = g.map(op, 0.0, &[pa, pb]).unwrap();
    assert_eq!(&g.shape(y).unwrap().dims()[..], &[2, 3, 4]);
    let total = g.sum(y).unwrap();
    let grads = g.backward(total).unwrap();
    let keep = [y, grads.get(pa).unwrap(), grads.get(pb).unwrap()];
    let out = device.compile_inference(&g, &keep).unwrap().run_and_read(&keep).unwrap();
    let expected_y: Vec<f32> = (0..24).map(|i| a[(i / 12) * 4 + i % 4].powi(2) + b[(i / 4) % 3].powi(2)).collect();
    assert_close("custom op, broadcast", &out[0], &expected_y, ELEMENTWISE);
    // d/da Σ = 2a, repeated over the 3 rows of b; d/db Σ = 2b, over 2 · 4 places.
    let da: Vec<f32> = a.iter().map(|v| 2.0 * v * 3.0).collect();
    let db: Vec<f32> = b.iter().map(|v| 2.0 * v * 8.0).collect();
    assert_close("its gradient for a", &out[1], &da, REDUCTION);
    assert_close("its gradient for b", &out[2], &db, REDUCTION);
}
