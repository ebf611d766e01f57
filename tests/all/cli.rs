//! The examples run as a user runs them, with bad input as well as good. `cargo test`
//! builds the example binaries beside the test binary (target/<profile>/examples).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use backprop::data::idx;
use backprop::{checkpoint, resume};

/// What a finished run printed.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

fn example_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let path = profile_dir.join("examples").join(name);
    assert!(path.exists(), "{} is missing: `cargo test` builds the examples before the tests", path.display());
    let built = std::fs::metadata(&path).unwrap().modified().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // What the binary is built from: the library, the shared flags, and its own file or
    // directory (another example's change does not rebuild it).
    let own = [root.join("examples").join(format!("{name}.rs")), root.join("examples").join(name)];
    let sources =
        [root.join("src"), root.join("examples/common")].into_iter().chain(own.into_iter().filter(|p| p.exists()));
    let newest = sources.map(|p| newest_change(&p)).max().unwrap();
    assert!(built >= newest, "{} is older than the sources: run plain `cargo test`, which rebuilds it", path.display());
    path
}

/// When the newest file under `dir` (or the file `dir` itself) last changed.
fn newest_change(dir: &Path) -> std::time::SystemTime {
    if dir.is_file() {
        return std::fs::metadata(dir).unwrap().modified().unwrap();
    }
    let mut newest = std::time::SystemTime::UNIX_EPOCH;
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        let changed = if meta.is_dir() { newest_change(&entry.path()) } else { meta.modified().unwrap() };
        newest = newest.max(changed);
    }
    newest
}

/// Runs example `name` with `args` in `dir`, failing the test if it takes over two
/// minutes (a hang).
pub fn run<S: AsRef<std::ffi::OsStr>>(name: &str, args: &[S], dir: &Path) -> Run {
    let mut child = Command::new(example_path(name))
        .args(args)
        .current_dir(dir)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            let args: Vec<_> = args.iter().map(|a| a.as_ref().to_string_lossy().into_owned()).collect();
            panic!("{name} {args:?} did not finish in two minutes");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    Run { code: out.status.code().unwrap_or(-1), stdout: text(out.stdout), stderr: text(out.stderr) }
}

fn fails_with(run: &Run, needles: &[&str]) {
    assert_ne!(run.code, 0, "expected a failure; stdout: {}", run.stdout);
    for needle in needles {
        assert!(run.stderr.contains(needle), "stderr lacks {needle:?}:\n{}", run.stderr);
    }
    for dump in ["panicked", "Os {", "Error(", "RUST_BACKTRACE"] {
        assert!(!run.stderr.contains(dump), "stderr holds {dump:?}:\n{}", run.stderr);
    }
}

/// A small MNIST-format directory: 28×28 images whose brightest row is the label.
fn mnist_dir(dir: &Path) -> PathBuf {
    let data = dir.join("mnist");
    std::fs::create_dir_all(&data).unwrap();
    for (prefix, n) in [("train", 300usize), ("t10k", 100)] {
        let labels: Vec<u8> = (0..n).map(|i| (i * 7 % 10) as u8).collect();
        let mut pixels = vec![0u8; n * 784];
        for (i, &l) in labels.iter().enumerate() {
            let row = 3 + 2 * l as usize;
            pixels[i * 784 + row * 28..i * 784 + row * 28 + 28].fill(200 + (i % 50) as u8);
        }
        std::fs::write(data.join(format!("{prefix}-images-idx3-ubyte")), idx::encode(&[n, 28, 28], &pixels)).unwrap();
        std::fs::write(data.join(format!("{prefix}-labels-idx1-ubyte")), idx::encode(&[n], &labels)).unwrap();
    }
    data
}

