// Activations and their derivatives.
//
// Bindings: 0 = a (read: x, or y for the derivatives), 1 = b (read: dy; derivative entries
// only), 2 = out (read_write), 3 = params (uniform, same layout as elementwise.wgsl; only
// `len` is used: every operand has the output's shape).
// Dispatch: ceil(len / 256) workgroups of 256, spilling into y; i = gid.x + gid.y * nwg.x * 256.

struct Params {
    len: u32,
    cols: u32,
    a_rows: u32,
    a_cols: u32,
    b_rows: u32,
    b_cols: u32,
    scalar: f32,
    _pad: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

fn flat_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * 256u;
}

// NaN by its bits: a comparison such as v != v may be folded away by a compiler that
// assumes no NaN.
fn is_nan(v: f32) -> bool {
    return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

@compute @workgroup_size(256)
fn sigmoid(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i < params.len) {
        // exp(-x) overflows to +inf for x < -88, and 1 / inf = 0 is the right limit.
        out[i] = 1.0 / (1.0 + exp(-a[i]));
    }
}

@compute @workgroup_size(256)
fn tanh_fwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i < params.len) {
        // Near 0, (1 - e) / (1 + e) would lose every digit to cancellation: there the
        // Taylor series to x¹¹ (next term below 1e-10 relative at |x| = 0.25). Beyond,
        // e = exp(-2|x|) <= 0.61, so 1 - e keeps its digits, and no inf / inf makes NaN.
        let x = a[i];
        let ax = abs(x);
        if (ax < 0.25) {
            let x2 = x * x;
            let series = fma(x2, fma(x2, fma(x2, fma(x2, fma(x2, -0.0088632356, 0.021869488), -0.053968254), 0.13333334), -0.33333334), 1.0);
            out[i] = x * series;
        } else {
            let e = exp(-2.0 * ax);
            out[i] = select(1.0, -1.0, x < 0.0) * (1.0 - e) / (1.0 + e);
        }
    }
}

@compute @workgroup_size(256)
fn relu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i < params.len) {
        // NaN stays NaN, as in PyTorch.
        let x = a[i];
        out[i] = select(0.0, x, x > 0.0 || is_nan(x));
    }
}

// dx = dy * y * (1 - y), with y = sigmoid(x)
@compute @workgroup_size(256)
fn sigmoid_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i < params.len) {
        let y = a[i];
        out[i] = b[i] * y * (1.0 - y);
    }
}

// dx = dy * (1 - y²), with y = tanh(x)
@compute @workgroup_size(256)
fn tanh_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i < params.len) {
        let y = a[i];
        out[i] = b[i] * (1.0 - y * y);
    }
}

// dx = dy where x > 0, else 0
@compute @workgroup_size(256)
fn relu_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i < params.len) {
        out[i] = select(0.0, b[i], a[i] > 0.0);
    }
}
