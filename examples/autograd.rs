//! The smallest use of autodiff: y = x² + 3x + 1 at x = 2, so dy/dx = 2x + 3 = 7.
//!
//! cargo run --example autograd [-- --backend auto|gpu|cpu --graph graph.svg]
//!
//! `--graph FILE` draws the recorded graph (SVG or PNG): the forward pass, the backward
//! pass that differentiation added beneath it, and the values 11 and 7 on them.

#[macro_use]
#[path = "common/flags.rs"]
mod flags;

use std::path::PathBuf;

use backprop::view::View;
use backprop::Graph;
use clap::Parser;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    backend: flags::Backend,
    /// Draw the computational graph, with the computed values, to this file (SVG or PNG).
    #[arg(long)]
    graph: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(path) = &args.graph {
        backprop::plot::check_chart_path(path).map_err(|e| anyhow::anyhow!("--graph: {e}"))?;
    }
    let device = args.backend.open()?;
    let mut g = Graph::new();
    let x = g.parameter("x", [1, 1], vec![2.0])?;
    let x_squared = g.square(x)?;
    let three_x = g.scale(x, 3.0)?;
    let one = g.constant([1, 1], vec![1.0])?;
    let partial = g.add(x_squared, three_x)?;
    let y = g.add(partial, one)?;
    g.set_name(y, "y")?;
    let dy_dx = g.backward(y)?.get(x).expect("y depends on x");
    let mut session = device.compile(&g, &[y, dy_dx])?;
    let values = session.run_and_read(&[y, dy_dx])?;
    say!("y = x² + 3x + 1 at x = 2: y = {}", values[0][0]);
    say!("dy/dx = {}", values[1][0]);
    if let Some(path) = &args.graph {
        View::new(&g).with_values(session.as_mut(), &[x, y, dy_dx])?.write(path)?;
        say!("wrote {}", path.display());
    }
    Ok(())
}
