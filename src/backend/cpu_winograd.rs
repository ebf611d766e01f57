//! 3×3 convolutions of stride 1 on the CPU by Winograd's minimal filtering F(2×2, 3×3)
//! (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2015).
//!
//! Each 2×2 block of outputs (a tile) reads a 4×4 patch of the input. In the transformed
//! domain the patch (`Bᵀ d B`) and the 3×3 kernel (`G g Gᵀ`) are 4×4 each and their
//! elementwise product, summed over input channels, gives the tile back through `Aᵀ · A`.
//! The sum over channels is 16 independent products `U[ξ] (out × in) · V[ξ] (in × tiles)`,
//! one per transformed element ξ: 16 multiply-adds per tile and channel pair where the
//! direct convolution spends 36 (2.25× fewer), for a few additions in the transforms.
//!
//! The convolution's forward pass is such a convolution, and so is its input gradient at
//! stride 1: `dy` padded by `2 − padding`, convolved with each kernel turned half a turn
//! and the channel roles swapped. A part takes a few images (their tiles one under the
//! other, so the products are tall enough for the kernel's tiles); every output element
//! is one fixed-order sum, whatever the thread count.
//!
//! The transforms work channels last: a part's images are copied into a zero-padded
//! `[y, x, channel]` buffer, so that each tile's sixteen input values are sixteen vectors
//! over the channels, transformed with whole-vector additions into `V[ξ][tile][channel]`;
//! the products give `M[ξ][tile][out]`, which the output transform reads the same way
//! before it spreads each tile's four values into the `[out, y, x]` result.

use std::cell::RefCell;

use super::cpu_matmul::product_into;
use super::cpu_pool::{for_parts, Parts};
use crate::graph::sliding::Sliding;

/// Tile columns a part's products aim at: a few panels of the product kernel, while the
/// part's transformed inputs and products (with 32 and 64 channels, about 0.9 MB) stay in
/// a core's cache.
const PART_COLUMNS: usize = 160;

/// Whether [`conv2d`] and [`conv2d_input`] take the convolution `s`: 3×3 kernels, stride
/// and dilation 1, one group, padding at most 2 (the input gradient's padding is
/// `2 − padding`), and enough channels both ways.
pub fn applies(s: &Sliding) -> bool {
    s.kh == 3
        && s.kw == 3
        && s.stride == [1, 1]
        && s.dilation == [1, 1]
        && s.groups == 1
        && s.padding.iter().all(|&p| p <= 2)
        && s.c.min(s.out) >= LANES
        && s.h.min(s.w) > 0
        && s.c.is_multiple_of(LANES)
        && s.out.is_multiple_of(LANES)
}

/// The transforms' vector width: channel counts that are whole vectors take this path (a
/// first layer's single input channel stays on the direct path, where it is cheaper).
const LANES: usize = 16;

/// [`LANES`] channels' values and the arithmetic the transforms need: plain arrays
/// everywhere, AVX-512 registers where the CPU has them (only used inside functions
/// compiled for AVX-512F).
trait Vector: Copy {
    fn load(values: &[f32], at: usize) -> Self;
    fn store(self, values: &mut [f32], at: usize);
    fn add(self, other: Self) -> Self;
    fn sub(self, other: Self) -> Self;
}

impl Vector for [f32; LANES] {
    #[inline(always)]
    fn load(values: &[f32], at: usize) -> Self {
        values[at..at + LANES].try_into().expect("a whole vector")
    }

    #[inline(always)]
    fn store(self, values: &mut [f32], at: usize) {
        values[at..at + LANES].copy_from_slice(&self);
    }

    #[inline(always)]
    fn add(self, other: Self) -> Self {
        std::array::from_fn(|l| self[l] + other[l])
    }

    #[inline(always)]
    fn sub(self, other: Self) -> Self {
        std::array::from_fn(|l| self[l] - other[l])
    }
}

#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Zmm(std::arch::x86_64::__m512);

