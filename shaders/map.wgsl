// The elementwise family (`src/map.rs`): one template, from which one entry point per op
// is generated. Everything above the line `// @entry` is the shared prelude; the entry
// below it is repeated per op with `NAME` replaced by the op's name and `EXPR` by its
// expression in `a`, `b` and `s`, and `T` is the element type (f32). The expressions may
// call the helpers of `map_helpers.wgsl`, which the generator inserts after this prelude.
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
