//! Where a convolution's and a max pooling's windows read: one description from the
//! shapes, shared by both backends (the CPU loops over it, the GPU gets it in the
//! kernel's uniform), so the two cannot disagree on an index.

use crate::graph::op::{Conv, Pool};
use crate::graph::shape::Shape;

/// The sizes of a sliding window over `[n, c, h, w]` images: a convolution's (with `out`
/// output channels in `groups` groups) or a pooling's (`out = c`, one group per channel).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Sliding {
    /// Images.
    pub n: usize,
    /// Input channels, height and width.
    pub c: usize,
    pub h: usize,
    pub w: usize,
    /// Output channels, height and width.
    pub out: usize,
    pub oh: usize,
    pub ow: usize,
    /// Kernel height and width.
    pub kh: usize,
    pub kw: usize,
    /// Stride, padding and dilation, down and across.
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
    /// Channel groups.
    pub groups: usize,
}

fn four(s: Shape) -> [usize; 4] {
    let d = s.dims();
    [d[0], d[1], d[2], d[3]]
}

impl Sliding {
    /// The convolution `conv` of an image of shape `x` with a weight of shape `weight`.
    pub fn conv(conv: Conv, x: Shape, weight: Shape) -> Sliding {
        let [n, c, h, w] = four(x);
        let [out, _, kh, kw] = four(weight);
        Sliding::new(n, c, h, w, out, [kh, kw], conv.window, conv.padding, conv.groups as usize)
    }

    /// The max pooling `pool` of an image of shape `x`.
    pub fn pool(pool: Pool, x: Shape) -> Sliding {
        let [n, c, h, w] = four(x);
        let k = pool.window.kernel.map(usize::from);
        Sliding::new(n, c, h, w, c, k, pool.window, pool.padding, c)
    }

    #[allow(clippy::too_many_arguments)] // the image's four sizes, the outputs, the window
    fn new(
        n: usize,
        c: usize,
        h: usize,
        w: usize,
        out: usize,
        [kh, kw]: [usize; 2],
        window: crate::graph::op::Window,
        padding: [u16; 2],
        groups: usize,
    ) -> Sliding {
        let padding = padding.map(usize::from);
        let [oh, ow] = window.output(h + 2 * padding[0], w + 2 * padding[1]).unwrap_or([0, 0]);
        let (stride, dilation) = (window.stride.map(usize::from), window.dilation.map(usize::from));
        Sliding { n, c, h, w, out, oh, ow, kh, kw, stride, padding, dilation, groups }
    }

    /// Input channels per group.
    pub fn group_channels(&self) -> usize {
        self.c / self.groups
    }

    /// Output channels per group.
    pub fn group_outputs(&self) -> usize {
        self.out / self.groups
    }

    /// Weights per output channel: a group's channels times the kernel.
    pub fn taps(&self) -> usize {
        self.group_channels() * self.kh * self.kw
    }

    /// Output pixels per image and channel.
    pub fn pixels(&self) -> usize {
        self.oh * self.ow
    }

    /// The input row read by output row `oy` at kernel row `ky`, if inside the image.
    pub fn row(&self, oy: usize, ky: usize) -> Option<usize> {
        (oy * self.stride[0] + ky * self.dilation[0]).checked_sub(self.padding[0]).filter(|&y| y < self.h)
    }

    /// The input column read by output column `ox` at kernel column `kx`, if inside.
    pub fn col(&self, ox: usize, kx: usize) -> Option<usize> {
        (ox * self.stride[1] + kx * self.dilation[1]).checked_sub(self.padding[1]).filter(|&x| x < self.w)
    }
}
