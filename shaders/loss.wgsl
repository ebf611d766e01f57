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

fn row_stats(base: u32) -> RowStats {
    var best = prediction[base];
    var argmax = 0u;
    for (var j = 1u; j < params.cols; j++) {
        let z = prediction[base + j];
        if (z > best) {
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
