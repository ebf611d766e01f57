// Randomness on the device, from an integer hash (no state but a step counter), so that
// both backends draw the same bits (see dropout_mask in cpu_ops.rs).
//
// Bindings: 0 = step counter [low, high] (read), 2 = out (read_write), 3 = params.
// dropout_mask: out[i] = 0 when the top 24 bits of mix(i ^ mix(seed ^ mix(step))), as a
//               fraction of 2^24, fall below p; else 1 / (1 - p).
// Dispatch: ceil(len / 256) workgroups of 256, spilling into y.

struct Params {
    len: u32,
    p: f32,
    seed: u32,
    _pad: u32,
}

@group(0) @binding(0) var<storage, read> step: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

// The "lowbias32" mixer: wrapping u32 arithmetic, as u32::wrapping_mul in Rust.
fn mix(x: u32) -> u32 {
    var h = x;
    h ^= h >> 16u;
    h *= 0x7feb352du;
    h ^= h >> 15u;
    h *= 0x846ca68bu;
    return h ^ (h >> 16u);
}

@compute @workgroup_size(256)
fn dropout_mask(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= params.len) {
        return;
    }
    let count = u32(step[0]) + u32(step[1]) * 65536u;
    let base = mix(params.seed ^ mix(count));
    let u = f32(mix(i ^ base) >> 8u) / 16777216.0;
    out[i] = select(1.0 / (1.0 - params.p), 0.0, u < params.p);
}
