//! Files: output paths checked before work starts, charts that never hang on NaN,
//! checkpoints that never leave partial files, data errors that name the file.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use backprop::checkpoint;
use backprop::data::{idx, load_installed, load_mnist_dir};
use backprop::diagnostics::GradStat;
use backprop::nn::{Init, Layer, Sequential};
use backprop::output::{check_distinct, check_writable};
use backprop::plot::{gradient_flow, log_curves, training_curves, EpochRecord};
use backprop::{init, Error};

/// A fresh, empty directory for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    // Unique per call: a test run once per backend, in parallel, gets two directories.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("backprop-test-{name}-{}-{call}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `f` on another thread and fails if it takes longer than a minute (a hang).
fn within_a_minute<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || send.send(f()));
    receive.recv_timeout(Duration::from_secs(60)).unwrap_or_else(|_| panic!("{what} did not finish in a minute"))
}

fn assert_picture(path: &Path) {
    let bytes = std::fs::read(path).unwrap();
    let is_png = bytes.starts_with(b"\x89PNG\r\n\x1a\n");
    let is_svg = bytes.starts_with(b"<svg");
    assert!(is_png || is_svg, "{} is neither PNG nor SVG", path.display());
    assert!(bytes.len() > 2_000, "{} is too small to hold a chart", path.display());
}

/// The charts a diverged run produces: NaN and ±Inf everywhere, and nothing finite.
pub fn charts_of_nan_and_inf_finish_and_say_so() {
    let dir = temp_dir("nan-charts");
    let records = |loss: &[f32]| -> Vec<EpochRecord> {
        loss.iter().enumerate().map(|(i, &l)| EpochRecord { epoch: i + 1, train_loss: l, test_accuracy: 0.1 }).collect()
    };
    let stat = |v: f32| GradStat { name: "0.weight".into(), mean_abs: v, max_abs: v, norm: v };
    for ext in ["png", "svg"] {
        let curves = dir.join(format!("curves.{ext}"));
        let flow = dir.join(format!("flow.{ext}"));
        let log = dir.join(format!("log.{ext}"));
        let (c, f, l) = (curves.clone(), flow.clone(), log.clone());
        within_a_minute("charts of NaN", move || {
            training_curves(&c, &records(&[0.5, f32::NAN, f32::INFINITY])).unwrap();
            training_curves(&c, &records(&[f32::NAN, f32::NAN])).unwrap();
            gradient_flow(&f, "NaN", &[stat(f32::NAN), stat(f32::INFINITY), stat(1e-3)]).unwrap();
            gradient_flow(&f, "NaN", &[stat(f32::NAN)]).unwrap();
            log_curves(&l, "t", "y", &[("a".into(), vec![f32::NAN, 0.0, -1.0, f32::INFINITY])]).unwrap();
            log_curves(&l, "t", "y", &[("a".into(), vec![1.0, f32::NEG_INFINITY, 1e-3])]).unwrap();
        });
        [&curves, &flow, &log].into_iter().for_each(|p| assert_picture(p));
    }
    let svg = std::fs::read_to_string(dir.join("log.svg")).unwrap();
    assert!(svg.contains("1 NaN/Inf value not drawn"), "the chart says what it left out");
    std::fs::remove_dir_all(dir).unwrap();
}

pub fn output_paths_are_checked_before_any_work() {
    let dir = temp_dir("outputs");
    assert!(check_writable(&dir.join("ok.png")).is_ok());
    assert!(!dir.join("ok.png").exists(), "checking creates nothing");
    assert!(check_writable(&dir).unwrap_err().to_string().contains("is a directory"));
    let missing = dir.join("no/such/dir/f.png");
    assert!(check_writable(&missing).unwrap_err().to_string().contains("does not exist"));
    let file = dir.join("file");
    std::fs::write(&file, b"x").unwrap();
    assert!(check_writable(&file.join("f.png")).unwrap_err().to_string().contains("is not a directory"));
    let unwritable = Path::new("/proc/backprop-test.png");
    assert!(check_writable(unwritable).is_err(), "nobody, not even root, creates files in /proc");
    let a = dir.join("a.png");
    let same = dir.join(".").join("a.png");
    let text = check_distinct(&[("--save", &a), ("--plot", &same)]).unwrap_err().to_string();
    assert!(text.contains("--save and --plot both name"), "{text}");
    assert!(check_distinct(&[("--save", &a), ("--plot", &dir.join("b.png"))]).is_ok());
    std::fs::remove_dir_all(dir).unwrap();
}

