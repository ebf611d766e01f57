//! A data set held on the device: uploaded once, each training step gathering its batch
//! on the device from the epoch's shuffled order, so that a whole epoch runs with no
//! batch sent from the host and many steps per submission ([`Session::run_steps`]).
//!
//! [`Graph::device_batches`] records the batch (`x`, one-hot `y`) as gathers from the
//! data set's nodes; [`DeviceBatches::upload`] writes the data set once and
//! [`DeviceBatches::start_epoch`] the epoch's order. Images whose every value is a byte
//! over 255 (MNIST-style data) are stored as bytes, four to a 32-bit word, and turned
//! into the same f32 values on the device through a 256-entry palette; other data are
//! stored as f32. Either way a step sees exactly the values the host-fed path writes.
//!
//! ```
//! use backprop::data::Dataset;
//! use backprop::{Device, Graph};
//!
//! let data = Dataset::with_classes(vec![0.0, 1.0, 0.5, 0.25, 1.0, 0.0], vec![0, 1, 1], 2, 2)?;
//! let mut g = Graph::new();
//! let batches = g.device_batches(&data, 2)?;
//! let loss = g.mse_loss(batches.x, batches.y)?;
//! let mut session = Device::Cpu.compile(&g, &[loss, batches.x])?;
//! batches.upload(session.as_mut(), &data)?;
//! batches.start_epoch(session.as_mut(), &[2, 0, 1])?;
//! let x = session.run_and_read(&[batches.x])?.remove(0);
//! assert_eq!(x, vec![1.0, 0.0, 0.0, 1.0]); // samples 2 and 0
//! # Ok::<(), backprop::Error>(())
//! ```

use crate::backend::Session;
use crate::error::{Error, Result};
use crate::graph::op::Op;
use crate::graph::shape::Shape;
use crate::graph::{Graph, NodeId};
use crate::train::data::{pixel_value, Dataset};

/// The most samples an order can index: f32 holds every integer up to 2²⁴ exactly.
pub const MAX_SAMPLES: usize = 1 << 24;

/// How the images are stored on the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// One byte per value, four to a word; the value is `byte / 255` (as `f32`, exactly
    /// what [`Dataset::from_idx`] computes).
    Bytes,
    /// One f32 per value.
    F32,
}

/// The nodes of a data set held on the device and of the batch gathered from it.
#[derive(Clone, Debug)]
pub struct DeviceBatches {
    /// The images: `[n, ⌈features / 4⌉]` words of bytes, or `[n, features]` f32.
    pub table: NodeId,
    /// `[1, 256]`: the value of each byte (with [`Encoding::Bytes`]).
    pub palette: Option<NodeId>,
    /// `[1, ⌈n / 4⌉]`: the labels, one byte each.
    pub labels: NodeId,
    /// `[1, n]`: the epoch's sample order, written by [`DeviceBatches::start_epoch`]
    /// (written otherwise, each entry is truncated to an integer and one past the data
    /// set gathers a zero row).
    pub order: NodeId,
    /// `[1, 2]`: the step counter the batch index comes from.
    pub counter: NodeId,
    /// The counter as each step sees it (incremented by the step, in place).
    pub step: NodeId,
    /// `[batch, features]`: this step's images.
    pub x: NodeId,
    /// `[batch, classes]`: this step's one-hot targets (zero rows past the end of an
    /// epoch's order).
    pub y: NodeId,
    /// How the images are stored.
    pub encoding: Encoding,
    samples: usize,
    batch: usize,
}

fn invalid(msg: String) -> Error {
    Error::InvalidArgument { op: "device_batches", msg }
}

/// `bytes` four to a word, little-endian, as f32 bit patterns (the last word padded with
/// zeros).
pub fn pack_bytes(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks(4)
        .map(|chunk| {
            let mut word = [0u8; 4];
            word[..chunk.len()].copy_from_slice(chunk);
            f32::from_bits(u32::from_le_bytes(word))
        })
        .collect()
}

/// The byte of each value when every value of `images` is `b / 255` for a byte `b`
/// (bit for bit), else `None`.
fn as_bytes(images: &[f32]) -> Option<Vec<u8>> {
    images
        .iter()
        .map(|&v| {
            let b = (v * 255.0).round();
            let byte = (0.0..=255.0).contains(&b).then_some(b as u8)?;
            (pixel_value(byte).to_bits() == v.to_bits()).then_some(byte)
        })
        .collect()
}

/// The palette of [`Encoding::Bytes`]: `b / 255` for each byte.
fn palette() -> Vec<f32> {
    (0..=255u8).map(pixel_value).collect()
}

impl Graph {
    /// Records `data` as device-resident nodes and this step's batch of `batch` rows
    /// gathered from them (see the [module](crate::train::resident)). The images are stored as
    /// bytes when every value is a byte over 255, else as f32.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a batch of 0, an empty data set, more than
    /// [`MAX_SAMPLES`] samples, or more than 256 classes.
    pub fn device_batches(&mut self, data: &Dataset, batch: usize) -> Result<DeviceBatches> {
        let bytes = data.image_bytes().is_some() || as_bytes(data.images()).is_some();
        let encoding = if bytes { Encoding::Bytes } else { Encoding::F32 };
        self.device_batches_as(data.len(), data.pixels(), data.classes(), batch, encoding)
    }

