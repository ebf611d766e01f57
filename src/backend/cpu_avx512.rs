//! The CPU backend's matrix product on AVX-512 (chosen at run time where the CPU has it;
//! `cpu_matmul::matmul` falls back on the `gemm` crate elsewhere).
//!
//! A register tile of [`MR`] rows × [`NR`] columns of the output (24 of the 32 vector
//! registers) is summed over a block of [`KC`] steps of k: each step loads two vectors of
//! B and broadcasts one element of A per row. B is packed per block into panels of `NR`
//! columns, each step's `NR` values side by side (zeros past the last column), so the
//! tile reads it in order; A is read in place through its strides, whichever way it is
//! transposed. Each thread has one packing buffer, grown by the first product of each
//! shape and reused.
//!
//! Each output element is summed in a fixed order whatever the thread count: within a
//! block by one FMA chain from k = 0, then the blocks added to the output in order. Large
//! products are split into parts of whole tiles of output rows (or columns), one per
//! thread the backend may use.

use std::arch::x86_64::*;

/// Output rows per register tile.
const MR: usize = 12;
/// Output columns per register tile: two vectors of 16 floats.
const NR: usize = 32;
/// Steps of k per block: a tile's A rows (12 KiB) and a B panel (32 KiB) stay near the core.
const KC: usize = 256;

/// B with contiguous rows is read in place by products of at most this many rows...
const DIRECT_ROWS: usize = 8 * MR;
/// ... or of at most this many values of B (256 KiB).
const DIRECT_VALUES: usize = 1 << 16;

/// A matrix operand read through its strides: element `(i, p)` is `data[i·rs + p·cs]`.
#[derive(Clone, Copy)]
pub struct Strided<'a> {
    /// The values.
    pub data: &'a [f32],
    /// Distance between rows.
    pub rs: usize,
    /// Distance between columns.
    pub cs: usize,
}

/// Whether this CPU runs [`matmul`].
pub fn available() -> bool {
    is_x86_feature_detected!("avx512f")
}

/// A raw output pointer that may cross to other threads: the parts it is used for write
/// disjoint elements.
#[derive(Clone, Copy)]
struct Out(*mut f32);
// SAFETY: see the type's comment; each part writes only its own rows or columns.
unsafe impl Send for Out {}
unsafe impl Sync for Out {}

impl Out {
    /// The pointer `count` elements on (a method, so that a closure captures the whole
    /// `Out`, which may cross threads, and not its raw pointer).
    fn offset(self, count: usize) -> Out {
        Out(self.0.wrapping_add(count))
    }
}

/// `out (m×n, row-major) = A (m×k) · B (k×n)`, split across the backend's threads when
/// `parallel` and there are at least two tiles to split. The caller checks that the strides stay
/// inside the slices and that [`available`] is true.
pub fn matmul(m: usize, n: usize, k: usize, a: Strided, b: Strided, out: &mut [f32], parallel: bool) {
    assert!(out.len() >= m * n && available(), "the output fits and the CPU has AVX-512");
    if k == 0 {
        return out[..m * n].fill(0.0);
    }
    let c = Out(out.as_mut_ptr());
    let whole = Part { m, n, a, b, c };
    let (row_tiles, col_tiles) = (m.div_ceil(MR), n.div_ceil(NR));
    if !parallel || row_tiles.max(col_tiles) < 2 {
        // SAFETY: `out` holds the m×n elements written (asserted above).
        return unsafe { whole.run(k, n) };
    }
    // Split on tile boundaries (so no tile changes), by rows when A has at least as many
    // values as B (each part then packs all of B) and there are two row tiles, else by
    // columns (each part then reads all of A); a part per thread the backend may use (two
    // on a 2-core machine, sixteen on a 16-core one), at most a part per tile.
    let by_rows = row_tiles >= 2 && (m >= n || col_tiles < 2);
    let tiles = if by_rows { row_tiles } else { col_tiles };
    let parts = rayon::current_num_threads().clamp(1, tiles);
    let part = |p: usize| {
        // Part p's tiles: the first parts take the extra ones.
        let (first, last) = ((p * tiles).div_ceil(parts), ((p + 1) * tiles).div_ceil(parts));
        if by_rows {
            let (top, bottom) = (first * MR, (last * MR).min(m));
            let rows = Strided { data: &a.data[top * a.rs..], ..a };
            Part { m: bottom - top, a: rows, c: c.offset(top * n), ..whole }
        } else {
            let (left, right) = (first * NR, (last * NR).min(n));
            let columns = Strided { data: &b.data[left * b.cs..], ..b };
            Part { n: right - left, b: columns, c: c.offset(left), ..whole }
        }
    };
    // SAFETY: the parts write disjoint rows (or columns of each row) of `out`.
    super::cpu_pool::for_parts(parts, |p| unsafe { part(p).run(k, n) });
}