pub fn mlp_flags_out_of_range_name_the_flag_and_the_range() {
    let dir = crate::files::temp_dir("cli-flags");
    let cases = [
        ("--batch", "18446744073709551615"),
        ("--batch", "10000000000"),
        ("--batch", "-1"),
        ("--batch", "0"),
        ("--lr", "-1"),
        ("--lr", "nan"),
        ("--clip-norm", "-1"),
        ("--epochs", "-1"),
        ("--seed", "-1"),
        ("--limit", "0"),
    ];
    for (flag, value) in cases {
        let out = run("mlp", &[flag, value], &dir);
        fails_with(&out, &[flag, "must be"]);
        assert!(!out.stderr.contains("unexpected argument"), "{flag} {value}: {}", out.stderr);
    }
    fails_with(&run("mlp", &["--backend", "tpu"], &dir), &["--backend", "auto", "gpu", "cpu"]);
    std::fs::remove_dir_all(dir).unwrap();
}

/// Every output is checked before training: a bad one fails at once, nothing is trained
/// or written, and no two outputs share a file.
pub fn mlp_checks_every_output_before_training() {
    let dir = crate::files::temp_dir("cli-outputs");
    let data = mnist_dir(&dir);
    let data = data.to_str().unwrap();
    let base = ["--backend", "cpu", "--data", data, "--epochs", "1"];
    let with = |extra: &[&str]| -> Vec<String> { base.iter().chain(extra).map(|s| s.to_string()).collect() };
    let out = run("mlp", &with(&["--grad-flow", "/missing/dir/f.png", "--save", "m.safetensors"]), &dir);
    fails_with(&out, &["--grad-flow", "/missing/dir", "does not exist"]);
    assert!(!out.stdout.contains("epoch"), "nothing trained");
    assert!(!dir.join("m.safetensors").exists());
    let dir_str = dir.to_str().unwrap();
    fails_with(&run("mlp", &with(&["--save", dir_str]), &dir), &["--save", "is a directory"]);
    fails_with(&run("mlp", &with(&["--plot", "/proc/chart.png"]), &dir), &["--plot", "/proc/chart.png"]);
    fails_with(&run("mlp", &with(&["--save", "a.png", "--plot", "a.png"]), &dir), &["both name a.png"]);
    let no_epochs = ["--backend", "cpu", "--data", data, "--epochs", "0", "--grad-flow", "f.png"];
    fails_with(&run("mlp", &no_epochs, &dir), &["--grad-flow", "--epochs 1"]);
    let stray: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(stray, vec![std::ffi::OsString::from("mnist")], "no file was written");
    std::fs::remove_dir_all(dir).unwrap();
}

/// `--save model.png` keeps the checkpoint: the default chart goes beside it.
pub fn mlp_save_named_like_a_chart_keeps_the_checkpoint() {
    let dir = crate::files::temp_dir("cli-save-png");
    let data = mnist_dir(&dir);
    let out = run(
        "mlp",
        &["--backend", "cpu", "--data", data.to_str().unwrap(), "--epochs", "1", "--save", "model.png"],
        &dir,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(checkpoint::load(&dir.join("model.png")).unwrap().len(), 6, "the checkpoint survived");
    assert!(std::fs::read(dir.join("model.curves.png")).unwrap().starts_with(b"\x89PNG"));
    std::fs::remove_dir_all(dir).unwrap();
}

/// Two epochs in one run equal one epoch, a stop, and `--resume` to two, bit for bit.
pub fn mlp_resume_continues_bit_for_bit() {
    let dir = crate::files::temp_dir("cli-resume");
    let data = mnist_dir(&dir);
    let data = data.to_str().unwrap();
    let train = |extra: &[&str]| {
        let args = [&["--backend", "cpu", "--data", data, "--batch", "32", "--seed", "3"][..], extra].concat();
        let out = run("mlp", &args, &dir);
        assert_eq!(out.code, 0, "{extra:?}: {}", out.stderr);
        out
    };
    train(&["--epochs", "2", "--save", "straight.safetensors"]);
    train(&["--epochs", "1", "--save", "stopped.safetensors"]);
    let out = train(&["--epochs", "2", "--resume", "stopped.safetensors", "--save", "stopped.safetensors"]);
    assert!(out.stdout.contains("resuming") && out.stdout.contains("epoch  2/2") && !out.stdout.contains("epoch  1/2"));
    let bytes = |name: &str| std::fs::read(dir.join(name)).unwrap();
    assert!(bytes("straight.safetensors") == bytes("stopped.safetensors"), "parameters differ");
    let state = |name: &str| checkpoint::load(&resume::state_path(&dir.join(name))).unwrap();
    assert!(state("straight.safetensors") == state("stopped.safetensors"), "optimizer states differ");
    let conflicting =
        run("mlp", &["--backend", "cpu", "--data", data, "--resume", "stopped.safetensors", "--batch", "64"], &dir);
    fails_with(&conflicting, &["--batch 64 differs from the checkpoint's 32"]);
    std::fs::remove_dir_all(dir).unwrap();
}

/// A diverging run (lr 1e30) ends, warns, and draws its chart of NaN.
pub fn mlp_diverging_run_finishes() {
    let dir = crate::files::temp_dir("cli-diverge");
    let data = mnist_dir(&dir);
    let args =
        ["--backend", "cpu", "--data", data.to_str().unwrap(), "--epochs", "2", "--lr", "1e30", "--plot", "c.svg"];
    let out = run("mlp", &args, &dir);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("NaN") && out.stderr.contains("training diverged"), "{}", out.stderr);
    assert!(std::fs::read_to_string(dir.join("c.svg")).unwrap().contains("NaN/Inf values not drawn"));
    std::fs::remove_dir_all(dir).unwrap();
}

