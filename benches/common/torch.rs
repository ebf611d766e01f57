//! Runs `benches/torch_gpu.py` (PyTorch's side of the GPU benches) and reads its
//! `key: value` lines.

use std::path::Path;
use std::process::Command;

/// The script's output lines, or why it could not run.
pub fn run(args: &[&str]) -> Result<Vec<String>, String> {
    run_script("torch_gpu.py", args)
}

/// The output lines of `benches/<script>` run by python3 with `args`, or why it could
/// not run (the last line of its standard error).
pub fn run_script<S: AsRef<std::ffi::OsStr>>(script: &str, args: &[S]) -> Result<Vec<String>, String> {
    let local = Path::new("benches").join(script);
    let script = if local.exists() { local } else { Path::new(env!("CARGO_MANIFEST_DIR")).join(local) };
    let out = Command::new("python3").arg(script).args(args).output().map_err(|e| format!("python3: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(err.lines().last().unwrap_or("failed").to_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect())
}

/// The number after `key: ` in `lines`.
pub fn value(lines: &[String], key: &str) -> Option<f64> {
    lines.iter().find_map(|l| l.strip_prefix(key)?.strip_prefix(": ")?.trim().parse().ok())
}
