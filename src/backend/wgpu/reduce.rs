//! How a reduction is launched: in parts of bounded size (no thread loops more than 1024
//! times, however large the tensor), then, with more than one part, a launch that adds
//! the parts in a fixed order. Deterministic, and within lavapipe's 65,535-iteration
//! limit on any shader loop.

use bytemuck::bytes_of;

use super::kernels::{Kernel, ReduceParams};
use super::launch::{parts, Launch};
use super::session::GpuSession;
use crate::backend::Session;
use crate::graph::op::Op;
use crate::graph::NodeId;
use crate::ops::total::Total;

impl GpuSession {
    /// The launches of a split reduction, or `None` for another op.
    pub(super) fn reduction(&self, id: NodeId) -> Option<Vec<Launch>> {
        let node = &self.graph().nodes()[id.index()];
        let input = self.graph().nodes()[node.inputs[0].index()].shape;
        let inv_len = 1.0 / input.len() as f32;
        let (kernel, finish, scale) = match node.op {
            op if Total::of(op).is_some() => {
                let (total, mean) = Total::of(op).expect("a sum");
                (Kernel::Total(total), Kernel::SumParts, if mean { inv_len } else { 1.0 })
            }
            Op::GradStats => (Kernel::GradStats, Kernel::GradStatsParts, 1.0),
            Op::SumRows => (Kernel::SumRows, Kernel::SumRowsParts, 1.0),
            _ => return None,
        };
        let parts = parts(self.graph(), id) as u32;
        let params = ReduceParams { rows: input.rows() as u32, cols: input.cols() as u32, scale, parts };
        let params = bytes_of(&params).to_vec();
        let mut bindings: Vec<(u32, NodeId)> = node.inputs.iter().enumerate().map(|(i, &x)| (i as u32, x)).collect();
        bindings.push((2, id));
        let (first, last) = match node.op {
            Op::SumRows => {
                let [x, y, _] = self.linear(input.cols());
                ([x, y, parts], [x, y, 1])
            }
            _ => ([parts, 1, 1], [1, 1, 1]),
        };
        let mut launches = vec![Launch { kernel, params: params.clone(), bindings, workgroups: first }];
        if parts > 1 {
            launches.push(Launch { kernel: finish, params, bindings: vec![(2, id)], workgroups: last });
        }
        Some(launches)
    }
}
