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

/// The value of an image byte: `byte / 255` in f32. Data read from IDX files hold these
/// values, and a device holding the bytes turns them into the same bits.
pub(crate) fn pixel_value(byte: u8) -> f32 {
    byte as f32 / 255.0
}

/// Images (or any feature rows) and their labels. The fields are private so that the
/// invariants hold: as many images as labels, every label below the class count, every
/// pixel finite.
#[derive(Clone, Debug)]
pub struct Dataset {
    images: Vec<f32>,
    labels: Vec<u8>,
    pixels: usize,
    classes: usize,
    /// Names these contents (they never change): fresh for each data set built, shared
    /// by clones, so that a copy held on a device is known to be of the same data.
    id: u64,
    /// The images as the bytes they were decoded from (`images[i] = bytes[i] / 255`),
    /// for data read from IDX files: what a device holds instead of four times as many
    /// f32 bytes.
    bytes: Option<std::sync::Arc<Vec<u8>>>,
}

impl PartialEq for Dataset {
    /// Equal contents, wherever they came from.
    fn eq(&self, other: &Self) -> bool {
        (self.pixels, self.classes) == (other.pixels, other.classes)
            && self.labels == other.labels
            && self.images == other.images
    }
}

/// A fresh [`Dataset::id`].
fn next_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

fn invalid(msg: String) -> Error {
    Error::InvalidArgument { op: "dataset", msg }
}

impl Dataset {
    /// A data set of `labels.len()` images of `pixels` values each, row-major in `images`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] when `pixels` is 0, `images` does not hold exactly
    /// `labels.len() × pixels` values, a label is not below [`CLASSES`], or a pixel is
    /// NaN or infinite.
    pub fn new(images: Vec<f32>, labels: Vec<u8>, pixels: usize) -> Result<Dataset> {
        Dataset::with_classes(images, labels, pixels, CLASSES)
    }

    /// [`Dataset::new`] for `classes` classes (1 to 256; labels below it).
    ///
    /// # Errors
    ///
    /// As [`Dataset::new`], and for a class count outside 1..=256.
    pub fn with_classes(images: Vec<f32>, labels: Vec<u8>, pixels: usize, classes: usize) -> Result<Dataset> {
        if !(1..=256).contains(&classes) {
            return Err(invalid(format!("{classes} classes: labels are bytes, so 1 to 256")));
        }
        if pixels == 0 {
            return Err(invalid("images need at least one pixel".into()));
        }
        if labels.len().checked_mul(pixels) != Some(images.len()) {
            let msg = format!("{} values are not {} images of {pixels} pixels", images.len(), labels.len());
            return Err(invalid(msg));
        }
        if let Some((i, bad)) = labels.iter().enumerate().find(|(_, &l)| l as usize >= classes) {
            return Err(invalid(format!("label {bad} of sample {i} is not below {classes}")));
        }
        if let Some(i) = images.iter().position(|p| !p.is_finite()) {
            return Err(invalid(format!("pixel {} of sample {} is not finite", i % pixels, i / pixels)));
        }
        Ok(Dataset { images, labels, pixels, classes, id: next_id(), bytes: None })
    }

    /// Decodes an images file and a labels file (IDX, plain or gzip); `source` names the
    /// pair in errors.
    ///
    /// # Errors
    ///
    /// [`Error::Format`] naming `source` for a damaged file, counts that disagree, or a
    /// label that is not below [`CLASSES`].
    pub fn from_idx(images: &[u8], labels: &[u8], source: &str) -> Result<Dataset> {
        let images = idx::parse(images, 3, &format!("{source} (images)"))?;
        let labels = idx::parse(labels, 1, &format!("{source} (labels)"))?;
        Dataset::from_parsed(images, labels, source)
    }

    fn from_parsed(images: idx::Idx, labels: idx::Idx, source: &str) -> Result<Dataset> {
        let format = |msg: String| Error::Format { path: source.to_owned(), msg };
        let count = images.dims[0];
        let pixels = images.dims[1].checked_mul(images.dims[2]).unwrap_or(0);
        if pixels == 0 {
            return Err(format(format!("images of {} × {} pixels", images.dims[1], images.dims[2])));
        }
        if count != labels.dims[0] {
            return Err(format(format!("{count} images but {} labels", labels.dims[0])));
        }
        if let Some(bad) = labels.data.iter().find(|&&l| l as usize >= CLASSES) {
            return Err(format(format!("label {bad} is not below {CLASSES}")));
        }
        let values = images.data.iter().map(|&p| pixel_value(p)).collect();
        let bytes = Some(std::sync::Arc::new(images.data));
        Ok(Dataset { images: values, labels: labels.data, pixels, classes: CLASSES, id: next_id(), bytes })
    }

