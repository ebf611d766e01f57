//! Matrix-product throughput on the GPU: GFLOP/s of square products from 256 to 4096 and
//! of the MLP's (784-128-64-10) forward and backward products at batch 64, 256 and 4096 in
//! the transpose variants training uses (forward `x·Wᵀ`, input gradient `dy·W`, weight
//! gradient `dyᵀ·x`), with the kernel chosen by shape and with each tiling forced; beside
//! PyTorch's fp32 `torch.mm` (TF32 off) on the same device, from `benches/torch_gpu.py`.
//! Products run back to back in one submission, timed from the host.
//!
//! cargo bench --bench matmul [-- --quick]

#[path = "common/torch.rs"]
mod torch;

use std::time::Instant;

use backprop::{CompileOptions, Device, Graph, MatmulTiles, Result, Shape};

/// `m×k×n` and the transposes, as `torch_gpu.py` reads them (`4096x4096x4096nn`).
#[derive(Clone, Copy)]
struct Product {
    m: usize,
    k: usize,
    n: usize,
    ta: bool,
    tb: bool,
}

impl Product {
    fn spec(&self) -> String {
        let t = |b: bool| if b { 't' } else { 'n' };
        format!("{}x{}x{}{}{}", self.m, self.k, self.n, t(self.ta), t(self.tb))
    }

    fn flops(&self) -> f64 {
        2.0 * (self.m * self.k * self.n) as f64
    }
}

fn products(largest: usize, batches: &[usize]) -> Vec<Product> {
    let mut all: Vec<Product> = [256, 512, 1024, 2048, 4096]
        .into_iter()
        .filter(|&s| s <= largest)
        .map(|s| Product { m: s, k: s, n: s, ta: false, tb: false })
        .collect();
    let layers = [(784, 128), (128, 64), (64, 10)];
    for &b in batches {
        for (i, &(inputs, outputs)) in layers.iter().enumerate() {
            all.push(Product { m: b, k: inputs, n: outputs, ta: false, tb: true });
            if i > 0 {
                all.push(Product { m: b, k: outputs, n: inputs, ta: false, tb: false });
            }
            all.push(Product { m: outputs, k: b, n: inputs, ta: true, tb: false });
        }
    }
    all
}

/// GFLOP/s of `p` with `tiles`, products back to back in one submission.
fn ours(device: &Device, p: Product, tiles: MatmulTiles) -> Result<f64> {
    let mut g = Graph::new();
    let a_shape = if p.ta { Shape::new(p.k, p.m) } else { Shape::new(p.m, p.k) };
    let b_shape = if p.tb { Shape::new(p.n, p.k) } else { Shape::new(p.k, p.n) };
    let a = g.input("a", a_shape)?;
    let b = g.input("b", b_shape)?;
    let c = g.matmul_t(a, b, p.ta, p.tb)?;
    let mut session = device.compile_with(&g, &[c], CompileOptions { matmul: tiles, ..Default::default() })?;
    session.write(a, &(0..a_shape.len()).map(|i| (i % 7) as f32 * 0.25 - 0.75).collect::<Vec<_>>())?;
    session.write(b, &(0..b_shape.len()).map(|i| (i % 5) as f32 * 0.25 - 0.5).collect::<Vec<_>>())?;
    session.run_and_read(&[])?;
    let start = Instant::now();
    session.run_and_read(&[])?;
    let once = start.elapsed().as_secs_f64();
    let reps = ((0.2 / once) as usize).clamp(3, 2000);
    let start = Instant::now();
    session.run_steps(reps)?;
    session.read_many(&[])?;
    Ok(p.flops() * reps as f64 / start.elapsed().as_secs_f64() / 1e9)
}

fn main() -> Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let device = match Device::gpu() {
        Ok(d) => d,
        Err(e) => {
            println!("no GPU adapter: {e}");
            return Ok(());
        }
    };
    // A software rasterizer runs WGSL at about 1 GFLOP/s: small products only.
    let software = device.name().contains("llvmpipe");
    let (largest, batches) = if software || quick { (256, vec![64]) } else { (4096, vec![64, 256, 4096]) };
    let all = products(largest, &batches);
    println!("fp32 matrix products on {}, GFLOP/s (m×k×n, n/t: operand stored as is/transposed)\n", device.name());
    let specs: Vec<String> = all.iter().map(Product::spec).collect();
    let theirs = torch::run(&["matmul", "--shapes", &specs.join(",")]);
    if let Err(why) = &theirs {
        println!("PyTorch not run: {why}\n");
    }
    let torch_device =
        if theirs.as_ref().is_ok_and(|l| l.iter().any(|l| l.starts_with("matmul cuda"))) { "cuda" } else { "cpu" };
    let forced = [
        ("64×64", MatmulTiles::Tile64),
        ("128×128", MatmulTiles::Tile128),
        ("split 32", MatmulTiles::SplitK(32)),
        ("split 64", MatmulTiles::SplitK(64)),
        ("split 128", MatmulTiles::SplitK(128)),
    ];
    print!("{:<20} {:>10}", "product", "ours");
    for (name, _) in forced {
        print!(" {name:>10}");
    }
    println!(" {:>14} {:>8}", format!("pytorch {torch_device}"), "ratio");
    let show = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.1}"));
    for p in all {
        let auto = ours(&device, p, MatmulTiles::Auto)?;
        print!("{:<20} {auto:>10.1}", p.spec());
        for (_, tiles) in forced {
            // Splitting a large product along K would store too many partial products.
            let split = matches!(tiles, MatmulTiles::SplitK(_));
            let value = if split && p.m * p.n > 1 << 20 { None } else { Some(ours(&device, p, tiles)?) };
            print!(" {:>10}", show(value));
        }
        let key = format!("matmul {torch_device} {}", p.spec());
        let reference = theirs.as_ref().ok().and_then(|l| torch::value(l, &key));
        let ratio = reference.map_or("n/a".into(), |r| format!("{:.2}", auto / r));
        println!(" {:>14} {ratio:>8}", show(reference));
    }
    println!("\nours: the kernel chosen by shape (CompileOptions::matmul = Auto); the others force one tiling");
    println!("(64×64 or 128×128 tiles; 64×64 tiles with K split into ranges of 32, 64 or 128);");
    println!("ratio: ours / PyTorch. PyTorch runs on {torch_device}: compare with it only on the same device.");
    Ok(())
}
