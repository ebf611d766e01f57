//! Data-parallel training over MPI, proven against one process (`cargo test --features
//! mpi --test mpi`). Run by cargo, this binary starts itself under `mpirun -n 2` once per
//! case and checks what the job did; under `mpirun` (Open MPI sets
//! `OMPI_COMM_WORLD_RANK`) it runs the case it was given.
//!
//! - `equal-cpu` / `equal-gpu`: two ranks with batch 32 each, after 20 Adam steps, hold the
//!   parameters of one process trained with batch 64, to 1e-6 (see `TOLERANCE`);
//! - `buckets`: the same with 5.5 million parameters (and SGD, two steps), all-reduced in
//!   two buckets;
//! - `mismatch`: ranks whose models differ are told so on every rank, before training;
//! - `bad-data`: NaN data on one rank fails the step on every rank, and no rank updates;
//! - `short-data`: a rank whose batch is refused (too few values) ends the job with its
//!   error, instead of leaving the other rank waiting in the all-reduce;
//! - `panic` and `killed`: a rank that panics, or is killed, ends the job on every rank
//!   (nonzero exit, well within the time limit) instead of leaving the other waiting;
//! - `mlp --data-parallel` under `mpirun -n 2`: two epochs in one run, and one epoch then
//!   `--resume` to two, write the same bytes (model and training state).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use backprop::data_parallel::DataParallel;
use backprop::{init, Device, Graph, NodeId, Optimizer};
use rand::Rng;

const STEPS: usize = 20;
/// The 5-million-parameter model's steps: past the first few, a ReLU whose input lies
/// within rounding of 0 in one run and not the other changes a whole unit's gradient (of
/// millions of units, some do), which is no longer the summation order's difference.
const WIDE_STEPS: usize = 2;
const GLOBAL_BATCH: usize = 64;
const FEATURES: usize = 20;
const CLASSES: usize = 4;
/// The two runs differ only in how the batch's gradient is summed (one mean over 64 rows
/// against the mean of two means over 32), a relative difference of a few units in the
/// last place of each gradient; Adam's step is at most the learning rate (1e-3) times a
/// ratio those differences move by about as much, so 20 steps stay far below 1e-6.
const TOLERANCE: f32 = 1e-6;
const JOB_LIMIT: Duration = Duration::from_secs(120);

/// Adam, but SGD for the 5-million-parameter model of `buckets`: among that many
/// gradients some are sums that cancel to almost nothing, which Adam scales up to a full
/// step whose sign the summation order decides; SGD keeps each difference as small as the
/// gradient's own.
fn optimizer(hidden: usize) -> (&'static str, Optimizer) {
    match hidden > 1000 {
        true => ("SGD", Optimizer::sgd(0.01)),
        false => ("Adam", Optimizer::adam(1e-3)),
    }
}

fn steps(hidden: usize) -> usize {
    if hidden > 1000 {
        WIDE_STEPS
    } else {
        STEPS
    }
}

/// The MLP of the case (hidden width `hidden`) on `rows` rows, its optimizer reading
/// averaged gradients when `data_parallel`.
struct Net {
    graph: Graph,
    x: NodeId,
    t: NodeId,
    loss: NodeId,
    params: Vec<NodeId>,
    inputs: Option<backprop::data_parallel::GradientInputs>,
}

fn net(rows: usize, hidden: usize, data_parallel: bool) -> backprop::Result<Net> {
    let mut rng = init::rng(7);
    let mut g = Graph::new();
    let x = g.input("x", [rows, FEATURES])?;
    let t = g.input("t", [rows, CLASSES])?;
    let w1 = g.parameter(
        "0.weight",
        [FEATURES, hidden],
        (0..FEATURES * hidden).map(|_| rng.random_range(-0.3..0.3)).collect(),
    )?;
    let b1 = g.parameter("0.bias", [1, hidden], vec![0.01; hidden])?;
    let w2 = g.parameter(
        "2.weight",
        [hidden, CLASSES],
        // Scaled by √(16 / hidden), so that the wide model's logits stay those of a small one.
        (0..hidden * CLASSES).map(|_| rng.random_range(-0.3..0.3) * (16.0 / hidden as f32).sqrt()).collect(),
    )?;
    let b2 = g.parameter("2.bias", [1, CLASSES], vec![0.0; CLASSES])?;
    let h = g.matmul(x, w1)?;
    let h = g.add(h, b1)?;
    let h = g.relu(h)?;
    let o = g.matmul(h, w2)?;
    let o = g.add(o, b2)?;
    let loss = g.softmax_cross_entropy(o, t)?;
    let grads = g.backward(loss)?;
    let inputs = match data_parallel {
        true => {
            let inputs = g.gradient_inputs(&grads)?;
            g.optimize(&inputs.gradients, optimizer(hidden).1)?;
            Some(inputs)
        }
        false => {
            g.optimize(&grads, optimizer(hidden).1)?;
            None
        }
    };
    Ok(Net { graph: g, x, t, loss, params: vec![w1, b1, w2, b2], inputs })
}

