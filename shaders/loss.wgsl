// Losses, reduced to a scalar in one workgroup.
//
// Bindings: 0 = prediction (read), 1 = targets (read, same shape), 2 = out (read_write,
// one value), 3 = params (rows, cols, scale = 1 / element count).
// mse: out[0] = scale * sum((p - t)²). Dispatch: exactly 1 workgroup of 256 threads
//      (strided register accumulation, then a tree in workgroup memory).

struct Params {
    rows: u32,
    cols: u32,
    scale: f32,
    _pad: u32,
}

@group(0) @binding(0) var<storage, read> prediction: array<f32>;
@group(0) @binding(1) var<storage, read> targets: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

var<workgroup> partial: array<f32, 256>;

fn tree_sum(lid: u32) -> f32 {
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
fn mse(@builtin(local_invocation_index) lid: u32) {
    let n = params.rows * params.cols;
    var acc = 0.0;
    for (var i = lid; i < n; i += 256u) {
        let d = prediction[i] - targets[i];
        acc += d * d;
    }
    partial[lid] = acc;
    let total = tree_sum(lid);
    if (lid == 0u) {
        out[0] = total * params.scale;
    }
}
