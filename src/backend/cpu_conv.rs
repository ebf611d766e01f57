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

/// Rows `taps` of one image's columns for `group`: row `t` (channel, ky, kx) holds the
/// input that tap reads at each output pixel, 0 in the padding.
fn columns(x: &[f32], s: &Sliding, group: usize, taps: std::ops::Range<usize>, out: &mut [f32]) {
    let (pixels, kk) = (s.pixels(), s.kh * s.kw);
    for (row, t) in out.chunks_mut(pixels).zip(taps) {
        let (channel, ky, kx) = (group * s.group_channels() + t / kk, t % kk / s.kw, t % s.kw);
        let plane = &x[channel * s.h * s.w..][..s.h * s.w];
        for (oy, line) in row.chunks_mut(s.ow).enumerate() {
            let Some(y) = s.row(oy, ky) else {
                line.fill(0.0);
                continue;
            };
            let source = &plane[y * s.w..][..s.w];
            if s.stride[1] == 1 {
                // One copy between the zeros of the left and right padding.
                let (first, last, start) = inside(s, kx);
                line[..first].fill(0.0);
                line[first..last].copy_from_slice(&source[start..start + last - first]);
                line[last..].fill(0.0);
            } else {
                for (ox, v) in line.iter_mut().enumerate() {
                    *v = s.col(ox, kx).map_or(0.0, |x| source[x]);
                }
            }
        }
    }
}

/// For stride 1 across: the output columns `first..last` whose tap `kx` reads inside the
/// image, and the input column the first of them reads.
fn inside(s: &Sliding, kx: usize) -> (usize, usize, usize) {
    let first = s.padding[1].saturating_sub(kx * s.dilation[1]).min(s.ow);
    let last = (s.w + s.padding[1]).saturating_sub(kx * s.dilation[1]).min(s.ow).max(first);
    (first, last, (first + kx * s.dilation[1]).saturating_sub(s.padding[1]))
}

/// The adjoint of [`columns`] for all of a group's rows: each row added onto the image
/// elements it read, rows in order.
fn fold_columns(cols: &[f32], s: &Sliding, group: usize, image: &mut [f32]) {
    let (pixels, kk) = (s.pixels(), s.kh * s.kw);
    for (t, row) in cols.chunks(pixels).enumerate() {
        let (channel, ky, kx) = (group * s.group_channels() + t / kk, t % kk / s.kw, t % s.kw);
        let plane = &mut image[channel * s.h * s.w..][..s.h * s.w];
        for (oy, line) in row.chunks(s.ow).enumerate() {
            let Some(y) = s.row(oy, ky) else { continue };
            let target = &mut plane[y * s.w..][..s.w];
            if s.stride[1] == 1 {
                let (first, last, start) = inside(s, kx);
                let target = &mut target[start..start + last - first];
                target.iter_mut().zip(&line[first..last]).for_each(|(t, v)| *t += v);
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
    let ranges = taps.div_ceil(WEIGHT_COLUMNS);
    let out = Out(dw.as_mut_ptr(), dw.len());
    for_parts(s.groups * ranges, |part| {
        let (group, first) = (part / ranges, part % ranges * WEIGHT_COLUMNS);
        let count = WEIGHT_COLUMNS.min(taps - first);
        // SAFETY: this part writes columns first..first + count of the group's rows,
        // which no other part writes.
        let target = unsafe { out.rows_from(group * outs * taps + first) };
        with_scratch(count * pixels, |cols, packed| {
            for b in 0..s.n {
                columns(&x[b * per_image..], s, group, first..first + count, cols);
                let g = (&dy[b * per_output + group * outs * pixels..], pixels, 1);
                // columnsᵀ: element (p, t) at t·pixels + p.
                product_into((outs, count, pixels), g, (cols, 1, pixels), (target, taps), b > 0, packed);
            }
        });
    });
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
        for ox in 0..ow {
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
