// Reductions, deterministic (no atomics: the summation order is fixed by the code).
//
// Bindings: 0 = x (read, [rows, cols] row-major), 1 = y (read, x's shape; mse only),
// 2 = out (read_write), 3 = params.
// This file is a template: the part from the line `// @entry` on is the entry point of
// each whole-tensor sum (`src/total.rs`: sum_all, sum_squares, mse), with NAME replaced
// by its name and TERM by its term in x[i] and y[i]; the rest is written out once.
// Whole-tensor reductions (the sums and grad_stats) run in `parts` workgroups,
// each over one contiguous range of at most 256 × 1024 elements (so no thread loops more
// than 1024 times): each thread accumulates a strided share in registers, a tree in
// workgroup memory combines the 256, and the workgroup writes one partial. With one part
// that partial is the result (times scale); with more, the partials go after the result
// in the node's own storage (out[1 + w], or out[3 + 3w ..] for grad_stats) and a second
// launch (sum_parts, grad_stats_parts: 1 workgroup) adds them in order. The order of
// every addition is fixed by the code, so results are the same run to run.
// sum_all, sum_squares, mse: out[0] = scale * Σ TERM.
// sum_rows: out[c] = scale * sum_r x[r, c] (the batch-axis sum, [rows, cols] -> [1, cols]).
//           Dispatch: [ceil(cols / 256) (spilling into y), 1, parts]; one thread per
//           column walks down its part's rows (at most 64, as four interleaved running sums), so neighbouring threads read
//           neighbouring values; with several parts, part z writes out[cols · (1 + z) + c]
//           and sum_rows_parts adds them per column in order.

