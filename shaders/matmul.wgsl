// Tiled matrix product C[m, n] = op(A)[m, k] · op(B)[k, n].
//
// Bindings: 0 = A (read), 1 = B (read), 2 = C (read_write), 3 = params.
// A is stored [m, k] row-major, or [k, m] when trans_a = 1 (likewise B: [k, n] or [n, k]),
// so backward's dA = dC·Bᵀ and dB = Aᵀ·dC need no transposed copies.
// Dispatch: (ceil(n / 64), ceil(m / 64), splits) workgroups of 16×16 threads. Each workgroup
// owns a 64×64 tile of C; each thread a 4×4 register tile at rows ty + 16i, columns
// tx + 16j (strided so that neighbouring threads touch neighbouring addresses). K is
// walked in steps of 16 through two 16×64 tiles in workgroup memory (8 KiB).
// Split K: when the output has few tiles but K is long, workgroup z sums only
// k in [z·k_chunk, (z+1)·k_chunk) and writes its partial product to C[z·m·n ..]; C then
// holds `splits` partial products and matmul_sum_splits adds them, in z order, into the
// first m·n values. With splits = 1 (k_chunk ≥ k) C is written directly.
// Epilogue: every final value C[i] is written as epilogue(i, value), a function the module
// ends with: the identity for a plain product, and for a fused launch (`src/fuse.rs`) the
// elementwise ops that follow the product, generated from their expressions, each step j
// reading its operand (binding 4 + j, shape ep[j].xy, broadcast) and its constant
// (bits ep[j].z). Partial products of a split K are stored raw; matmul_sum_splits applies
// the epilogue to their sum.

