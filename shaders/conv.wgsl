// Convolutions as implicit products, and max pooling (`src/graph/sliding.rs` describes
// the windows; `src/backend/cpu_conv.rs` is the reference).
//
// A convolution of x [batch, channels, height, width] with weight [outputs, channels /
// groups, kh, kw] is, per group, a product whose operands are read from the image and the
// weight in place (no windows buffer): `mode` says which product.
//   0, forward:      C[o, (b, p)] = Σ_t W[o, t] · X̂[t, (b, p)] → out [b, o, p] (+ bias[o])
//   1, input grad:   C[c, (b, y, x)] = Σ_(o, ky, kx) W[o, c, ky, kx] · dy[b, o, oy, ox] where
//                    the tap (ky, kx) of output (oy, ox) reads (y, x) → dx [b, c, y, x]
//   2, weight grad:  C[o, t] = Σ_(b, p) dy[b, o, p] · X̂[t, (b, p)] → dw [o, t], split along
//                    (b, p) into `splits` ranges of k_chunk, partial z at z · len
//                    (matmul_sum_splits adds them in z order)
// where t = (c, ky, kx) is a tap of the group's channels, p = (oy, ox) an output pixel,
// and X̂[t, (b, p)] the input that tap reads at that pixel (0 in the padding).
//
// Bindings: 0 = x (modes 0 and 2) or dy (mode 1), 1 = the weight (modes 0 and 1) or dy
// (mode 2), 2 = out (read_write), 3 = params, 4 = the bias (conv_gemm_bias only).
// Epilogue: every stored value passes through epilogue(i, v), a function the module ends
// with: the identity, or for a forward convolution fused with the elementwise ops that
// follow it (`src/compile/fuse.rs`) those ops, generated from their expressions, step j
// reading its operand at binding 5 + j (shape ep[j].xy, broadcast over the output seen as
// rows of out_w) and its constant (bits ep[j].z). Only forward launches are fused, and
// max_pool_grad's stores (its operands broadcast over rows of width).
// Dispatch: (ceil(n / 64), ceil(m / 64), groups · splits) workgroups of 16×16 threads,
// each a 64×64 tile of C as `matmul` in matmul.wgsl (4×4 outputs per thread, K in steps
// of 16 through workgroup memory), each output one sum in k order: deterministic.
//
// max_pool:      one thread per output [plane, oy, ox]: the window's largest value (the
//                first of equals; a NaN ends the search), padding never chosen.
// max_pool_grad: one thread per input element: the sum, windows in order, of dy over the
//                windows whose largest element it is (their argmax recomputed), the CPU's
//                order. Dispatch for both: ceil(len / 256) workgroups of 256, spilling
//                into y.

struct Params {
    mode: u32,
    m: u32,
    n: u32,
    k: u32,
    k_chunk: u32,
    splits: u32,
    batch: u32,
    channels: u32,
    height: u32,
    width: u32,
    outputs: u32,
    out_h: u32,
    out_w: u32,
    groups: u32,
    kh: u32,
    kw: u32,
    stride_y: u32,
    stride_x: u32,
    pad_y: u32,
    pad_x: u32,
    dil_y: u32,
    dil_x: u32,
    len: u32,
    _pad: u32,
    ep: array<vec4<u32>, 4>,
}

@group(0) @binding(0) var<storage, read> first: array<f32>;
@group(0) @binding(1) var<storage, read> second: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;
@group(0) @binding(4) var<storage, read> bias: array<f32>;

const TILE: u32 = 64u;
const KT: u32 = 16u;

var<workgroup> tile_a: array<f32, 1024>;
var<workgroup> tile_b: array<f32, 1024>;

fn group_channels() -> u32 {
    return params.channels / params.groups;
}

fn group_outputs() -> u32 {
    return params.outputs / params.groups;
}

fn pixels() -> u32 {
    return params.out_h * params.out_w;
}

// The input that tap t of group g reads at pixel p of image b, 0 in the padding.
fn image_tap(g: u32, t: u32, b: u32, p: u32) -> f32 {
    let kk = params.kh * params.kw;
    let c = t / kk;
    let ky = (t % kk) / params.kw;
    let kx = t % params.kw;
    let y = i32((p / params.out_w) * params.stride_y + ky * params.dil_y) - i32(params.pad_y);
    let x = i32((p % params.out_w) * params.stride_x + kx * params.dil_x) - i32(params.pad_x);
    if (y < 0 || x < 0 || u32(y) >= params.height || u32(x) >= params.width) {
        return 0.0;
    }
    return first[((b * params.channels + g * group_channels() + c) * params.height + u32(y)) * params.width + u32(x)];
}