/// A damaged data directory is an error naming the file.
pub fn mlp_damaged_data_names_the_file() {
    let dir = crate::files::temp_dir("cli-damaged");
    let data = mnist_dir(&dir);
    std::fs::write(data.join("t10k-labels-idx1-ubyte"), b"\x00\x00\x08\x01\x00").unwrap();
    let out = run("mlp", &["--backend", "cpu", "--data", data.to_str().unwrap()], &dir);
    fails_with(&out, &["t10k-labels-idx1-ubyte", "truncated"]);
    std::fs::remove_dir_all(dir).unwrap();
}

pub fn vanishing_gradients_checks_depth_and_titles_with_it() {
    let dir = crate::files::temp_dir("cli-vanishing");
    let out = run("vanishing_gradients", &["--depth", "0"], &dir);
    fails_with(&out, &["--depth", "must be a whole number from 1 to 100"]);
    let args = ["--backend", "cpu", "--depth", "3", "--plot", "v.svg", "--grad-flow", "f.svg"];
    let out = run("vanishing_gradients", &args, &dir);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(std::fs::read_to_string(dir.join("f.svg")).unwrap().contains("3 sigmoid blocks"));
    std::fs::remove_dir_all(dir).unwrap();
}

/// The README's example learns XOR on every backend it is given.
pub fn readme_example_learns_xor() {
    let dir = crate::files::temp_dir("cli-readme");
    for backend in ["cpu", "auto"] {
        let out = run("readme", &["--backend", backend], &dir);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let list = out.stdout.split("predictions [").nth(1).and_then(|s| s.split(']').next()).unwrap();
        let rounded: Vec<f32> = list.split(", ").map(|p| p.parse::<f32>().unwrap().round()).collect();
        assert_eq!(rounded, vec![0.0, 1.0, 1.0, 0.0], "{}", out.stdout);
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// Without `--backend`, a software rasterizer is never chosen: with only lavapipe (as in
/// CI) the examples train on the CPU backend and say why.
pub fn the_default_device_is_never_a_software_rasterizer() {
    let dir = crate::files::temp_dir("cli-default-device");
    let out = run("xor", &["--epochs", "10"], &dir);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let line = out.stdout.lines().find(|l| l.starts_with("device: ")).unwrap().to_lowercase();
    let software = ["llvmpipe", "lavapipe", "swiftshader", "warp", "basic render"];
    if line.starts_with("device: gpu") {
        assert!(!software.iter().any(|s| line.split(" — ").next().unwrap().contains(s)), "{line}");
    } else {
        assert!(line.starts_with("device: cpu (reference) — "), "{line}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// The pictures of the textbook: the autograd graph with 11 and 7 on it, the XOR training
/// step, and the XOR decision regions.
pub fn examples_draw_graphs_and_decision_regions() {
    let dir = crate::files::temp_dir("cli-pictures");
    let out = run("autograd", &["--backend", "cpu", "--graph", "autograd.svg"], &dir);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let svg = std::fs::read_to_string(dir.join("autograd.svg")).unwrap();
    for text in ["= 11", "= 7", "∂y/∂x", "∂y/∂y", "square"] {
        assert!(svg.contains(text), "the autograd graph lacks {text:?}");
    }
    let args = ["--backend", "cpu", "--epochs", "2000", "--graph", "xor.svg", "--boundary", "regions.png"];
    let out = run("xor", &args, &dir);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let svg = std::fs::read_to_string(dir.join("xor.svg")).unwrap();
    for text in ["∂loss/∂w1", "∂loss/∂b2", "w2 ← sgd_update", "mse_loss", "prediction"] {
        assert!(svg.contains(text), "the xor graph lacks {text:?}");
    }
    assert!(std::fs::read(dir.join("regions.png")).unwrap().starts_with(b"\x89PNG"));
    let same = run("xor", &["--graph", "a.png", "--boundary", "a.png"], &dir);
    fails_with(&same, &["--graph and --boundary both name a.png"]);
    std::fs::remove_dir_all(dir).unwrap();
}

/// The two-moons example (layer norm, AdamW, a cosine schedule, binary cross-entropy)
/// reaches 97% on held-out points and draws its regions; bad flags are refused first.
pub fn moons_learns_the_two_moons() {
    let dir = crate::files::temp_dir("cli-moons");
    let out = run("moons", &["--backend", "cpu", "--steps", "300", "--boundary", "moons.svg"], &dir);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let line = out.stdout.lines().find(|l| l.starts_with("test accuracy: ")).unwrap();
    let accuracy: f32 = line["test accuracy: ".len()..].split(' ').next().unwrap().parse().unwrap();
    assert!(accuracy >= 0.97, "{line}");
    assert!(out.stdout.contains("learning rate 0.00100"), "the cosine schedule ends at a tenth: {}", out.stdout);
    let svg = std::fs::read_to_string(dir.join("moons.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("Two moons"));
    fails_with(&run("moons", &["--steps", "0"], &dir), &["--steps", "from 1"]);
    fails_with(&run("moons", &["--boundary", "moons.txt"], &dir), &["--boundary", ".png or .svg"]);
    std::fs::remove_dir_all(dir).unwrap();
}

/// The custom-op example registers swish from outside the crate, checks it and mish with
/// the exported helpers, and fits a sine with it.
pub fn custom_op_example_adds_swish_from_outside() {
    let dir = crate::files::temp_dir("cli-custom-op");
    let out = run("custom_op", &["--backend", "cpu", "--steps", "500"], &dir);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for line in ["swish: the gradient of 20 values agrees", "mish: the gradient of 20 values agrees", "fit sin(x)"] {
        assert!(out.stdout.contains(line), "{}", out.stdout);
    }
    let error: f32 =
        out.stdout.split("mean squared error ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(error < 1e-3, "{}", out.stdout);
    std::fs::remove_dir_all(dir).unwrap();
}

/// Inputs are never overwritten by an output, the trained model survives a closed
/// stdout, and a diverged run is not saved over a good checkpoint.
pub fn mlp_never_loses_a_model() {
    let dir = crate::files::temp_dir("cli-keep");
    let data = mnist_dir(&dir);
    let data = data.to_str().unwrap();
    let base = ["--backend", "cpu", "--data", data];
    let with = |extra: &[&str]| -> Vec<String> { base.iter().chain(extra).map(|s| s.to_string()).collect() };
    assert_eq!(run("mlp", &with(&["--epochs", "1", "--save", "good.safetensors"]), &dir).code, 0);
    let good = std::fs::read(dir.join("good.safetensors")).unwrap();
    let out = run("mlp", &with(&["--epochs", "1", "--load", "good.safetensors", "--plot", "good.safetensors"]), &dir);
    fails_with(&out, &["--plot and --load both name good.safetensors"]);
    let out = run(
        "mlp",
        &with(&["--resume", "good.safetensors", "--epochs", "2", "--plot", "good.train-state.safetensors"]),
        &dir,
    );
    fails_with(&out, &["both name good.train-state.safetensors"]);
    let out = run("mlp", &with(&["--epochs", "1", "--lr", "1e30", "--save", "good.safetensors"]), &dir);
    fails_with(&out, &["diverged", "not saved over good.safetensors"]);
    assert!(std::fs::read(dir.join("good.safetensors")).unwrap() == good, "the good checkpoint is intact");
    let conflicting = with(&["--resume", "good.safetensors", "--epochs", "2", "--clip-norm", "1"]);
    fails_with(&run("mlp", &conflicting, &dir), &["--clip-norm 1 differs from the checkpoint's none"]);
    // stdout closed at once: the lines are lost, the model is not.
    let mut child = std::process::Command::new(example_path("mlp"))
        .args(with(&["--epochs", "1", "--save", "piped.safetensors"]))
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert_eq!(checkpoint::load(&dir.join("piped.safetensors")).unwrap().len(), 6);
    // A batch beyond the data set trains as one batch of the whole set, quickly.
    let out = run("mlp", &with(&["--epochs", "1", "--batch", "1048576", "--limit", "100"]), &dir);
    assert_eq!(out.code, 0, "{}", out.stderr);
    std::fs::remove_dir_all(dir).unwrap();
}

/// The README's code is the examples' code: every line of its two Rust blocks is in
/// `examples/quickstart.rs` and `examples/readme.rs`, which the tests run.
pub fn the_readme_shows_the_examples_code() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let blocks: Vec<&str> = readme.split("```rust\n").skip(1).map(|b| b.split("```").next().unwrap()).collect();
    assert!(blocks.len() >= 2, "the README has its two examples");
    for (block, file) in blocks.iter().zip(["examples/quickstart.rs", "examples/readme.rs"]) {
        let source = std::fs::read_to_string(root.join(file)).unwrap();
        for line in block.lines().filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with("// epoch")) {
            assert!(source.contains(line.trim()), "README line not in {file}: {line}");
        }
    }
}

/// The README's first example trains three epochs on the shipped split and writes a
/// checkpoint with PyTorch's names.
pub fn quickstart_trains_and_saves() {
    let dir = crate::files::temp_dir("cli-quickstart");
    let out = run("quickstart", &[] as &[&str], &dir);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let last = out.stdout.lines().last().unwrap();
    let accuracy: f32 = last.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(last.starts_with("epoch 3:") && accuracy > 0.7, "{}", out.stdout);
    let names: Vec<String> =
        checkpoint::load(&dir.join("quickstart.safetensors")).unwrap().into_iter().map(|t| t.name).collect();
    assert!(names.contains(&"0.weight".to_owned()) && names.len() == 6, "{names:?}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// The attention example (embeddings, causal self-attention, layer norms, an MLP, on
/// tensors of rank 3 and 4) learns to reverse digits, draws its attention and saves a
/// checkpoint under PyTorch's names and shapes; bad flags are refused first.
pub fn attention_learns_to_reverse_digits() {
    let dir = crate::files::temp_dir("cli-attention");
    let args = [
        "--backend",
        "cpu",
        "--steps",
        "300",
        "--held-out",
        "200",
        "--attention",
        "att.svg",
        "--save",
        "att.safetensors",
    ];
    let out = run("attention", &args, &dir);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let line = out.stdout.lines().find(|l| l.starts_with("held-out per-token accuracy: ")).unwrap();
    let accuracy: f32 = line["held-out per-token accuracy: ".len()..].split('%').next().unwrap().parse().unwrap();
    assert!(accuracy >= 99.0, "{line}");
    let svg = std::fs::read_to_string(dir.join("att.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("attention"));
    let saved = backprop::checkpoint::load(&dir.join("att.safetensors")).unwrap();
    let shape_of = |name: &str| saved.iter().find(|t| t.name == name).map(|t| t.shape.clone());
    assert_eq!(saved.len(), 18);
    assert_eq!(shape_of("attn.qkv.weight"), Some(vec![192, 64]), "PyTorch's Linear layout, [out, in]");
    assert_eq!(shape_of("ln1.weight"), Some(vec![64]));
    assert_eq!(shape_of("pos_emb.weight"), Some(vec![16, 64]));
    fails_with(&run("attention", &["--width", "63"], &dir), &["--width 63", "--heads 2"]);
    fails_with(&run("attention", &["--attention", "a.txt"], &dir), &[".png or .svg"]);
    std::fs::remove_dir_all(dir).unwrap();
}

/// The layers example: a custom activation and a user's residual block in `Sequential`,
/// trained by `Classifier` with a custom loss and a per-step schedule; two epochs then two
/// resumed equal four straight, and PyTorch's names come out.
pub fn layers_example_trains_saves_and_resumes() {
    let dir = crate::files::temp_dir("cli-layers");
    let cpu = ["--backend", "cpu"];
    let epochs = |n: &'static str, extra: &[&'static str]| -> Vec<&'static str> {
        cpu.iter().copied().chain(["--epochs", n]).chain(extra.iter().copied()).collect()
    };
    let straight = run("layers", &epochs("4", &[]), &dir);
    assert_eq!(straight.code, 0, "{}", straight.stderr);
    assert!(straight.stdout.contains("2.body.0.weight [128, 128]"), "{}", straight.stdout);
    let first = run("layers", &epochs("2", &["--save", "l.safetensors"]), &dir);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let resumed = run("layers", &epochs("4", &["--resume", "l.safetensors", "--save", "l.safetensors"]), &dir);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    let accuracy = |out: &str, epoch: &str| -> String {
        let line = out.lines().find(|l| l.starts_with(&format!("epoch {epoch}:"))).unwrap();
        line.split(" (").next().unwrap().to_owned()
    };
    assert_eq!(accuracy(&resumed.stdout, "4"), accuracy(&straight.stdout, "4"), "resumed exactly");
    let last: f32 =
        accuracy(&straight.stdout, "4").split("accuracy ").nth(1).unwrap().trim_end_matches('%').parse().unwrap();
    assert!(last > 80.0, "{}", straight.stdout);
    std::fs::remove_dir_all(dir).unwrap();
}

/// The cnn example trains a few steps on the shipped split and draws its three pictures.
pub fn cnn_example_trains_and_draws() {
    let dir = crate::files::temp_dir("cli-cnn");
    let args = ["--backend", "cpu", "--epochs", "1", "--limit", "640", "--filters", "f.png", "--confusion", "c.svg"];
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    std::fs::create_dir_all(dir.join("fm")).unwrap();
    for (kind, file) in [("images-idx3", "t10k-images-idx3-ubyte.gz"), ("labels-idx1", "t10k-labels-idx1-ubyte.gz")] {
        for split in ["train", "t10k"] {
            std::fs::copy(data.join(file), dir.join("fm").join(format!("{split}-{kind}-ubyte.gz"))).unwrap();
        }
    }
    let with: Vec<&str> = args.iter().copied().chain(["--saliency", "s.png", "--data", "fm"]).collect();
    let out = run("cnn", &with, &dir);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("limited to 640 training and 640 test samples"), "{}", out.stdout);
    let accuracy: f32 = out.stdout.split("test accuracy ").nth(1).unwrap().split('%').next().unwrap().parse().unwrap();
    assert!(accuracy > 30.0, "ten steps learn something: {}", out.stdout);
    for picture in ["f.png", "c.svg", "s.png"] {
        assert!(std::fs::metadata(dir.join(picture)).unwrap().len() > 1000, "{picture} was drawn");
    }
    std::fs::remove_dir_all(dir).unwrap();
}
