// Classification losses, reduced to a scalar in one workgroup (mse is a sum of
// reduce.wgsl).
//
// Bindings: 0 = prediction (read), 1 = targets (read, same shape), 2 = out (read_write),
// 3 = params (rows, cols).

struct Params {
    rows: u32,
    cols: u32,
    scale: f32,
    // Unused here: the struct is reduce.wgsl's.
    parts: u32,
}

@group(0) @binding(0) var<storage, read> prediction: array<f32>;
@group(0) @binding(1) var<storage, read> targets: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

// Softmax cross-entropy over [rows, cols] logits (binding 0) and targets (binding 1).
// A row whose targets are all zero is padding: it adds nothing and is not counted.
// softmax_xent:      out[0] = Σ_rows −Σ_j t·(z − logsumexp(z)) / max(counted rows, 1)
// softmax_xent_grad: out = dy[0] · (softmax(z)·Σ_j t − t) / max(counted rows, 1), with
//                    dy at binding 4 and out shaped like the logits
// count_correct:     out[0] = counted rows whose first largest logit is at the first
//                    largest target
// Dispatch: exactly 1 workgroup of 256 threads, each taking rows lid, lid + 256, ...

@group(0) @binding(4) var<storage, read> dy: array<f32>;

struct RowStats {
    lse: f32,
    argmax: u32,
}

// The row's log-sum-exp and its argmax (the first of equals; the first NaN counts as the
// largest, as PyTorch's argmax, and makes the log-sum-exp NaN).
fn row_stats(base: u32) -> RowStats {
    var best = prediction[base];
    var argmax = 0u;
    for (var j = 1u; j < params.cols && !is_nan(best); j++) {
        let z = prediction[base + j];
        if (z > best || is_nan(z)) {
            best = z;
            argmax = j;
        }
    }
    var sum = 0.0;
    for (var j = 0u; j < params.cols; j++) {
        sum += exp(prediction[base + j] - best);
    }
    return RowStats(best + log(sum), argmax);
}

fn is_counted(base: u32) -> bool {
    for (var j = 0u; j < params.cols; j++) {
        if (targets[base + j] != 0.0) {
            return true;
        }
    }
    return false;
}

fn counted_rows(lid: u32) -> f32 {
    var counted = 0.0;
    for (var r = lid; r < params.rows; r += 256u) {
        counted += select(0.0, 1.0, is_counted(r * params.cols));
    }
    let total = tree_sum(lid, counted);
    // Every thread has read the total before partial is written again.
    workgroupBarrier();
    return max(total, 1.0);
}

@compute @workgroup_size(256)
fn softmax_xent(@builtin(local_invocation_index) lid: u32) {
    var loss = 0.0;
    for (var r = lid; r < params.rows; r += 256u) {
        let base = r * params.cols;
        let lse = row_stats(base).lse;
        for (var j = 0u; j < params.cols; j++) {
            loss -= targets[base + j] * (prediction[base + j] - lse);
        }
    }
    let counted = counted_rows(lid);
    let total = tree_sum(lid, loss);
    if (lid == 0u) {
        out[0] = total / counted;
    }
}

@compute @workgroup_size(256)
fn softmax_xent_grad(@builtin(local_invocation_index) lid: u32) {
    let scale = dy[0] / counted_rows(lid);
    for (var r = lid; r < params.rows; r += 256u) {
        let base = r * params.cols;
        let lse = row_stats(base).lse;
        var mass = 0.0;
        for (var j = 0u; j < params.cols; j++) {
            mass += targets[base + j];
        }
        for (var j = 0u; j < params.cols; j++) {
            let p = exp(prediction[base + j] - lse);
            out[base + j] = (p * mass - targets[base + j]) * scale;
        }
    }
}

// softmax_xent_with_grad: softmax_xent into binding 5 and softmax_xent_grad into out, in one
// pass over the rows (the fused launch of src/fuse.rs); _acc also adds the loss to the
// running total at binding 6. The same arithmetic, in the same order, as the two entries.
@group(0) @binding(5) var<storage, read_write> loss_out: array<f32>;
@group(0) @binding(6) var<storage, read_write> loss_total: array<f32>;