/// Only used inside a function compiled for AVX-512F (`transform_part_avx512`), which
/// is only called where the CPU has it.
#[cfg(target_arch = "x86_64")]
impl Vector for Zmm {
    #[inline(always)]
    fn load(values: &[f32], at: usize) -> Self {
        debug_assert!(super::cpu_avx512::available(), "AVX-512F");
        assert!(at + LANES <= values.len(), "a whole vector");
        // SAFETY: the sixteen values are inside `values`; the caller's function has AVX-512F.
        Zmm(unsafe { std::arch::x86_64::_mm512_loadu_ps(values.as_ptr().add(at)) })
    }

    #[inline(always)]
    fn store(self, values: &mut [f32], at: usize) {
        debug_assert!(super::cpu_avx512::available(), "AVX-512F");
        assert!(at + LANES <= values.len(), "a whole vector");
        // SAFETY: as in `load`.
        unsafe { std::arch::x86_64::_mm512_storeu_ps(values.as_mut_ptr().add(at), self.0) }
    }

    #[inline(always)]
    fn add(self, other: Self) -> Self {
        // SAFETY: the caller's function has AVX-512F.
        Zmm(unsafe { std::arch::x86_64::_mm512_add_ps(self.0, other.0) })
    }

    #[inline(always)]
    fn sub(self, other: Self) -> Self {
        // SAFETY: the caller's function has AVX-512F.
        Zmm(unsafe { std::arch::x86_64::_mm512_sub_ps(self.0, other.0) })
    }
}

/// `Bᵀ · d` for a line of four vectors: `d0 − d2`, `d1 + d2`, `d2 − d1`, `d1 − d3`.
#[inline(always)]
fn input_line<V: Vector>([d0, d1, d2, d3]: [V; 4]) -> [V; 4] {
    [d0.sub(d2), d1.add(d2), d2.sub(d1), d1.sub(d3)]
}

/// `Aᵀ · m` for a line of four vectors: `m0 + m1 + m2`, `m1 − m2 − m3`.
#[inline(always)]
fn output_line<V: Vector>([m0, m1, m2, m3]: [V; 4]) -> [V; 2] {
    [m0.add(m1).add(m2), m1.sub(m2).sub(m3)]
}

/// One convolution in Winograd's terms: `out` channels of `oh × ow` from `c` channels of
/// `h × w` padded by `pad`, with `oh = h + 2·pad − 2` (and the same across).
#[derive(Clone, Copy)]
struct Plan {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    out: usize,
    oh: usize,
    ow: usize,
    pad: [usize; 2],
}

impl Plan {
    /// Tiles down and across.
    fn tiles(&self) -> (usize, usize) {
        (self.oh.div_ceil(2), self.ow.div_ceil(2))
    }

    /// The padded plane one channel's patches are read from: every patch inside it.
    fn plane(&self) -> (usize, usize) {
        let (th, tw) = self.tiles();
        (2 * th + 2, 2 * tw + 2)
    }

    /// The working values of the transforms: the padded image channels last for the
    /// inputs', a tile's four corners for the outputs'.
    fn work(&self) -> usize {
        let (ph, pw) = self.plane();
        (ph * pw * self.c).max(4 * LANES)
    }
}

