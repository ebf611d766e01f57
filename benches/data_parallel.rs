//! What data parallelism costs on one machine: µs per MLP training step (784-128-64-10,
//! Adam, random data) at global batch 64, 256 and 1024, three ways side by side:
//!
//! - one process, two threads, the whole batch (the CPU backend as usual);
//! - `mpirun -n 2`, one thread per rank, half the batch each, without the all-reduce
//!   (each rank's own forward, backward and update: the compute alone);
//! - the same with the all-reduce ([`DataParallel::step`]: gradients read, summed across
//!   ranks over MPI, averages written, the update, the parameters handed back).
//!
//! cargo bench --features mpi --bench data_parallel [-- --steps 50]
//!
//! Run by cargo, the bench starts itself under `mpirun` (Open MPI sets
//! `OMPI_COMM_WORLD_RANK` in the ranks) and prints one table.

use std::process::Command;
use std::time::Instant;

use backprop::data_parallel::DataParallel;
use backprop::nn::{Init, Layer, Sequential};
use backprop::{init, Device, Graph, NodeId, Optimizer, Session};
use rand::Rng;

const BATCHES: [usize; 3] = [64, 256, 1024];
const SIZES: [usize; 4] = [784, 128, 64, 10];

struct Net {
    graph: Graph,
    x: NodeId,
    t: NodeId,
    loss: NodeId,
    inputs: Option<backprop::data_parallel::GradientInputs>,
}

fn net(rows: usize, data_parallel: bool) -> backprop::Result<Net> {
    let model = Sequential::mlp(&SIZES, Layer::Relu, Init::PyTorch, &mut init::rng(1))?;
    let mut g = Graph::new();
    let x = g.input("x", [rows, SIZES[0]])?;
    let t = g.input("t", [rows, SIZES[3]])?;
    let logits = model.record(&mut g, x)?.output;
    let loss = g.softmax_cross_entropy(logits, t)?;
    let grads = g.backward(loss)?;
    let inputs = if data_parallel { Some(g.gradient_inputs(&grads)?) } else { None };
    g.optimize(inputs.as_ref().map_or(&grads, |i| &i.gradients), Optimizer::adam(1e-3))?;
    Ok(Net { graph: g, x, t, loss, inputs })
}

fn data(rows: usize) -> (Vec<f32>, Vec<f32>) {
    let mut rng = init::rng(rows as u64);
    let x = (0..rows * SIZES[0]).map(|_| rng.random_range(0.0..1.0)).collect();
    let mut t = vec![0.0; rows * SIZES[3]];
    for r in 0..rows {
        t[r * SIZES[3] + rng.random_range(0..SIZES[3])] = 1.0;
    }
    (x, t)
}

/// µs per step of `step`, after a warm-up, over `steps` steps.
fn time(steps: usize, mut step: impl FnMut() -> backprop::Result<()>) -> backprop::Result<f64> {
    for _ in 0..5 {
        step()?;
    }
    let start = Instant::now();
    for _ in 0..steps {
        step()?;
    }
    Ok(start.elapsed().as_secs_f64() * 1e6 / steps as f64)
}

fn plain(rows: usize, steps: usize) -> backprop::Result<f64> {
    let n = net(rows, false)?;
    let mut session: Box<dyn Session> = Device::Cpu.compile(&n.graph, &[n.loss])?;
    let (x, t) = data(rows);
    session.write(n.x, &x)?;
    session.write(n.t, &t)?;
    time(steps, || session.run())
}

fn rank_main(world: &mpi::topology::SimpleCommunicator, steps: usize) -> backprop::Result<()> {
    let size = mpi::traits::Communicator::size(world) as usize;
    let rank = mpi::traits::Communicator::rank(world);
    for batch in BATCHES {
        let rows = batch / size;
        let local = plain(rows, steps)?;
        let n = net(rows, true)?;
        let inputs = n.inputs.clone().expect("data-parallel inputs");
        let mut dp = DataParallel::new(world, &Device::Cpu, &n.graph, &inputs, &[n.loss])?;
        let (x, t) = data(rows);
        dp.session().write(n.x, &x)?;
        dp.session().write(n.t, &t)?;
        let reduced = time(steps, || dp.step())?;
        if rank == 0 {
            println!("batch {batch} local {local:.1} reduced {reduced:.1}");
        }
    }
    Ok(())
}

fn main() -> backprop::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let steps = args
        .iter()
        .position(|a| a == "--steps")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    if std::env::var_os("OMPI_COMM_WORLD_RANK").is_some() {
        let universe = mpi::initialize().expect("MPI initialises once");
        backprop::mpi::abort_on_panic();
        if let Err(e) = rank_main(&universe.world(), steps) {
            println!("error: {e}");
            backprop::mpi::abort_with(2);
        }
        return Ok(());
    }
    let me = std::env::current_exe().expect("this bench's path");
    let out = Command::new("mpirun")
        .args(["--allow-run-as-root", "--oversubscribe", "-n", "2", "-x", "RAYON_NUM_THREADS=1"])
        .arg(me)
        .args(["--steps", &steps.to_string()])
        .output()
        .expect("mpirun (apt-get install openmpi-bin)");
    let ranks = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        eprintln!("{ranks}{}", String::from_utf8_lossy(&out.stderr));
        std::process::exit(1);
    }
    println!("MLP 784-128-64-10 + Adam, CPU backend, µs per step (mean of {steps} after 5):\n");
    println!(
        "{:>6} {:>22} {:>24} {:>24} {:>10}",
        "batch", "1 process, 2 threads", "2 ranks, no all-reduce", "2 ranks, all-reduce", "overhead"
    );
    for batch in BATCHES {
        let one = plain(batch, steps)?;
        let line = ranks.lines().find(|l| l.starts_with(&format!("batch {batch} "))).unwrap_or_default();
        let field = |name: &str| -> f64 {
            let words: Vec<&str> = line.split_whitespace().collect();
            words
                .iter()
                .position(|w| *w == name)
                .and_then(|i| words.get(i + 1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(f64::NAN)
        };
        let (local, reduced) = (field("local"), field("reduced"));
        println!("{batch:>6} {one:>22.1} {local:>24.1} {reduced:>24.1} {:>9.1}×", reduced / local);
    }
    println!("\noverhead: the all-reduce step's time over the rank's compute alone.");
    Ok(())
}
