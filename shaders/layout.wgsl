// The layout family: each output element copied from where it comes from (see
// layout_source in cpu_ops.rs), one thread per output element.
//
// Bindings: 0 = a (read), 1 = b (read; concat_cols only), 2 = out (read_write), 3 = params.
// out is [rows, cols]; a is [a_rows, a_cols], b [rows, b_cols].
// transpose:   out[r, c] = a[c, r]
// slice_cols:  out[r, c] = a[r, start + c]
// pad_cols:    out[r, c] = a[r, c - start] for start <= c < start + a_cols, else 0
// concat_cols: out[r, c] = a[r, c] for c < a_cols, else b[r, c - a_cols]
// Dispatch: ceil(rows · cols / 256) workgroups of 256, spilling into y.

struct Params {
    rows: u32,
    cols: u32,
    a_cols: u32,
    b_cols: u32,
    start: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

// The output element of this thread as (index, row, column), or none past the end.
fn element(gid: vec3<u32>, nwg: vec3<u32>) -> vec3<u32> {
    let i = flat_index(gid, nwg);
    return vec3<u32>(i, i / params.cols, i % params.cols);
}

@compute @workgroup_size(256)
fn transpose(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = element(gid, nwg);
    if (e.x < params.rows * params.cols) {
        out[e.x] = a[e.z * params.a_cols + e.y];
    }
}

@compute @workgroup_size(256)
fn slice_cols(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = element(gid, nwg);
    if (e.x < params.rows * params.cols) {
        out[e.x] = a[e.y * params.a_cols + params.start + e.z];
    }
}

@compute @workgroup_size(256)
fn pad_cols(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = element(gid, nwg);
    if (e.x < params.rows * params.cols) {
        let inside = e.z >= params.start && e.z < params.start + params.a_cols;
        // The index is clamped so that the read stays in bounds where the value is unused.
        let at = e.y * params.a_cols + select(0u, e.z - params.start, inside);
        out[e.x] = select(0.0, a[at], inside);
    }
}

@compute @workgroup_size(256)
fn concat_cols(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = element(gid, nwg);
    if (e.x < params.rows * params.cols) {
        if (e.z < params.a_cols) {
            out[e.x] = a[e.y * params.a_cols + e.z];
        } else {
            out[e.x] = b[e.y * params.b_cols + e.z - params.a_cols];
        }
    }
}
