//! How a matmul is launched: the small kernel, the 64×64 tiled kernel (split along K when
//! its tiles are few), or the 128×128 tiled kernel.

use crate::compile::plan::MatmulTiles;
use crate::graph::op::Op;
use crate::graph::{Graph, NodeId};

/// The longest K `matmul_small` walks in one thread: past it the tiled kernel (split along
/// K) is faster on an H200 (a 10×64×64 product: 4.0 GFLOP/s walking K in one thread per
/// output, 6.1 tiled); the small kernel stays for the tiniest products, where a 64×64 tile
/// would leave most of its threads idle (which software rasterizers pay for in full).
const MAX_SMALL_K: usize = 16;
/// The longest K range of one tiled workgroup: 4,096 steps of 16, far inside lavapipe's
/// 65,535-iteration limit on a shader loop.
const MAX_K_CHUNK: usize = 65_536;
/// Workgroups a 64×64-tiled product is split along K to reach: a few per streaming
/// multiprocessor of a large GPU. On an H200 splitting 4096×784×128 into ranges of 128
/// (seven) made it 1.6× faster, 128×4096×784 (32 ranges) 2.6×; the rule below splits
/// them 4 and 20 ways, about as fast.
const TARGET_WORKGROUPS: usize = 512;
/// The shortest K range of a split: shorter ranges cost more in partial products to add
/// than they save (64×4096×128 on an H200: ranges of 64, 1,965 GFLOP/s; of 32, 1,503).
const MIN_K_CHUNK: usize = 64;
/// 128×128 tiles from this many on: about one per streaming multiprocessor of a large GPU
/// (132 on an H100), below which 64×64 tiles (four times as many workgroups) keep more of
/// the device busy.
const MIN_BIG_TILES: usize = 128;

/// The dimensions of a matmul node, `C[m, n] = op(A)[m, k] · op(B)[k, n]`.
pub(super) struct MatmulShape {
    pub m: usize,
    pub n: usize,
    pub k: usize,
}

/// The kernel a product runs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Tiling {
    /// `matmul_small`: one thread per output.
    Small,
    /// `matmul`: 64×64 tiles.
    Tile64,
    /// `matmul_big`: 128×128 tiles.
    Tile128,
}

impl Tiling {
    /// The side of a workgroup's output tile.
    pub fn tile(self) -> usize {
        match self {
            Tiling::Small | Tiling::Tile64 => 64,
            Tiling::Tile128 => 128,
        }
    }
}

impl MatmulShape {
    pub fn of(graph: &Graph, id: NodeId) -> MatmulShape {
        let node = &graph.nodes()[id.index()];
        let a = graph.nodes()[node.inputs[0].index()].shape;
        let k = match node.op {
            Op::MatMul { trans_a: true, .. } => a.rows(),
            _ => a.cols(),
        };
        MatmulShape { m: node.shape.rows(), n: node.shape.cols(), k }
    }

    /// The kernel for this shape under `choice`.
    pub fn tiling(&self, choice: MatmulTiles) -> Tiling {
        match choice {
            MatmulTiles::Tile64 | MatmulTiles::SplitK(_) => Tiling::Tile64,
            MatmulTiles::Tile128 => Tiling::Tile128,
            MatmulTiles::Auto if self.is_small() => Tiling::Small,
            MatmulTiles::Auto if self.tiles(128) >= MIN_BIG_TILES => Tiling::Tile128,
            MatmulTiles::Auto => Tiling::Tile64,
        }
    }

    /// Output tiles of side `tile`.
    fn tiles(&self, tile: usize) -> usize {
        self.m.div_ceil(tile) * self.n.div_ceil(tile)
    }

    /// Fewer outputs than one 64×64 tile and a K short enough for one thread to walk
    /// (`matmul_small` loops over all of K).
    fn is_small(&self) -> bool {
        self.m * self.n < 64 * 64 && self.k <= MAX_SMALL_K
    }

    /// `(splits, k_chunk)` under `choice`: a 64×64-tiled product of fewer than
    /// [`TARGET_WORKGROUPS`] output tiles is split into K ranges of at least
    /// [`MIN_K_CHUNK`] (a multiple of the 16-wide K step) for about that many workgroups in
    /// all; any K range is at most [`MAX_K_CHUNK`] long; otherwise `(1, k)`.
    pub fn splits(&self, choice: MatmulTiles) -> (u32, u32) {
        if let MatmulTiles::SplitK(chunk) = choice {
            let k_chunk = (chunk.max(1) as usize).next_multiple_of(16).min(MAX_K_CHUNK);
            return (self.k.div_ceil(k_chunk).max(1) as u32, k_chunk as u32);
        }
        let tiling = self.tiling(choice);
        let tiles = self.tiles(64);
        let wanted = if tiling == Tiling::Tile64 {
            TARGET_WORKGROUPS.div_ceil(tiles).min(self.k / MIN_K_CHUNK).max(1)
        } else {
            1
        };
        let wanted = if tiling == Tiling::Small { 1 } else { wanted.max(self.k.div_ceil(MAX_K_CHUNK)) };
        if wanted == 1 {
            return (1, self.k as u32);
        }
        let k_chunk = self.k.div_ceil(wanted).next_multiple_of(16);
        (self.k.div_ceil(k_chunk) as u32, k_chunk as u32)
    }
}
