// Optimizer updates, in place.
//
// Bindings: 0 = grad (read), 1 = bias corrections (read; adam only), 2 = param (read_write,
// updated in place), 3 = params, 4 = velocity or first moment m (read_write),
// 5 = second moment v (read_write; adam only), 6 = the learning rate lr (read, one value,
// so that it changes between steps without a new pipeline).
// The arithmetic is optim_math.wgsl's (weight decay, Nesterov and AdamW included):
// sgd:          param -= lr · grad
// sgd_momentum: v = momentum · v + grad; param -= lr · v  (PyTorch, no dampening)
// adam:         PyTorch's Adam at step t, with c = [1−β₁ᵗ, 1−β₂ᵗ, β₁ᵗ, β₂ᵗ] at binding 1:
//               m = β₁m + (1−β₁)g; v = β₂v + (1−β₂)g²;
//               param -= (lr / (1−β₁ᵗ)) · m / (sqrt(v) / sqrt(1−β₂ᵗ) + eps)
// adam_corrections: binding 2 is c, advanced one step (see the entry point).
//               Dispatch: 1 workgroup.
// Dispatch: ceil(len / 256) workgroups of 256, spilling into y.
// accumulate:   param += grad (a running total, e.g. of the loss over an epoch)
// first_non_finite: see its entry point.
// increment:    binding 2 is a count [low, high] = high · 65536 + low: adds len (the
//               planner passes 1), carrying at 2¹⁶, so it stays exact far past f32's 2²⁴.
//               Dispatch: 1 workgroup.

struct Params {
    len: u32,
    weight_decay: f32,
    momentum: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    tag: u32,
    // 1 − β computed on the host in f64, as PyTorch does.
    one_minus_beta1: f32,
    one_minus_beta2: f32,
    // Bit 0: Nesterov momentum; bit 1: decoupled weight decay (AdamW).
    flags: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<storage, read> grad: array<f32>;
@group(0) @binding(1) var<storage, read> step: array<f32>;
@group(0) @binding(2) var<storage, read_write> param: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;
@group(0) @binding(4) var<storage, read_write> moment1: array<f32>;
@group(0) @binding(5) var<storage, read_write> moment2: array<f32>;
@group(0) @binding(6) var<storage, read> rate: array<f32>;

@compute @workgroup_size(256)
fn sgd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i < params.len) {
        param[i] = sgd_element(param[i], grad[i], rate[0]);
    }
}

@compute @workgroup_size(256)
fn sgd_momentum(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i < params.len) {
        let r = momentum_element(param[i], grad[i], moment1[i], rate[0]);
        param[i] = r.x;
        moment1[i] = r.y;
    }
}

// 1 − βᵗ from the state [1 − β₁ᵗ, 1 − β₂ᵗ, β₁ᵗ, β₂ᵗ] at binding 1.
fn bias_correction(which: u32) -> f32 {
    return bias_correction_of(step[which], step[which + 2u]);
}

@compute @workgroup_size(256)
fn adam(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i < params.len) {
        let bias2_sqrt = sqrt(bias_correction(1u));
        let r = adam_element(param[i], grad[i], moment1[i], moment2[i], rate[0], bias_correction(0u), bias2_sqrt);
        param[i] = r.x;
        moment1[i] = r.y;
        moment2[i] = r.z;
    }
}

@compute @workgroup_size(1)
fn adam_corrections() {
    // See adam_corrections in cpu_ops.rs: both 1 − βᵗ and βᵗ, moved by the exact 1 − β.
    param[0] += params.one_minus_beta1 * (1.0 - param[0]);
    param[1] += params.one_minus_beta2 * (1.0 - param[1]);
    param[2] -= params.one_minus_beta1 * param[2];
    param[3] -= params.one_minus_beta2 * param[3];
}

@compute @workgroup_size(1)
fn increment() {
    param[0] += f32(params.len);
    if (param[0] >= 65536.0) {
        param[0] -= 65536.0;
        param[1] += 1.0;
    }
}

// accumulate: param += grad (binding 0 holds the value to add; here `param` is the running
// total). Dispatch as sgd.
@compute @workgroup_size(256)
fn accumulate(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i < params.len) {
        param[i] += grad[i];
    }
}

// first_non_finite: if record (binding 2, [step low, step high, tag]) is still unset and any
// of the `len` values at binding 0 is NaN or ±Inf, record = [step[0], step[1], tag]. Exponent
// bits all ones is exactly NaN or Inf; comparing bits keeps the test from being folded away
// as x != x can be. Dispatch: 1 workgroup of 1 thread (recording allows at most 65,536
// watched values; the library watches [1, 1] norms and losses).
@compute @workgroup_size(1)
fn first_non_finite() {
    if (param[0] != 0.0 || param[1] != 0.0) {
        return;
    }
    for (var i = 0u; i < params.len; i++) {
        if ((bitcast<u32>(grad[i]) & 0x7f800000u) == 0x7f800000u) {
            param[0] = step[0];
            param[1] = step[1];
            param[2] = f32(params.tag);
            return;
        }
    }
}
