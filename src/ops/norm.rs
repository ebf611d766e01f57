//! Batch normalisation, as PyTorch's `batch_norm` over `[n, c]` or `[n, c, h, w]`: each
//! channel normalised by the batch's mean and (biased) variance in training, by running
//! estimates in evaluation, then scaled and shifted per channel. Composed from the
//! reductions along dims, so its gradient (through the batch statistics) is autodiff's.

use crate::error::{Error, Result};
use crate::graph::{Graph, NodeId};

/// The nodes of a batch normalisation in training: its output and the batch's statistics
/// (`[c]`; the variance biased), for the running estimates.
#[derive(Clone, Copy, Debug)]
pub struct BatchStats {
    /// The normalised, scaled and shifted output.
    pub output: NodeId,
    /// The batch mean of each channel.
    pub mean: NodeId,
    /// The batch variance of each channel, divided by the count.
    pub var: NodeId,
    /// Values per channel in the batch (`n`, or `n · h · w`).
    pub count: usize,
}

impl Graph {
    /// The channel count of `x` (`[n, c]` or `[n, c, h, w]`), the dims a channel's
    /// statistics run over, and the shape a `[c]` vector broadcasts as.
    fn channels(&self, x: NodeId) -> Result<(usize, Vec<isize>, Vec<usize>)> {
        let s = self.shape(x)?;
        match *s.dims() {
            [_, c] => Ok((c, vec![0], vec![1, c])),
            [_, c, _, _] => Ok((c, vec![0, 2, 3], vec![1, c, 1, 1])),
            _ => Err(Error::InvalidArgument {
                op: "batch_norm",
                msg: format!("the input must be [n, c] or [n, c, h, w], not {s}"),
            }),
        }
    }

    /// `x · scale + shift` per channel, with `scale = weight / sqrt(var + eps)` and
    /// `shift = bias − mean · scale` computed on the `[c]` vectors.
    fn normalise(&mut self, x: NodeId, [weight, bias, mean, var]: [NodeId; 4], eps: f32) -> Result<NodeId> {
        let (c, _, view) = self.channels(x)?;
        for (name, v) in [("weight", weight), ("bias", bias), ("mean", mean), ("var", var)] {
            if self.shape(v)?.len() != c {
                let msg = format!("the {name} has {} values for {c} channels", self.shape(v)?.len());
                return Err(Error::InvalidArgument { op: "batch_norm", msg });
            }
        }
        let [weight, bias, mean, var] = [weight, bias, mean, var].map(|v| self.reshape(v, [c]));
        let eps = self.constant([c], vec![eps; c])?;
        let shifted = self.add(var?, eps)?;
        let root = self.sqrt(shifted)?;
        let scale = self.div(weight?, root)?;
        let moved = self.mul(mean?, scale)?;
        let shift = self.sub(bias?, moved)?;
        let shape = crate::Shape::from_dims(&view).expect("rank 2 or 4");
        let (scale, shift) = (self.reshape(scale, shape)?, self.reshape(shift, shape)?);
        let scaled = self.mul(x, scale)?;
        self.add(scaled, shift)
    }

    /// Batch normalisation in training (PyTorch's `batch_norm(training=True)`): each
    /// channel by the batch's mean and biased variance over every dim but 1.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for an input that is not `[n, c]` or `[n, c, h, w]`, or a
    /// weight or bias of another length than the channels.
    pub fn batch_norm_train(&mut self, x: NodeId, weight: NodeId, bias: NodeId, eps: f32) -> Result<BatchStats> {
        let (c, dims, _) = self.channels(x)?;
        let mean = self.mean_dim(x, &dims, false)?;
        let var = self.var(x, &dims, 0, false)?;
        let count = self.shape(x)?.len() / c.max(1);
        let output = self.normalise(x, [weight, bias, mean, var], eps)?;
        Ok(BatchStats { output, mean, var, count })
    }

    /// Batch normalisation in evaluation: each channel by the given (running) `mean` and
    /// `var`.
    ///
    /// # Errors
    ///
    /// As [`Graph::batch_norm_train`], and for statistics of another length.
    pub fn batch_norm_eval(
        &mut self,
        x: NodeId,
        weight: NodeId,
        bias: NodeId,
        stats: [NodeId; 2],
        eps: f32,
    ) -> Result<NodeId> {
        self.normalise(x, [weight, bias, stats[0], stats[1]], eps)
    }

    /// Records PyTorch's running estimates after each training step, in place:
    /// `running_mean += momentum · (mean − running_mean)`, the same for `running_var`
    /// with the batch's unbiased variance, and `tracked += 1`.
    ///
    /// # Errors
    ///
    /// As [`Graph::accumulate`], and [`Error::InvalidArgument`] for a momentum outside [0, 1].
    pub fn update_running_stats(&mut self, stats: &BatchStats, running: [NodeId; 3], momentum: f32) -> Result<()> {
        if !(0.0..=1.0).contains(&momentum) {
            return Err(Error::InvalidArgument {
                op: "batch_norm",
                msg: format!("momentum {momentum} must be in [0, 1]"),
            });
        }
        let [running_mean, running_var, tracked] = running;
        let unbiased = self.scale(stats.var, stats.count as f32 / (stats.count.max(2) - 1) as f32)?;
        for (running, batch) in [(running_mean, stats.mean), (running_var, unbiased)] {
            let shape = self.shape(running)?;
            let batch = self.reshape(batch, shape)?;
            let gap = self.sub(batch, running)?;
            let step = self.scale(gap, momentum)?;
            let step = self.stop_gradient(step)?;
            self.accumulate(running, step)?;
        }
        let one = self.constant(self.shape(tracked)?, vec![1.0])?;
        self.accumulate(tracked, one)?;
        Ok(())
    }
}