    /// Reads `images` and `labels` files.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] naming the file that cannot be read, else as [`Dataset::from_idx`].
    pub fn load(images: &Path, labels: &Path) -> Result<Dataset> {
        let read = |p: &Path, dims| {
            let bytes = crate::output::read_input(p)?;
            idx::parse(&bytes, dims, &p.display().to_string())
        };
        let source = format!("{} and {}", images.display(), labels.display());
        Dataset::from_parsed(read(images, 3)?, read(labels, 1)?, &source)
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Values per image (784 for 28×28).
    pub fn pixels(&self) -> usize {
        self.pixels
    }

    /// Number of classes (10 for MNIST's formats); every label is below it.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// All images, `len × pixels` values in row-major order.
    pub fn images(&self) -> &[f32] {
        &self.images
    }

    /// What names these contents: the same for clones, different for every data set
    /// built or split (the contents of a data set never change).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The images as the bytes they were read from (each value is its byte over 255), for
    /// data read from IDX files; `None` for data built from values.
    pub fn image_bytes(&self) -> Option<&[u8]> {
        self.bytes.as_deref().map(Vec::as_slice)
    }

    /// One label per image, each below [`CLASSES`].
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The first `n` samples (all of them when `n` is larger) and the rest.
    pub fn split_at(&self, n: usize) -> (Dataset, Dataset) {
        let n = n.min(self.len());
        let part = |range: std::ops::Range<usize>| Dataset {
            images: self.images[range.start * self.pixels..range.end * self.pixels].to_vec(),
            labels: self.labels[range.clone()].to_vec(),
            pixels: self.pixels,
            classes: self.classes,
            id: next_id(),
            bytes: self
                .bytes
                .as_ref()
                .map(|b| std::sync::Arc::new(b[range.start * self.pixels..range.end * self.pixels].to_vec())),
        };
        (part(0..n), part(n..self.len()))
    }

    /// Fills one batch: the images of `indices` into `x` (`batch × pixels`) and one-hot
    /// labels into `y` (`batch × classes`). Rows past `indices.len()` are zeros, which the
    /// loss treats as padding.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] when `x` and `y` are not buffers of the same number of
    /// rows, there are more indices than rows, or an index is out of range.
    pub fn fill_batch(&self, indices: &[usize], x: &mut [f32], y: &mut [f32]) -> Result<()> {
        let rows = y.len() / self.classes;
        if !y.len().is_multiple_of(self.classes) || x.len() != rows * self.pixels || indices.len() > rows {
            let msg = format!("buffers of {} and {} values cannot hold {} samples", x.len(), y.len(), indices.len());
            return Err(invalid(msg));
        }
        if let Some(bad) = indices.iter().find(|&&i| i >= self.len()) {
            return Err(invalid(format!("sample {bad} of a data set of {}", self.len())));
        }
        x.fill(0.0);
        y.fill(0.0);
        for (row, &i) in indices.iter().enumerate() {
            let src = &self.images[i * self.pixels..(i + 1) * self.pixels];
            x[row * self.pixels..(row + 1) * self.pixels].copy_from_slice(src);
            y[row * self.classes + self.labels[i] as usize] = 1.0;
        }
        Ok(())
    }
}

/// Sample indices in a fresh random order (a new permutation each epoch).
pub fn shuffled(len: usize, rng: &mut impl Rng) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    order.shuffle(rng);
    order
}

/// The names of the four files of an MNIST-format directory (each optionally `.gz`).
const FILES: [&str; 4] =
    ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

/// The file `stem` or `stem.gz` in `dir`; the error names what is missing or unreadable.
fn find(dir: &Path, stem: &str) -> Result<PathBuf> {
    let mut first_error = None;
    for path in [dir.join(format!("{stem}.gz")), dir.join(stem)] {
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => return Ok(path),
            Ok(_) => {
                first_error =
                    first_error.or(Some(Error::Format { path: path.display().to_string(), msg: "not a file".into() }))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => first_error = first_error.or(Some(Error::io(&path, e))),
        }
    }
    Err(first_error.unwrap_or_else(|| {
        let missing = std::io::Error::new(std::io::ErrorKind::NotFound, "missing (looked for it with and without .gz)");
        Error::io(&dir.join(stem), missing)
    }))
}

/// Loads `(train, test)` from a directory holding `train-images-idx3-ubyte`,
/// `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte`
/// (each optionally `.gz`), as MNIST and Fashion-MNIST ship them.
///
/// # Errors
///
/// [`Error::Io`] naming the directory or file that is missing or unreadable (the reason,
/// e.g. "Permission denied", included), [`Error::Format`] naming a damaged file.
pub fn load_mnist_dir(dir: &Path) -> Result<(Dataset, Dataset)> {
    let meta = std::fs::metadata(dir).map_err(|e| Error::io(dir, e))?;
    if !meta.is_dir() {
        return Err(Error::Format { path: dir.display().to_string(), msg: "not a directory".into() });
    }
    std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let pair = |prefix: &str| -> Result<Dataset> {
        let images = find(dir, &format!("{prefix}-images-idx3-ubyte"))?;
        let labels = find(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
        Dataset::load(&images, &labels)
    };
    Ok((pair("train")?, pair("t10k")?))
}

/// An installed data set, if there is one: `Ok(None)` when `dir` holds none of the four
/// files (not installed), the data when all load, and an error naming the file when the
/// installation is incomplete or damaged, so that a broken install is never mistaken for
/// a missing one.
///
/// # Errors
///
/// As [`load_mnist_dir`].
pub fn load_installed(dir: &Path) -> Result<Option<(Dataset, Dataset)>> {
    let present = |stem: &str| [format!("{stem}.gz"), stem.to_owned()].iter().any(|n| dir.join(n).exists());
    if !dir.exists() || !FILES.iter().any(|stem| present(stem)) {
        return Ok(None);
    }
    load_mnist_dir(dir).map(Some)
}