    /// [`Graph::device_batches`] for `samples` samples of `features` values and `classes`
    /// classes stored as `encoding`, before the data exist.
    ///
    /// # Errors
    ///
    /// As [`Graph::device_batches`].
    pub fn device_batches_as(
        &mut self,
        samples: usize,
        features: usize,
        classes: usize,
        batch: usize,
        encoding: Encoding,
    ) -> Result<DeviceBatches> {
        if batch == 0 || samples == 0 || features == 0 {
            return Err(invalid(format!("{samples} samples of {features} values in batches of {batch}")));
        }
        if samples > MAX_SAMPLES || classes > 256 || classes == 0 {
            return Err(invalid(format!("{samples} samples of {classes} classes (at most {MAX_SAMPLES} and 256)")));
        }
        let (table, palette) = match encoding {
            Encoding::Bytes => {
                let table = self.input("data.images", [samples, features.div_ceil(4)])?;
                (table, Some(self.input("data.palette", [1, 256])?))
            }
            Encoding::F32 => (self.input("data.images", [samples, features])?, None),
        };
        let labels = self.input("data.labels", [1, samples.div_ceil(4)])?;
        let order = self.input("data.order", [1, samples])?;
        let counter = self.state("data.step", [1, 2])?;
        self.add_epoch_counter(counter, samples.div_ceil(batch));
        let step = self.push_update(Op::Increment, &[counter])?;
        let x = match palette {
            Some(palette) => self.push(Op::GatherBytes, &[table, palette, order, step], Shape::new(batch, features))?,
            None => self.push(Op::GatherRows, &[table, order, step], Shape::new(batch, features))?,
        };
        let y = self.push(Op::GatherOneHot, &[labels, order, step], Shape::new(batch, classes))?;
        Ok(DeviceBatches { table, palette, labels, order, counter, step, x, y, encoding, samples, batch })
    }
}

impl DeviceBatches {
    /// Writes `data` into the session's data-set nodes (once; the order follows each
    /// epoch).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] when `data` is not the size recorded, or (with
    /// [`Encoding::Bytes`]) holds a value that is not a byte over 255; as
    /// [`Session::write`].
    pub fn upload(&self, session: &mut dyn Session, data: &Dataset) -> Result<()> {
        let (recorded, classes) = (session.graph().shape(self.x)?, self.classes(session)?);
        if data.len() != self.samples || data.pixels() != recorded.cols() || data.classes() != classes {
            let msg = format!(
                "{} samples of {} values in {} classes; recorded for {} of {} in {classes}",
                data.len(),
                data.pixels(),
                data.classes(),
                self.samples,
                recorded.cols()
            );
            return Err(invalid(msg));
        }
        match (self.encoding, self.palette) {
            (Encoding::Bytes, Some(palette)) => {
                let scanned;
                let bytes = match data.image_bytes() {
                    Some(bytes) => bytes,
                    None => {
                        let not_bytes = || invalid("a value is not a byte over 255; record with Encoding::F32".into());
                        scanned = as_bytes(data.images()).ok_or_else(not_bytes)?;
                        &scanned
                    }
                };
                let words = data.pixels().div_ceil(4);
                let mut table = Vec::with_capacity(data.len() * words);
                for row in bytes.chunks(data.pixels()) {
                    table.extend(pack_bytes(row));
                }
                session.write(self.table, &table)?;
                session.write(palette, &self::palette())?;
            }
            _ => session.write(self.table, data.images())?,
        }
        session.write(self.labels, &pack_bytes(data.labels()))
    }

    /// Writes the order of the coming epoch's samples and restarts the batch count: the
    /// next `⌈n / batch⌉` steps gather the batches of `order` in turn.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] unless `order` has one entry per sample, each below the
    /// sample count; as [`Session::write`].
    pub fn start_epoch(&self, session: &mut dyn Session, order: &[usize]) -> Result<()> {
        if order.len() != self.samples || order.iter().any(|&i| i >= self.samples) {
            let msg = format!("an order of {} samples must index {} samples", order.len(), self.samples);
            return Err(invalid(msg));
        }
        let order: Vec<f32> = order.iter().map(|&i| i as f32).collect();
        session.write(self.order, &order)?;
        session.write(self.counter, &[0.0, 0.0])
    }

    /// Records a value that changes every step of the epoch (a learning rate following a
    /// schedule): `table` (`[steps per epoch, 1]`, an input to write at each epoch's start)
    /// and `value` (`[1, 1]`), the table's entry for the current step, gathered on the
    /// device by the same counter as the batch.
    ///
    /// # Errors
    ///
    /// As [`Graph::input`] for a name already taken.
    pub fn per_step(&self, g: &mut Graph, name: &str) -> Result<(NodeId, NodeId)> {
        let steps = self.steps_per_epoch();
        let table = g.input(name, [steps, 1])?;
        let positions = g.constant([1, steps], (0..steps).map(|i| i as f32).collect())?;
        let value = g.push(Op::GatherRows, &[table, positions, self.step], Shape::new(1, 1))?;
        Ok((table, value))
    }

    fn classes(&self, session: &dyn Session) -> Result<usize> {
        Ok(session.graph().shape(self.y)?.cols())
    }

    /// Steps in one epoch: `⌈n / batch⌉`.
    pub fn steps_per_epoch(&self) -> usize {
        self.samples.div_ceil(self.batch)
    }
}
