//! Fashion-MNIST for the examples: from `--data DIR`, Debian's `dataset-fashion-mnist`, or
//! the 10k test split embedded in the binary (8,000 to train on, 2,000 to test).

use std::path::Path;

use anyhow::Context;
use backprop::data::{load_installed, load_mnist_dir, Dataset, DEBIAN_FASHION_MNIST};

const EMBEDDED_IMAGES: &[u8] = include_bytes!("../../data/t10k-images-idx3-ubyte.gz");
const EMBEDDED_LABELS: &[u8] = include_bytes!("../../data/t10k-labels-idx1-ubyte.gz");

/// `(train, test, description)` from --data, Debian's package, or the embedded split. A
/// damaged installation is an error, never silently replaced.
pub fn datasets(dir: Option<&Path>) -> anyhow::Result<(Dataset, Dataset, String)> {
    if let Some(dir) = dir {
        let (train, test) = load_mnist_dir(dir).with_context(|| format!("loading --data {}", dir.display()))?;
        return Ok((train, test, dir.display().to_string()));
    }
    let debian = Path::new(DEBIAN_FASHION_MNIST);
    let installed = load_installed(debian).with_context(|| {
        format!("{DEBIAN_FASHION_MNIST} is damaged (reinstall dataset-fashion-mnist or pass --data DIR)")
    })?;
    if let Some((train, test)) = installed {
        return Ok((train, test, format!("{DEBIAN_FASHION_MNIST} (full Fashion-MNIST)")));
    }
    let all = Dataset::from_idx(EMBEDDED_IMAGES, EMBEDDED_LABELS, "embedded t10k")?;
    let (train, test) = all.split_at(8_000);
    let note = "embedded Fashion-MNIST test split: training on 8,000 and testing on the other 2,000 \
                (dataset-fashion-mnist is not installed; install it or pass --data DIR)";
    Ok((train, test, note.to_owned()))
}
