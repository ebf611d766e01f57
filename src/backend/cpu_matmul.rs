//! The CPU backend's matrix product: a plain loop for tiny products, our AVX-512 kernel
//! (`cpu_avx512`) where the CPU has it, the `gemm` crate elsewhere.

use crate::graph::shape::Shape;

/// Products with fewer multiply-adds than this run on one thread: below it, handing half
/// to another core saves less than it costs (the MLP's 1024×64×10 products, 655k
/// multiply-adds, take 35–40 µs split against 55–70 µs on one thread, its 64×64×128 ones
/// the same either way).
const PARALLEL_MATMUL: usize = 1 << 19;
/// Products with fewer multiply-adds than this are summed by a plain loop: a GEMM call's
/// setup costs more than the arithmetic of XOR's 4×2·2×4.
const TINY_MATMUL: usize = 1 << 12;

/// `op(A)·op(B)` into `out`: on a CPU with AVX-512 through our own kernel
/// (`cpu_avx512`, 1.5–2× the `gemm` crate's AVX2 kernel at the MLP's shapes), elsewhere
/// through the `gemm` crate (the widest kernel the CPU has, chosen at run time). Either
/// way a transposed operand is read through its strides (no copy of the operands), and
/// large products split their output across cores. Each output element is one thread's
/// sum over k in a fixed blocking, so results do not depend on the thread count
/// (`tests/all/cpu.rs` checks).
pub fn matmul(a: &[f32], sa: Shape, b: &[f32], sb: Shape, trans_a: bool, trans_b: bool, out: &mut [f32]) {
    let (m, k) = if trans_a { (sa.cols(), sa.rows()) } else { (sa.rows(), sa.cols()) };
    let n = if trans_b { sb.rows() } else { sb.cols() };
    assert!(a.len() >= sa.len() && b.len() >= sb.len() && out.len() >= m * n, "matmul operands fit their shapes");
    // Element (i, p) of op(A) is at i·rs + p·cs.
    let (a_rs, a_cs) = if trans_a { (1, sa.cols()) } else { (sa.cols(), 1) };
    let (b_rs, b_cs) = if trans_b { (1, sb.cols()) } else { (sb.cols(), 1) };
    if m * n * k < TINY_MATMUL {
        for i in 0..m {
            for j in 0..n {
                let dot = (0..k).fold(0.0f32, |acc, p| acc + a[i * a_rs + p * a_cs] * b[p * b_rs + j * b_cs]);
                out[i * n + j] = dot;
            }
        }
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if super::cpu_avx512::available() {
        use super::cpu_avx512::Strided;
        let (a, b) = (Strided { data: a, rs: a_rs, cs: a_cs }, Strided { data: b, rs: b_rs, cs: b_cs });
        return super::cpu_avx512::matmul(m, n, k, a, b, out, m * n * k >= PARALLEL_MATMUL);
    }
    portable(m, n, k, (a, a_rs, a_cs), (b, b_rs, b_cs), out)
}

/// `out (m rows of n, ldc apart) (+)= A (m×k) · B (k×n)` on this thread, added to what
/// `out` holds when `accumulate`, packing into the caller's `packed`: the product a
/// kernel runs inside its own parts (the convolutions, a part per image). Operands are
/// `(values, row distance, column distance)`.
pub fn product_into(
    (m, n, k): (usize, usize, usize),
    a: Operand,
    b: Operand,
    (out, ldc): (&mut [f32], usize),
    accumulate: bool,
    packed: &mut Vec<f32>,
) {
    #[cfg(target_arch = "x86_64")]
    if super::cpu_avx512::available() {
        use super::cpu_avx512::Strided;
        let (a, b) = (Strided { data: a.0, rs: a.1, cs: a.2 }, Strided { data: b.0, rs: b.1, cs: b.2 });
        return super::cpu_avx512::product_into((m, n, k), a, b, out, ldc, accumulate, packed);
    }
    let _ = packed;
    gemm_crate((m, n, k), a, b, (out, ldc), accumulate, gemm::Parallelism::None)
}

/// An operand for [`portable`]: its values and the distances between rows and columns.
pub type Operand<'a> = (&'a [f32], usize, usize);

