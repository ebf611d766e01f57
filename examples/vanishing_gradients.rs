//! Vanishing gradients, measured: `--depth` (10) blocks of Linear(100, 100) + sigmoid on a batch of 32
//! normal inputs and targets with MSE loss. The weight-gradient norm of each layer, from
//! input to output, next to the same network with ReLU and with skip connections; all
//! statistics are computed on the device by WGSL reductions.
//!
//! cargo run --release --example vanishing_gradients [-- --backend auto|gpu|cpu --depth 10 --plot FILE]

use std::path::PathBuf;

#[macro_use]
#[path = "common/flags.rs"]
mod flags;

use anyhow::Context;
use backprop::diagnostics::GradStat;
use backprop::models::{Block, DeepNet};
use backprop::output::check_distinct;
use backprop::plot::{check_chart_path, gradient_flow, log_curves, MAX_FLOW_PARAMETERS};
use backprop::Device;
use clap::Parser;
use flags::whole;

#[derive(Parser)]
#[command(allow_negative_numbers = true)]
struct Args {
    #[command(flatten)]
    backend: flags::Backend,
    /// Number of blocks (each has a weight and a bias: the gradient-flow chart draws
    /// two columns a block).
    #[arg(long, default_value_t = 10, value_parser = whole(1usize, MAX_FLOW_PARAMETERS / 2))]
    depth: usize,
    /// Seed of the weights and data.
    #[arg(long, default_value_t = 0, value_parser = whole(0u64, u64::MAX))]
    seed: u64,
    /// Chart of the three curves (log scale); PNG, or SVG by extension.
    #[arg(long, default_value = "vanishing-gradients.png")]
    plot: PathBuf,
    /// Gradient-flow chart (max and mean |grad| per layer) of the sigmoid network.
    #[arg(long, default_value = "gradient-flow-sigmoid.png")]
    grad_flow: PathBuf,
}

/// Gradient statistics of the weights, input layer first, after one backward pass.
fn weight_stats(device: &Device, block: Block, args: &Args) -> anyhow::Result<Vec<GradStat>> {
    let net = DeepNet::new(block, args.depth, 100, 32, args.seed)?;
    let mut session = device.compile_inference(&net.graph, net.watch.nodes())?;
    session.run()?;
    let stats = net.watch.read(session.as_mut())?;
    Ok(stats.into_iter().filter(|s| s.name.ends_with(".weight")).collect())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    check_distinct(&[("--plot", &args.plot), ("--grad-flow", &args.grad_flow)])?;
    check_chart_path(&args.plot).context("--plot")?;
    check_chart_path(&args.grad_flow).context("--grad-flow")?;
    let device = args.backend.open()?;
    let blocks = [Block::Sigmoid, Block::Relu, Block::Residual];
    let stats: Vec<Vec<GradStat>> =
        blocks.iter().map(|&b| weight_stats(&device, b, &args)).collect::<Result<_, _>>()?;

    say!("\n‖∂loss/∂W‖₂ per layer, input → output ({} blocks of Linear(100,100), batch 32, MSE)", args.depth);
    say!("{:>6} {:>14} {:>14} {:>18}", "layer", blocks[0].name(), blocks[1].name(), blocks[2].name());
    let rows = stats[0].iter().zip(&stats[1]).zip(&stats[2]);
    for (layer, ((sigmoid, relu), residual)) in rows.enumerate() {
        say!("{:>6} {:>14.3e} {:>14.3e} {:>18.3e}", layer + 1, sigmoid.norm, relu.norm, residual.norm);
    }
    for (block, s) in blocks.iter().zip(&stats) {
        let (first, last) = (s[0].norm, s[s.len() - 1].norm);
        match first > 0.0 {
            true => say!("{:>18}: last/first layer gradient norm = {:.1e}", block.name(), last / first),
            false => say!("{:>18}: the first layer's gradient vanished entirely (norm {first})", block.name()),
        }
    }

    let series: Vec<(String, Vec<f32>)> =
        blocks.iter().zip(&stats).map(|(b, s)| (b.name().to_owned(), s.iter().map(|g| g.norm).collect())).collect();
    log_curves(&args.plot, "Weight-gradient norm per layer", "‖∂loss/∂W‖₂ (log scale)", &series).context("--plot")?;
    say!("\nwrote {}", args.plot.display());
    let title = format!("Gradient flow: {} sigmoid blocks", args.depth);
    gradient_flow(&args.grad_flow, &title, &stats[0]).context("--grad-flow")?;
    say!("wrote {}", args.grad_flow.display());
    Ok(())
}