// The output gradient that tap (ky, kx) of output channel o carries to input (y, x) of
// image b: dy at the output pixel whose window puts that tap there, or 0 where none does.
fn output_grad(g: u32, o: u32, ky: u32, kx: u32, b: u32, y: u32, x: u32) -> f32 {
    let ty = i32(y + params.pad_y) - i32(ky * params.dil_y);
    let tx = i32(x + params.pad_x) - i32(kx * params.dil_x);
    if (ty < 0 || tx < 0 || u32(ty) % params.stride_y != 0u || u32(tx) % params.stride_x != 0u) {
        return 0.0;
    }
    let oy = u32(ty) / params.stride_y;
    let ox = u32(tx) / params.stride_x;
    if (oy >= params.out_h || ox >= params.out_w) {
        return 0.0;
    }
    return first[((b * params.outputs + g * group_outputs() + o) * params.out_h + oy) * params.out_w + ox];
}

// Element (row, kk) of the product's left operand for group g.
fn load_a(g: u32, row: u32, kk: u32) -> f32 {
    if (row >= params.m || kk >= params.k) {
        return 0.0;
    }
    let og = group_outputs();
    if (params.mode == 0u) {
        return second[(g * og + row) * params.k + kk];
    }
    if (params.mode == 1u) {
        let kernel = params.kh * params.kw;
        let o = kk / kernel;
        return second[((g * og + o) * group_channels() + row) * kernel + kk % kernel];
    }
    let p = pixels();
    return second[((kk / p) * params.outputs + g * og + row) * p + kk % p];
}

// Element (kk, col) of the product's right operand for group g.
fn load_b(g: u32, kk: u32, col: u32) -> f32 {
    if (kk >= params.k || col >= params.n) {
        return 0.0;
    }
    if (params.mode == 0u) {
        return image_tap(g, kk, col / pixels(), col % pixels());
    }
    if (params.mode == 1u) {
        let kernel = params.kh * params.kw;
        let plane = params.height * params.width;
        let q = col % plane;
        return output_grad(g, kk / kernel, (kk % kernel) / params.kw, kk % params.kw, col / plane, q / params.width, q % params.width);
    }
    return image_tap(g, col, kk / pixels(), kk % pixels());
}

// Where C[row, col] of group g (partial product `split`) is stored.
fn place(g: u32, split: u32, row: u32, col: u32) -> u32 {
    if (params.mode == 0u) {
        let p = pixels();
        return ((col / p) * params.outputs + g * group_outputs() + row) * p + col % p;
    }
    if (params.mode == 1u) {
        let plane = params.height * params.width;
        return ((col / plane) * params.channels + g * group_channels() + row) * plane + col % plane;
    }
    return split * params.len + (g * group_outputs() + row) * params.n + col;
}

// A thread's 4×4 outputs: rows y, y + 16, y + 32, y + 48 (columns x + 16j in each).
struct Acc {
    r0: vec4<f32>,
    r1: vec4<f32>,
    r2: vec4<f32>,
    r3: vec4<f32>,
}

// The workgroup's 64×64 tile of group g's product over its k range: thread (x, y) holds
// rows y + 16i, columns x + 16j.
fn tile_product(lid: vec3<u32>, wid: vec3<u32>) -> Acc {
    let g = wid.z / params.splits;
    let row0 = wid.y * TILE;
    let col0 = wid.x * TILE;
    let tid = lid.y * 16u + lid.x;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    let k_begin = (wid.z % params.splits) * params.k_chunk;
    let k_end = min(params.k, k_begin + params.k_chunk);
    for (var k0 = k_begin; k0 < k_end; k0 += KT) {
        for (var s = 0u; s < 4u; s++) {
            let e = tid + s * 256u;
            // A along k (contiguous in every mode); B along its columns, except the
            // weight gradient's, whose k runs along the image's pixels.
            let ra = e / KT;
            let ka = e % KT;
            tile_a[ka * TILE + ra] = select(0.0, load_a(g, row0 + ra, k0 + ka), k0 + ka < k_end);
            var kb = e / TILE;
            var cb = e % TILE;
            if (params.mode == 2u) {
                kb = e % KT;
                cb = e / KT;
            }
            tile_b[kb * TILE + cb] = select(0.0, load_b(g, k0 + kb, col0 + cb), k0 + kb < k_end);
        }
        workgroupBarrier();
        for (var kk = 0u; kk < KT; kk++) {
            let base = kk * TILE;
            let av = vec4<f32>(tile_a[base + lid.y], tile_a[base + lid.y + 16u], tile_a[base + lid.y + 32u], tile_a[base + lid.y + 48u]);
            let bv = vec4<f32>(tile_b[base + lid.x], tile_b[base + lid.x + 16u], tile_b[base + lid.x + 32u], tile_b[base + lid.x + 48u]);
            acc0 = fma(vec4<f32>(av.x), bv, acc0);
            acc1 = fma(vec4<f32>(av.y), bv, acc1);
            acc2 = fma(vec4<f32>(av.z), bv, acc2);
            acc3 = fma(vec4<f32>(av.w), bv, acc3);
        }
        workgroupBarrier();
    }
    return Acc(acc0, acc1, acc2, acc3);
}

