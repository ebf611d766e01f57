//! Training that resumes exactly. A checkpoint is two files: the model, a PyTorch state
//! dict that loads with `load_state_dict(strict=True)` as it always did, and beside it
//! the training state (`model.train-state.safetensors` for `model.safetensors`): the
//! optimizer's tensors (Adam's moments and step count, momentum buffers) and, in the
//! safetensors metadata, where training stood (epochs done, data-order seed, batch size,
//! sample count, optimizer and hyper-parameters). The state records a digest of the model
//! it belongs to, so a state is never paired with another model, even after a save that
//! stopped between the two files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::graph::op::{AdamConfig, SgdConfig};
use crate::train::checkpoint::{self, Tensor};
use crate::train::nn::Sequential;
use crate::train::optim::Optimizer;

/// Where training stood after `epoch` epochs, and the optimizer's state then.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainingState {
    /// Epochs completed.
    pub epoch: usize,
    /// Seed of the data order: epoch `e` (1-based) shuffles with
    /// [`crate::train::init::epoch_rng`]`(seed, e)`.
    pub seed: u64,
    /// Mini-batch size.
    pub batch: usize,
    /// Training samples per epoch.
    pub samples: usize,
    /// The optimizer and its hyper-parameters.
    pub optimizer: Optimizer,
    /// Global-norm gradient clipping, if training clipped.
    pub clip_norm: Option<f32>,
    /// The optimizer's state, e.g. `adam.bias_corrections`, `0.weight.exp_avg`, `0.weight.exp_avg_sq`.
    pub tensors: Vec<Tensor>,
}

/// The training-state file that belongs to the model file `model`.
pub fn state_path(model: &Path) -> PathBuf {
    let stem = model.file_stem().unwrap_or_default().to_string_lossy();
    model.with_file_name(format!("{stem}.train-state.safetensors"))
}

/// FNV-1a over the model's names, shapes and value bits: which model a state belongs to.
fn digest(model: &Sequential) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            hash = (hash ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    };
    let mut tensors = model.state_dict();
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    for t in &tensors {
        eat(t.name.as_bytes());
        t.shape.iter().for_each(|d| eat(&(*d as u64).to_le_bytes()));
        t.values.iter().for_each(|v| eat(&v.to_bits().to_le_bytes()));
    }
    format!("{hash:016x}")
}

fn metadata(state: &TrainingState, model: &Sequential) -> HashMap<String, String> {
    let mut meta = HashMap::from([
        ("format".to_owned(), "backprop training state 1".to_owned()),
        ("model_digest".to_owned(), digest(model)),
        ("epoch".to_owned(), state.epoch.to_string()),
        ("seed".to_owned(), state.seed.to_string()),
        ("batch".to_owned(), state.batch.to_string()),
        ("samples".to_owned(), state.samples.to_string()),
        ("clip_norm".to_owned(), state.clip_norm.map_or("none".to_owned(), |c| c.to_string())),
    ]);
    // f32 Display is the shortest text that parses back to the same bits.
    let (kind, hyper): (&str, Vec<(&str, f32)>) = match state.optimizer {
        Optimizer::Sgd(SgdConfig { lr, momentum, nesterov, weight_decay }) => {
            let kind = if nesterov { "sgd_nesterov" } else { "sgd" };
            (kind, vec![("lr", lr), ("momentum", momentum), ("weight_decay", weight_decay)])
        }
        Optimizer::Adam(AdamConfig { lr, beta1, beta2, eps, weight_decay, decoupled }) => {
            let kind = if decoupled { "adamw" } else { "adam" };
            (kind, vec![("lr", lr), ("beta1", beta1), ("beta2", beta2), ("eps", eps), ("weight_decay", weight_decay)])
        }
    };
    meta.insert("optimizer".into(), kind.into());
    meta.extend(hyper.into_iter().map(|(k, v)| (k.to_owned(), v.to_string())));
    meta
}

