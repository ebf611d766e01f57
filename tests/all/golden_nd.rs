//! The N-d ops on both backends against PyTorch: outputs and gradients of every case of
//! `tests/golden/make_golden_nd.py` (ranks 0 to 5, size-1 dims, broadcasting both ways,
//! negative dims, permuted inputs, batched products, indexing), computed there in float64.

use std::collections::HashMap;
use std::path::Path;

use backprop::checkpoint::{self, Tensor};
use backprop::{Device, Graph, NodeId, Result, Shape};

use crate::common::{assert_close, REDUCTION};

/// The cases of a golden file of `tests/golden/`, by name.
pub fn golden(file: &str) -> HashMap<String, Tensor> {
    let path = Path::new("tests/golden").join(file);
    checkpoint::load(&path).unwrap().into_iter().map(|t| (t.name.clone(), t)).collect()
}

/// Records a golden case's op on its inputs.
pub type Apply = fn(&str, &mut Graph, &[NodeId]) -> Result<NodeId>;

fn shape(t: &Tensor) -> Shape {
    Shape::from_dims(&t.shape).unwrap()
}

/// The op of a golden case, applied to its inputs.
fn apply(name: &str, g: &mut Graph, x: &[NodeId]) -> Result<NodeId> {
    match name {
        "add_bcast_both" | "add_rank1" => g.add(x[0], x[1]),
        "mul_bcast_mid" => g.mul(x[0], x[1]),
        "sub_rank0" => g.sub(x[0], x[1]),
        "div_rank5" => g.div(x[0], x[1]),
        "sum_dim0" => g.sum_dim(x[0], &[0], false),
        "sum_dims_keep" => g.sum_dim(x[0], &[0, 2], true),
        "sum_all_dims" => g.sum_dim(x[0], &[], false),
        "mean_neg2" => g.mean_dim(x[0], &[-2], false),
        "amax_mid" => g.amax(x[0], 1, true),
        "amin_first" => g.amin(x[0], 0, false),
        "amax_ties" => g.amax(x[0], 0, false),
        "argmax_mid" => g.argmax(x[0], 1, false),
        "logsumexp_mid" => g.logsumexp(x[0], 1, false),
        "var_dims" => g.var(x[0], &[0, 2], 1, false),
        "var_biased_keep" => g.var(x[0], &[-1], 0, true),
        "softmax_dim1" => g.softmax_dim(x[0], 1),
        "log_softmax_dim0" => g.log_softmax_dim(x[0], 0),
        "softmax_last_rank4" => g.softmax_dim(x[0], -1),
        "layer_norm_rank3" => g.layer_norm(x[0], x[1], x[2], 1e-5),
        "reshape" => g.reshape(x[0], [4, 6]),
        "flatten_mid" => g.flatten(x[0], 1, 2),
        "unsqueeze_squeeze" => {
            let u = g.unsqueeze(x[0], 1)?;
            g.squeeze(u, -1)
        }
        "permute" => g.permute(x[0], &[2, 0, 3, 1]),
        "transpose_dims" => g.transpose_dims(x[0], 0, 2),
        "permute_then_add" => {
            let p = g.permute(x[0], &[1, 0, 2])?;
            g.add(p, x[1])
        }
        "expand" => g.expand(x[0], [2, 3, 4]),
        "narrow" => g.narrow(x[0], 1, 1, 2),
        "narrow_neg" => g.narrow(x[0], -1, 2, 3),
        "pad" => g.pad(x[0], 1, 1, 2, 0.5),
        "cat_dim1" => g.cat(&[x[0], x[1]], 1),
        "stack_neg" => g.stack(&[x[0], x[1], x[2]], -1),
        "index_select" => g.index_select(x[0], 1, x[1]),
        "embedding" => g.embedding(x[0], x[1]),
        "matmul_batched"
        | "matmul_bcast_batch"
        | "matmul_rows_times_matrix"
        | "matmul_vec_vec"
        | "matmul_mat_vec"
        | "matmul_vec_mat" => g.matmul(x[0], x[1]),
        "matmul_bt_folded" => {
            let bt = g.transpose_dims(x[1], -2, -1)?;
            g.matmul(x[0], bt)
        }
        "matmul_permuted" => {
            let at = g.permute(x[0], &[0, 2, 1])?;
            g.matmul(at, x[1])
        }
        other => panic!("golden case {other} has no op here"),
    }
}

/// One case on `device`: inputs with a golden gradient are parameters, the rest constants.
pub fn check_case(device: &Device, name: &str, golden: &HashMap<String, Tensor>, apply: Apply) {
    let mut g = Graph::new();
    let mut inputs = Vec::new();
    for i in 0.. {
        let Some(x) = golden.get(&format!("{name}.x{i}")) else { break };
        let grad = golden.get(&format!("{name}.g{i}"));
        let node = match grad {
            Some(_) => g.parameter(&format!("x{i}"), shape(x), x.values.clone()),
            None => g.constant(shape(x), x.values.clone()),
        };
        inputs.push((node.unwrap(), grad));
    }
    let ids: Vec<NodeId> = inputs.iter().map(|(id, _)| *id).collect();
    let y = apply(name, &mut g, &ids).unwrap();
    let want_y = &golden[&format!("{name}.y")];
    assert_eq!(&g.shape(y).unwrap().dims()[..], &want_y.shape[..], "{name}: the shape PyTorch gives");
    let mut keep = vec![y];
    let mut expected = vec![(format!("{name}.y"), want_y)];
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
        assert_close(&format!("{what} on {}", device.name()), values, &want.values, REDUCTION);
    }
}

pub fn every_nd_op_matches_pytorch(device: &Device) {
    let golden = golden("tensor.safetensors");
    let mut names: Vec<&str> = golden.keys().filter_map(|k| k.strip_suffix(".y")).collect();
    names.sort_unstable();
    assert_eq!(names.len(), 42, "every case of make_golden_nd.py has an op here");
    for name in names {
        check_case(device, name, &golden, apply);
    }
}
