//! Where the N-d ops read: one description per op family, computed once from the shapes
//! and shared by both backends (the CPU walks it per element, the GPU gets it in the
//! kernel's uniform), so the two cannot disagree on an index.

use crate::graph::op::Op;
use crate::graph::shape::Shape;

/// How each element of a layout op's output reads its input: the output's dims, the
/// input stride to step for each output dim (0 along a repeated dim), a base offset, and
/// a window along one dim outside which the output is `fill` (padding).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Strided {
    /// The output's dims (the first `rank` count).
    pub dims: [usize; Shape::MAX_RANK],
    /// The input stride of each output dim.
    pub strides: [usize; Shape::MAX_RANK],
    /// The output's rank.
    pub rank: usize,
    /// Added to every input index.
    pub offset: usize,
    /// `(dim, start, len)`: along `dim` only indices `start .. start + len` read the input
    /// (at `index − start`); the rest are `fill`.
    pub window: Option<(usize, usize, usize)>,
    /// The value outside the window.
    pub fill: f32,
}

impl Strided {
    /// The description of layout op `op` from `input` to `out`.
    pub fn of(op: Op, input: Shape, out: Shape) -> Strided {
        let in_strides = input.strides();
        let mut s = Strided {
            dims: [1; Shape::MAX_RANK],
            strides: [0; Shape::MAX_RANK],
            rank: out.rank(),
            offset: 0,
            window: None,
            fill: 0.0,
        };
        s.dims[..out.rank()].copy_from_slice(&out.dims());
        match op {
            Op::Permute { perm } => {
                for k in 0..out.rank() {
                    s.strides[k] = in_strides[perm[k] as usize];
                }
            }
            Op::Expand => {
                let lead = out.rank() - input.rank();
                for (k, (&d, &stride)) in input.dims().iter().zip(&in_strides).enumerate() {
                    s.strides[lead + k] = if d == 1 { 0 } else { stride };
                }
            }
            Op::Narrow { dim, start } => {
                s.strides[..input.rank()].copy_from_slice(&in_strides[..input.rank()]);
                s.offset = start as usize * in_strides[dim as usize];
            }
            Op::Pad { dim, start, value } => {
                s.strides[..input.rank()].copy_from_slice(&in_strides[..input.rank()]);
                s.window = Some((dim as usize, start as usize, input.dims()[dim as usize]));
                s.fill = value;
            }
            // [n, c, hp, wp] read as [n, oh, ow, c, kh, kw]: overlapping windows.
            Op::Unfold(w) => {
                let (n_stride, c_stride, row) = (in_strides[0], in_strides[1], in_strides[2]);
                let (step, tap) = (w.stride.map(usize::from), w.dilation.map(usize::from));
                let strides = [n_stride, step[0] * row, step[1], c_stride, tap[0] * row, tap[1]];
                s.strides[..6].copy_from_slice(&strides);
            }
            _ => unreachable!("{} is not a strided copy", op.name()),
        }
        s
    }

    /// The input index output element `i` reads, or `None` where it is `fill`.
    pub fn source(&self, mut i: usize) -> Option<usize> {
        let mut at = self.offset;
        for k in (0..self.rank).rev() {
            let mut index = i % self.dims[k];
            i /= self.dims[k];
            if let Some((_, start, len)) = self.window.filter(|w| w.0 == k) {
                if index < start || index >= start + len {
                    return None;
                }
                index -= start;
            }
            at += index * self.strides[k];
        }
        Some(at)
    }
}

/// A shape seen around one dim: `[outer, size, inner]`, the product of the dims before
/// it, its own size and the product of the dims after it.
pub(crate) fn around(shape: Shape, dim: usize) -> [usize; 3] {
    let dims = shape.dims();
    [dims[..dim].iter().product(), dims[dim], dims[dim + 1..].iter().product()]
}

/// An index held as an f32 (as index tensors are), if it is an exact integer in
/// `0 .. size`.
pub(crate) fn index_in(value: f32, size: usize) -> Option<usize> {
    (value >= 0.0 && value < size as f32 && value.fract() == 0.0).then_some(value as usize)
}

/// The sizes a [`Op::Fold`] walks: the window, its input `[n, oh, ow, c, kh, kw]` and its
/// output's padded height and width.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Folding {
    pub window: crate::graph::op::Window,
    /// `[n, oh, ow, c, kh, kw]`.
    pub windows: [usize; 6],
    /// The output's `[h, w]`.
    pub image: [usize; 2],
}

impl Folding {
    /// The folding of `window` from `windows` (`[n, oh, ow, c, kh, kw]`) into `image`
    /// (`[n, c, h, w]`).
    pub fn of(window: crate::graph::op::Window, windows: Shape, image: Shape) -> Folding {
        let d = windows.dims();
        Folding { window, windows: [d[0], d[1], d[2], d[3], d[4], d[5]], image: [image.dims()[2], image.dims()[3]] }
    }
}

/// The batch layout of a [`Op::BatchMatMul`]: how many products, each one's
/// `[m, k]·[k, n] → [m, n]` sizes, and where each operand's batches start (a stride of 0
/// for an operand broadcast over the batch).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Batched {
    pub batches: usize,
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub a_stride: usize,
    pub b_stride: usize,
}

impl Batched {
    /// The layout of a batched product of stored operands `a` and `b` into `out`.
    pub fn of(a: Shape, b: Shape, out: Shape, trans_a: bool) -> Batched {
        let (m, n) = (out.dims()[out.rank() - 2], out.cols());
        let k = if trans_a { a.dims()[a.rank() - 2] } else { a.cols() };
        let batches = out.len() / (m * n).max(1);
        let per = |s: Shape| {
            let one = s.cols() * s.dims()[s.rank() - 2];
            if s.len() == one {
                0
            } else {
                one
            }
        };
        Batched { batches, m, n, k, a_stride: per(a), b_stride: per(b) }
    }
}