/// The product through the `gemm` crate (for CPUs without AVX-512).
fn portable(m: usize, n: usize, k: usize, a: Operand, b: Operand, out: &mut [f32]) {
    let parallelism = if m * n * k >= PARALLEL_MATMUL { gemm::Parallelism::Rayon(0) } else { gemm::Parallelism::None };
    gemm_crate((m, n, k), a, b, (out, n), false, parallelism)
}

/// `out (m rows of n, ldc apart) (+)= A · B` by the `gemm` crate, added to what `out`
/// holds when `accumulate`.
fn gemm_crate(
    (m, n, k): (usize, usize, usize),
    (a, a_rs, a_cs): Operand,
    (b, b_rs, b_cs): Operand,
    (out, ldc): (&mut [f32], usize),
    accumulate: bool,
    parallelism: gemm::Parallelism,
) {
    assert!(m == 0 || out.len() >= (m - 1) * ldc + n, "the output fits");
    // SAFETY: the pointers come from slices that hold the m×k, k×n and m×n elements the
    // strides reach (asserted by the callers, and the output's rows `ldc` apart above),
    // `out` does not alias the operands (it is borrowed mutably), and with read_dst =
    // false gemm writes every output element once.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            ldc as isize,
            accumulate,
            a.as_ptr(),
            a_cs as isize,
            a_rs as isize,
            b.as_ptr(),
            b_cs as isize,
            b_rs as isize,
            if accumulate { 1.0 } else { 0.0 },
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// Values in [−1, 1) from a counter, no two neighbours alike: the operands of the CPU
/// kernels' tests.
#[cfg(test)]
pub(crate) fn test_values(len: usize, seed: usize) -> Vec<f32> {
    (0..len).map(|i| ((i * 7919 + seed * 104_729) % 2003) as f32 / 1001.5 - 1.0).collect()
}

#[cfg(test)]
mod tests {
    use super::test_values as values;
    use super::{matmul, portable};
    use crate::graph::shape::Shape;

    /// The dispatching product (whichever kernel this CPU gets) and the `gemm` crate's
    /// path (the one CPUs without AVX-512 get) against an f64 sum, each operand either way,
    /// tiny, small and split across cores.
    #[test]
    fn both_paths_match_a_plain_sum() {
        for (m, n, k) in [(2, 3, 4), (17, 9, 33), (130, 70, 300), (3, 1, 1)] {
            for (trans_a, trans_b) in [(false, false), (true, false), (false, true), (true, true)] {
                let (a, b) = (values(m * k, 1), values(k * n, 2));
                let sa = if trans_a { Shape::new(k, m) } else { Shape::new(m, k) };
                let sb = if trans_b { Shape::new(n, k) } else { Shape::new(k, n) };
                let (a_rs, a_cs) = if trans_a { (1, m) } else { (k, 1) };
                let (b_rs, b_cs) = if trans_b { (1, k) } else { (n, 1) };
                let (mut dispatched, mut crate_path) = (vec![f32::NAN; m * n], vec![f32::NAN; m * n]);
                matmul(&a, sa, &b, sb, trans_a, trans_b, &mut dispatched);
                portable(m, n, k, (&a, a_rs, a_cs), (&b, b_rs, b_cs), &mut crate_path);
                for i in 0..m {
                    for j in 0..n {
                        let exact: f64 =
                            (0..k).map(|p| a[i * a_rs + p * a_cs] as f64 * b[p * b_rs + j * b_cs] as f64).sum();
                        for (path, got) in [("dispatched", &dispatched), ("gemm crate", &crate_path)] {
                            let error = (got[i * n + j] as f64 - exact).abs();
                            assert!(
                                error <= 1e-5 * k as f64,
                                "{path} {m}×{n}×{k} ({trans_a}, {trans_b}) at ({i}, {j})"
                            );
                        }
                    }
                }
            }
        }
    }
}