/// Global batch `step`: inputs and one-hot targets, the same on every rank (drawn from a
/// seed shared by all).
fn batch(step: usize) -> (Vec<f32>, Vec<f32>) {
    let mut rng = init::rng(1000 + step as u64);
    let x = (0..GLOBAL_BATCH * FEATURES).map(|_| rng.random_range(-1.0..1.0)).collect();
    let mut t = vec![0.0; GLOBAL_BATCH * CLASSES];
    for row in 0..GLOBAL_BATCH {
        t[row * CLASSES + rng.random_range(0..CLASSES)] = 1.0;
    }
    (x, t)
}

fn device(case: &str) -> Device {
    match case {
        "equal-gpu" => Device::gpu().expect("a GPU adapter (lavapipe counts)"),
        _ => Device::Cpu,
    }
}

/// What one rank does under `mpirun`.
fn rank_main(world: &mpi::topology::SimpleCommunicator, case: &str) -> backprop::Result<()> {
    let (rank, size) =
        (mpi::traits::Communicator::rank(world) as usize, mpi::traits::Communicator::size(world) as usize);
    let rows = GLOBAL_BATCH / size;
    let hidden = match case {
        "mismatch" if rank == 1 => 17,
        // 5.5 million parameters: more than one all-reduce bucket.
        "buckets" => 220_000,
        _ => 16,
    };
    let device = device(case);
    let n = net(rows, hidden, true)?;
    let inputs = n.inputs.clone().expect("data-parallel inputs");
    let mut trainer = match DataParallel::new(world, &device, &n.graph, &inputs, &[n.loss]) {
        Err(e) if case == "mismatch" => {
            println!("rank {rank}: refused before training: {e}");
            return Ok(());
        }
        other => other?,
    };
    for step in 0..steps(hidden) {
        let (x, mut t) = batch(step);
        if case == "bad-data" && rank == 1 && step == 3 {
            t[rank * rows * CLASSES + 5] = f32::NAN;
        }
        let width = if case == "short-data" && rank == 1 && step == 3 { FEATURES - 1 } else { FEATURES };
        if case == "panic" && rank == 1 && step == 3 {
            panic!("rank 1 panics at step 3 on purpose");
        }
        if case == "killed" && rank == 1 && step == 3 {
            let _ = Command::new("kill").args(["-9", &std::process::id().to_string()]).status();
        }
        trainer.session().write(n.x, &x[rank * rows * FEATURES..][..rows * width])?;
        trainer.session().write(n.t, &t[rank * rows * CLASSES..][..rows * CLASSES])?;
        if let Err(e) = trainer.step() {
            println!("rank {rank}: step {step} failed: {e}");
            // Every rank saw the failure in the same all-reduce: all stop here together.
            std::process::exit(3);
        }
    }
    let ours = trainer.parameters()?;
    // Rank 0 compares; every rank waits for its verdict, so that none has finalized MPI
    // when a failed comparison ends the job.
    let mut verdict = [0.0f32];
    if rank == 0 {
        let single = single_process(&device, hidden)?;
        let worst =
            ours.iter().flatten().zip(single.iter().flatten()).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        let optimizer = optimizer(hidden).0;
        println!("{size} ranks × batch {rows} vs one process × batch {GLOBAL_BATCH}, {} {optimizer} steps on {}: largest parameter difference {worst:.2e}", steps(hidden), device.name());
        verdict[0] = f32::from(u8::from(worst <= TOLERANCE));
    }
    backprop::data_parallel::Collective::broadcast(world, &mut verdict)?;
    if verdict[0] == 0.0 {
        let msg = format!("the parameters differ from one process's by more than {TOLERANCE}");
        return Err(backprop::Error::Distributed { msg });
    }
    if rank == 0 {
        println!("equal");
    }
    Ok(())
}

/// The same training in one process with the whole batch.
fn single_process(device: &Device, hidden: usize) -> backprop::Result<Vec<Vec<f32>>> {
    let n = net(GLOBAL_BATCH, hidden, false)?;
    let mut session = device.compile(&n.graph, &[n.loss])?;
    for step in 0..steps(hidden) {
        let (x, t) = batch(step);
        session.write(n.x, &x)?;
        session.write(n.t, &t)?;
        session.run()?;
    }
    session.read_many(&n.params)
}

