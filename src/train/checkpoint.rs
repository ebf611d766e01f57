//! Checkpoints in safetensors, with PyTorch's names and layouts (`0.weight` `[128, 784]`,
//! `0.bias` `[128]`, ...), so a file written here loads with `load_state_dict` into the
//! matching `nn.Sequential`, and a file PyTorch writes (`safetensors.torch.save_file`)
//! loads here.

use std::path::Path;

use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};

use crate::error::{Error, Result};
use crate::train::nn::Sequential;

/// One named tensor: its PyTorch shape and f32 values.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    /// e.g. `0.weight`.
    pub name: String,
    /// e.g. `[128, 784]`; biases are one-dimensional.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub values: Vec<f32>,
}

fn format(path: &Path, msg: String) -> Error {
    Error::Format { path: path.display().to_string(), msg }
}

/// The safetensors bytes of `tensors` with `metadata`; names must be unique.
pub(crate) fn serialize(
    path: &Path,
    tensors: &[Tensor],
    metadata: Option<std::collections::HashMap<String, String>>,
) -> Result<Vec<u8>> {
    let mut names: Vec<&str> = tensors.iter().map(|t| t.name.as_str()).collect();
    names.sort_unstable();
    if let Some(pair) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(format(path, format!("two tensors are named {}", pair[0])));
    }
    let views = tensors
        .iter()
        .map(|t| {
            let view = TensorView::new(Dtype::F32, t.shape.clone(), bytemuck::cast_slice(&t.values))
                .map_err(|e| format(path, format!("{}: {e}", t.name)))?;
            Ok((t.name.clone(), view))
        })
        .collect::<Result<Vec<_>>>()?;
    let bytes = safetensors::serialize(views, metadata).map_err(|e| format(path, e.to_string()))?;
    Ok(sorted_header(bytes))
}

/// `bytes` with its JSON header's keys in sorted order (the metadata map comes out in
/// hash order, different on every run), padded with spaces to the same length as
/// safetensors pads it; the tensors' offsets do not change.
fn sorted_header(mut bytes: Vec<u8>) -> Vec<u8> {
    let len = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    let header = &bytes[8..8 + len];
    // serde_json's maps are ordered by key (its `preserve_order` feature is off).
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(header) else { return bytes };
    let text = value.to_string();
    if text.len() <= len {
        let mut sorted = text.into_bytes();
        sorted.resize(len, b' ');
        bytes[8..8 + len].copy_from_slice(&sorted);
    }
    bytes
}

/// Writes `tensors` to `path` as f32 safetensors. The file appears whole or not at all:
/// it is written beside `path` under a temporary name, synced, then renamed over it.
///
/// # Errors
///
/// [`Error::Format`] for two tensors of one name or a shape that does not match its
/// values, errors of [`crate::output::write_atomically`] for a path that cannot be
/// written.
pub fn save(path: &Path, tensors: &[Tensor]) -> Result<()> {
    crate::output::write_atomically(path, &serialize(path, tensors, None)?)
}

/// The safetensors bytes [`save`] would write: what a web page offers for download.
///
/// # Errors
///
/// [`Error::Format`] for two tensors of one name or a shape that does not match its values.
pub fn to_bytes(tensors: &[Tensor]) -> Result<Vec<u8>> {
    serialize(Path::new("(in memory)"), tensors, None)
}

/// Reads every tensor of a safetensors file; all must be f32.
///
/// # Errors
///
/// [`Error::Io`] when the file cannot be read, [`Error::Format`] when it is not a
/// safetensors file or holds a tensor that is not f32.
pub fn load(path: &Path) -> Result<Vec<Tensor>> {
    Ok(load_with_metadata(path)?.0)
}

/// The tensors of safetensors `bytes` (what [`load`] reads from a file); `source` names
/// them in errors.
///
/// # Errors
///
/// [`Error::Format`] when the bytes are not safetensors or hold a tensor that is not f32.
pub fn parse(bytes: &[u8], source: &Path) -> Result<Vec<Tensor>> {
    Ok(parse_with_metadata(bytes, source)?.0)
}

/// [`load`], and the file's metadata (empty when it has none).
pub(crate) fn load_with_metadata(path: &Path) -> Result<Parsed> {
    let bytes = crate::output::read_input(path)?;
    parse_with_metadata(&bytes, path)
}

type Parsed = (Vec<Tensor>, std::collections::HashMap<String, String>);

fn parse_with_metadata(bytes: &[u8], path: &Path) -> Result<Parsed> {
    let file = SafeTensors::deserialize(bytes).map_err(|e| format(path, format!("not a safetensors file: {e}")))?;
    let metadata = SafeTensors::read_metadata(bytes)
        .map(|(_, m)| m.metadata().clone().unwrap_or_default())
        .map_err(|e| format(path, format!("not a safetensors file: {e}")))?;
    let mut tensors = Vec::new();
    for (name, view) in file.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(format(path, format!("{name} is {:?}; only F32 is supported", view.dtype())));
        }
        let values = view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        tensors.push(Tensor { name, shape: view.shape().to_vec(), values });
    }
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((tensors, metadata))
}

/// What keeps `given` from replacing `expected` one for one, as PyTorch's strict loading
/// checks it: missing, misshapen, unexpected, and (beyond PyTorch) non-finite tensors.
pub(crate) fn mismatches(expected: &[Tensor], given: &[Tensor]) -> Vec<String> {
    let mut problems = Vec::new();
    for want in expected {
        match given.iter().find(|t| t.name == want.name) {
            None => problems.push(format!("missing {} {:?}", want.name, want.shape)),
            Some(t) if t.shape != want.shape || t.values.len() != want.values.len() => {
                problems.push(format!("{} has shape {:?}, expected {:?}", t.name, t.shape, want.shape))
            }
            Some(t) if t.values.iter().any(|v| !v.is_finite()) => {
                problems.push(format!("{} holds NaN or infinite values: it is not finite", t.name))
            }
            Some(_) => {}
        }
    }
    for t in given.iter().filter(|t| !expected.iter().any(|e| e.name == t.name)) {
        problems.push(format!("unexpected {}", t.name));
    }
    problems
}

impl Sequential {
    /// The parameters and buffers as checkpoint tensors, in PyTorch's layout.
    pub fn state_dict(&self) -> Vec<Tensor> {
        let all = self.parameters().into_iter().chain(self.buffers());
        all.map(|p| Tensor { name: p.name, shape: p.shape, values: p.values.to_vec() }).collect()
    }

    /// Replaces every parameter from `tensors`, as PyTorch's strict `load_state_dict`
    /// does: a missing, unexpected or wrongly shaped tensor is an error and nothing
    /// changes.
    ///
    /// # Errors
    ///
    /// [`Error::Format`] naming `source` and every tensor that does not fit.
    pub fn load_state_dict(&mut self, tensors: &[Tensor], source: &Path) -> Result<()> {
        let problems = mismatches(&self.state_dict(), tensors);
        if !problems.is_empty() {
            return Err(format(source, format!("cannot be loaded into the model: {}", problems.join("; "))));
        }
        for t in tensors {
            self.set_parameter(&t.name, &t.values)?;
        }
        Ok(())
    }
}
