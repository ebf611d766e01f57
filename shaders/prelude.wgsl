// The prelude every kernel module starts with (kernels.rs prepends it): indexing of 1-D
// launches, NaN tests that survive optimisation, and the workgroup reduction tree.

// Thread i of a 1-D launch of workgroups of 256 that spills into y past the x limit.
fn flat_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * 256u;
}

// NaN by its bits: a comparison such as v != v may be folded away by a compiler that
// assumes no NaN.
fn is_nan(v: f32) -> bool {
    return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

// max that keeps NaN, as PyTorch's max does (the built-in's result for NaN is not defined).
fn max_nan(a: f32, b: f32) -> f32 {
    return select(select(max(a, b), b, is_nan(b)), a, is_nan(a));
}

var<workgroup> partial: array<f32, 256>;

// Sums one value per thread of a workgroup of 256 through a tree in workgroup memory, in
// a fixed order. Call it from every thread (it holds barriers); the first barrier lets a
// second call follow a first safely.
fn tree_sum(lid: u32, value: f32) -> f32 {
    workgroupBarrier();
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