// Stores row `row` of a thread's outputs (columns col, col + 16, col + 32, col + 48).
fn store_row(g: u32, split: u32, row: u32, col: u32, v: vec4<f32>) {
    if (row >= params.m) {
        return;
    }
    for (var j = 0u; j < 4u; j++) {
        if (col + 16u * j < params.n) {
            let i = place(g, split, row, col + 16u * j);
            out[i] = epilogue(i, v[j]);
        }
    }
}

@compute @workgroup_size(16, 16)
fn conv_gemm(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let acc = tile_product(lid, wid);
    let g = wid.z / params.splits;
    let split = wid.z % params.splits;
    let row = wid.y * TILE + lid.y;
    let col = wid.x * TILE + lid.x;
    store_row(g, split, row, col, acc.r0);
    store_row(g, split, row + 16u, col, acc.r1);
    store_row(g, split, row + 32u, col, acc.r2);
    store_row(g, split, row + 48u, col, acc.r3);
}

// As store_row, with the output channel's bias added (the forward product, never split).
fn store_row_bias(g: u32, row: u32, col: u32, v: vec4<f32>) {
    if (row < params.m) {
        store_row(g, 0u, row, col, v + vec4<f32>(bias[g * group_outputs() + row]));
    }
}

@compute @workgroup_size(16, 16)
fn conv_gemm_bias(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let acc = tile_product(lid, wid);
    let g = wid.z;
    let row = wid.y * TILE + lid.y;
    let col = wid.x * TILE + lid.x;
    store_row_bias(g, row, col, acc.r0);
    store_row_bias(g, row + 16u, col, acc.r1);
    store_row_bias(g, row + 32u, col, acc.r2);
    store_row_bias(g, row + 48u, col, acc.r3);
}

// A window's largest value and its index in the plane.
struct Best {
    value: f32,
    at: u32,
}

// The largest value of window (oy, ox) of plane `plane` (the CPU's order and rule).
fn window_max(plane: u32, oy: u32, ox: u32) -> Best {
    let size = params.height * params.width;
    var best = Best(0.0, 0xffffffffu);
    for (var ky = 0u; ky < params.kh; ky++) {
        let y = i32(oy * params.stride_y + ky) - i32(params.pad_y);
        if (y < 0 || u32(y) >= params.height) {
            continue;
        }
        for (var kx = 0u; kx < params.kw; kx++) {
            let x = i32(ox * params.stride_x + kx) - i32(params.pad_x);
            if (x < 0 || u32(x) >= params.width) {
                continue;
            }
            let i = u32(y) * params.width + u32(x);
            let v = first[plane * size + i];
            if (best.at == 0xffffffffu || v > best.value || is_nan(v)) {
                best = Best(v, i);
            }
            if (is_nan(best.value)) {
                return best;
            }
        }
    }
    return best;
}

@compute @workgroup_size(256)
fn max_pool(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= params.len) {
        return;
    }
    let p = pixels();
    out[i] = window_max(i / p, (i % p) / params.out_w, i % params.out_w).value;
}

@compute @workgroup_size(256)
fn max_pool_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= params.len) {
        return;
    }
    let size = params.height * params.width;
    let plane = i / size;
    let y = (i % size) / params.width;
    let x = i % params.width;
    // The windows that may hold (y, x): oy·stride ≤ y + pad < oy·stride + kh.
    let oy_last = min((y + params.pad_y) / params.stride_y, params.out_h - 1u);
    let ox_last = min((x + params.pad_x) / params.stride_x, params.out_w - 1u);
    let oy_first = (max(y + params.pad_y + params.stride_y, params.kh) - params.kh) / params.stride_y;
    let ox_first = (max(x + params.pad_x + params.stride_x, params.kw) - params.kw) / params.stride_x;
    var sum = 0.0;
    for (var oy = oy_first; oy <= oy_last; oy++) {
        for (var ox = ox_first; ox <= ox_last; ox++) {
            if (window_max(plane, oy, ox).at == i % size) {
                sum += second[(plane * params.out_h + oy) * params.out_w + ox];
            }
        }
    }
    out[i] = epilogue(i, sum);
}
