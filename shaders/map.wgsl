// The elementwise family (`src/map.rs`): one template, from which one entry point per op
// is generated. Everything above the line `// @entry` is the shared prelude; the entry
// below it is repeated per op with `NAME` replaced by the op's name and `EXPR` by its
// expression in `a`, `b` and `s`, and `T` is the element type (f32).
//
// Bindings: 0 = a (read), 1 = b (read; ops of two operands only), 2 = out (read_write),
// 3 = params (uniform). `out` holds `len` values, row-major with `cols` columns. Element
// (r, c) reads a[(r % a_rows) * a_cols + c % a_cols] (likewise b), so a `[1, m]` row or a
// `[1, 1]` scalar repeats over the output. `s` is the op's constant.
// Dispatch: ceil(len / 256) workgroups of 256 threads, spilling into y past the
// per-dimension limit; thread i = gid.x + gid.y * num_workgroups.x * 256.

struct Params {
    len: u32,
    cols: u32,
    a_rows: u32,
    a_cols: u32,
    b_rows: u32,
    b_cols: u32,
    scalar: T,
    _pad: u32,
}

@group(0) @binding(0) var<storage, read> a_values: array<T>;
@group(0) @binding(1) var<storage, read> b_values: array<T>;
@group(0) @binding(2) var<storage, read_write> out: array<T>;
@group(0) @binding(3) var<uniform> params: Params;

fn a_at(i: u32) -> T {
    let r = i / params.cols;
    let c = i % params.cols;
    return a_values[(r % params.a_rows) * params.a_cols + c % params.a_cols];
}

fn b_at(i: u32) -> T {
    let r = i / params.cols;
    let c = i % params.cols;
    return b_values[(r % params.b_rows) * params.b_cols + c % params.b_cols];
}

// tanh accurate near 0: (1 − e)/(1 + e) would lose every digit to cancellation there, so
// the Taylor series to x¹¹ (next term below 1e-10 relative at |x| = 0.25). Beyond,
// e = exp(−2|x|) <= 0.61, so 1 − e keeps its digits, and no inf / inf makes NaN.
fn tanh_accurate(x: T) -> T {
    let ax = abs(x);
    if (ax < 0.25) {
        let x2 = x * x;
        let series = fma(x2, fma(x2, fma(x2, fma(x2, fma(x2, -0.0088632356, 0.021869488), -0.053968254), 0.13333334), -0.33333334), 1.0);
        return x * series;
    }
    let e = exp(-2.0 * ax);
    return select(1.0, -1.0, x < 0.0) * (1.0 - e) / (1.0 + e);
}

// ln(1 + eˣ) as PyTorch's softplus: x itself above 20; ln(1 + e) computed as
// ln(u)·e/(u − 1) with u = 1 + e, which keeps the digits of a tiny e that 1 + e loses.
fn softplus_stable(x: T) -> T {
    if (x > 20.0) {
        return x;
    }
    let e = exp(x);
    let u = 1.0 + e;
    return select(log(u) * e / (u - 1.0), e, u == 1.0);
}

// dy · d/dx of PyTorch's tanh-approximated GELU, in PyTorch's arrangement of the terms.
fn gelu_tanh_grad(x: T, dy: T) -> T {
    let k = 0.7978846;
    let c = 0.044715;
    let t = tanh_accurate(k * (x + c * x * x * x));
    let left = 0.5 * (1.0 + t);
    let right = 0.5 * x * (1.0 - t * t) * k * (1.0 + 3.0 * c * x * x);
    return dy * (left + right);
}

// min(1, factor), NaN staying NaN as in PyTorch (min's result for NaN is not defined).
fn clip_factor(factor: T) -> T {
    return select(min(1.0, factor), factor, is_nan(factor));
}

// @entry
@compute @workgroup_size(256)
fn NAME(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i < params.len) {
        let a = a_at(i);
        let s = params.scalar;
        ENTRY_B
        out[i] = EXPR;
    }
}
