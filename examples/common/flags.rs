//! Flag parsers shared by the examples: each error names the accepted range, and
//! negative numbers reach them (the commands set `allow_negative_numbers`). Each example
//! uses some of them.
#![allow(dead_code, unused_macros)]

/// `println!` that never panics: when stdout is a closed pipe (`| head`) or a full disk,
/// the line is dropped and the program goes on to save what it trained.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if !crate::flags::secondary_rank() {
            let _ = writeln!(std::io::stdout(), $($arg)*);
        }
    }};
}

/// Whether this process is an MPI rank other than 0 (Open MPI's or MPICH's variable says
/// so): in a data-parallel job only rank 0 prints progress.
pub fn secondary_rank() -> bool {
    ["OMPI_COMM_WORLD_RANK", "PMI_RANK"].iter().any(|v| std::env::var(v).is_ok_and(|rank| rank != "0"))
}

/// `eprintln!` that never panics, for warnings.
macro_rules! warn {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// A whole number in `min..=max`.
pub fn whole<T>(min: T, max: T) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static
where
    T: Copy + PartialOrd + std::fmt::Display + std::str::FromStr + Send + Sync + 'static,
{
    move |text: &str| {
        let range = format!("must be a whole number from {min} to {max}");
        match text.trim().parse::<T>() {
            Ok(v) if v >= min && v <= max => Ok(v),
            _ => Err(range),
        }
    }
}

/// A finite number greater than 0 and at most `max`.
pub fn positive(max: f32) -> impl Fn(&str) -> Result<f32, String> + Clone + Send + Sync + 'static {
    move |text: &str| match text.trim().parse::<f32>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= max => Ok(v),
        _ => Err(format!("must be a number greater than 0 and at most {max:e}")),
    }
}

/// The `--backend` values.
pub const BACKENDS: [&str; 3] = ["auto", "gpu", "cpu"];

// The `--backend` flag every example takes, flattened into its arguments. (A plain
// comment: clap would show a doc comment here as the example's own description.)
#[derive(clap::Args)]
pub struct Backend {
    /// Where to run: auto (a hardware GPU, else the CPU backend), gpu (any adapter,
    /// software rasterizers included) or cpu.
    #[arg(long = "backend", value_name = "BACKEND", default_value = "auto", value_parser = BACKENDS)]
    pub name: String,
}

impl Backend {
    /// Opens the device and prints which one runs, and why, in one line.
    pub fn open(&self) -> anyhow::Result<backprop::Device> {
        open_device(&self.name)
    }
}

/// Opens the device `--backend` names and prints which one runs, and why, in one line.
pub fn open_device(name: &str) -> anyhow::Result<backprop::Device> {
    let choice = backprop::Device::from_name(name)?;
    say!("device: {} — {}", choice.device.name(), choice.reason);
    Ok(choice.device)
}

/// `"1 epoch"`, `"2 epochs"`.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