/// Failed writes leave nothing behind and explain themselves without debug dumps.
pub fn failed_writes_leave_no_files_and_plain_messages() {
    let dir = temp_dir("failed-writes");
    let target = dir.join("taken.png");
    std::fs::create_dir(&target).unwrap();
    let model = Sequential::mlp(&[3, 2], Layer::Relu, Init::PyTorch, &mut init::rng(0)).unwrap();
    let text = checkpoint::save(&target, &model.state_dict()).unwrap_err().to_string();
    assert!(text.contains("is a directory"), "{text}");
    let records = [EpochRecord { epoch: 1, train_loss: 0.5, test_accuracy: 0.5 }];
    let text = training_curves(&target, &records).unwrap_err().to_string();
    assert!(text.contains("is a directory") && !text.contains("Os {") && !text.contains("Error("), "{text}");
    let text = training_curves(&dir.join("none/c.png"), &records).unwrap_err().to_string();
    assert!(text.contains("does not exist"), "{text}");
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, vec![std::ffi::OsString::from("taken.png")], "no partial or probe file is left");
    std::fs::remove_dir_all(dir).unwrap();
}

fn write_mnist_dir(dir: &Path, gz: bool) {
    let images = idx::encode(&[3, 2, 2], &[7; 12]);
    let labels = idx::encode(&[3], &[1, 2, 3]);
    for (stem, bytes) in [("train-images-idx3-ubyte", &images), ("train-labels-idx1-ubyte", &labels)]
        .into_iter()
        .chain([("t10k-images-idx3-ubyte", &images), ("t10k-labels-idx1-ubyte", &labels)])
    {
        let name = if gz { format!("{stem}.gz") } else { stem.to_owned() };
        std::fs::write(dir.join(name), if gz { crate::data::gzip(bytes) } else { bytes.clone() }).unwrap();
    }
}

/// A damaged installation is an error naming the file, never mistaken for a missing one.
pub fn a_damaged_installation_is_an_error_naming_the_file() {
    let dir = temp_dir("installed");
    assert!(load_installed(&dir.join("absent")).unwrap().is_none());
    assert!(load_installed(&dir).unwrap().is_none(), "an empty directory is not an installation");
    write_mnist_dir(&dir, true);
    assert_eq!(load_installed(&dir).unwrap().unwrap().0.len(), 3);
    let damaged = dir.join("t10k-labels-idx1-ubyte.gz");
    std::fs::write(&damaged, b"\x1f\x8b\x08\x00 not gzip").unwrap();
    let text = load_installed(&dir).unwrap_err().to_string();
    assert!(text.contains("t10k-labels-idx1-ubyte.gz") && text.contains("gzip"), "{text}");
    std::fs::remove_file(&damaged).unwrap();
    let text = load_installed(&dir).unwrap_err().to_string();
    assert!(text.contains("t10k-labels-idx1-ubyte") && text.contains("missing"), "{text}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// I/O errors name the path and say the operating system's reason once.
pub fn io_errors_name_the_path_and_the_reason_once() {
    let dir = temp_dir("io-errors");
    let err = load_mnist_dir(&dir.join("absent")).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("absent") && text.contains("No such file or directory"), "{text}");
    assert!(std::error::Error::source(&err).is_none(), "the cause is not repeated as a source");
    let file = dir.join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    assert!(load_mnist_dir(&file).unwrap_err().to_string().contains("not a directory"));
    assert!(matches!(checkpoint::load(&dir.join("absent.safetensors")), Err(Error::Io { .. })));
    write_mnist_dir(&dir, false);
    // Permission bits do not stop root; the check runs where they apply.
    #[cfg(unix)]
    if !is_root() {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o000)).unwrap();
        let text = load_mnist_dir(&dir).unwrap_err().to_string();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(text.contains("Permission denied"), "{text}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[cfg(unix)]
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}

#[cfg(unix)]
fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo").arg(path).status().expect("mkfifo runs");
    assert!(status.success());
}

