//! Launches of the convolutions and max pooling (`shaders/conv.wgsl`): each one's
//! uniform filled from [`Sliding`], the description the CPU backend loops over too.

use bytemuck::bytes_of;

use super::generate::Head;
use super::kernels::{ConvParams, Kernel, MatmulParams};
use super::launch::Launch;
use super::session::GpuSession;
use crate::graph::op::Op;
use crate::graph::sliding::Sliding;
use crate::graph::{Graph, NodeId};

/// Workgroups a weight gradient is split along its sum to reach: its output (the weight)
/// has few 64×64 tiles, its sum runs over every image's pixels.
const TARGET_WORKGROUPS: usize = 256;
/// The shortest range of a split weight gradient's sum.
const MIN_CHUNK: usize = 1024;

/// `(splits, k_chunk)` of a weight gradient of the sizes `s` (1 split for other modes).
fn splits(s: &Sliding) -> (usize, usize) {
    let k = s.n * s.pixels();
    let tiles = s.group_outputs().div_ceil(64) * s.taps().div_ceil(64) * s.groups;
    let splits = TARGET_WORKGROUPS.div_ceil(tiles).min(k.div_ceil(MIN_CHUNK)).max(1);
    let chunk = k.div_ceil(splits).div_ceil(16) * 16;
    (k.div_ceil(chunk.max(1)).max(1), chunk.max(16))
}

/// Storage a weight-gradient node needs: one partial weight per split.
pub(super) fn storage(graph: &Graph, id: NodeId) -> Option<usize> {
    let node = &graph.nodes()[id.index()];
    let Op::Conv2dWeight(conv) = node.op else { return None };
    let x = graph.nodes()[node.inputs[0].index()].shape;
    Some(node.shape.len() * splits(&Sliding::conv(conv, x, node.shape)).0)
}

/// The uniform's sizes of `s`.
fn params(s: &Sliding) -> ConvParams {
    let u = |v: usize| v as u32;
    ConvParams {
        batch: u(s.n),
        channels: u(s.c),
        height: u(s.h),
        width: u(s.w),
        outputs: u(s.out),
        out_h: u(s.oh),
        out_w: u(s.ow),
        groups: u(s.groups),
        kh: u(s.kh),
        kw: u(s.kw),
        stride: s.stride.map(u),
        pad: s.padding.map(u),
        dilation: s.dilation.map(u),
        splits: 1,
        ..Default::default()
    }
}

impl GpuSession {
    /// The launches of a convolution or max pooling node, or `None` for another op; a
    /// forward convolution followed by the elementwise `epilogue` (fused, see
    /// [`crate::compile::fuse`]) stores its values through them into the last one's slot.
    pub(super) fn conv_launches(&self, id: NodeId, epilogue: &[NodeId]) -> Option<Vec<Launch>> {
        let node = self.node(id);
        let x = &node.inputs;
        let shape = |i: usize| self.node(x[i]).shape;
        let (s, mode, (m, n, k)) = match node.op {
            Op::Conv2d(conv) => {
                let s = Sliding::conv(conv, shape(0), shape(1));
                (s, 0, (s.group_outputs(), s.n * s.pixels(), s.taps()))
            }
            Op::Conv2dInput(conv) => {
                let s = Sliding::conv(conv, node.shape, shape(1));
                (s, 1, (s.group_channels(), s.n * s.h * s.w, s.group_outputs() * s.kh * s.kw))
            }
            Op::Conv2dWeight(conv) => {
                let s = Sliding::conv(conv, shape(0), node.shape);
                (s, 2, (s.group_outputs(), s.taps(), s.n * s.pixels()))
            }
            Op::MaxPool2d(pool) => return Some(vec![self.pool_launch(Sliding::pool(pool, shape(0)), id, &[])]),
            Op::MaxPool2dGrad(pool) => {
                return Some(vec![self.pool_launch(Sliding::pool(pool, shape(0)), id, epilogue)]);
            }
            _ => return None,
        };
        let (splits, k_chunk) = if mode == 2 { splits(&s) } else { (1, k) };
        let u = |v: usize| v as u32;
        let len = u(node.shape.len());
        let out = *epilogue.last().unwrap_or(&id);
        let mut bindings = vec![(0, x[0]), (1, x[1]), (2, out)];
        let fused = self.epilogue(id, epilogue, Head::Conv);
        bindings.extend(fused.bindings);
        let p = ConvParams {
            mode,
            m: u(m),
            n: u(n),
            k: u(k),
            k_chunk: u(k_chunk),
            splits: u(splits),
            len,
            ep: fused.ep,
            ..params(&s)
        };
        let (plain, entry) = if x.len() > 2 {
            bindings.push((4, x[2]));
            (Kernel::ConvGemmBias, "conv_gemm_bias")
        } else {
            (Kernel::ConvGemm, "conv_gemm")
        };
        let kernel = fused.module.map_or(plain, |module| Kernel::Generated { module, entry });
        let workgroups = [u(n.div_ceil(64)), u(m.div_ceil(64)), u(s.groups * splits)];
        let mut launches = vec![Launch { kernel, params: bytes_of(&p).to_vec(), bindings, workgroups }];
        if splits > 1 {
            let sum = MatmulParams { m: len, n: 1, splits: u(splits), ..Default::default() };
            let bindings = vec![(2, id)];
            let workgroups = self.linear(len as usize);
            launches.push(Launch {
                kernel: Kernel::MatMulSumSplits,
                params: bytes_of(&sum).to_vec(),
                bindings,
                workgroups,
            });
        }
        Some(launches)
    }

    /// A max pooling's launch, or its gradient's (one thread per input element) with the
    /// elementwise `epilogue` fused into its stores (a ReLU's derivative after it).
    fn pool_launch(&self, s: Sliding, id: NodeId, epilogue: &[NodeId]) -> Launch {
        let node = self.node(id);
        let len = node.shape.len();
        let grad = matches!(node.op, Op::MaxPool2dGrad(_));
        let fused = self.epilogue(id, epilogue, Head::PoolGrad);
        let p = ConvParams { len: len as u32, ep: fused.ep, ..params(&s) };
        let mut bindings = vec![(0, node.inputs[0]), (2, *epilogue.last().unwrap_or(&id))];
        bindings.extend(fused.bindings);
        if grad {
            bindings.push((1, node.inputs[1]));
        }
        let kernel = match (grad, fused.module) {
            (true, Some(module)) => Kernel::Generated { module, entry: "max_pool_grad" },
            (true, None) => Kernel::MaxPoolGrad,
            (false, _) => Kernel::MaxPool,
        };
        Launch { kernel, params: bytes_of(&p).to_vec(), bindings, workgroups: self.linear(len) }
    }
}
