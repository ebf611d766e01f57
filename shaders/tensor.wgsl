// The N-d ops (`src/strided.rs` describes each; `src/backend/cpu_tensor.rs` is the
// reference): strided copies, reductions along one dim, batched products and indexing.
// One thread per output element, each computing its element alone and, where it loops,
// in index order: deterministic, and the same order as the CPU.
//
// Bindings: 0 = a (read), 1 = b (read; the second operand or the indices), 2 = out
// (read_write), 3 = params (uniform).
// Dispatch: ceil(len / 256) workgroups of 256, spilling into y past the per-dimension
// limit; thread i = gid.x + gid.y * num_workgroups.x * 256.
//
// restride:     out[i] = a[offset + Σ index_k · strides[k]] over the output's dims, or
//               fill where dim window_dim's index is outside [window_start, +window_len)
//               (there the index is shifted by window_start).
// reduce_dim:   a seen as [outer, size, inner]; out[o, j] = the reduction (kind 0 sum,
//               1 max, 2 min, 3 argmax) of a[o, 0.., j], walked in order.
// index_select: out [outer, count, inner]: a[o, b[c], j], 0 for an index that is not an
//               integer in [0, size).
// index_add:    out [outer, size, inner]: Σ over c in order with a[c] == s of
//               b[o, c, j] (a = indices, b = the gradient).
// fold:         out [n, c, m, n'] (m, n' the params' m and n: the image's height and
//               width) from a = the windows [n, oh, ow, c, kh, kw] (dims[0..6]):
//               each element the sum, ky then kx in order, of the window entries that
//               read it; strides[0..2] the stride, strides[2..4] the dilation.
// batch_matmul: out [batches, m, n]: op(A_p)·op(B_p), A_p at p · a_stride (0 repeats
//               it), B_p likewise; flags bit 0 transposes A, bit 1 B.

struct Params {
    len: u32,
    rank: u32,
    offset: u32,
    window_dim: u32,
    window_start: u32,
    window_len: u32,
    fill: f32,
    kind: u32,
    outer: u32,
    size: u32,
    inner: u32,
    count: u32,
    m: u32,
    n: u32,
    k: u32,
    flags: u32,
    a_stride: u32,
    b_stride: u32,
    _pad0: u32,
    _pad1: u32,
    dims: array<vec4<u32>, 2>,
    strides: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

fn dim_of(k: u32) -> u32 {
    return params.dims[k / 4u][k % 4u];
}

fn stride_of(k: u32) -> u32 {
    return params.strides[k / 4u][k % 4u];
}

@compute @workgroup_size(256)
fn restride(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= params.len) {
        return;
    }
    var rest = i;
    var at = params.offset;
    var inside = true;
    for (var k = params.rank; k > 0u; k = k - 1u) {
        let d = dim_of(k - 1u);
        var index = rest % d;
        rest = rest / d;
        if (k - 1u == params.window_dim) {
            inside = index >= params.window_start && index < params.window_start + params.window_len;
            index = select(0u, index - params.window_start, inside);
        }
        at = at + index * stride_of(k - 1u);
    }
    // The read is clamped to 0 where the value is unused.
    out[i] = select(params.fill, a[select(0u, at, inside)], inside);
}

const NEG_INF: u32 = 0xff800000u;
const POS_INF: u32 = 0x7f800000u;

@compute @workgroup_size(256)
fn reduce_dim(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= params.outer * params.inner) {
        return;
    }
    let base = (i / params.inner) * params.size * params.inner + i % params.inner;
    var sum = 0.0;
    var best = bitcast<f32>(select(POS_INF, NEG_INF, params.kind != 2u));
    var best_at = 0u;
    for (var s = 0u; s < params.size; s = s + 1u) {
        let v = a[base + s * params.inner];
        sum = sum + v;
        if (params.kind == 1u) {
            best = max_nan(best, v);
        } else if (params.kind == 2u) {
            best = select(select(min(best, v), v, is_nan(v)), best, is_nan(best));
        } else if (params.kind == 3u && !is_nan(best) && (s == 0u || is_nan(v) || v > best)) {
            best = v;
            best_at = s;
        }
    }
    switch params.kind {
        case 0u: { out[i] = sum; }
        case 3u: { out[i] = f32(best_at); }
        default: { out[i] = best; }
    }
}

// Entry `value` of a dim of `size` entries, if it is an exact integer inside it.
fn index_valid(value: f32, size: u32) -> bool {
    return value >= 0.0 && value < f32(size) && floor(value) == value;
}

@compute @workgroup_size(256)
fn index_select(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= params.len) {
        return;
    }
    let j = i % params.inner;
    let t = i / params.inner;
    let c = t % params.count;
    let o = t / params.count;
    let index = b[c];
    let valid = index_valid(index, params.size);
    let at = (o * params.size + select(0u, u32(index), valid)) * params.inner + j;
    out[i] = select(0.0, a[at], valid);
}

@compute @workgroup_size(256)
fn index_add(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= params.len) {
        return;
    }
    let j = i % params.inner;
    let t = i / params.inner;
    let s = f32(t % params.size);
    let o = t / params.size;
    var sum = 0.0;
    for (var c = 0u; c < params.count; c = c + 1u) {
        if (a[c] == s) {
            sum = sum + b[(o * params.count + c) * params.inner + j];
        }
    }
    out[i] = sum;
}

@compute @workgroup_size(256)
fn batch_matmul(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= params.len) {
        return;
    }
    let col = i % params.n;
    let t = i / params.n;
    let row = t % params.m;
    let p = t / params.m;
    let a_base = p * params.a_stride;
    let b_base = p * params.b_stride;
    let trans_a = (params.flags & 1u) != 0u;
    let trans_b = (params.flags & 2u) != 0u;
    var acc = 0.0;
    for (var kk = 0u; kk < params.k; kk = kk + 1u) {
        let av = a[a_base + select(row * params.k + kk, kk * params.m + row, trans_a)];
        let bv = b[b_base + select(kk * params.n + col, col * params.k + kk, trans_b)];
        acc = acc + av * bv;
    }
    out[i] = acc;
}

@compute @workgroup_size(256)
fn fold(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= params.len) {
        return;
    }
    let oh = dim_of(1u);
    let ow = dim_of(2u);
    let c = dim_of(3u);
    let kh = dim_of(4u);
    let kw = dim_of(5u);
    let h = params.m;
    let w = params.n;
    let x = i % w;
    let y = (i / w) % h;
    let ci = (i / (w * h)) % c;
    let b = i / (w * h * c);
    let sy = stride_of(0u);
    let sx = stride_of(1u);
    let dy = stride_of(2u);
    let dx = stride_of(3u);
    var sum = 0.0;
    for (var ky = 0u; ky < kh && ky * dy <= y; ky = ky + 1u) {
        let ty = y - ky * dy;
        if (ty % sy != 0u || ty / sy >= oh) {
            continue;
        }
        for (var kx = 0u; kx < kw && kx * dx <= x; kx = kx + 1u) {
            let tx = x - kx * dx;
            if (tx % sx != 0u || tx / sx >= ow) {
                continue;
            }
            sum = sum + a[((((b * oh + ty / sy) * ow + tx / sx) * c + ci) * kh + ky) * kw + kx];
        }
    }
    out[i] = sum;
}
