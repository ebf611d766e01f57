// Reductions, deterministic (no atomics: the summation order is fixed by the code).
//
// Bindings: 0 = x (read, [rows, cols] row-major), 2 = out (read_write), 3 = params.
// sum_all:  out[0] = scale * sum(x). Dispatch: exactly 1 workgroup of 256 threads; each
//           thread accumulates a strided share in registers, then a tree in workgroup
//           memory combines the 256 partial sums.
// sum_rows: out[c] = scale * sum_r x[r, c] (the batch-axis sum, [rows, cols] -> [1, cols]).
//           Dispatch: ceil(cols / 256) workgroups of 256 (spilling into y); one thread per
//           column walks down the rows, so neighbouring threads read neighbouring values.

struct Params {
    rows: u32,
    cols: u32,
    scale: f32,
    _pad: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

var<workgroup> partial: array<f32, 256>;

// Sums one value per thread of the workgroup through a tree in workgroup memory.
fn tree_sum(lid: u32, value: f32) -> f32 {
    partial[lid] = value;
    workgroupBarrier();
    for (var stride = 128u; stride > 0u; stride = stride / 2u) {
        if (lid < stride) {
            partial[lid] += partial[lid + stride];
        }
        workgroupBarrier();
    }
    return partial[0];
}

@compute @workgroup_size(256)
fn sum_all(@builtin(local_invocation_index) lid: u32) {
    let n = params.rows * params.cols;
    var acc = 0.0;
    for (var i = lid; i < n; i += 256u) {
        acc += x[i];
    }
    let total = tree_sum(lid, acc);
    if (lid == 0u) {
        out[0] = total * params.scale;
    }
}

@compute @workgroup_size(256)
fn sum_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let c = gid.x + gid.y * nwg.x * 256u;
    if (c >= params.cols) {
        return;
    }
    var acc = 0.0;
    for (var r = 0u; r < params.rows; r++) {
        acc += x[r * params.cols + c];
    }
    out[c] = acc * params.scale;
}

// sum_squares: out[0] = Σ x². Dispatch: 1 workgroup, as sum_all.
@compute @workgroup_size(256)
fn sum_squares(@builtin(local_invocation_index) lid: u32) {
    let n = params.rows * params.cols;
    var acc = 0.0;
    for (var i = lid; i < n; i += 256u) {
        acc = fma(x[i], x[i], acc);
    }
    let total = tree_sum(lid, acc);
    if (lid == 0u) {
        out[0] = total;
    }
}

var<workgroup> partial_max: array<f32, 256>;

// NaN by its bits: a comparison such as v != v may be folded away by a compiler that
// assumes no NaN.
fn is_nan(v: f32) -> bool {
    return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

// max that keeps NaN, as PyTorch's max does (the built-in's result for NaN is not defined).
fn max_nan(a: f32, b: f32) -> f32 {
    return select(select(max(a, b), b, is_nan(b)), a, is_nan(a));
}

var<workgroup> partial_sq: array<f32, 256>;

// grad_stats: out = [mean |x|, max |x|, sqrt(Σ x²)]. Dispatch: 1 workgroup; three trees
// (sum, max, sum of squares) run side by side in workgroup memory.
@compute @workgroup_size(256)
fn grad_stats(@builtin(local_invocation_index) lid: u32) {
    let n = params.rows * params.cols;
    var sum_abs = 0.0;
    var max_abs = 0.0;
    var sum_sq = 0.0;
    for (var i = lid; i < n; i += 256u) {
        let v = x[i];
        sum_abs += abs(v);
        max_abs = max_nan(max_abs, abs(v));
        sum_sq = fma(v, v, sum_sq);
    }
    partial[lid] = sum_abs;
    partial_max[lid] = max_abs;
    partial_sq[lid] = sum_sq;
    workgroupBarrier();
    for (var stride = 128u; stride > 0u; stride = stride / 2u) {
        if (lid < stride) {
            partial[lid] += partial[lid + stride];
            partial_max[lid] = max_nan(partial_max[lid], partial_max[lid + stride]);
            partial_sq[lid] += partial_sq[lid + stride];
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        out[0] = partial[0] / f32(n);
        out[1] = partial_max[0];
        out[2] = sqrt(partial_sq[0]);
    }
}
