//! The launches of fused groups ([`crate::compile::fuse`]) on the GPU: a product with its
//! generated epilogue, softmax cross-entropy with its gradient, and one optimizer launch
//! for many parameters, split only where the adapter's binding limit requires.

use bytemuck::bytes_of;

use super::generate::{self, EpilogueStep, UpdateKind, MAX_EPILOGUE};
use super::kernels::{Kernel, OptimParams, ReduceParams};
use super::launch::{adam_params, sgd_params, EpilogueLaunch, Launch};
use super::session::GpuSession;
use crate::compile::fuse::{Group, Update};
use crate::error::Result;
use crate::graph::op::Op;
use crate::graph::NodeId;

impl GpuSession {
    /// The kernel launches of one group, in order.
    pub(super) fn group_launches(&self, group: &Group) -> Result<Vec<Launch>> {
        Ok(match group {
            Group::Single(id) => self.launches(*id)?,
            Group::MatMul { matmul, epilogue } => match self.node(*matmul).op {
                Op::Conv2d(_) | Op::MaxPool2dGrad(_) => {
                    self.conv_launches(*matmul, epilogue).expect("a convolution or pooling node")
                }
                _ => self.matmul(*matmul, epilogue),
            },
            Group::SoftmaxXent { loss, grad, accumulate } => vec![self.softmax_xent(*loss, *grad, *accumulate)],
            Group::Updates(members) => self.updates(members),
            Group::Batch { x, y } => vec![self.batch(*x, *y)],
        })
    }

    /// What the `epilogue` of product `matmul` (a product of `head`'s kernels) adds to its
    /// launch.
    pub(super) fn epilogue(&self, matmul: NodeId, epilogue: &[NodeId], head: generate::Head) -> EpilogueLaunch {
        let mut ep = [[0u32; 4]; MAX_EPILOGUE];
        let mut bindings = Vec::new();
        let mut steps = Vec::new();
        let mut previous = matmul;
        for (j, &id) in epilogue.iter().enumerate() {
            let node = self.node(id);
            let Op::Map(map, s) = node.op else { unreachable!("an epilogue is elementwise") };
            let other = node.inputs.iter().copied().find(|&i| i != previous);
            let shape = other.map_or(crate::Shape::SCALAR, |o| self.node(o).shape);
            ep[j] = [shape.rows() as u32, shape.cols() as u32, s.to_bits(), 0];
            if let Some(other) = other {
                bindings.push((head.first_binding() + j as u32, other));
            }
            steps.push(EpilogueStep { map, value_first: node.inputs[0] == previous });
            previous = id;
        }
        let module = (!steps.is_empty()).then(|| generate::epilogue_module(&steps, head));
        EpilogueLaunch { ep, bindings, module }
    }

    /// Softmax cross-entropy and its gradient in one pass (the loss at binding 5), and the
    /// running total at 6 when there is one.
    fn softmax_xent(&self, loss: NodeId, grad: NodeId, accumulate: Option<NodeId>) -> Launch {
        let inputs = &self.node(grad).inputs;
        let shape = self.node(inputs[0]).shape;
        let params = ReduceParams { rows: shape.rows() as u32, cols: shape.cols() as u32, scale: 1.0, parts: 1 };
        let mut bindings = vec![(0, inputs[0]), (1, inputs[1]), (2, grad), (4, inputs[2]), (5, loss)];
        let kernel = match accumulate {
            Some(total) => {
                bindings.push((6, total));
                Kernel::SoftmaxXentWithGradAcc
            }
            None => Kernel::SoftmaxXentWithGrad,
        };
        let kernel = super::loss::for_width(kernel, shape.cols());
        Launch { kernel, params: bytes_of(&params).to_vec(), bindings, workgroups: [1, 1, 1] }
    }

    /// One launch per run of members that fits the adapter's storage-binding limit (all of
    /// an MLP's on any adapter that allows 25).
    fn updates(&self, members: &[Update]) -> Vec<Launch> {
        let (kind, params) = match self.node(members[0].node).op {
            Op::Sgd(config) if config.momentum == 0.0 => (UpdateKind::Sgd, sgd_params(config).0),
            Op::Sgd(config) => (UpdateKind::Momentum, sgd_params(config).0),
            Op::Adam(config) => (UpdateKind::Adam, adam_params(config)),
            op => unreachable!("{} is not an optimizer update", op.name()),
        };
        let limit = self.ctx.limits().max_storage_buffers_per_shader_stage as usize;
        let per_launch = (limit.saturating_sub(1) / kind.bindings_per_member()).max(1);
        members.chunks(per_launch).map(|chunk| self.update_launch(kind, params, chunk)).collect()
    }

    fn update_launch(&self, kind: UpdateKind, params: OptimParams, members: &[Update]) -> Launch {
        let column_sums: Vec<bool> = members.iter().map(|u| u.column_sum.is_some()).collect();
        let module = generate::updates_module(kind, &column_sums);
        let mut bindings = Vec::new();
        let mut ranges: Vec<u32> = Vec::new();
        let mut start = 0u32;
        for (j, member) in members.iter().enumerate() {
            let node = self.node(member.node);
            let base = 4 + 4 * j as u32;
            let grad = match member.column_sum {
                Some(sum) => self.node(sum).inputs[0],
                None => node.inputs[1],
            };
            bindings.extend([(base, member.node), (base + 1, grad)]);
            match kind {
                UpdateKind::Momentum => bindings.push((base + 2, node.inputs[3])),
                UpdateKind::Adam => bindings.extend([(base + 2, node.inputs[2]), (base + 3, node.inputs[3])]),
                UpdateKind::Sgd => {}
            }
            let len = node.shape.len() as u32;
            let summed = self.node(grad).shape;
            ranges.extend([start, len, summed.rows() as u32, summed.cols() as u32]);
            // Each parameter starts a workgroup of its own, so no workgroup straddles two
            // and every branch of the kernel is uniform across a workgroup.
            start += len.next_multiple_of(256);
        }
        let first = &self.node(members[0].node).inputs;
        if kind == UpdateKind::Adam {
            bindings.extend([(0, first[4]), (1, first[5])]);
        } else {
            bindings.push((1, first[2]));
        }
        let mut uniform = bytes_of(&OptimParams { len: start, ..params }).to_vec();
        uniform.extend_from_slice(bytemuck::cast_slice(&ranges));
        let workgroups = self.linear(start as usize);
        Launch { kernel: Kernel::Generated { module, entry: "updates" }, params: uniform, bindings, workgroups }
    }
}