fn xent_with_grad(lid: u32) -> f32 {
    let counted = counted_rows(lid);
    let scale = dy[0] / counted;
    var loss = 0.0;
    for (var r = lid; r < params.rows; r += 256u) {
        let base = r * params.cols;
        let lse = row_stats(base).lse;
        var mass = 0.0;
        for (var j = 0u; j < params.cols; j++) {
            loss -= targets[base + j] * (prediction[base + j] - lse);
            mass += targets[base + j];
        }
        for (var j = 0u; j < params.cols; j++) {
            let p = exp(prediction[base + j] - lse);
            out[base + j] = (p * mass - targets[base + j]) * scale;
        }
    }
    return tree_sum(lid, loss) / counted;
}

@compute @workgroup_size(256)
fn softmax_xent_with_grad(@builtin(local_invocation_index) lid: u32) {
    let loss = xent_with_grad(lid);
    if (lid == 0u) {
        loss_out[0] = loss;
    }
}

@compute @workgroup_size(256)
fn softmax_xent_with_grad_acc(@builtin(local_invocation_index) lid: u32) {
    let loss = xent_with_grad(lid);
    if (lid == 0u) {
        loss_out[0] = loss;
        loss_total[0] += loss;
    }
}

fn target_argmax(base: u32) -> u32 {
    var best = targets[base];
    var argmax = 0u;
    for (var j = 1u; j < params.cols; j++) {
        if (targets[base + j] > best) {
            best = targets[base + j];
            argmax = j;
        }
    }
    return argmax;
}

@compute @workgroup_size(256)
fn count_correct(@builtin(local_invocation_index) lid: u32) {
    var hits = 0.0;
    for (var r = lid; r < params.rows; r += 256u) {
        let base = r * params.cols;
        let hit = is_counted(base) && row_stats(base).argmax == target_argmax(base);
        hits += select(0.0, 1.0, hit);
    }
    let total = tree_sum(lid, hits);
    if (lid == 0u) {
        out[0] = total;
    }
}

// Wide rows (more than WIDE_ROWS columns, chosen in src/backend/wgpu/loss.rs): the same
// quantities with the whole workgroup on one row at a time, each thread striding the
// columns, the row's max, sums and argmax reduced through workgroup memory in a fixed
// order. No thread walks a row alone, so a row of 30,000 classes costs each thread about
// 120 steps per pass (lavapipe stops a shader whose loops run past 65,535 steps).
// Same entries as above with _wide appended; same bindings.

var<workgroup> partial_index: array<u32, 256>;

// The largest of one value per thread (NaN if any is NaN) and the first column holding
// it; ties go to the lower column. Call from every thread.
fn tree_argmax(lid: u32, value: f32, index: u32) -> vec2<f32> {
    workgroupBarrier();
    partial[lid] = value;
    partial_index[lid] = index;
    workgroupBarrier();
    for (var stride = 128u; stride > 0u; stride = stride / 2u) {
        if (lid < stride) {
            let a = partial[lid];
            let b = partial[lid + stride];
            let ia = partial_index[lid];
            let ib = partial_index[lid + stride];
            let take_b = !is_nan(a) && (is_nan(b) || b > a || (b == a && ib < ia));
            partial[lid] = select(a, b, take_b);
            partial_index[lid] = select(ia, ib, take_b);
        }
        workgroupBarrier();
    }
    return vec2<f32>(partial[0], f32(partial_index[0]));
}

// Not a constant: WGSL refuses a constant expression that evaluates to an infinity.
var<private> negative_infinity_bits: u32 = 0xff800000u;

// The first largest value of `values[base ..]` among this thread's columns.
fn strided_argmax(lid: u32, base: u32, from_targets: bool) -> vec2<f32> {
    var best = bitcast<f32>(negative_infinity_bits);
    var best_at = 0xffffffffu;
    for (var j = lid; j < params.cols; j += 256u) {
        let v = select(prediction[base + j], targets[base + j], from_targets);
        if (best_at == 0xffffffffu || (!is_nan(best) && (is_nan(v) || v > best))) {
            best = v;
            best_at = j;
        }
    }
    return vec2<f32>(best, bitcast<f32>(best_at));
}

