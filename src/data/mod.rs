//! Classification data: MNIST-format (IDX) reading, and mini-batches with a seeded
//! shuffle, pixels scaled to [0, 1] and one-hot targets.

pub mod idx;

use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::Rng;

use crate::error::{Error, Result};

/// Where Debian's `dataset-fashion-mnist` package installs the data set.
pub const DEBIAN_FASHION_MNIST: &str = "/usr/share/datasets/fashion-mnist";

/// Number of classes in MNIST and Fashion-MNIST.
pub const CLASSES: usize = 10;

/// Images and their labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// `len × pixels` values in [0, 1], row-major.
    pub images: Vec<f32>,
    /// One label per image, each below [`CLASSES`].
    pub labels: Vec<u8>,
    /// Pixels per image (784 for 28×28).
    pub pixels: usize,
}

impl Dataset {
    /// Decodes an images file and a labels file (IDX, plain or gzip); `source` names the
    /// pair in errors.
    pub fn from_idx(images: &[u8], labels: &[u8], source: &str) -> Result<Dataset> {
        let images = idx::parse(images, 3, &format!("{source} (images)"))?;
        let labels = idx::parse(labels, 1, &format!("{source} (labels)"))?;
        let (count, pixels) = (images.dims[0], images.dims[1] * images.dims[2]);
        if count != labels.dims[0] {
            let msg = format!("{count} images but {} labels", labels.dims[0]);
            return Err(Error::Format { path: source.to_owned(), msg });
        }
        if let Some(bad) = labels.data.iter().find(|&&l| l as usize >= CLASSES) {
            let msg = format!("label {bad} is not below {CLASSES}");
            return Err(Error::Format { path: source.to_owned(), msg });
        }
        let images = images.data.iter().map(|&p| p as f32 / 255.0).collect();
        Ok(Dataset { images, labels: labels.data, pixels })
    }

    /// Reads `images` and `labels` files.
    pub fn load(images: &Path, labels: &Path) -> Result<Dataset> {
        let read = |p: &Path| std::fs::read(p).map_err(|source| Error::Io { path: p.display().to_string(), source });
        Dataset::from_idx(&read(images)?, &read(labels)?, &images.display().to_string())
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The first `n` samples and the rest.
    pub fn split_at(&self, n: usize) -> (Dataset, Dataset) {
        let n = n.min(self.len());
        let part = |range: std::ops::Range<usize>| Dataset {
            images: self.images[range.start * self.pixels..range.end * self.pixels].to_vec(),
            labels: self.labels[range].to_vec(),
            pixels: self.pixels,
        };
        (part(0..n), part(n..self.len()))
    }

    /// Fills one batch: the images of `indices` into `x` (`batch × pixels`) and one-hot
    /// labels into `y` (`batch × CLASSES`). Rows past `indices.len()` are zeros, which the
    /// loss treats as padding.
    pub fn fill_batch(&self, indices: &[usize], x: &mut [f32], y: &mut [f32]) {
        x.fill(0.0);
        y.fill(0.0);
        for (row, &i) in indices.iter().enumerate() {
            let src = &self.images[i * self.pixels..(i + 1) * self.pixels];
            x[row * self.pixels..(row + 1) * self.pixels].copy_from_slice(src);
            y[row * CLASSES + self.labels[i] as usize] = 1.0;
        }
    }
}

/// Sample indices in a fresh random order (a new permutation each epoch).
pub fn shuffled(len: usize, rng: &mut impl Rng) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    order.shuffle(rng);
    order
}

/// The four files of an MNIST-format directory, `.gz` or not.
fn find(dir: &Path, stem: &str) -> Result<PathBuf> {
    [format!("{stem}.gz"), stem.to_owned()].into_iter().map(|name| dir.join(name)).find(|p| p.is_file()).ok_or_else(
        || Error::Io { path: dir.join(stem).display().to_string(), source: std::io::ErrorKind::NotFound.into() },
    )
}

/// Loads `(train, test)` from a directory holding `train-images-idx3-ubyte`,
/// `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte`
/// (each optionally `.gz`), as MNIST and Fashion-MNIST ship them.
pub fn load_mnist_dir(dir: &Path) -> Result<(Dataset, Dataset)> {
    let pair = |prefix: &str| -> Result<Dataset> {
        let images = find(dir, &format!("{prefix}-images-idx3-ubyte"))?;
        let labels = find(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
        Dataset::load(&images, &labels)
    };
    Ok((pair("train")?, pair("t10k")?))
}
