// Optimizer updates, in place.
//
// Bindings: 0 = grad (read), 2 = param (read_write, updated in place), 3 = params.
// sgd: param -= lr * grad. Dispatch: ceil(len / 256) workgroups of 256, spilling into y.

struct Params {
    len: u32,
    lr: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> param: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(256)
fn sgd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i < params.len) {
        param[i] -= params.lr * grad[i];
    }
}
