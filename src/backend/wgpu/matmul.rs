//! How a matmul is launched: the small kernel, the tiled kernel, or the tiled kernel
//! split along K.

use crate::graph::{Graph, NodeId};
use crate::op::Op;

/// The longest K `matmul_small` walks in one thread.
const MAX_SMALL_K: usize = 8192;
/// The longest K range of one tiled workgroup: 4,096 steps of 16, far inside lavapipe's
/// 65,535-iteration limit on a shader loop.
const MAX_K_CHUNK: usize = 65_536;

/// The dimensions of a matmul node, `C[m, n] = op(A)[m, k] · op(B)[k, n]`.
pub(super) struct MatmulShape {
    pub m: usize,
    pub n: usize,
    pub k: usize,
}

impl MatmulShape {
    pub fn of(graph: &Graph, id: NodeId) -> MatmulShape {
        let node = &graph.nodes()[id.index()];
        let a = graph.nodes()[node.inputs[0].index()].shape;
        let k = match node.op {
            Op::MatMul { trans_a: true, .. } => a.rows,
            _ => a.cols,
        };
        MatmulShape { m: node.shape.rows, n: node.shape.cols, k }
    }

    /// Fewer outputs than one 64×64 tile and a K short enough for one thread to walk
    /// (`matmul_small` loops over all of K): `matmul_small`.
    pub fn is_small(&self) -> bool {
        self.m * self.n < 64 * 64 && self.k <= MAX_SMALL_K
    }

    /// `(splits, k_chunk)`: a product of fewer than 32 output tiles and a long K is split
    /// into K ranges of at least 128 (a multiple of the 16-wide K step), for up to about
    /// 64 workgroups in all; any K range is at most [`MAX_K_CHUNK`] long; otherwise
    /// `(1, k)`.
    pub fn splits(&self) -> (u32, u32) {
        let tiles = self.m.div_ceil(64) * self.n.div_ceil(64);
        let wanted = if self.is_small() || tiles >= 32 || self.k < 256 {
            1
        } else {
            self.k.div_ceil(128).min(64usize.div_ceil(tiles)).max(1)
        };
        let wanted = wanted.max(self.k.div_ceil(MAX_K_CHUNK));
        if wanted == 1 {
            return (1, self.k as u32);
        }
        let k_chunk = self.k.div_ceil(wanted).next_multiple_of(16);
        (self.k.div_ceil(k_chunk) as u32, k_chunk as u32)
    }
}
