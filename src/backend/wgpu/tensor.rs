//! Launches of the N-d ops (`shaders/tensor.wgsl`): each one's uniform filled from the
//! description in [`crate::graph::strided`] that the CPU backend walks too.

use bytemuck::bytes_of;

use super::kernels::{Kernel, TensorParams};
use super::launch::Launch;
use super::session::GpuSession;
use crate::graph::op::{Op, Reduction};
use crate::graph::shape::Shape;
use crate::graph::strided::{around, Batched, Folding, Strided};
use crate::graph::NodeId;

impl GpuSession {
    /// The launch of an N-d op, or `None` for another op.
    pub(super) fn tensor_launch(&self, id: NodeId) -> Option<Launch> {
        let node = self.node(id);
        let x = &node.inputs;
        let shape = |i: usize| self.node(x[i]).shape;
        let len = node.shape.len();
        let base = TensorParams { len: len as u32, window_dim: Shape::MAX_RANK as u32, ..Default::default() };
        let (kernel, params, threads) = match node.op {
            Op::Permute { .. } | Op::Expand | Op::Narrow { .. } | Op::Pad { .. } | Op::Unfold(_) => {
                (Kernel::Restride, strided_params(base, &Strided::of(node.op, shape(0), node.shape)), len)
            }
            Op::Reduce { kind, dim } => {
                let [outer, size, inner] = around(shape(0), dim as usize).map(|v| v as u32);
                let kind = match kind {
                    Reduction::Sum => 0,
                    Reduction::Max => 1,
                    Reduction::Min => 2,
                    Reduction::ArgMax => 3,
                };
                (Kernel::ReduceDim, TensorParams { outer, size, inner, kind, ..base }, len)
            }
            Op::IndexSelect { dim } => {
                let [outer, size, inner] = around(shape(0), dim as usize).map(|v| v as u32);
                let count = shape(1).len() as u32;
                (Kernel::IndexSelect, TensorParams { outer, size, inner, count, ..base }, len)
            }
            Op::IndexAdd { dim } => {
                let [outer, size, inner] = around(node.shape, dim as usize).map(|v| v as u32);
                let count = shape(0).len() as u32;
                (Kernel::IndexAdd, TensorParams { outer, size, inner, count, ..base }, len)
            }
            Op::BatchMatMul { trans_a, trans_b } => {
                let b = Batched::of(shape(0), shape(1), node.shape, trans_a);
                let u = |v: usize| v as u32;
                let flags = trans_a as u32 | (trans_b as u32) << 1;
                let params = TensorParams {
                    m: u(b.m),
                    n: u(b.n),
                    k: u(b.k),
                    a_stride: u(b.a_stride),
                    b_stride: u(b.b_stride),
                    flags,
                    ..base
                };
                (Kernel::BatchMatMul, params, len)
            }
            Op::Fold(window) => {
                let f = Folding::of(window, shape(0), node.shape);
                let mut p = TensorParams { m: f.image[0] as u32, n: f.image[1] as u32, ..base };
                for (k, &d) in f.windows.iter().enumerate() {
                    p.dims[k] = d as u32;
                }
                let [st, dl] = [window.stride, window.dilation].map(|v| v.map(u32::from));
                p.strides[..4].copy_from_slice(&[st[0], st[1], dl[0], dl[1]]);
                (Kernel::Fold, p, len)
            }
            _ => return None,
        };
        let mut bindings = vec![(0, x[0]), (2, id)];
        if x.len() > 1 {
            bindings.push((1, x[1]));
        }
        Some(Launch { kernel, params: bytes_of(&params).to_vec(), bindings, workgroups: self.linear(threads) })
    }
}

/// The uniform of a strided copy.
fn strided_params(base: TensorParams, s: &Strided) -> TensorParams {
    let mut p = TensorParams { rank: s.rank as u32, offset: s.offset as u32, fill: s.fill, ..base };
    for k in 0..s.rank {
        p.dims[k] = s.dims[k] as u32;
        p.strides[k] = s.strides[k] as u32;
    }
    if let Some((dim, start, len)) = s.window {
        (p.window_dim, p.window_start, p.window_len) = (dim as u32, start as u32, len as u32);
    }
    p
}
