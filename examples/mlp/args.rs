//! The `mlp` example's flags, and every check that can be made before training starts.

use std::path::{Path, PathBuf};

use anyhow::bail;
use backprop::output::{check_distinct, check_writable};
use backprop::plot::check_chart_path;
use backprop::resume::{state_path, TrainingState};
use clap::Parser;

use crate::flags::{positive, whole};

/// The defaults of the flags that a resumed run takes from its checkpoint instead.
const DEFAULT_BATCH: usize = 64;
const DEFAULT_LR: f32 = 1e-3;
const DEFAULT_SEED: u64 = 0;

#[derive(Parser)]
#[command(allow_negative_numbers = true)]
pub struct Args {
    #[command(flatten)]
    pub backend: crate::flags::Backend,
    /// A directory in MNIST's format (train-/t10k- images and labels, .gz or not).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Passes over the training set in all (a resumed run continues up to this many).
    #[arg(long, default_value_t = 10, value_parser = whole(0usize, 100_000))]
    pub epochs: usize,
    /// Mini-batch size [default: 64].
    #[arg(long, value_parser = whole(1usize, 1 << 20))]
    pub batch: Option<usize>,
    /// Adam learning rate [default: 0.001].
    #[arg(long, value_parser = positive(f32::MAX))]
    pub lr: Option<f32>,
    /// Seed of the initialisation and of each epoch's data order [default: 0].
    #[arg(long, value_parser = whole(0u64, u64::MAX))]
    pub seed: Option<u64>,
    /// Train on only the first N training samples.
    #[arg(long, value_parser = whole(1usize, usize::MAX))]
    pub limit: Option<usize>,
    /// Write the trained parameters here (safetensors, PyTorch names), and the training
    /// state beside it (NAME.train-state.safetensors) for --resume.
    #[arg(long)]
    pub save: Option<PathBuf>,
    /// Start from these parameters (safetensors, PyTorch names), with a fresh optimizer.
    #[arg(long, conflicts_with = "resume")]
    pub load: Option<PathBuf>,
    /// Continue the training saved with --save FILE: parameters, optimizer state, epoch,
    /// batch size, learning rate and seed; --epochs is the total to reach.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Chart of loss and accuracy per epoch (default: NAME.curves.png beside --save, else
    /// mlp-training.png).
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Gradient-flow chart (max and mean |grad| per parameter) of the last training step.
    #[arg(long)]
    pub grad_flow: Option<PathBuf>,
    /// Clip gradients to this global L2 norm (PyTorch's clip_grad_norm_), on the device.
    #[arg(long, value_parser = positive(f32::MAX))]
    pub clip_norm: Option<f32>,
    /// Stop with the first step and parameter where the loss or a gradient is NaN or Inf.
    #[arg(long)]
    pub check_finite: bool,
    /// Train data-parallel across the processes of an MPI job (`mpirun -n 2 ... mlp
    /// --data-parallel`): each rank computes gradients on its share of every batch, averaged
    /// before the update. Needs the build's `mpi` feature.
    #[arg(long)]
    pub data_parallel: bool,
}

/// The hyper-parameters a run uses: from the flags, or from the checkpoint it resumes.
pub struct Settings {
    pub batch: usize,
    pub seed: u64,
    /// Epochs already trained (0 unless resuming).
    pub done: usize,
    /// Adam with the learning rate (and, when resuming, every hyper-parameter saved).
    pub optimizer: backprop::Optimizer,
}

impl Args {
    /// The chart of the training curves: --plot, or a name beside --save that can never
    /// be the checkpoint itself.
    pub fn plot_path(&self) -> PathBuf {
        match (&self.plot, &self.save) {
            (Some(plot), _) => plot.clone(),
            (None, Some(save)) => {
                let stem = save.file_stem().unwrap_or_default().to_string_lossy();
                save.with_file_name(format!("{stem}.curves.png"))
            }
            (None, None) => PathBuf::from("mlp-training.png"),
        }
    }