/// Outputs never replace a device, a pipe or a link: a pipe is refused, and a link is
/// written through to its target. (Pipes and links as made here are Unix's.)
#[cfg(unix)]
pub fn outputs_refuse_pipes_and_write_through_links() {
    let dir = temp_dir("special-files");
    let fifo = dir.join("pipe.png");
    mkfifo(&fifo);
    for result in
        [check_writable(&fifo), checkpoint::save(&fifo, &[]), backprop::output::check_writable(Path::new("/dev/null"))]
    {
        assert!(result.unwrap_err().to_string().contains("not a regular file"));
    }
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "the pipe is still a pipe");
    std::fs::create_dir(dir.join("real")).unwrap();
    let link = dir.join("link.safetensors");
    std::os::unix::fs::symlink("real/target.safetensors", &link).unwrap();
    let model = Sequential::mlp(&[3, 2], Layer::Relu, Init::PyTorch, &mut init::rng(0)).unwrap();
    checkpoint::save(&link, &model.state_dict()).unwrap();
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link is still a link");
    assert_eq!(checkpoint::load(&dir.join("real/target.safetensors")).unwrap().len(), 2, "its target was written");
    std::fs::remove_dir_all(dir).unwrap();
}

/// Inputs must be regular files: a pipe or /dev/zero would never end.
#[cfg(unix)]
pub fn inputs_refuse_pipes_and_devices() {
    let dir = temp_dir("special-inputs");
    let fifo = dir.join("in.safetensors");
    mkfifo(&fifo);
    let text = within_a_minute("loading a pipe", move || checkpoint::load(&fifo).unwrap_err().to_string());
    assert!(text.contains("not a regular file"), "{text}");
    let text = checkpoint::load(Path::new("/dev/zero")).unwrap_err().to_string();
    assert!(text.contains("not a regular file"), "{text}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// Files written together are written together: when the second cannot be, the first
/// keeps its old contents and no temporary file is left.
pub fn files_written_together_fail_together() {
    let dir = temp_dir("together");
    let first = dir.join("model.safetensors");
    std::fs::write(&first, b"old").unwrap();
    let second = dir.join("missing/state.safetensors");
    let result = backprop::output::write_all_atomically(&[(&first, b"new"), (&second, b"new")]);
    assert!(result.unwrap_err().to_string().contains("does not exist"));
    assert_eq!(std::fs::read(&first).unwrap(), b"old");
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, vec![std::ffi::OsString::from("model.safetensors")], "no temporary file is left");
    // A name of 250 characters is fine: the temporary names do not grow with it.
    let long = dir.join(format!("{}.png", "x".repeat(246)));
    backprop::output::write_atomically(&long, b"data").unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}

pub fn charts_are_named_png_or_svg() {
    let dir = temp_dir("chart-names");
    let records = [EpochRecord { epoch: 1, train_loss: 0.5, test_accuracy: 0.5 }];
    for name in ["c.jpg", "c", "c.txt"] {
        let text = training_curves(&dir.join(name), &records).unwrap_err().to_string();
        assert!(text.contains(".png or .svg"), "{name}: {text}");
    }
    training_curves(&dir.join("c.PNG"), &records).unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}

#[cfg(not(unix))]
pub fn outputs_refuse_pipes_and_write_through_links() {}

#[cfg(not(unix))]
pub fn inputs_refuse_pipes_and_devices() {}