/// Saves the model to `model_path` and the training state beside it (see
/// [`state_path`]). Both are written and synced before either replaces an older file, so
/// a save that fails (a full disk) leaves the old pair as it was; and should the process
/// die, or the second rename fail, between the two renames, the state's digest no longer
/// matches the model, which [`load`] refuses rather than resuming from a mixed pair.
///
/// # Errors
///
/// The errors of [`crate::output::write_all_atomically`], and [`Error::Format`] for
/// tensors that cannot be serialized.
pub fn save(model_path: &Path, model: &Sequential, state: &TrainingState) -> Result<()> {
    let path = state_path(model_path);
    let state_bytes = checkpoint::serialize(&path, &state.tensors, Some(metadata(state, model)))?;
    let model_bytes = checkpoint::serialize(model_path, &model.state_dict(), None)?;
    crate::output::write_all_atomically(&[(&path, &state_bytes), (model_path, &model_bytes)])
}

/// Loads the model at `model_path` into `model` (strictly, as
/// [`Sequential::load_state_dict`]) and returns the training state saved beside it.
///
/// # Errors
///
/// [`Error::Io`] when a file cannot be read, [`Error::Format`] naming the file when the
/// model does not fit, the state is damaged, or the state belongs to another model.
pub fn load(model_path: &Path, model: &mut Sequential) -> Result<TrainingState> {
    // The file named first: a path that is no checkpoint is reported as that, before
    // the training state beside it is looked for.
    let mut loaded = model.clone();
    loaded.load_state_dict(&checkpoint::load(model_path)?, model_path)?;
    let path = state_path(model_path);
    if !path.exists() {
        let msg = format!(
            "holds a model but no training state: {} is missing beside it (resuming needs both files \
             Classifier::save writes; a model alone loads with Sequential::load_state_dict)",
            path.display()
        );
        return Err(Error::Format { path: model_path.display().to_string(), msg });
    }
    let (tensors, meta) = checkpoint::load_with_metadata(&path)?;
    let bad = |msg: String| Error::Format { path: path.display().to_string(), msg };
    let field = |key: &str| meta.get(key).ok_or_else(|| bad(format!("metadata has no '{key}'")));
    if field("format")? != "backprop training state 1" {
        return Err(bad("not a training state of this version".into()));
    }
    if *field("model_digest")? != digest(&loaded) {
        let msg = format!("belongs to another model than {} (was one replaced?)", model_path.display());
        return Err(bad(msg));
    }
    let int = |key: &str| field(key)?.parse::<u64>().map_err(|_| bad(format!("'{key}' is not a whole number")));
    let real = |key: &str| {
        let v = field(key)?.parse::<f32>().map_err(|_| bad(format!("'{key}' is not a number")))?;
        if v.is_finite() {
            Ok(v)
        } else {
            Err(bad(format!("'{key}' is not finite")))
        }
    };
    // States written before weight decay existed have none: 0.
    let weight_decay = if meta.contains_key("weight_decay") { real("weight_decay")? } else { 0.0 };
    let optimizer = match field("optimizer")?.as_str() {
        kind @ ("adam" | "adamw") => Optimizer::Adam(AdamConfig {
            lr: real("lr")?,
            beta1: real("beta1")?,
            beta2: real("beta2")?,
            eps: real("eps")?,
            weight_decay,
            decoupled: kind == "adamw",
        }),
        kind @ ("sgd" | "sgd_nesterov") => Optimizer::Sgd(SgdConfig {
            lr: real("lr")?,
            momentum: real("momentum")?,
            nesterov: kind == "sgd_nesterov",
            weight_decay,
        }),
        other => return Err(bad(format!("unknown optimizer '{other}'"))),
    };
    optimizer.validate().map_err(|e| bad(e.to_string()))?;
    let size = |key: &str| usize::try_from(int(key)?).map_err(|_| bad(format!("'{key}' is too large")));
    let positive = |key: &str| size(key).and_then(|v| if v > 0 { Ok(v) } else { Err(bad(format!("'{key}' is 0"))) });
    let clip_norm = match field("clip_norm")?.as_str() {
        "none" => None,
        _ => match real("clip_norm")? {
            c if c > 0.0 => Some(c),
            c => return Err(bad(format!("'clip_norm' {c} must be positive"))),
        },
    };
    let state = TrainingState {
        epoch: size("epoch")?,
        seed: int("seed")?,
        batch: positive("batch")?,
        samples: positive("samples")?,
        optimizer,
        clip_norm,
        tensors,
    };
    *model = loaded;
    Ok(state)
}
