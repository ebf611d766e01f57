// Tiled matrix product C[m, n] = op(A)[m, k] · op(B)[k, n].
//
// Bindings: 0 = A (read), 1 = B (read), 2 = C (read_write), 3 = params.
// A is stored [m, k] row-major, or [k, m] when trans_a = 1 (likewise B: [k, n] or [n, k]),
// so backward's dA = dC·Bᵀ and dB = Aᵀ·dC need no transposed copies.
// Dispatch: (ceil(n / 64), ceil(m / 64), 1) workgroups of 16×16 threads. Each workgroup
// owns a 64×64 tile of C; each thread a 4×4 register tile at rows ty + 16i, columns
// tx + 16j (strided so that neighbouring threads touch neighbouring addresses). K is
// walked in steps of 16 through two 16×64 tiles in workgroup memory (8 KiB).

struct Params {
    m: u32,
    n: u32,
    k: u32,
    trans_a: u32,
    trans_b: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
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

@compute @workgroup_size(16, 16)
fn matmul(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let row0 = wid.y * TILE;
    let col0 = wid.x * TILE;
    let tid = lid.y * 16u + lid.x;
    var acc: array<f32, 16>;
    for (var i = 0u; i < 16u; i++) {
        acc[i] = 0.0;
    }
    for (var k0 = 0u; k0 < params.k; k0 += KT) {
        // 256 threads stage 1024 values of each tile, 4 each.
        for (var s = 0u; s < 4u; s++) {
            let e = tid + s * 256u;
            let ra = e / KT;
            let ka = e % KT;
            tile_a[ka * TILE + ra] = load_a(row0 + ra, k0 + ka);
            let kb = e / TILE;
            let cb = e % TILE;
            tile_b[kb * TILE + cb] = load_b(k0 + kb, col0 + cb);
        }
        workgroupBarrier();
        for (var kk = 0u; kk < KT; kk++) {
            var av: array<f32, 4>;
            var bv: array<f32, 4>;
            for (var i = 0u; i < 4u; i++) {
                av[i] = tile_a[kk * TILE + lid.y + 16u * i];
                bv[i] = tile_b[kk * TILE + lid.x + 16u * i];
            }
            for (var i = 0u; i < 4u; i++) {
                for (var j = 0u; j < 4u; j++) {
                    acc[i * 4u + j] = fma(av[i], bv[j], acc[i * 4u + j]);
                }
            }
        }
        workgroupBarrier();
    }
    for (var i = 0u; i < 4u; i++) {
        let r = row0 + lid.y + 16u * i;
        for (var j = 0u; j < 4u; j++) {
            let col = col0 + lid.x + 16u * j;
            if (r < params.m && col < params.n) {
                c[r * params.n + col] = acc[i * 4u + j];
            }
        }
    }
}

// Small products (fewer than 64×64 outputs): one thread per output element walks K.
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
    c[i] = acc;
}
