//! Convolutions and max pooling on the CPU, each image's work a part across cores.
//!
//! A convolution is, per image and group, one product with the image's columns: row `t`
//! of the columns (a channel and a kernel tap) holds what that tap reads at every output
//! pixel. The columns of one image (or of a few rows of it) go into a buffer of the
//! thread's own, grown once and reused, and feed the product kernel; the output is
//! written in `[n, out, oh, ow]` order directly, so nothing is permuted. The input
//! gradient is the transposed product into the columns, folded back onto the image; the
//! weight gradient sums each image's product in image order into the weight's own rows.
//! Each output element is one fixed-order sum, whatever the thread count.

use std::cell::RefCell;

use super::cpu_matmul::product_into;
use super::cpu_pool::{for_parts, Parts};
use crate::graph::sliding::Sliding;

/// Weight-gradient columns per part: a panel of the product kernel, so parts split the
/// output on its tile boundaries.
const WEIGHT_COLUMNS: usize = 32;
/// Images a weight gradient's section sums before the next: their `dy` (50 KiB each in
/// the example's second convolution) stays in a core's cache for all the tap ranges.
const IMAGES_PER_SECTION: usize = 8;

thread_local! {
    /// This thread's columns and the product's packing buffer.
    static SCRATCH: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// Runs `f` with this thread's scratch: `len` values for the columns (their contents
/// left from before) and the packing buffer.
fn with_scratch(len: usize, f: impl FnOnce(&mut [f32], &mut Vec<f32>)) {
    SCRATCH.with(|s| {
        let (columns, packed) = &mut *s.borrow_mut();
        if columns.len() < len {
            columns.resize(len, 0.0);
        }
        f(&mut columns[..len], packed)
    })
}

/// The two moves of a stride-1 row of windows, one output row (`ow` values) at a time:
/// portable loops, or masked AVX-512 moves sixteen values at a time (the rows are short,
/// 14 values in the example's second convolution: slice copies and fills each cost a
/// call there).
trait Lines {
    /// `line[first..last] = source[start..]`, zeros elsewhere.
    fn shifted(line: &mut [f32], source: &[f32], first: usize, last: usize, start: usize);
    /// `target[start..] += line[first..last]`.
    fn add_shifted(target: &mut [f32], line: &[f32], first: usize, last: usize, start: usize);
}

struct Portable;

impl Lines for Portable {
    #[inline(always)]
    fn shifted(line: &mut [f32], source: &[f32], first: usize, last: usize, start: usize) {
        line[..first].fill(0.0);
        line[first..last].copy_from_slice(&source[start..start + last - first]);
        line[last..].fill(0.0);
    }

    #[inline(always)]
    fn add_shifted(target: &mut [f32], line: &[f32], first: usize, last: usize, start: usize) {
        let target = &mut target[start..start + last - first];
        target.iter_mut().zip(&line[first..last]).for_each(|(t, v)| *t += v);
    }
}

/// Only used inside functions compiled for AVX-512F (`columns_avx512`, `fold_avx512`).
#[cfg(target_arch = "x86_64")]
struct Avx512;

#[cfg(target_arch = "x86_64")]
fn lanes(n: usize) -> std::arch::x86_64::__mmask16 {
    if n >= 16 {
        0xFFFF
    } else {
        ((1u32 << n) - 1) as u16
    }
}

#[cfg(target_arch = "x86_64")]
impl Lines for Avx512 {
    #[inline(always)]
    fn shifted(line: &mut [f32], source: &[f32], first: usize, last: usize, start: usize) {
        use std::arch::x86_64::*;
        assert!(first <= last && last <= line.len() && start + (last - first) <= source.len(), "inside the rows");
        // Lane j of chunk c0 reads source[start + c0 + j − first] where first ≤ c0 + j < last.
        let base = source.as_ptr().wrapping_add(start).wrapping_sub(first);
        for c0 in (0..line.len()).step_by(16) {
            let n = (line.len() - c0).min(16);
            let (lo, hi) = (first.saturating_sub(c0).min(16), last.saturating_sub(c0).min(n));
            let valid = lanes(hi) & !lanes(lo);
            // SAFETY: the caller's function has AVX-512F; masked lanes are neither read
            // nor written, and the lanes read are inside `source` (asserted above).
            unsafe {
                let v = _mm512_maskz_loadu_ps(valid, base.wrapping_add(c0));
                _mm512_mask_storeu_ps(line.as_mut_ptr().add(c0), lanes(n), v);
            }
        }
    }

    #[inline(always)]
    fn add_shifted(target: &mut [f32], line: &[f32], first: usize, last: usize, start: usize) {
        use std::arch::x86_64::*;
        let len = last - first;
        assert!(last <= line.len() && start + len <= target.len(), "inside the rows");
        for c0 in (0..len).step_by(16) {
            let m = lanes(len - c0);
            // SAFETY: as in `shifted`: the lanes under `m` are inside both slices.
            unsafe {
                let t = target.as_mut_ptr().add(start + c0);
                let sum =
                    _mm512_add_ps(_mm512_maskz_loadu_ps(m, t), _mm512_maskz_loadu_ps(m, line.as_ptr().add(first + c0)));
                _mm512_mask_storeu_ps(t, m, sum);
            }
        }
    }
}

/// Rows `taps` of one image's columns for `group`: row `t` (channel, ky, kx) holds the
/// input that tap reads at each output pixel, 0 in the padding.
fn columns(x: &[f32], s: &Sliding, group: usize, taps: std::ops::Range<usize>, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if super::cpu_avx512::available() {
        // SAFETY: the CPU has AVX-512F.
        return unsafe { columns_avx512(x, s, group, taps, out) };
    }
    columns_with::<Portable>(x, s, group, taps, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn columns_avx512(x: &[f32], s: &Sliding, group: usize, taps: std::ops::Range<usize>, out: &mut [f32]) {
    columns_with::<Avx512>(x, s, group, taps, out)
}

#[inline(always)]
fn columns_with<L: Lines>(x: &[f32], s: &Sliding, group: usize, taps: std::ops::Range<usize>, out: &mut [f32]) {
    let (pixels, kk) = (s.pixels(), s.kh * s.kw);
    for (row, t) in out.chunks_mut(pixels).zip(taps) {
        let (channel, ky, kx) = (group * s.group_channels() + t / kk, t % kk / s.kw, t % s.kw);
        let plane = &x[channel * s.h * s.w..][..s.h * s.w];
        let (top, bottom) = rows_inside(s, ky);
        row[..top * s.ow].fill(0.0);
        row[bottom * s.ow..].fill(0.0);
        let (first, last, start) = inside(s, kx);
        for oy in top..bottom {
            let y = oy * s.stride[0] + ky * s.dilation[0] - s.padding[0];
            let (line, source) = (&mut row[oy * s.ow..][..s.ow], &plane[y * s.w..][..s.w]);
            if s.stride[1] == 1 {
                L::shifted(line, source, first, last, start);
            } else {
                for (ox, v) in line.iter_mut().enumerate() {
                    *v = s.col(ox, kx).map_or(0.0, |x| source[x]);
                }
            }
        }
    }
}

/// The output rows `top..bottom` whose tap `ky` reads inside the image.
fn rows_inside(s: &Sliding, ky: usize) -> (usize, usize) {
    let top = (0..s.oh).find(|&oy| s.row(oy, ky).is_some()).unwrap_or(s.oh);
    let bottom = (top..s.oh).find(|&oy| s.row(oy, ky).is_none()).unwrap_or(s.oh);
    (top, bottom)
}

/// For stride 1 across: the output columns `first..last` whose tap `kx` reads inside the
/// image, and the input column the first of them reads.
fn inside(s: &Sliding, kx: usize) -> (usize, usize, usize) {
    let first = s.padding[1].saturating_sub(kx * s.dilation[1]).min(s.ow);
    let last = (s.w + s.padding[1]).saturating_sub(kx * s.dilation[1]).min(s.ow).max(first);
    if last == first {
        // A tap that reads only padding (a kernel wider than the image).
        return (first, first, 0);
    }
    (first, last, first + kx * s.dilation[1] - s.padding[1])
}

/// The adjoint of [`columns`] for all of a group's rows: each row added onto the image
/// elements it read, rows in order.
fn fold_columns(cols: &[f32], s: &Sliding, group: usize, image: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if super::cpu_avx512::available() {
        // SAFETY: the CPU has AVX-512F.
        return unsafe { fold_avx512(cols, s, group, image) };
    }
    fold_with::<Portable>(cols, s, group, image)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn fold_avx512(cols: &[f32], s: &Sliding, group: usize, image: &mut [f32]) {
    fold_with::<Avx512>(cols, s, group, image)
}

#[inline(always)]
fn fold_with<L: Lines>(cols: &[f32], s: &Sliding, group: usize, image: &mut [f32]) {
    let (pixels, kk) = (s.pixels(), s.kh * s.kw);
    for (t, row) in cols.chunks(pixels).enumerate() {
        let (channel, ky, kx) = (group * s.group_channels() + t / kk, t % kk / s.kw, t % s.kw);
        let plane = &mut image[channel * s.h * s.w..][..s.h * s.w];
        let (first, last, start) = inside(s, kx);
        let (top, bottom) = rows_inside(s, ky);
        for oy in top..bottom {
            let y = oy * s.stride[0] + ky * s.dilation[0] - s.padding[0];
            let (line, target) = (&row[oy * s.ow..][..s.ow], &mut plane[y * s.w..][..s.w]);
            if s.stride[1] == 1 {
                L::add_shifted(target, line, first, last, start);
                continue;
            }
            for (ox, v) in line.iter().enumerate() {
                if let Some(x) = s.col(ox, kx) {
                    target[x] += v;
                }
            }
        }
    }
}

/// [`crate::Op::Conv2d`]: `out [n, out, oh, ow]` from `x`, `weight` and the bias.
pub fn conv2d(x: &[f32], weight: &[f32], bias: Option<&[f32]>, s: &Sliding, out: &mut [f32]) {
    if super::cpu_winograd::applies(s) {
        return super::cpu_winograd::conv2d(x, weight, bias, s, out);
    }
    let (taps, outs, pixels) = (s.taps(), s.group_outputs(), s.pixels());
    let (per_image, per_output) = (s.c * s.h * s.w, s.out * pixels);
    let parts = Parts::new(&mut out[..s.n * per_output]);
    for_parts(s.n, |b| {
        // SAFETY: part b takes chunk b, once.
        let y = unsafe { parts.chunk(b, per_output) };
        let image = &x[b * per_image..][..per_image];
        with_scratch(taps * pixels, |cols, packed| {
            for group in 0..s.groups {
                columns(image, s, group, 0..taps, cols);
                let w = (&weight[group * outs * taps..], taps, 1);
                let target = &mut y[group * outs * pixels..][..outs * pixels];
                product_into((outs, pixels, taps), w, (cols, pixels, 1), (target, pixels), false, packed);
            }
        });
        if let Some(bias) = bias {
            for (row, &v) in y.chunks_mut(pixels).zip(bias) {
                row.iter_mut().for_each(|y| *y += v);
            }
        }
    });
}

/// [`crate::Op::Conv2dInput`]: `dx [n, c, h, w]` from `dy [n, out, oh, ow]` and `weight`:
/// per image and group the columns' gradient `Wᵀ · dy`, folded onto the image.
pub fn conv2d_input(dy: &[f32], weight: &[f32], s: &Sliding, dx: &mut [f32]) {
    if super::cpu_winograd::applies(s) {
        return super::cpu_winograd::conv2d_input(dy, weight, s, dx);
    }
    let (taps, outs, pixels) = (s.taps(), s.group_outputs(), s.pixels());
    let (per_image, per_output) = (s.c * s.h * s.w, s.out * pixels);
    let parts = Parts::new(&mut dx[..s.n * per_image]);
    for_parts(s.n, |b| {
        // SAFETY: part b takes chunk b, once.
        let image = unsafe { parts.chunk(b, per_image) };
        image.fill(0.0);
        with_scratch(taps * pixels, |cols, packed| {
            for group in 0..s.groups {
                // Wᵀ: element (t, o) of the group's [outs, taps] weight at o·taps + t.
                let w = (&weight[group * outs * taps..], 1, taps);
                let g = (&dy[b * per_output + group * outs * pixels..], pixels, 1);
                product_into((taps, pixels, outs), w, g, (cols, pixels), false, packed);
                fold_columns(cols, s, group, image);
            }
        });
    });
}

/// [`crate::Op::Conv2dWeight`]: `dw [out, c / groups, kh, kw]` from `x` and `dy`: per
/// group and range of taps (a part), `Σ_images dy · columnsᵀ`, images in order.
pub fn conv2d_weight(x: &[f32], dy: &[f32], s: &Sliding, dw: &mut [f32]) {
    let (taps, outs, pixels) = (s.taps(), s.group_outputs(), s.pixels());
    let (per_image, per_output) = (s.c * s.h * s.w, s.out * pixels);
    if taps < outs && taps < WEIGHT_COLUMNS {
        return narrow_weight_grad(x, dy, s, dw);
    }
    let ranges = taps.div_ceil(WEIGHT_COLUMNS);
    // Each section's images in two halves, summed into two weights (the second into a
    // buffer grown once) and added at the end: twice as many parts as tap ranges, so two
    // cores share them evenly (nine ranges alone leave one core idle for a ninth).
    let half = IMAGES_PER_SECTION / 2;
    let mut second = SECOND_HALF.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    second.resize(dw.len(), 0.0);
    let sums = [Out(dw.as_mut_ptr(), dw.len()), Out(second.as_mut_ptr(), second.len())];
    // A few images at a time, every range of taps over them, so that their `dy`, which
    // every range reads, is read from the core's cache after the first.
    for start in (0..s.n).step_by(IMAGES_PER_SECTION) {
        for_parts(s.groups * ranges * 2, |part| {
            let (h, range) = (part % 2, part / 2);
            let (group, first) = (range / ranges, range % ranges * WEIGHT_COLUMNS);
            let count = WEIGHT_COLUMNS.min(taps - first);
            let images = (start + h * half).min(s.n)..(start + (h + 1) * half).min(s.n);
            // SAFETY: this part writes columns first..first + count of the group's rows
            // of its half's sum, which no other part of this section writes.
            let target = unsafe { sums[h].rows_from(group * outs * taps + first) };
            with_scratch(count * pixels, |cols, packed| {
                for b in images {
                    columns(&x[b * per_image..], s, group, first..first + count, cols);
                    let g = (&dy[b * per_output + group * outs * pixels..], pixels, 1);
                    // columnsᵀ: element (p, t) at t·pixels + p; each half's first image
                    // starts its sum.
                    let accumulate = b > h * half;
                    product_into((outs, count, pixels), g, (cols, 1, pixels), (target, taps), accumulate, packed);
                }
            });
        });
    }
    if s.n > half {
        dw.iter_mut().zip(second.iter()).for_each(|(w, v)| *w += v);
    }
}

/// The second half's weight gradient of [`conv2d_weight`], grown once.
static SECOND_HALF: std::sync::Mutex<Vec<f32>> = std::sync::Mutex::new(Vec::new());

/// [`conv2d_weight`] for a weight of fewer taps than outputs and than a panel (a first
/// layer's `[32, 1, 3, 3]`): as `dwᵀ [taps, outs] = Σ_images columns · dyᵀ`, so that the
/// outputs fill the kernel's 32-wide panels (the other way round nine columns of 32
/// would). Each group's images in two halves, one part each (every image's `dyᵀ` packed
/// once), into two sums in a buffer grown once, added and transposed into place.
fn narrow_weight_grad(x: &[f32], dy: &[f32], s: &Sliding, dw: &mut [f32]) {
    let (taps, outs, pixels) = (s.taps(), s.group_outputs(), s.pixels());
    let (per_image, per_output, per_sum) = (s.c * s.h * s.w, s.out * pixels, taps * outs);
    let half = s.n.div_ceil(2);
    let mut buffer = SECOND_HALF.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    buffer.resize(2 * s.groups * per_sum, 0.0);
    let sums = Parts::new(&mut buffer[..]);
    for_parts(s.groups * 2, |part| {
        let (group, h) = (part / 2, part % 2);
        // SAFETY: part `part` takes its chunk, once.
        let sum = unsafe { sums.chunk(part, per_sum) };
        sum.fill(0.0);
        with_scratch(taps * pixels, |cols, packed| {
            for b in h * half..((h + 1) * half).min(s.n) {
                columns(&x[b * per_image..], s, group, 0..taps, cols);
                // dyᵀ: element (p, o) at o·pixels + p.
                let g = (&dy[b * per_output + group * outs * pixels..], 1, pixels);
                product_into((taps, outs, pixels), (cols, pixels, 1), g, (&mut *sum, outs), true, packed);
            }
        });
    });
    for group in 0..s.groups {
        let (first, second) = buffer[2 * group * per_sum..][..2 * per_sum].split_at(per_sum);
        let target = &mut dw[group * outs * taps..][..outs * taps];
        for (t, (a, b)) in first.chunks(outs).zip(second.chunks(outs)).enumerate() {
            for (o, (a, b)) in a.iter().zip(b).enumerate() {
                target[o * taps + t] = a + b;
            }
        }
    }
}

/// The weight gradient's storage, written by parts in disjoint columns.
#[derive(Clone, Copy)]
struct Out(*mut f32, usize);
// SAFETY: the parts write disjoint elements (see `rows_from`'s callers).
unsafe impl Send for Out {}
unsafe impl Sync for Out {}

impl Out {
    /// The storage from `start` on.
    ///
    /// # Safety
    ///
    /// The caller writes only elements no other live borrow writes.
    #[allow(clippy::mut_from_ref)] // disjoint columns per part, as the contract says
    unsafe fn rows_from(&self, start: usize) -> &mut [f32] {
        std::slice::from_raw_parts_mut(self.0.add(start), self.1 - start)
    }
}

/// The kernel taps `lo..hi` of output index `o` that land inside an input of `size`
/// (stride `stride`, padding `pad`, dilation 1), and the input index of tap 0 (which may
/// be before the input: a wrapping offset).
fn taps_inside(o: usize, stride: usize, pad: usize, kernel: usize, size: usize) -> (usize, usize, usize) {
    let start = (o * stride).wrapping_sub(pad);
    let lo = pad.saturating_sub(o * stride).min(kernel);
    let hi = (size + pad).saturating_sub(o * stride).min(kernel).max(lo);
    (lo, hi, start)
}

/// Each window's largest value and where it is in its plane (the first of equals; the
/// first NaN, which then stays), `f(window, value, at)` for each output of one plane.
/// The taps inside the image are found once per row and column of windows, so the inner
/// loop indexes without checks.
fn max_windows(plane: &[f32], s: &Sliding, mut f: impl FnMut(usize, f32, usize)) {
    for oy in 0..s.oh {
        let (y0, y1, top) = taps_inside(oy, s.stride[0], s.padding[0], s.kh, s.h);
        for ox in 0..s.ow {
            let (x0, x1, left) = taps_inside(ox, s.stride[1], s.padding[1], s.kw, s.w);
            let first = top.wrapping_add(y0) * s.w + left.wrapping_add(x0);
            let (mut best, mut at) = (plane[first], first);
            for ky in y0..y1 {
                let row = top.wrapping_add(ky) * s.w;
                for kx in x0..x1 {
                    let i = row + left.wrapping_add(kx);
                    let v = plane[i];
                    if v > best || (v.is_nan() && !best.is_nan()) {
                        (best, at) = (v, i);
                    }
                }
            }
            f(oy * s.ow + ox, best, at);
        }
    }
}

/// Which of two values [`max_windows`] keeps: `b` only when larger, or the first NaN.
#[inline(always)]
fn second_wins(a: f32, b: f32) -> bool {
    b > a || (b.is_nan() & !a.is_nan())
}

/// The common pooling's forward, 2×2 windows 2 apart without padding: each window's
/// largest value (NaN if it holds one), written so the compiler vectorises it.
fn max_pool_2x2(plane: &[f32], s: &Sliding, out: &mut [f32]) {
    for (oy, y) in out.chunks_mut(s.ow).enumerate() {
        let (r0, r1) = (&plane[2 * oy * s.w..][..2 * s.ow], &plane[(2 * oy + 1) * s.w..][..2 * s.ow]);
        for ((y, top), bottom) in y.iter_mut().zip(r0.chunks_exact(2)).zip(r1.chunks_exact(2)) {
            let [a, b, c, d] = [top[0], top[1], bottom[0], bottom[1]];
            let nan = a.is_nan() | b.is_nan() | c.is_nan() | d.is_nan();
            *y = if nan { f32::NAN } else { a.max(b).max(c.max(d)) };
        }
    }
}

/// The common pooling's gradient: each window's `dy` to its first largest element (a
/// tournament of pairs, which picks what the scan in order picks), zeros to the rest;
/// every element of the windows written once.
fn max_pool_grad_2x2(plane: &[f32], dy: &[f32], s: &Sliding, dx: &mut [f32]) {
    let ow = s.ow;
    for (oy, g) in dy.chunks(ow).enumerate() {
        let (r0, r1) = (&plane[2 * oy * s.w..][..2 * ow], &plane[(2 * oy + 1) * s.w..][..2 * ow]);
        let (d0, d1) = dx[2 * oy * s.w..][..2 * s.w].split_at_mut(s.w);
        let (d0, d1, g) = (&mut d0[..2 * ow], &mut d1[..2 * ow], &g[..ow]);
        #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
        let mut done = 0;
        #[cfg(target_arch = "x86_64")]
        if super::cpu_avx512::available() {
            // SAFETY: the CPU has AVX-512F; the rows hold 2·ow values, `g` ow.
            done = unsafe { pool_grad_row_avx512([r0, r1], g, [&mut *d0, &mut *d1]) };
        }
        for ox in done..ow {
            let (x, g) = (2 * ox, g[ox]);
            let (upper, lower) = (second_wins(r0[x], r0[x + 1]), second_wins(r1[x], r1[x + 1]));
            let upper_value = if upper { r0[x + 1] } else { r0[x] };
            let lower_value = if lower { r1[x + 1] } else { r1[x] };
            let below = second_wins(upper_value, lower_value);
            d0[x] = if !below & !upper { g } else { 0.0 };
            d0[x + 1] = if !below & upper { g } else { 0.0 };
            d1[x] = if below & !lower { g } else { 0.0 };
            d1[x + 1] = if below & lower { g } else { 0.0 };
        }
    }
}

/// [`max_pool_grad_2x2`]'s row of windows sixteen at a time (the last ones under a
/// mask): the rows' even and odd values split apart, the same tournament as masks, the
/// gradient spread back. Returns how many windows it did: all of them.
///
/// # Safety
///
/// The CPU must have AVX-512F; `rows` hold twice as many values as `g`, as do `out`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn pool_grad_row_avx512(rows: [&[f32]; 2], g: &[f32], out: [&mut [f32]; 2]) -> usize {
    use std::arch::x86_64::*;
    let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    let odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    let low = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    let high = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    let lanes = |n: usize| if n >= 16 { 0xFFFF } else { ((1u32 << n) - 1) as __mmask16 };
    // `b` wins over `a`: larger, or the first NaN.
    let wins = |a: __m512, b: __m512| {
        let nan = |v| _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v);
        _mm512_cmp_ps_mask::<_CMP_GT_OQ>(b, a) | (nan(b) & !nan(a))
    };
    for ox in (0..g.len()).step_by(16) {
        let n = (g.len() - ox).min(16);
        // Masked lanes are neither read nor written.
        let (first, second) = (lanes(2 * n), lanes((2 * n).saturating_sub(16)));
        let split = |row: &[f32]| {
            let at = row.as_ptr().add(2 * ox);
            let (x0, x1) = (_mm512_maskz_loadu_ps(first, at), _mm512_maskz_loadu_ps(second, at.wrapping_add(16)));
            (_mm512_permutex2var_ps(x0, even, x1), _mm512_permutex2var_ps(x0, odd, x1))
        };
        let ((a, b), (c, d)) = (split(rows[0]), split(rows[1]));
        let (upper, lower) = (wins(a, b), wins(c, d));
        let below = wins(_mm512_mask_blend_ps(upper, a, b), _mm512_mask_blend_ps(lower, c, d));
        let gv = _mm512_maskz_loadu_ps(lanes(n), g.as_ptr().add(ox));
        let spread = [(!below & !upper, !below & upper), (below & !lower, below & lower)];
        for (row, (left, right)) in spread.into_iter().enumerate() {
            let (left, right) = (_mm512_maskz_mov_ps(left, gv), _mm512_maskz_mov_ps(right, gv));
            let at = out[row].as_mut_ptr().add(2 * ox);
            _mm512_mask_storeu_ps(at, first, _mm512_permutex2var_ps(left, low, right));
            _mm512_mask_storeu_ps(at.wrapping_add(16), second, _mm512_permutex2var_ps(left, high, right));
        }
    }
    g.len()
}

/// Whether `s` is the pooling [`max_pool_2x2`] and [`max_pool_grad_2x2`] serve.
fn is_2x2(s: &Sliding) -> bool {
    s.kh == 2 && s.kw == 2 && s.stride == [2, 2] && s.padding == [0, 0]
}

/// Planes (image and channel) per part of a pooling.
const PLANES: usize = 16;

/// [`crate::Op::MaxPool2d`]: each window's largest value.
pub fn max_pool2d(x: &[f32], s: &Sliding, out: &mut [f32]) {
    let (planes, size, pixels) = (s.n * s.c, s.h * s.w, s.pixels());
    let parts = Parts::new(&mut out[..planes * pixels]);
    for_parts(planes.div_ceil(PLANES), |part| {
        // SAFETY: part `part` takes its chunk, once.
        let chunk = unsafe { parts.chunk(part, PLANES * pixels) };
        for (i, y) in chunk.chunks_mut(pixels).enumerate() {
            let plane = &x[(part * PLANES + i) * size..][..size];
            if is_2x2(s) {
                max_pool_2x2(plane, s, y);
            } else {
                max_windows(plane, s, |o, v, _| y[o] = v);
            }
        }
    });
}

/// [`crate::Op::MaxPool2dGrad`]: each window's `dy` added to its largest element.
pub fn max_pool2d_grad(x: &[f32], dy: &[f32], s: &Sliding, dx: &mut [f32]) {
    let (planes, size, pixels) = (s.n * s.c, s.h * s.w, s.pixels());
    let parts = Parts::new(&mut dx[..planes * size]);
    for_parts(planes.div_ceil(PLANES), |part| {
        // SAFETY: part `part` takes its chunk, once.
        let chunk = unsafe { parts.chunk(part, PLANES * size) };
        // The common pooling writes every element its windows cover.
        if !is_2x2(s) || !s.h.is_multiple_of(2) || !s.w.is_multiple_of(2) {
            chunk.fill(0.0);
        }
        for (i, d) in chunk.chunks_mut(size).enumerate() {
            let p = part * PLANES + i;
            let (plane, g) = (&x[p * size..][..size], &dy[p * pixels..][..pixels]);
            if is_2x2(s) {
                max_pool_grad_2x2(plane, g, s, d);
            } else {
                max_windows(plane, s, |o, _, at| d[at] += g[o]);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::{conv2d, conv2d_input, conv2d_weight, max_pool2d, max_pool2d_grad, max_windows, Sliding};
    use crate::backend::cpu_matmul::test_values as values;
    use crate::graph::op::{Conv, Pool, Window};
    use crate::graph::shape::Shape;

    /// The convolution and both its gradients against the definition summed in f64, at
    /// geometries that reach every path: stride 1 and 2 across, padding wider than the
    /// image (taps that read only zeros), dilation, groups, rows longer than a vector.
    #[test]
    fn convolutions_match_the_definition() {
        // (n, c, h, w, out, kh, kw, stride, padding, dilation, groups)
        let cases = [
            (2, 3, 5, 4, 4, 3, 3, [1, 1], [1, 1], [1, 1], 1),
            (1, 1, 3, 1, 2, 5, 5, [1, 1], [2, 2], [1, 1], 1),
            (2, 4, 7, 9, 6, 3, 2, [2, 2], [2, 1], [2, 1], 2),
            (1, 2, 4, 37, 3, 1, 3, [1, 1], [0, 1], [1, 3], 1),
            (3, 2, 6, 5, 2, 2, 3, [1, 2], [1, 0], [1, 1], 2),
            // Fewer taps than outputs: the weight gradient as its transpose.
            (2, 1, 6, 5, 12, 3, 3, [1, 1], [1, 1], [1, 1], 1),
            (2, 2, 5, 6, 10, 2, 2, [1, 1], [0, 1], [1, 1], 2),
            // Winograd's F(2×2, 3×3): odd output sizes (half tiles), paddings 0 to 2, parts
            // of two images and of one, two vectors of channels.
            (3, 16, 7, 9, 32, 3, 3, [1, 1], [1, 1], [1, 1], 1),
            (2, 32, 5, 6, 16, 3, 3, [1, 1], [0, 2], [1, 1], 1),
            (1, 16, 4, 3, 16, 3, 3, [1, 1], [2, 1], [1, 1], 1),
            // More tiles than a part aims at: one image a part.
            (2, 16, 30, 29, 16, 3, 3, [1, 1], [1, 1], [1, 1], 1),
        ];
        let mut winograd = 0;
        for (n, c, h, w, out, kh, kw, stride, padding, dilation, groups) in cases {
            let u16s = |v: [usize; 2]| v.map(|x| x as u16);
            let window = Window { kernel: u16s([kh, kw]), stride: u16s(stride), dilation: u16s(dilation) };
            let conv = Conv { window, padding: u16s(padding), groups: groups as u32 };
            let (xs, ws) =
                (Shape::from_dims(&[n, c, h, w]).unwrap(), Shape::from_dims(&[out, c / groups, kh, kw]).unwrap());
            let s = Sliding::conv(conv, xs, ws);
            winograd += usize::from(super::super::cpu_winograd::applies(&s));
            let (x, wt, bias) = (values(xs.len(), 1), values(ws.len(), 2), values(out, 3));
            let ys = n * out * s.pixels();
            let dy = values(ys, 4);
            // The definition: y[b, o, p] = bias[o] + Σ x[b, c, y, x] · w[o, c', ky, kx].
            let (mut y, mut dx, mut dw) = (vec![0.0f64; ys], vec![0.0f64; xs.len()], vec![0.0f64; ws.len()]);
            let cg = c / groups;
            for b in 0..n {
                for (o, &bias) in bias.iter().enumerate() {
                    for p in 0..s.pixels() {
                        let at = (b * out + o) * s.pixels() + p;
                        y[at] = bias as f64;
                        for ci in 0..cg {
                            let channel = o / (out / groups) * cg + ci;
                            for ky in 0..kh {
                                for kx in 0..kw {
                                    let (Some(iy), Some(ix)) = (s.row(p / s.ow, ky), s.col(p % s.ow, kx)) else {
                                        continue;
                                    };
                                    let xi = ((b * c + channel) * h + iy) * w + ix;
                                    let wi = ((o * cg + ci) * kh + ky) * kw + kx;
                                    y[at] += x[xi] as f64 * wt[wi] as f64;
                                    dx[xi] += dy[at] as f64 * wt[wi] as f64;
                                    dw[wi] += dy[at] as f64 * x[xi] as f64;
                                }
                            }
                        }
                    }
                }
            }
            let (mut gy, mut gdx, mut gdw) = (vec![f32::NAN; ys], vec![f32::NAN; xs.len()], vec![f32::NAN; ws.len()]);
            conv2d(&x, &wt, Some(&bias), &s, &mut gy);
            conv2d_input(&dy, &wt, &s, &mut gdx);
            conv2d_weight(&x, &dy, &s, &mut gdw);
            for (what, got, want) in [("y", &gy, &y), ("dx", &gdx, &dx), ("dw", &gdw, &dw)] {
                for (i, (g, e)) in got.iter().zip(want.iter()).enumerate() {
                    assert!(
                        (*g as f64 - e).abs() <= 1e-5 * (1.0 + e.abs()),
                        "{what}[{i}] of {n}×{c}×{h}×{w}: {g} vs {e}"
                    );
                }
            }
        }
        assert_eq!(winograd, 4, "the last four cases take the Winograd path");
    }

    /// The 2×2 paths (vectorised where the CPU allows, sixteen windows at a time and a
    /// masked rest) against the general scan, on planes full of ties and a few NaNs, at
    /// widths from one window to past two vectors, odd sizes included.
    #[test]
    fn two_by_two_pooling_matches_the_general_scan() {
        let window = Window { kernel: [2, 2], stride: [2, 2], dilation: [1, 1] };
        for (h, w) in [(2, 2), (5, 7), (4, 32), (6, 35), (3, 66)] {
            let shape = Shape::from_dims(&[2, 3, h, w]).unwrap();
            let s = Sliding::pool(Pool { window, padding: [0, 0] }, shape);
            let x: Vec<f32> =
                (0..shape.len()).map(|i| if i % 29 == 5 { f32::NAN } else { (i * 7 % 5) as f32 }).collect();
            let dy: Vec<f32> = (0..s.n * s.c * s.pixels()).map(|i| i as f32 + 1.0).collect();
            let (mut y, mut dx) = (vec![0.0; dy.len()], vec![f32::NAN; x.len()]);
            max_pool2d(&x, &s, &mut y);
            max_pool2d_grad(&x, &dy, &s, &mut dx);
            let (mut want_y, mut want_dx) = (vec![0.0; dy.len()], vec![0.0; x.len()]);
            for p in 0..s.n * s.c {
                let plane = &x[p * h * w..][..h * w];
                max_windows(plane, &s, |o, v, at| {
                    want_y[p * s.pixels() + o] = v;
                    want_dx[p * h * w + at] += dy[p * s.pixels() + o];
                });
            }
            let same = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(a, b)| a == b || (a.is_nan() && b.is_nan()));
            assert!(same(&y, &want_y), "{h}×{w}: the maxima");
            assert!(same(&dx, &want_dx), "{h}×{w}: the gradient");
        }
    }
}