struct WideRow {
    lse: f32,
    // Σ t·(z − lse), Σ t, and whether any target is not zero.
    dot: f32,
    mass: f32,
    counted: bool,
}

fn wide_row(lid: u32, base: u32) -> WideRow {
    let own = strided_argmax(lid, base, false);
    let best = tree_argmax(lid, own.x, bitcast<u32>(own.y)).x;
    var sum = 0.0;
    var mass = 0.0;
    var nonzero = 0.0;
    for (var j = lid; j < params.cols; j += 256u) {
        sum += exp(prediction[base + j] - best);
        mass += targets[base + j];
        nonzero += select(0.0, 1.0, targets[base + j] != 0.0);
    }
    let lse = best + log(tree_sum(lid, sum));
    var dot = 0.0;
    for (var j = lid; j < params.cols; j += 256u) {
        dot += targets[base + j] * (prediction[base + j] - lse);
    }
    let total_mass = tree_sum(lid, mass);
    let counted = tree_sum(lid, nonzero) > 0.0;
    return WideRow(lse, tree_sum(lid, dot), total_mass, counted);
}

// The loss over all rows (into the return value's x) and the counted rows (y); with
// `grad`, the gradient `(softmax·mass − t) · dy / counted` into out (a second pass over
// the rows, once the count is known).
fn wide_rows(lid: u32, dy_value: f32, grad: bool) -> vec2<f32> {
    var loss = 0.0;
    var counted = 0.0;
    for (var r = 0u; r < params.rows; r++) {
        let row = wide_row(lid, r * params.cols);
        loss -= row.dot;
        counted += select(0.0, 1.0, row.counted);
    }
    counted = max(counted, 1.0);
    if (grad) {
        let scale = dy_value / counted;
        for (var r = 0u; r < params.rows; r++) {
            let base = r * params.cols;
            let row = wide_row(lid, base);
            for (var j = lid; j < params.cols; j += 256u) {
                let p = exp(prediction[base + j] - row.lse);
                out[base + j] = (p * row.mass - targets[base + j]) * scale;
            }
        }
    }
    return vec2<f32>(loss / counted, counted);
}

@compute @workgroup_size(256)
fn softmax_xent_wide(@builtin(local_invocation_index) lid: u32) {
    let loss = wide_rows(lid, 0.0, false).x;
    if (lid == 0u) {
        out[0] = loss;
    }
}

@compute @workgroup_size(256)
fn softmax_xent_grad_wide(@builtin(local_invocation_index) lid: u32) {
    wide_rows(lid, dy[0], true);
}

@compute @workgroup_size(256)
fn softmax_xent_with_grad_wide(@builtin(local_invocation_index) lid: u32) {
    let loss = wide_rows(lid, dy[0], true).x;
    if (lid == 0u) {
        loss_out[0] = loss;
    }
}

@compute @workgroup_size(256)
fn softmax_xent_with_grad_acc_wide(@builtin(local_invocation_index) lid: u32) {
    let loss = wide_rows(lid, dy[0], true).x;
    if (lid == 0u) {
        loss_out[0] = loss;
        loss_total[0] += loss;
    }
}

@compute @workgroup_size(256)
fn count_correct_wide(@builtin(local_invocation_index) lid: u32) {
    var hits = 0.0;
    for (var r = 0u; r < params.rows; r++) {
        let base = r * params.cols;
        let z = strided_argmax(lid, base, false);
        let t = strided_argmax(lid, base, true);
        let z_at = tree_argmax(lid, z.x, bitcast<u32>(z.y)).y;
        let best_t = tree_argmax(lid, t.x, bitcast<u32>(t.y));
        // A row of zero targets is padding: its largest target is 0.
        hits += select(0.0, 1.0, best_t.x != 0.0 && z_at == best_t.y);
    }
    if (lid == 0u) {
        out[0] = hits;
    }
}