thread_local! {
    /// This thread's transformed inputs, products, padded plane and packing buffer.
    static SCRATCH: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
    /// The transformed kernels `U[ξ]` of this thread's call in progress (read by its parts
    /// on every thread), grown once.
    static KERNELS: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// [`crate::Op::Conv2d`] where [`applies`]: `out [n, out, oh, ow]` from `x`, `weight`
/// `[out, c, 3, 3]` and the bias.
pub fn conv2d(x: &[f32], weight: &[f32], bias: Option<&[f32]>, s: &Sliding, out: &mut [f32]) {
    let plan = Plan { n: s.n, c: s.c, h: s.h, w: s.w, out: s.out, oh: s.oh, ow: s.ow, pad: s.padding };
    // Kernel (o, c) as it is stored.
    let kernel = |o: usize, c: usize| -> [f32; 9] { weight[(o * s.c + c) * 9..][..9].try_into().expect("nine taps") };
    run(&plan, x, kernel, bias, out)
}

/// [`crate::Op::Conv2dInput`] where [`applies`]: `dx [n, c, h, w]` from `dy [n, out, oh,
/// ow]` and `weight`, as the convolution of `dy` padded by `2 − padding` with kernel (o, c)
/// turned half a turn as kernel (c, o).
pub fn conv2d_input(dy: &[f32], weight: &[f32], s: &Sliding, dx: &mut [f32]) {
    let pad = s.padding.map(|p| 2 - p);
    let plan = Plan { n: s.n, c: s.out, h: s.oh, w: s.ow, out: s.c, oh: s.h, ow: s.w, pad };
    let kernel = |c: usize, o: usize| -> [f32; 9] {
        let taps: &[f32] = &weight[(o * s.c + c) * 9..][..9];
        std::array::from_fn(|t| taps[8 - t])
    };
    run(&plan, dy, kernel, None, dx)
}

/// The convolution `plan` of `x` with the kernels `kernel(out, in)`, plus `bias`.
fn run(plan: &Plan, x: &[f32], kernel: impl Fn(usize, usize) -> [f32; 9], bias: Option<&[f32]>, out: &mut [f32]) {
    KERNELS.with(|kernels| match kernels.try_borrow_mut() {
        Ok(mut kernels) => run_with(plan, x, kernel, bias, &mut kernels, out),
        // A convolution inside another on this thread (none today) transforms into its own.
        Err(_) => run_with(plan, x, kernel, bias, &mut Vec::new(), out),
    })
}

/// [`run`] with the transformed kernels in `kernels`, grown as needed.
fn run_with(
    plan: &Plan,
    x: &[f32],
    kernel: impl Fn(usize, usize) -> [f32; 9],
    bias: Option<&[f32]>,
    kernels: &mut Vec<f32>,
    out: &mut [f32],
) {
    kernels.resize(16 * plan.out * plan.c, 0.0);
    transform_kernels(plan, kernel, kernels);
    let (th, tw) = plan.tiles();
    let tiles = th * tw;
    let images = (PART_COLUMNS / tiles.max(1)).clamp(1, plan.n.div_ceil(2).max(1));
    let (per_image, per_output) = (plan.c * plan.h * plan.w, plan.out * plan.oh * plan.ow);
    let parts = Parts::new(&mut out[..plan.n * per_output]);
    let kernels = &kernels[..];
    for_parts(plan.n.div_ceil(images), |part| {
        let first = part * images;
        let count = images.min(plan.n - first);
        // SAFETY: part `part` takes chunk `part` (its images' outputs), once.
        let y = unsafe { parts.chunk(part, images * per_output) };
        let columns = count * tiles;
        let sizes = [16 * plan.c * columns, 16 * plan.out * columns, plan.work()];
        SCRATCH.with(|scratch| {
            let (buffer, packed) = &mut *scratch.borrow_mut();
            if buffer.len() < sizes.iter().sum() {
                buffer.resize(sizes.iter().sum(), 0.0);
            }
            let (v, rest) = buffer.split_at_mut(sizes[0]);
            let (m, rest) = rest.split_at_mut(sizes[1]);
            let work = &mut rest[..sizes[2]];
            let images = &x[first * per_image..][..count * per_image];
            let buffers = Buffers { v, m, work, packed };
            transform_part(plan, images, kernels, bias, buffers, y);
        });
    });
}

/// `U[ξ][c][o]` = element ξ of `G g Gᵀ` for the kernel `g` = `kernel(o, c)` (its nine
/// taps row by row).
fn transform_kernels(plan: &Plan, kernel: impl Fn(usize, usize) -> [f32; 9], u: &mut [f32]) {
    let stride = plan.out * plan.c;
    // Output channels innermost: the writes run along U's rows.
    for c in 0..plan.c {
        for o in 0..plan.out {
            let g = kernel(o, c);
            // G g (four rows of three), then each row times Gᵀ.
            let columns: [[f32; 4]; 3] = std::array::from_fn(|kx| kernel_line([g[kx], g[3 + kx], g[6 + kx]]));
            for r in 0..4 {
                let row = kernel_line([columns[0][r], columns[1][r], columns[2][r]]);
                for (q, value) in row.into_iter().enumerate() {
                    u[(r * 4 + q) * stride + c * plan.out + o] = value;
                }
            }
        }
    }
}

/// `G · g` for a line of three kernel values.
#[inline(always)]
fn kernel_line([g0, g1, g2]: [f32; 3]) -> [f32; 4] {
    [g0, 0.5 * (g0 + g1 + g2), 0.5 * (g0 - g1 + g2), g2]
}

/// A part's working buffers: its transformed inputs, its products, the transforms' own
/// values and the product's packing buffer.
struct Buffers<'a> {
    v: &'a mut [f32],
    m: &'a mut [f32],
    work: &'a mut [f32],
    packed: &'a mut Vec<f32>,
}

