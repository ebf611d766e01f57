//! Batches written from the host, for data sets too large to hold on the device (more
//! samples than f32 indexes exactly, or images beyond one storage binding).

use super::{Evaluation, Step};
use crate::error::Result;
use crate::graph::{Graph, NodeId};
use crate::train::data::Dataset;

/// The step's input nodes and the host buffers a batch is assembled in.
pub(super) struct HostBatches {
    pub x: NodeId,
    pub y: NodeId,
    x_host: Vec<f32>,
    y_host: Vec<f32>,
}

impl HostBatches {
    pub fn record(g: &mut Graph, batch: usize, inputs: usize, classes: usize) -> Result<HostBatches> {
        let (x, y) = (g.input("x", [batch, inputs])?, g.input("y", [batch, classes])?);
        Ok(HostBatches { x, y, x_host: vec![0.0; batch * inputs], y_host: vec![0.0; batch * classes] })
    }
}

impl Step {
    /// Writes the batch of `indices` (at most one batch) and leaves it for the next run.
    fn load(&mut self, data: &Dataset, indices: &[usize]) -> Result<()> {
        let host = self.host.as_mut().expect("a step fed from the host");
        data.fill_batch(indices, &mut host.x_host, &mut host.y_host)?;
        self.session.write(host.x, &host.x_host)?;
        self.session.write(host.y, &host.y_host)
    }

    /// One run per batch of `indices`, each batch written first.
    pub(super) fn run_from_host(&mut self, data: &Dataset, indices: &[usize]) -> Result<()> {
        for chunk in indices.chunks(self.batch) {
            self.load(data, chunk)?;
            self.session.run()?;
        }
        Ok(())
    }

    /// Accuracy and mean loss, batch by batch, summed on the host in f64.
    pub(super) fn evaluate_from_host(&mut self, data: &Dataset) -> Result<Evaluation> {
        let (mut loss, mut correct) = (0.0f64, 0.0f64);
        let indices: Vec<usize> = (0..data.len()).collect();
        for chunk in indices.chunks(self.batch) {
            self.load(data, chunk)?;
            let out = self.session.run_and_read(&[self.loss, self.tally])?;
            loss += out[0][0] as f64 * chunk.len() as f64;
            correct += out[1][0] as f64;
        }
        let n = data.len() as f64;
        Ok(Evaluation { accuracy: (correct / n) as f32, loss: (loss / n) as f32 })
    }
}
