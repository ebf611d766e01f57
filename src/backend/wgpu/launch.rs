//! What a launch is, for every file that builds launches: the kernel, its uniform, the
//! values it binds and its size; the uniforms of the optimizers; what a fused product's
//! epilogue adds; and the storage a node's launches need beside its value (partial sums).

use crate::compile::fuse::MAX_EPILOGUE;
use crate::graph::op::{AdamConfig, Op, SgdConfig};
use crate::graph::{Graph, NodeId};

use super::kernels::{Kernel, OptimParams};

/// What a node needs from a kernel: which one, its uniform, bound values, launch size.
pub(super) struct Launch {
    pub(super) kernel: Kernel,
    pub(super) params: Vec<u8>,
    pub(super) bindings: Vec<(u32, NodeId)>,
    pub(super) workgroups: [u32; 3],
}

/// What an epilogue adds to a product's launch: per step the operand's shape and the
/// constant's bits (the uniform's `ep`), the operands' bindings, and the generated module
/// (`None` without steps: the plain kernels).
pub(super) struct EpilogueLaunch {
    pub ep: [[u32; 4]; MAX_EPILOGUE],
    pub bindings: Vec<(u32, NodeId)>,
    pub module: Option<u32>,
}

/// The uniform of an Adam (or AdamW) update; its learning rate is a bound value.
pub(super) fn adam_params(config: AdamConfig) -> OptimParams {
    let AdamConfig { beta1, beta2, eps, weight_decay, decoupled, .. } = config;
    let (one_minus_beta1, one_minus_beta2) = config.complements();
    let flags = if decoupled { 2 } else { 0 };
    OptimParams { weight_decay, beta1, beta2, eps, one_minus_beta1, one_minus_beta2, flags, ..Default::default() }
}

/// The uniform and kernel of an SGD update; its learning rate is a bound value.
pub(super) fn sgd_params(config: SgdConfig) -> (OptimParams, Kernel) {
    let SgdConfig { momentum, nesterov, weight_decay, .. } = config;
    let params = OptimParams { weight_decay, momentum, flags: nesterov as u32, ..Default::default() };
    (params, if momentum == 0.0 { Kernel::Sgd } else { Kernel::SgdMomentum })
}

/// Elements one workgroup reduces at most: 256 threads × 1024 each.
const PART: usize = 256 * 1024;
/// Rows one part of a column sum walks at most: the most a fused column sum walks, so that
/// a sum short enough to fuse is one part, summed in the same order either way.
const ROWS_PER_PART: usize = crate::compile::fuse::MAX_FUSED_ROWS;

/// How many parts node `id` reduces in (1 for nodes that are not split reductions).
pub(super) fn parts(graph: &Graph, id: NodeId) -> usize {
    let node = &graph.nodes()[id.index()];
    let input = || graph.nodes()[node.inputs[0].index()].shape;
    match node.op {
        Op::SumAll | Op::Mean | Op::SumSquares | Op::MseLoss | Op::GradStats => input().len().div_ceil(PART).max(1),
        Op::SumRows => input().rows().div_ceil(ROWS_PER_PART).max(1),
        _ => 1,
    }
}

/// Storage node `id` needs: its value, and after it one partial result per part when
/// there are several.
pub(super) fn storage(graph: &Graph, id: NodeId) -> usize {
    let len = graph.nodes()[id.index()].shape.len();
    match parts(graph, id) {
        1 => len,
        n => len * (1 + n),
    }
}