/// Rows `m` × columns `n` of the output at `c`, from the operands' matching rows of A
/// and columns of B.
#[derive(Clone, Copy)]
struct Part<'a> {
    m: usize,
    n: usize,
    a: Strided<'a>,
    b: Strided<'a>,
    c: Out,
}

impl Part<'_> {
    /// # Safety
    ///
    /// As [`serial`], with output rows `ldc` apart.
    unsafe fn run(self, k: usize, ldc: usize) {
        PACKED.with(|buffer| match buffer.try_borrow_mut() {
            Ok(mut packed) => serial(self.m, self.n, k, self.a, self.b, self.c, ldc, false, &mut packed),
            // A product inside another on this thread (none today) packs into its own.
            Err(_) => serial(self.m, self.n, k, self.a, self.b, self.c, ldc, false, &mut Vec::new()),
        })
    }
}

thread_local! {
    /// This thread's packing buffer for the parts it runs: grown by the first product of
    /// each shape, then reused.
    static PACKED: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// `out (m rows of n, ldc apart) (+)= A (m×k) · B (k×n)` on this thread, packing into the
/// caller's `packed` (grown once, then reused: no allocation per call); added to what
/// `out` holds when `accumulate`. For kernels that run products inside their own parts
/// (the convolutions); the caller checks [`available`].
#[allow(clippy::too_many_arguments)] // the sizes, the operands, the output and its stride, the buffer
pub fn product_into(
    (m, n, k): (usize, usize, usize),
    a: Strided,
    b: Strided,
    out: &mut [f32],
    ldc: usize,
    accumulate: bool,
    packed: &mut Vec<f32>,
) {
    assert!(available() && (m == 0 || out.len() >= (m - 1) * ldc + n) && ldc >= n, "the output fits");
    if k == 0 {
        if !accumulate {
            out.chunks_mut(ldc).take(m).for_each(|row| row[..n].fill(0.0));
        }
        return;
    }
    // SAFETY: `out` holds the m rows of n elements ldc apart (asserted above).
    unsafe { serial(m, n, k, a, b, Out(out.as_mut_ptr()), ldc, accumulate, packed) }
}

/// The product on this thread into `c` (row stride `ldc`): block by block of k, B packed
/// into `packed` (or read in place), then every tile; the first block added to what `c`
/// holds when `accumulate`.
///
/// # Safety
///
/// `c` must be valid for writes of `m` rows of `n` elements `ldc` apart, and the CPU must
/// have AVX-512F.
#[allow(clippy::too_many_arguments)] // the sizes, the operands, the output and its stride, the buffer
unsafe fn serial(
    m: usize,
    n: usize,
    k: usize,
    a: Strided,
    b: Strided,
    c: Out,
    ldc: usize,
    accumulate: bool,
    packed: &mut Vec<f32>,
) {
    let panels = n.div_ceil(NR);
    // B with contiguous rows is read in place when few row tiles read it or it is
    // small (a wide one read by many tiles is packed: its runs of NR values, 3 KiB
    // apart in a 784-wide row, come faster from a packed panel); a transposed one is
    // always packed.
    let direct = b.cs == 1 && (m <= DIRECT_ROWS || k * n <= DIRECT_VALUES);
    for p0 in (0..k).step_by(KC) {
        let kc = KC.min(k - p0);
        if !direct {
            pack(packed, b, p0, kc, n);
        }
        for j in 0..panels {
            for i0 in (0..m).step_by(MR) {
                let rows = MR.min(m - i0);
                let (b_at, b_rs) = if direct {
                    (b.data.as_ptr().add(p0 * b.rs + j * NR), b.rs)
                } else {
                    (packed.as_ptr().add(j * kc * NR), NR)
                };
                let tile = Tile {
                    a: a.data.as_ptr().add(i0 * a.rs + p0 * a.cs),
                    a_rs: a.rs,
                    a_cs: a.cs,
                    b: b_at,
                    b_rs,
                    kc,
                    c: c.0.add(i0 * ldc + j * NR),
                    ldc,
                    cols: NR.min(n - j * NR),
                    accumulate: accumulate || p0 > 0,
                };
                run_tile(rows, &tile);
            }
        }
    }
}

/// Packs rows `p0..p0 + kc` of B into `panels` of `NR` columns: `kc` runs of `NR` values.
/// The runs of the last panel past column `n` keep whatever they held: the tiles load B
/// under a mask of the panel's real columns and never read them. B has contiguous rows
/// (`cs == 1`) or is transposed (`rs == 1`), as `cpu_matmul` passes it.
fn pack(packed: &mut Vec<f32>, b: Strided, p0: usize, kc: usize, n: usize) {
    debug_assert!(b.rs == 1 || b.cs == 1, "B is stored one way or the other");
    let panels = n.div_ceil(NR);
    if packed.len() < panels * kc * NR {
        packed.resize(panels * kc * NR, 0.0);
    }
    for (j, panel) in packed[..panels * kc * NR].chunks_mut(kc * NR).enumerate() {
        let cols = NR.min(n - j * NR);
        if b.rs == 1 {
            // Transposed: each column of the panel is a contiguous run of B's storage,
            // turned into rows sixteen by sixteen.
            // SAFETY: this module runs only where the CPU has AVX-512F.
            unsafe { pack_transposed(panel, b, p0, kc, j * NR, cols) };
            continue;
        }
        for (kk, run) in panel.chunks_mut(NR).enumerate() {
            let first = (p0 + kk) * b.rs + j * NR;
            run[..cols].copy_from_slice(&b.data[first..first + cols]);
        }
    }
}

/// One panel of a transposed B: `panel[kk·NR + jj] = B[p0 + kk, first + jj]` for `jj <
/// cols`, where column `first + jj` of B is the contiguous run at `(first + jj)·cs`:
/// blocks of 16 × 16 by a register transpose, the edges one value at a time.
///
/// # Safety
///
/// The CPU must have AVX-512F; B holds the columns and rows named.
#[target_feature(enable = "avx512f")]
unsafe fn pack_transposed(panel: &mut [f32], b: Strided, p0: usize, kc: usize, first: usize, cols: usize) {
    let column = |jj: usize| &b.data[(first + jj) * b.cs + p0..][..kc];
    let (full_cols, full_k) = (cols / 16 * 16, kc / 16 * 16);
    for jb in (0..full_cols).step_by(16) {
        for kb in (0..full_k).step_by(16) {
            let rows: [__m512; 16] = std::array::from_fn(|i| _mm512_loadu_ps(column(jb + i).as_ptr().add(kb)));
            for (k, v) in transpose16(rows).into_iter().enumerate() {
                _mm512_storeu_ps(panel.as_mut_ptr().add((kb + k) * NR + jb), v);
            }
        }
        for jj in jb..jb + 16 {
            let column = column(jj);
            (full_k..kc).for_each(|kk| panel[kk * NR + jj] = column[kk]);
        }
    }
    for jj in full_cols..cols {
        column(jj).iter().enumerate().for_each(|(kk, &v)| panel[kk * NR + jj] = v);
    }
}

/// The transpose of a 16 × 16 block held as 16 rows: pairs of rows interleaved, then
/// four-row groups gathered per 128-bit lane, then the lanes moved into place.
#[target_feature(enable = "avx512f")]
unsafe fn transpose16(r: [__m512; 16]) -> [__m512; 16] {
    // t: rows 2i and 2i + 1 interleaved (low and high halves of each lane).
    let t: [__m512; 16] = std::array::from_fn(|i| {
        let (a, b) = (r[i / 2 * 2], r[i / 2 * 2 + 1]);
        if i % 2 == 0 {
            _mm512_unpacklo_ps(a, b)
        } else {
            _mm512_unpackhi_ps(a, b)
        }
    });
    // u[4g + c], lane L: column 4L + c of rows 4g .. 4g + 3.
    let u: [__m512; 16] = std::array::from_fn(|i| {
        let (g, c) = (i / 4, i % 4);
        let (a, b) = (t[4 * g + c / 2], t[4 * g + 2 + c / 2]);
        if c % 2 == 0 {
            _mm512_shuffle_ps::<0x44>(a, b)
        } else {
            _mm512_shuffle_ps::<0xEE>(a, b)
        }
    });
    let mut out = [_mm512_setzero_ps(); 16];
    for c in 0..4 {
        let (v_even, v_odd) =
            (_mm512_shuffle_f32x4::<0x88>(u[c], u[4 + c]), _mm512_shuffle_f32x4::<0xDD>(u[c], u[4 + c]));
        let (w_even, w_odd) =
            (_mm512_shuffle_f32x4::<0x88>(u[8 + c], u[12 + c]), _mm512_shuffle_f32x4::<0xDD>(u[8 + c], u[12 + c]));
        out[c] = _mm512_shuffle_f32x4::<0x88>(v_even, w_even);
        out[8 + c] = _mm512_shuffle_f32x4::<0xDD>(v_even, w_even);
        out[4 + c] = _mm512_shuffle_f32x4::<0x88>(v_odd, w_odd);
        out[12 + c] = _mm512_shuffle_f32x4::<0xDD>(v_odd, w_odd);
    }
    out
}

/// One register tile's operands.
struct Tile {
    a: *const f32,
    a_rs: usize,
    a_cs: usize,
    b: *const f32,
    b_rs: usize,
    kc: usize,
    c: *mut f32,
    ldc: usize,
    cols: usize,
    accumulate: bool,
}

/// Runs the tile kernel compiled for `rows` rows, and for one vector of columns where
/// the panel has at most 16 (the last panel of a 196-wide output has 4: two vectors there
/// would double the work for nothing).
///
/// # Safety
///
/// As [`tile`].
unsafe fn run_tile(rows: usize, t: &Tile) {
    if t.cols > 16 {
        by_rows::<true>(rows, t)
    } else {
        by_rows::<false>(rows, t)
    }
}

/// # Safety
///
/// As [`tile`].
unsafe fn by_rows<const WIDE: bool>(rows: usize, t: &Tile) {
    match rows {
        12 => tile::<12, WIDE>(t),
        11 => tile::<11, WIDE>(t),
        10 => tile::<10, WIDE>(t),
        9 => tile::<9, WIDE>(t),
        8 => tile::<8, WIDE>(t),
        7 => tile::<7, WIDE>(t),
        6 => tile::<6, WIDE>(t),
        5 => tile::<5, WIDE>(t),
        4 => tile::<4, WIDE>(t),
        3 => tile::<3, WIDE>(t),
        2 => tile::<2, WIDE>(t),
        _ => tile::<1, WIDE>(t),
    }
}

/// `R` rows × `t.cols` columns of the output: the sum over the block's `kc` steps, added
/// to what the output holds when `t.accumulate`; the second vector of columns only when
/// `WIDE` (each element's FMA chain is the same either way, so are its bits).
///
/// # Safety
///
/// `t.a` must reach `R` rows and `kc` columns through its strides, `t.b` `kc` rows `b_rs`
/// apart of `t.cols` readable values (a packed panel, or B in place), `t.c` `R` rows of `t.cols` writable values `ldc` apart; AVX-512F.
#[target_feature(enable = "avx512f")]
unsafe fn tile<const R: usize, const WIDE: bool>(t: &Tile) {
    let lanes = |cols: usize| if cols >= 16 { 0xFFFF } else { ((1u32 << cols) - 1) as u16 };
    let (mask0, mask1) = (lanes(t.cols), lanes(t.cols.saturating_sub(16)));
    let mut low = [_mm512_setzero_ps(); R];
    let mut high = [_mm512_setzero_ps(); R];
    for kk in 0..t.kc {
        let b = t.b.wrapping_add(kk * t.b_rs);
        let b0 = _mm512_maskz_loadu_ps(mask0, b);
        let b1 = if WIDE { _mm512_maskz_loadu_ps(mask1, b.wrapping_add(16)) } else { _mm512_setzero_ps() };
        let a = t.a.add(kk * t.a_cs);
        for r in 0..R {
            let v = _mm512_set1_ps(*a.add(r * t.a_rs));
            low[r] = _mm512_fmadd_ps(v, b0, low[r]);
            if WIDE {
                high[r] = _mm512_fmadd_ps(v, b1, high[r]);
            }
        }
    }
    for r in 0..R {
        let c = t.c.add(r * t.ldc);
        let (mut v0, mut v1) = (low[r], high[r]);
        if t.accumulate {
            v0 = _mm512_add_ps(_mm512_maskz_loadu_ps(mask0, c), v0);
            if WIDE {
                v1 = _mm512_add_ps(_mm512_maskz_loadu_ps(mask1, c.wrapping_add(16)), v1);
            }
        }
        // Masked lanes are neither read nor written, so a pointer past the last column
        // (wrapping_add) is never dereferenced.
        _mm512_mask_storeu_ps(c, mask0, v0);
        if WIDE {
            _mm512_mask_storeu_ps(c.wrapping_add(16), mask1, v1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{available, matmul, Strided, KC, MR, NR};
    use crate::backend::cpu_matmul::test_values as values;

    /// Shapes off every tile and block boundary, and on them, with each operand stored
    /// either way: against an f64 sum, and split across threads equal to unsplit, bit for bit.
    #[test]
    fn products_match_a_plain_sum_at_odd_shapes() {
        if !available() {
            eprintln!("SKIPPED: this CPU has no AVX-512F");
            return;
        }
        let shapes =
            [(1, 1, 1), (MR + 1, NR + 1, KC + 1), (2 * MR, 2 * NR, 2 * KC), (37, 5, 300), (3, 70, 9), (130, 17, 0)];
        for (m, n, k) in shapes {
            for (trans_a, trans_b) in [(false, false), (true, false), (false, true), (true, true)] {
                let (a, b) = (values(m * k, 1), values(k * n, 2));
                let a = if trans_a { Strided { data: &a, rs: 1, cs: m } } else { Strided { data: &a, rs: k, cs: 1 } };
                let b = if trans_b { Strided { data: &b, rs: 1, cs: k } } else { Strided { data: &b, rs: n, cs: 1 } };
                let (mut serial, mut split) = (vec![f32::NAN; m * n], vec![f32::NAN; m * n]);
                matmul(m, n, k, a, b, &mut serial, false);
                matmul(m, n, k, a, b, &mut split, true);
                assert_eq!(serial, split, "{m}×{n}×{k} split across threads");
                for i in 0..m {
                    for j in 0..n {
                        let exact: f64 = (0..k)
                            .map(|p| a.data[i * a.rs + p * a.cs] as f64 * b.data[p * b.rs + j * b.cs] as f64)
                            .sum();
                        let error = (serial[i * n + j] as f64 - exact).abs();
                        assert!(error <= 1e-5 * k.max(1) as f64, "{m}×{n}×{k} ({trans_a}, {trans_b}) at ({i}, {j})");
                    }
                }
            }
        }
    }
}