    /// What the training chart is called in messages: its flag, or that it is the default.
    fn plot_name(&self) -> &'static str {
        match self.plot {
            Some(_) => "--plot",
            None => "the training chart (a default name; choose one with --plot)",
        }
    }

    /// Every output checked before training: writable, a regular file or none yet, no
    /// two on one file, and none on an input (a checkpoint read by --load or --resume).
    /// The charts are checked even though the checkpoint is written first, so that no
    /// output fails after hours of training. `--save` may name the file --resume or
    /// --load read: that is how training continues in place.
    pub fn check_outputs(&self) -> anyhow::Result<()> {
        let plot = self.plot_path();
        let save_state = self.save.as_deref().map(state_path);
        let mut charts: Vec<(&str, &Path)> = vec![(self.plot_name(), &plot)];
        if let Some(flow) = &self.grad_flow {
            charts.push(("--grad-flow", flow));
        }
        let mut files = charts.clone();
        if let (Some(save), Some(state)) = (&self.save, &save_state) {
            files.push(("--save", save));
            files.push(("the training state --save writes", state));
        }
        let resume_state = self.resume.as_deref().map(state_path);
        let inputs = [("--load", self.load.as_deref()), ("--resume", self.resume.as_deref())]
            .into_iter()
            .chain([("the training state --resume reads", resume_state.as_deref())]);
        for (what, input) in inputs {
            if let Some(input) = input {
                let mut pairs = charts.clone();
                pairs.push((what, input));
                check_distinct(&pairs)?;
            }
        }
        check_distinct(&files)?;
        for (what, path) in files.iter().skip(charts.len()) {
            check_writable(path).map_err(|e| anyhow::anyhow!("{what}: {e}"))?;
        }
        for (what, path) in &charts {
            check_chart_path(path).map_err(|e| anyhow::anyhow!("{what}: {e}"))?;
        }
        Ok(())
    }

    /// The run's settings, checked against the checkpoint when resuming: a flag given
    /// with another value than the checkpoint's would break the exact continuation.
    pub fn settings(&self, resumed: Option<&TrainingState>) -> anyhow::Result<Settings> {
        let Some(state) = resumed else {
            let (batch, lr) = (self.batch.unwrap_or(DEFAULT_BATCH), self.lr.unwrap_or(DEFAULT_LR));
            let optimizer = backprop::Optimizer::adam(lr);
            return Ok(Settings { batch, seed: self.seed.unwrap_or(DEFAULT_SEED), done: 0, optimizer });
        };
        let lr = match state.optimizer {
            backprop::Optimizer::Adam(config) => config.lr,
            backprop::Optimizer::Sgd { .. } => {
                bail!("the checkpoint was trained with SGD; this example trains with Adam")
            }
        };
        let differs = |flag: &str, given: Option<String>, saved: String| match given {
            Some(given) if given != saved => bail!("{flag} {given} differs from the checkpoint's {saved}"),
            _ => Ok(()),
        };
        differs("--batch", self.batch.map(|v| v.to_string()), state.batch.to_string())?;
        differs("--lr", self.lr.map(|v| v.to_string()), lr.to_string())?;
        differs("--seed", self.seed.map(|v| v.to_string()), state.seed.to_string())?;
        let clip = |c: Option<f32>| c.map_or("none".to_owned(), |c| c.to_string());
        if clip(self.clip_norm) != clip(state.clip_norm) {
            bail!("--clip-norm {} differs from the checkpoint's {}", clip(self.clip_norm), clip(state.clip_norm));
        }
        if self.epochs < state.epoch {
            bail!("the checkpoint has trained {} epochs already; --epochs {} asks for fewer", state.epoch, self.epochs);
        }
        Ok(Settings { batch: state.batch, seed: state.seed, done: state.epoch, optimizer: state.optimizer })
    }

    /// Flag combinations that cannot work, found before anything runs.
    pub fn check_combinations(&self) -> anyhow::Result<()> {
        if self.grad_flow.is_some() && self.epochs == 0 {
            bail!("--grad-flow draws the gradients of the last training step: it needs --epochs 1 or more");
        }
        if self.plot.is_some() && self.epochs == 0 {
            bail!("--plot draws one point per epoch: it needs --epochs 1 or more");
        }
        if self.data_parallel {
            let unsupported = [
                ("--load", self.load.is_some()),
                ("--grad-flow", self.grad_flow.is_some()),
                ("--clip-norm", self.clip_norm.is_some()),
                ("--check-finite", self.check_finite),
            ];
            if let Some((flag, _)) = unsupported.iter().find(|(_, given)| *given) {
                bail!("{flag} is not available with --data-parallel yet (it trains, evaluates, --save's and --resume's, and --plot's the run)");
            }
        }
        Ok(())
    }
}
