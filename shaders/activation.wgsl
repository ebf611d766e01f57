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
        // Written with exp(-2|x|) <= 1 so that no implementation's inf / inf makes NaN.
        let x = a[i];
        let e = exp(-2.0 * abs(x));
        out[i] = sign(x) * (1.0 - e) / (1.0 + e);
    }
}

@compute @workgroup_size(256)
fn relu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i < params.len) {
        out[i] = max(a[i], 0.0);
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