/// One part's convolution: its `images` transformed, the 16 products with the transformed
/// `kernels`, the outputs transformed back into `y`; in AVX-512 vectors where the CPU has
/// them.
fn transform_part(plan: &Plan, images: &[f32], kernels: &[f32], bias: Option<&[f32]>, buffers: Buffers, y: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if super::cpu_avx512::available() {
        // SAFETY: the CPU has AVX-512F.
        return unsafe { transform_part_avx512(plan, images, kernels, bias, buffers, y) };
    }
    transform_part_with::<[f32; LANES]>(plan, images, kernels, bias, buffers, y)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn transform_part_avx512(
    plan: &Plan,
    images: &[f32],
    kernels: &[f32],
    bias: Option<&[f32]>,
    buffers: Buffers,
    y: &mut [f32],
) {
    transform_part_with::<Zmm>(plan, images, kernels, bias, buffers, y)
}

#[inline(always)]
fn transform_part_with<V: Vector>(
    plan: &Plan,
    images: &[f32],
    kernels: &[f32],
    bias: Option<&[f32]>,
    Buffers { v, m, work, packed }: Buffers,
    y: &mut [f32],
) {
    let (th, tw) = plan.tiles();
    let tiles = th * tw;
    let columns = images.len() / (plan.c * plan.h * plan.w) * tiles;
    for (i, image) in images.chunks(plan.c * plan.h * plan.w).enumerate() {
        transform_inputs::<V>(plan, image, work, i * tiles, columns, v);
    }
    for xi in 0..16 {
        let vx = (&v[xi * columns * plan.c..], plan.c, 1);
        let u = (&kernels[xi * plan.c * plan.out..], plan.out, 1);
        let mx = (&mut m[xi * columns * plan.out..][..columns * plan.out], plan.out);
        product_into((columns, plan.out, plan.c), vx, u, mx, false, packed);
    }
    transform_outputs::<V>(plan, m, columns, bias, work, y);
}

/// One image's tiles, transformed: `V[ξ][at + tile][c]` = element ξ of `Bᵀ d B` for the
/// 4×4 patch `d` of channel `c` under `tile`, from the image copied channels last into
/// the zero-padded `work`.
#[inline(always)]
fn transform_inputs<V: Vector>(plan: &Plan, image: &[f32], work: &mut [f32], at: usize, columns: usize, v: &mut [f32]) {
    let (th, tw) = plan.tiles();
    let (ph, pw) = plan.plane();
    let c = plan.c;
    let padded = &mut work[..ph * pw * c];
    padded.fill(0.0);
    let [top, left] = plan.pad;
    for (channel, plane) in image.chunks(plan.h * plan.w).enumerate() {
        for (y, row) in plane.chunks(plan.w).enumerate() {
            let start = ((y + top) * pw + left) * c + channel;
            for (x, &value) in row.iter().enumerate() {
                padded[start + x * c] = value;
            }
        }
    }
    for ty in 0..th {
        for tx in 0..tw {
            let tile = at + ty * tw + tx;
            for lane in (0..c).step_by(LANES) {
                // d(i, j): where row i, column j of the patch starts, the channels at row
                // 2ty + i, column 2tx + j of the padded image. The loads stay outside
                // closures: a closure is not compiled for AVX-512 with the function around it.
                let corner = (2 * ty * pw + 2 * tx) * c + lane;
                let (down_row, across) = (pw * c, c);
                let d = |i: usize, j: usize| corner + i * down_row + j * across;
                let first = V::load(padded, corner);
                // Bᵀ d down each column, then each row of that times B.
                let mut down = [[first; 4]; 4];
                for (j, column) in down.iter_mut().enumerate() {
                    let at = [d(0, j), d(1, j), d(2, j), d(3, j)];
                    *column = input_line([
                        V::load(padded, at[0]),
                        V::load(padded, at[1]),
                        V::load(padded, at[2]),
                        V::load(padded, at[3]),
                    ]);
                }
                #[allow(clippy::needless_range_loop)] // row r of every column
                for r in 0..4 {
                    let row = input_line([down[0][r], down[1][r], down[2][r], down[3][r]]);
                    for (q, value) in row.into_iter().enumerate() {
                        value.store(v, ((r * 4 + q) * columns + tile) * c + lane);
                    }
                }
            }
        }
    }
}

/// The part's outputs from its products: tile `Aᵀ M A` (with `M[ξ][tile][o]`), plus the
/// bias, the parts of tiles past an odd edge dropped. Each tile's four outputs are
/// computed as vectors over the output channels, then spread into the `[o, y, x]` planes.
#[inline(always)]
fn transform_outputs<V: Vector>(
    plan: &Plan,
    m: &[f32],
    columns: usize,
    bias: Option<&[f32]>,
    work: &mut [f32],
    y: &mut [f32],
) {
    let (th, tw) = plan.tiles();
    let tiles = th * tw;
    let out = plan.out;
    let corners = &mut work[..4 * LANES];
    for (i, image) in y.chunks_mut(out * plan.oh * plan.ow).enumerate() {
        // Sixteen output planes at a time, so that the spread writes stay in a core's cache.
        for lane in (0..out).step_by(LANES) {
            for ty in 0..th {
                for tx in 0..tw {
                    let tile = i * tiles + ty * tw + tx;
                    // M[ξ = 4r + q] for this tile and lanes: 16 values apart by `step`.
                    let (at, step) = (tile * out + lane, columns * out);
                    let first = V::load(m, at);
                    // Aᵀ down each column (the tile's top and bottom rows), then across.
                    let mut down = [[first; 2]; 4];
                    for (q, column) in down.iter_mut().enumerate() {
                        *column = output_line([
                            V::load(m, at + q * step),
                            V::load(m, at + (4 + q) * step),
                            V::load(m, at + (8 + q) * step),
                            V::load(m, at + (12 + q) * step),
                        ]);
                    }
                    #[allow(clippy::needless_range_loop)] // row `row` of every column
                    for row in 0..2 {
                        let across = output_line([down[0][row], down[1][row], down[2][row], down[3][row]]);
                        for (column, value) in across.into_iter().enumerate() {
                            value.store(corners, (row * 2 + column) * LANES);
                        }
                    }
                    spread(plan, [ty, tx], lane, corners, bias, image);
                }
            }
        }
    }
}

/// A tile's four corners (vectors over output channels `lane..`) into the image's
/// planes, plus the bias, what falls past an odd edge dropped.
#[inline(always)]
fn spread(plan: &Plan, [ty, tx]: [usize; 2], lane: usize, corners: &[f32], bias: Option<&[f32]>, image: &mut [f32]) {
    let pixels = plan.oh * plan.ow;
    let image = &mut image[lane * pixels..][..LANES * pixels];
    for corner in 0..4 {
        let (oy, ox) = (2 * ty + corner / 2, 2 * tx + corner % 2);
        if oy >= plan.oh || ox >= plan.ow {
            continue;
        }
        let at = oy * plan.ow + ox;
        let values = &corners[corner * LANES..][..LANES];
        match bias {
            Some(bias) => {
                values.iter().zip(&bias[lane..]).enumerate().for_each(|(o, (v, b))| image[o * pixels + at] = v + b)
            }
            None => values.iter().enumerate().for_each(|(o, &v)| image[o * pixels + at] = v),
        }
    }
}