struct Params {
    m: u32,
    n: u32,
    k: u32,
    trans_a: u32,
    trans_b: u32,
    k_chunk: u32,
    splits: u32,
    // Bit 0: A's contiguous dimension (k, or m when transposed) is a multiple of 4; bit 1
    // likewise for B (n, or k when transposed). Only matmul_big reads it.
    aligned: u32,
    ep: array<vec4<u32>, 4>,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

const TILE: u32 = 64u;
const KT: u32 = 16u;

// tile_a[kk * TILE + row] and tile_b[kk * TILE + col]
var<workgroup> tile_a: array<f32, 1024>;
var<workgroup> tile_b: array<f32, 1024>;

fn load_a(row: u32, kk: u32) -> f32 {
    if (row >= params.m || kk >= params.k) {
        return 0.0;
    }
    if (params.trans_a == 1u) {
        return a[kk * params.m + row];
    }
    return a[row * params.k + kk];
}

fn load_b(kk: u32, col: u32) -> f32 {
    if (kk >= params.k || col >= params.n) {
        return 0.0;
    }
    if (params.trans_b == 1u) {
        return b[col * params.k + kk];
    }
    return b[kk * params.n + col];
}

// Stores one row of a thread's register tile: columns col, col + 16, col + 32, col + 48,
// in the partial product `split`.
fn store_row(split: u32, row: u32, col: u32, v: vec4<f32>) {
    if (row >= params.m) {
        return;
    }
    let base = split * params.m * params.n + row * params.n;
    if (col < params.n) {
        c[base + col] = finish(base + col, v.x);
    }
    if (col + 16u < params.n) {
        c[base + col + 16u] = finish(base + col + 16u, v.y);
    }
    if (col + 32u < params.n) {
        c[base + col + 32u] = finish(base + col + 32u, v.z);
    }
    if (col + 48u < params.n) {
        c[base + col + 48u] = finish(base + col + 48u, v.w);
    }
}

// A value of the tiled kernel as stored: final (through the epilogue) unless it is one of
// several partial products.
fn finish(i: u32, v: f32) -> f32 {
    if (params.splits > 1u) {
        return v;
    }
    return epilogue(i, v);
}

@compute @workgroup_size(16, 16)
fn matmul(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let row0 = wid.y * TILE;
    let col0 = wid.x * TILE;
    let tid = lid.y * 16u + lid.x;
    // The 4×4 register tile as four vec4 rows with constant component access: a
    // dynamically indexed array would live in slow local memory on most GPUs.
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    let k_begin = wid.z * params.k_chunk;
    let k_end = min(params.k, k_begin + params.k_chunk);
    for (var k0 = k_begin; k0 < k_end; k0 += KT) {
        // 256 threads stage 1024 values of each tile, 4 each; past k_end they load zeros.
        // Neighbouring threads take neighbouring addresses of the operand as stored (along
        // k for A [m, k] and for B stored [n, k], along rows or columns otherwise), so that
        // a warp's loads coalesce whichever operand is transposed.
        for (var s = 0u; s < 4u; s++) {
            let e = tid + s * 256u;
            var ra = e / KT;
            var ka = e % KT;
            if (params.trans_a == 1u) {
                ra = e % TILE;
                ka = e / TILE;
            }
            tile_a[ka * TILE + ra] = select(0.0, load_a(row0 + ra, k0 + ka), k0 + ka < k_end);
            var kb = e / TILE;
            var cb = e % TILE;
            if (params.trans_b == 1u) {
                cb = e / KT;
                kb = e % KT;
            }
            tile_b[kb * TILE + cb] = select(0.0, load_b(k0 + kb, col0 + cb), k0 + kb < k_end);
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
    let col = col0 + lid.x;
    store_row(wid.z, row0 + lid.y, col, acc0);
    store_row(wid.z, row0 + lid.y + 16u, col, acc1);
    store_row(wid.z, row0 + lid.y + 32u, col, acc2);
    store_row(wid.z, row0 + lid.y + 48u, col, acc3);
}

// Large products: a 128×128 tile of C per workgroup of 16×16 threads, 8×8 outputs per
// thread, K walked in steps of 8. Thread (x, y) owns rows 4y..4y+3 and 64+4y..64+4y+3 of
// the tile and columns 4x..4x+3 and 64+4x..64+4x+3, so each step of k reads its operands
// from workgroup memory as four vec4 loads (two of A, two of B) for 64 multiply-adds.
// The tiles are stored k-major as vec4s of four consecutive rows (A) or columns (B):
// big_a[kk * 32 + r / 4][r % 4] = op(A)[row0 + r, k0 + kk].
// Each thread fetches four consecutive values of each operand per k-tile, along the
// dimension the operand is contiguous in: one vec4 load when that dimension is a multiple
// of 4 (`params.aligned`, bit 0 for A, bit 1 for B), four checked loads otherwise. The
// next k-tile is fetched into registers before the current one is multiplied, so the
// loads overlap the arithmetic. The operands are read through vec4 views (`a4`, `b4`;
// every buffer is padded to 16 bytes). Same bounds, split-K ranges and epilogue as
// `matmul`; dispatch (ceil(n / 128), ceil(m / 128), splits).

@group(0) @binding(0) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b4: array<vec4<f32>>;

const BIG: u32 = 128u;
const BIG_KT: u32 = 8u;

var<workgroup> big_a: array<vec4<f32>, 256>;
var<workgroup> big_b: array<vec4<f32>, 256>;

// Element i of a flat operand read through its vec4 view.
fn scalar_a(i: u32) -> f32 {
    return a4[i >> 2u][i & 3u];
}

fn scalar_b(i: u32) -> f32 {
    return b4[i >> 2u][i & 3u];
}

// The four values of A thread `tid` stages for the k-tile at k0: op(A)[row0 + tid / 2,
// k0 + 4 (tid % 2) + j] when A is [m, k], op(A)[row0 + 4 (tid % 32) + j, k0 + tid / 32]
// when stored [k, m]; zero past the edges and past k_end.
fn fetch_a(tid: u32, row0: u32, k0: u32, k_end: u32) -> vec4<f32> {
    var v = vec4<f32>(0.0);
    if (params.trans_a == 0u) {
        let row = row0 + tid / 2u;
        let kk = k0 + 4u * (tid % 2u);
        if (row >= params.m) {
            return v;
        }
        let i = row * params.k + kk;
        if ((params.aligned & 1u) != 0u) {
            return select(v, a4[i / 4u], kk < k_end);
        }
        for (var j = 0u; j < 4u; j++) {
            v[j] = select(0.0, scalar_a(i + j), kk + j < k_end);
        }
        return v;
    }
    let row = row0 + 4u * (tid % 32u);
    let kk = k0 + tid / 32u;
    if (kk >= k_end) {
        return v;
    }
    let i = kk * params.m + row;
    if ((params.aligned & 1u) != 0u) {
        return select(v, a4[i / 4u], row < params.m);
    }
    for (var j = 0u; j < 4u; j++) {
        v[j] = select(0.0, scalar_a(i + j), row + j < params.m);
    }
    return v;
}

// As fetch_a for B: op(B)[k0 + tid / 32, col0 + 4 (tid % 32) + j] when B is [k, n],
// op(B)[k0 + 4 (tid % 2) + j, col0 + tid / 2] when stored [n, k].
fn fetch_b(tid: u32, col0: u32, k0: u32, k_end: u32) -> vec4<f32> {
    var v = vec4<f32>(0.0);
    if (params.trans_b == 1u) {
        let col = col0 + tid / 2u;
        let kk = k0 + 4u * (tid % 2u);
        if (col >= params.n) {
            return v;
        }
        let i = col * params.k + kk;
        if ((params.aligned & 2u) != 0u) {
            return select(v, b4[i / 4u], kk < k_end);
        }
        for (var j = 0u; j < 4u; j++) {
            v[j] = select(0.0, scalar_b(i + j), kk + j < k_end);
        }
        return v;
    }
    let col = col0 + 4u * (tid % 32u);
    let kk = k0 + tid / 32u;
    if (kk >= k_end) {
        return v;
    }
    let i = kk * params.n + col;
    if ((params.aligned & 2u) != 0u) {
        return select(v, b4[i / 4u], col < params.n);
    }
    for (var j = 0u; j < 4u; j++) {
        v[j] = select(0.0, scalar_b(i + j), col + j < params.n);
    }
    return v;
}

// Writes what fetch_a fetched into big_a: four rows at one k in a single vec4 (A stored
// [k, m]), or one row at four k.
fn put_a(tid: u32, v: vec4<f32>) {
    if (params.trans_a == 1u) {
        big_a[(tid / 32u) * 32u + tid % 32u] = v;
        return;
    }
    let r = tid / 2u;
    let kk = 4u * (tid % 2u);
    for (var j = 0u; j < 4u; j++) {
        big_a[(kk + j) * 32u + r / 4u][r % 4u] = v[j];
    }
}

fn put_b(tid: u32, v: vec4<f32>) {
    if (params.trans_b == 0u) {
        big_b[(tid / 32u) * 32u + tid % 32u] = v;
        return;
    }
    let cb = tid / 2u;
    let kk = 4u * (tid % 2u);
    for (var j = 0u; j < 4u; j++) {
        big_b[(kk + j) * 32u + cb / 4u][cb % 4u] = v[j];
    }
}

// Stores row `row` of a thread's 8×8 tile: columns col..col+3 from `lo`, col+64..col+67
// from `hi`, in the partial product `split`.
fn store_big(split: u32, row: u32, col: u32, lo: vec4<f32>, hi: vec4<f32>) {
    if (row >= params.m) {
        return;
    }
    let base = split * params.m * params.n + row * params.n;
    for (var j = 0u; j < 4u; j++) {
        if (col + j < params.n) {
            c[base + col + j] = finish(base + col + j, lo[j]);
        }
        if (col + 64u + j < params.n) {
            c[base + col + 64u + j] = finish(base + col + 64u + j, hi[j]);
        }
    }
}

@compute @workgroup_size(16, 16)
fn matmul_big(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let row0 = wid.y * BIG;
    let col0 = wid.x * BIG;
    let tid = lid.y * 16u + lid.x;
    // Sixteen named vec4 accumulators (row r, half h: c<r><h>): constant component
    // access keeps them in registers.
    var c00 = vec4<f32>(0.0);
    var c01 = vec4<f32>(0.0);
    var c10 = vec4<f32>(0.0);
    var c11 = vec4<f32>(0.0);
    var c20 = vec4<f32>(0.0);
    var c21 = vec4<f32>(0.0);
    var c30 = vec4<f32>(0.0);
    var c31 = vec4<f32>(0.0);
    var c40 = vec4<f32>(0.0);
    var c41 = vec4<f32>(0.0);
    var c50 = vec4<f32>(0.0);
    var c51 = vec4<f32>(0.0);
    var c60 = vec4<f32>(0.0);
    var c61 = vec4<f32>(0.0);
    var c70 = vec4<f32>(0.0);
    var c71 = vec4<f32>(0.0);
    let k_begin = wid.z * params.k_chunk;
    let k_end = min(params.k, k_begin + params.k_chunk);
    var next_a = fetch_a(tid, row0, k_begin, k_end);
    var next_b = fetch_b(tid, col0, k_begin, k_end);
    for (var k0 = k_begin; k0 < k_end; k0 += BIG_KT) {
        put_a(tid, next_a);
        put_b(tid, next_b);
        workgroupBarrier();
        if (k0 + BIG_KT < k_end) {
            next_a = fetch_a(tid, row0, k0 + BIG_KT, k_end);
            next_b = fetch_b(tid, col0, k0 + BIG_KT, k_end);
        }
        for (var kk = 0u; kk < BIG_KT; kk++) {
            let a0 = big_a[kk * 32u + lid.y];
            let a1 = big_a[kk * 32u + 16u + lid.y];
            let b0 = big_b[kk * 32u + lid.x];
            let b1 = big_b[kk * 32u + 16u + lid.x];
            c00 = fma(vec4<f32>(a0.x), b0, c00);
            c01 = fma(vec4<f32>(a0.x), b1, c01);
            c10 = fma(vec4<f32>(a0.y), b0, c10);
            c11 = fma(vec4<f32>(a0.y), b1, c11);
            c20 = fma(vec4<f32>(a0.z), b0, c20);
            c21 = fma(vec4<f32>(a0.z), b1, c21);
            c30 = fma(vec4<f32>(a0.w), b0, c30);
            c31 = fma(vec4<f32>(a0.w), b1, c31);
            c40 = fma(vec4<f32>(a1.x), b0, c40);
            c41 = fma(vec4<f32>(a1.x), b1, c41);
            c50 = fma(vec4<f32>(a1.y), b0, c50);
            c51 = fma(vec4<f32>(a1.y), b1, c51);
            c60 = fma(vec4<f32>(a1.z), b0, c60);
            c61 = fma(vec4<f32>(a1.z), b1, c61);
            c70 = fma(vec4<f32>(a1.w), b0, c70);
            c71 = fma(vec4<f32>(a1.w), b1, c71);
        }
        workgroupBarrier();
    }
    let rows = vec4<u32>(0u, 1u, 2u, 3u) + row0 + 4u * lid.y;
    let col = col0 + 4u * lid.x;
    store_big(wid.z, rows.x, col, c00, c01);
    store_big(wid.z, rows.y, col, c10, c11);
    store_big(wid.z, rows.z, col, c20, c21);
    store_big(wid.z, rows.w, col, c30, c31);
    store_big(wid.z, rows.x + 64u, col, c40, c41);
    store_big(wid.z, rows.y + 64u, col, c50, c51);
    store_big(wid.z, rows.z + 64u, col, c60, c61);
    store_big(wid.z, rows.w + 64u, col, c70, c71);
}

// C[i] = Σ_z C[z·m·n + i] for the first m·n values, z in increasing order (deterministic).
// Each value is read and written by one thread only, so C is updated in place.
// Dispatch: ceil(m·n / 256) workgroups of 256, spilling into y.
@compute @workgroup_size(256)
fn matmul_sum_splits(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    let len = params.m * params.n;
    if (i >= len) {
        return;
    }
    var acc = c[i];
    for (var z = 1u; z < params.splits; z++) {
        acc += c[z * len + i];
    }
    c[i] = epilogue(i, acc);
}

// Small products (fewer than 64×64 outputs, K ≤ 16): one thread per output element walks K.
// A 64×64 tile would leave most of its threads idle there, which software rasterizers
// such as lavapipe pay for in full. Dispatch: ceil(m·n / 64) workgroups of 64, spilling
// into y; thread i computes C[i / n, i % n].
@compute @workgroup_size(64)
fn matmul_small(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 64u;
    if (i >= params.m * params.n) {
        return;
    }
    let r = i / params.n;
    let col = i % params.n;
    var acc = 0.0;
    for (var kk = 0u; kk < params.k; kk++) {
        acc = fma(load_a(r, kk), load_b(kk, col), acc);
    }
    c[i] = epilogue(i, acc);
}
