// Elementwise arithmetic with broadcasting.
//
// Bindings: 0 = a (read), 1 = b (read; binary entries only), 2 = out (read_write),
// 3 = params (uniform). `out` holds `len` values, row-major with `cols` columns. Element
// (r, c) reads a[(r % a_rows) * a_cols + c % a_cols] (likewise b), so a `[1, m]` row or a
// `[1, 1]` scalar repeats over the output.
// Dispatch: ceil(len / 256) workgroups of 256 threads, spilling into y past the
// per-dimension limit; thread i = gid.x + gid.y * num_workgroups.x * 256.

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

fn a_at(i: u32) -> f32 {
    let r = i / params.cols;
    let c = i % params.cols;
    return a[(r % params.a_rows) * params.a_cols + c % params.a_cols];
}

fn b_at(i: u32) -> f32 {
    let r = i / params.cols;
    let c = i % params.cols;
    return b[(r % params.b_rows) * params.b_cols + c % params.b_cols];
}

@compute @workgroup_size(256)
fn add(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i < params.len) {
        out[i] = a_at(i) + b_at(i);
    }
}

@compute @workgroup_size(256)
fn sub(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i < params.len) {
        out[i] = a_at(i) - b_at(i);
    }
}

@compute @workgroup_size(256)
fn mul(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i < params.len) {
        out[i] = a_at(i) * b_at(i);
    }
}

// out = scalar * a
@compute @workgroup_size(256)
fn scale(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i < params.len) {
        out[i] = params.scalar * a_at(i);
    }
}

@compute @workgroup_size(256)
fn square(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i < params.len) {
        let v = a_at(i);
        out[i] = v * v;
    }
}

// out = a repeated to the output's shape
@compute @workgroup_size(256)
fn broadcast(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i < params.len) {
        out[i] = a_at(i);
    }
}

@compute @workgroup_size(256)
fn sqrt_fwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i < params.len) {
        out[i] = sqrt(a_at(i));
    }
}

// out = clamp(a, -scalar, scalar): clipping by value
@compute @workgroup_size(256)
fn clip_value(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i < params.len) {
        // NaN stays NaN, as in PyTorch (clamp's result for NaN is not defined).
        let v = a_at(i);
        out[i] = select(clamp(v, -params.scalar, params.scalar), v, is_nan(v));
    }
}

// out = min(1, scalar / (a + 1e-6)): clip_grad_norm's factor for global norm a, max_norm scalar
@compute @workgroup_size(256)
fn clip_coefficient(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i < params.len) {
        // A NaN norm gives a NaN factor, as in PyTorch (min's result for NaN is not defined).
        let factor = params.scalar / (a_at(i) + 1e-6);
        out[i] = select(min(1.0, factor), factor, is_nan(factor));
    }
}