struct Params {
    rows: u32,
    cols: u32,
    scale: f32,
    // Workgroups (or row ranges for sum_rows) the reduction is split into.
    parts: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

// The range of elements of workgroup `part`: [begin, end).
fn part_range(part: u32) -> vec2<u32> {
    let n = params.rows * params.cols;
    let size = (n + params.parts - 1u) / params.parts;
    return vec2<u32>(min(part * size, n), min(part * size + size, n));
}

// Writes a workgroup's partial sum: the scaled result with one part, else a partial.
fn store_part(part: u32, total: f32) {
    if (params.parts == 1u) {
        out[0] = total * params.scale;
    } else {
        out[1u + part] = total;
    }
}

// sum_parts: out[0] = scale * Σ_w out[1 + w] over `parts` partials. Dispatch: 1 workgroup.
@compute @workgroup_size(256)
fn sum_parts(@builtin(local_invocation_index) lid: u32) {
    var acc = 0.0;
    for (var w = lid; w < params.parts; w += 256u) {
        acc += out[1u + w];
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
    let size = (params.rows + params.parts - 1u) / params.parts;
    let begin = min(gid.z * size, params.rows);
    let end = min(begin + size, params.rows);
    // Four running sums over rows r, r+1, r+2, r+3 (independent loads in flight at once
    // instead of one chain of dependent adds), then the rows left over; the fused column
    // sums of the update launch (generate.rs) add in this same order.
    var sums = vec4<f32>(0.0);
    var r = begin;
    for (; r + 4u <= end; r += 4u) {
        let i = r * params.cols + c;
        sums += vec4<f32>(x[i], x[i + params.cols], x[i + 2u * params.cols], x[i + 3u * params.cols]);
    }
    var acc = (sums.x + sums.y) + (sums.z + sums.w);
    for (; r < end; r++) {
        acc += x[r * params.cols + c];
    }
    if (params.parts == 1u) {
        out[c] = acc * params.scale;
    } else {
        out[params.cols * (1u + gid.z) + c] = acc;
    }
}

// sum_cols / max_cols: out[r] = Σ_c x[r, c] / max_c x[r, c] (NaN kept), [rows, cols] ->
// [rows, 1]. Dispatch: ceil(rows / 256) workgroups of 256 (spilling into y), one thread
// per row walking its columns.
@compute @workgroup_size(256)
fn sum_cols(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = flat_index(gid, nwg);
    if (r >= params.rows) {
        return;
    }
    var acc = 0.0;
    for (var c = 0u; c < params.cols; c++) {
        acc += x[r * params.cols + c];
    }
    out[r] = acc * params.scale;
}

@compute @workgroup_size(256)
fn max_cols(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = flat_index(gid, nwg);
    if (r >= params.rows) {
        return;
    }
    var best = x[r * params.cols];
    for (var c = 1u; c < params.cols; c++) {
        best = max_nan(best, x[r * params.cols + c]);
    }
    out[r] = best;
}

// sum_rows_parts: out[c] = scale * Σ_z out[cols · (1 + z) + c]. Dispatch as sum_rows with
// one part.
@compute @workgroup_size(256)
fn sum_rows_parts(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let c = gid.x + gid.y * nwg.x * 256u;
    if (c >= params.cols) {
        return;
    }
    var acc = 0.0;
    for (var z = 0u; z < params.parts; z++) {
        acc += out[params.cols * (1u + z) + c];
    }
    out[c] = acc * params.scale;
}

var<workgroup> partial_max: array<f32, 256>;

var<workgroup> partial_sq: array<f32, 256>;

// grad_stats: out = [mean |x|, max |x|, sqrt(Σ x²)], in parts as sum_all: three trees
// (sum, max, sum of squares) run side by side in workgroup memory; with several parts
// each writes [Σ|x|, max |x|, Σx²] at out[3 + 3w] and grad_stats_parts combines them.
fn tree_stats(lid: u32, sum_abs: f32, max_abs: f32, sum_sq: f32) -> vec3<f32> {
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
    return vec3<f32>(partial[0], partial_max[0], partial_sq[0]);
}

fn store_stats(at: u32, stats: vec3<f32>) {
    out[at] = stats.x;
    out[at + 1u] = stats.y;
    out[at + 2u] = stats.z;
}

// The final statistics from the sum of |x|, the max and the sum of squares.
fn finish_stats(stats: vec3<f32>) -> vec3<f32> {
    return vec3<f32>(stats.x / f32(params.rows * params.cols), stats.y, sqrt(stats.z));
}

@compute @workgroup_size(256)
fn grad_stats(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    let range = part_range(wid.x);
    var sum_abs = 0.0;
    var max_abs = 0.0;
    var sum_sq = 0.0;
    for (var i = range.x + lid; i < range.y; i += 256u) {
        let v = x[i];
        sum_abs += abs(v);
        max_abs = max_nan(max_abs, abs(v));
        sum_sq = fma(v, v, sum_sq);
    }
    let stats = tree_stats(lid, sum_abs, max_abs, sum_sq);
    if (lid == 0u) {
        if (params.parts == 1u) {
            store_stats(0u, finish_stats(stats));
        } else {
            store_stats(3u + 3u * wid.x, stats);
        }
    }
}

// grad_stats_parts: combines the partials of grad_stats in order. Dispatch: 1 workgroup.
@compute @workgroup_size(256)
fn grad_stats_parts(@builtin(local_invocation_index) lid: u32) {
    var sum_abs = 0.0;
    var max_abs = 0.0;
    var sum_sq = 0.0;
    for (var w = lid; w < params.parts; w += 256u) {
        sum_abs += out[3u + 3u * w];
        max_abs = max_nan(max_abs, out[4u + 3u * w]);
        sum_sq += out[5u + 3u * w];
    }
    let stats = tree_stats(lid, sum_abs, max_abs, sum_sq);
    if (lid == 0u) {
        store_stats(0u, finish_stats(stats));
    }
}

// @entry
@compute @workgroup_size(256)
fn NAME(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    let range = part_range(wid.x);
    var acc = 0.0;
    for (var i = range.x + lid; i < range.y; i += 256u) {
        acc += TERM;
    }
    let total = tree_sum(lid, acc);
    if (lid == 0u) {
        store_part(wid.x, total);
    }
}