/// Runs `case` under `mpirun -n 2`; returns its exit status (None: it did not end in
/// time and was killed), its output, and how long it took.
fn job(case: &str) -> (Option<i32>, String, Duration) {
    let me = std::env::current_exe().expect("this test's path");
    let start = Instant::now();
    let mut child = Command::new("mpirun")
        .args(["--allow-run-as-root", "--oversubscribe", "-n", "2"])
        .arg(me)
        .arg(case)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mpirun (apt-get install openmpi-bin)");
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for mpirun") {
            break status.code();
        }
        if start.elapsed() > JOB_LIMIT {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().expect("mpirun's output");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (status, text, start.elapsed())
}

fn check(case: &str, ok: impl Fn(Option<i32>, &str) -> bool, what: &str) -> bool {
    let (status, out, took) = job(case);
    let passed = ok(status, &out);
    let verdict = if passed { "ok" } else { "FAILED" };
    println!("{case}: {verdict} ({what}; exit {status:?} after {:.1} s)", took.as_secs_f64());
    if !passed || std::env::var_os("MPI_TEST_VERBOSE").is_some() {
        println!("{}", out.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n"));
    }
    passed
}

/// `mlp --data-parallel` run by `mpirun -n 2` in `dir` with `flags`.
fn mlp(dir: &std::path::Path, flags: &[&str]) -> bool {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let status = Command::new("mpirun")
        .args(["--allow-run-as-root", "--oversubscribe", "-n", "2"])
        .arg(root.join("target/debug/examples/mlp"))
        .args(["--data-parallel", "--backend", "cpu", "--limit", "640"])
        .args(flags)
        .current_dir(dir)
        .stdout(Stdio::null())
        .status();
    status.is_ok_and(|s| s.success())
}

fn resume_is_bit_for_bit() -> bool {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(cargo).args(["build", "--quiet", "--features", "mpi", "--example", "mlp"]).status();
    assert!(built.is_ok_and(|s| s.success()), "building the mlp example with the mpi feature");
    let dir = std::env::temp_dir().join(format!("backprop-mpi-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let start = Instant::now();
    let ran = mlp(&dir, &["--epochs", "2", "--save", "whole.safetensors"])
        && mlp(&dir, &["--epochs", "1", "--save", "resumed.safetensors"])
        && mlp(&dir, &["--epochs", "2", "--resume", "resumed.safetensors", "--save", "resumed.safetensors"]);
    let read = |name: &str| std::fs::read(dir.join(name)).unwrap_or_default();
    let same = ["", ".train-state"].iter().all(|part| {
        let (a, b) = (read(&format!("whole{part}.safetensors")), read(&format!("resumed{part}.safetensors")));
        !a.is_empty() && a == b
    });
    let _ = std::fs::remove_dir_all(&dir);
    let passed = ran && same;
    let verdict = if passed { "ok" } else { "FAILED" };
    println!(
        "mlp-resume: {verdict} (2 epochs = 1 epoch + --resume to 2, bytes of model and state; {:.1} s)",
        start.elapsed().as_secs_f64()
    );
    passed
}

fn main() {
    if std::env::var_os("OMPI_COMM_WORLD_RANK").is_some() {
        let case = std::env::args().nth(1).unwrap_or_default();
        let universe = mpi::initialize().expect("MPI initialises once");
        backprop::mpi::abort_on_panic();
        // Ended while `universe` lives: dropping it finalizes MPI, which waits for every
        // rank, and the others may be waiting in a collective for this one.
        if let Err(e) = rank_main(&universe.world(), &case) {
            println!("error: {e}");
            backprop::mpi::abort_with(2);
        }
        return;
    }
    let both = |out: &str, text: &str| out.matches(text).count() == 2;
    let mut passed = vec![
        check("equal-cpu", |s, out| s == Some(0) && out.contains("equal"), "parameters of one process"),
        check("buckets", |s, out| s == Some(0) && out.contains("equal"), "a model of two all-reduce buckets"),
        check("mismatch", |s, out| s == Some(0) && both(out, "differ from rank 0's"), "refused on both ranks"),
        check(
            "bad-data",
            |s, out| s == Some(3) && both(out, "1 of 2 ranks failed this step"),
            "the step fails on both ranks",
        ),
        check("short-data", |s, out| s == Some(2) && out.contains("error: node x: got"), "the job ends with the error"),
        check("panic", |s, out| s.is_some_and(|c| c != 0) && out.contains("panics at step 3"), "the job ends"),
        check("killed", |s, _| s.is_some_and(|c| c != 0), "the job ends"),
        resume_is_bit_for_bit(),
    ];
    match Device::gpu() {
        Ok(_) => passed.push(check(
            "equal-gpu",
            |s, out| s == Some(0) && out.contains("equal"),
            "parameters of one process, GPU",
        )),
        Err(e) if std::env::var_os("REQUIRE_GPU").is_some() => {
            panic!("REQUIRE_GPU is set but there is no adapter: {e}")
        }
        Err(_) => println!("equal-gpu: SKIPPED (no GPU adapter)"),
    }
    assert!(passed.iter().all(|p| *p), "some MPI cases failed (output above)");
}
