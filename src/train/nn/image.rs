//! The layers of convolutional networks, as PyTorch's: `Conv2d`, `MaxPool2d`,
//! `AvgPool2d`, `Flatten`, and `Unflatten` to turn a data set's flat rows into images.

use rand::Rng;

use super::module::{weight_and_bias, weight_or_bias, Module, Param, Scope};
use crate::error::{Error, Result};
use crate::graph::NodeId;
use crate::ops::conv::{self, Pool2d};
use crate::train::init;

/// A 2-d convolution, as PyTorch's `nn.Conv2d`: `weight [out, in / groups, kh, kw]` and
/// `bias [out]`, both uniform in `±1/sqrt(in / groups · kh · kw)` as PyTorch starts them.
#[derive(Clone, Debug, PartialEq)]
pub struct Conv2d {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Kernel height and width.
    pub kernel: [usize; 2],
    /// Stride, padding, dilation and groups.
    pub options: conv::Conv2d,
    /// `[out, in / groups, kh, kw]`, row-major.
    pub weight: Vec<f32>,
    /// `[out]`.
    pub bias: Vec<f32>,
}

impl Conv2d {
    /// A convolution of `in_channels` to `out_channels` with a `kernel`, moved as
    /// `options` say, initialised from `rng` as PyTorch does.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a zero size, or channels not divisible by the groups.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: [usize; 2],
        options: conv::Conv2d,
        rng: &mut impl Rng,
    ) -> Result<Self> {
        let groups = options.groups;
        if in_channels == 0 || out_channels == 0 || kernel.contains(&0) || groups == 0 {
            let msg = format!("Conv2d({in_channels}, {out_channels}, {kernel:?}): sizes must be at least 1");
            return Err(Error::InvalidArgument { op: "conv2d", msg });
        }
        if !in_channels.is_multiple_of(groups) || !out_channels.is_multiple_of(groups) {
            let msg = format!("groups {groups} must divide {in_channels} input and {out_channels} output channels");
            return Err(Error::InvalidArgument { op: "conv2d", msg });
        }
        let fan_in = in_channels / groups * kernel[0] * kernel[1];
        let bound = 1.0 / (fan_in as f32).sqrt();
        let weight = init::uniform(rng, [out_channels, fan_in], bound)?;
        let bias = init::uniform(rng, [1, out_channels], bound)?;
        Ok(Conv2d { in_channels, out_channels, kernel, options, weight, bias })
    }

    fn weight_shape(&self) -> [usize; 4] {
        [self.out_channels, self.in_channels / self.options.groups, self.kernel[0], self.kernel[1]]
    }
}

impl Module for Conv2d {
    fn forward(&self, scope: &mut Scope, x: NodeId) -> Result<NodeId> {
        let w = scope.parameter("weight", self.weight_shape(), &self.weight)?;
        let b = scope.parameter("bias", [self.out_channels], &self.bias)?;
        scope.graph().conv2d(x, w, Some(b), self.options)
    }

    fn parameters(&self) -> Vec<Param<'_>> {
        weight_and_bias((&self.weight, self.weight_shape().to_vec()), (&self.bias, vec![self.out_channels]))
    }

    fn parameter_mut(&mut self, name: &str) -> Option<&mut [f32]> {
        weight_or_bias(name, &mut self.weight, &mut self.bias)
    }
}

/// PyTorch's `nn.MaxPool2d`: the largest value of each window.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MaxPool2d(pub Pool2d);

impl Module for MaxPool2d {
    fn forward(&self, scope: &mut Scope, x: NodeId) -> Result<NodeId> {
        scope.graph().max_pool2d(x, self.0)
    }
}

/// PyTorch's `nn.AvgPool2d`: the mean of each window (padding counted).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AvgPool2d(pub Pool2d);

impl Module for AvgPool2d {
    fn forward(&self, scope: &mut Scope, x: NodeId) -> Result<NodeId> {
        scope.graph().avg_pool2d(x, self.0)
    }
}

/// PyTorch's `nn.Flatten()`: `[n, d1, d2, ...]` to `[n, d1 · d2 · ...]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Flatten;

impl Module for Flatten {
    fn forward(&self, scope: &mut Scope, x: NodeId) -> Result<NodeId> {
        scope.graph().flatten(x, 1, -1)
    }
}

/// PyTorch's `nn.Unflatten(1, dims)`: `[n, Π dims]` to `[n, dims...]`, e.g. a data set's
/// rows of 784 pixels to images `[n, 1, 28, 28]`. Its input width is `Π dims`, which
/// tells a classifier how wide the data are.
#[derive(Clone, Debug, PartialEq)]
pub struct Unflatten(pub Vec<usize>);

impl Module for Unflatten {
    fn forward(&self, scope: &mut Scope, x: NodeId) -> Result<NodeId> {
        let g = scope.graph();
        let shape = g.shape(x)?;
        let Some(&n) = shape.dims().first() else {
            return Err(Error::InvalidArgument {
                op: "unflatten",
                msg: format!("a scalar {shape} has no rows to unflatten"),
            });
        };
        let dims: Vec<usize> = std::iter::once(n).chain(self.0.iter().copied()).collect();
        let shape = crate::Shape::from_dims(&dims).ok_or_else(|| Error::InvalidArgument {
            op: "unflatten",
            msg: format!("{dims:?} has more dims than a tensor holds"),
        })?;
        g.reshape(x, shape)
    }

    fn in_features(&self) -> Option<usize> {
        Some(self.0.iter().product())
    }
}

/// Batch normalisation, as PyTorch's `nn.BatchNorm1d` (`[n, c]`) and `nn.BatchNorm2d`
/// (`[n, c, h, w]`): in training each channel by the batch's statistics, the running
/// estimates updated in place (PyTorch's momentum, the unbiased variance); in evaluation
/// by the running estimates. Parameters `weight` (ones) and `bias` (zeros); buffers
/// `running_mean` (zeros), `running_var` (ones) and `num_batches_tracked`.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchNorm {
    /// Channels.
    pub features: usize,
    /// Added to the variance (PyTorch: 1e-5).
    pub eps: f32,
    /// Weight of each batch in the running estimates (PyTorch: 0.1).
    pub momentum: f32,
    /// Scale per channel.
    pub weight: Vec<f32>,
    /// Shift per channel.
    pub bias: Vec<f32>,
    /// Running mean per channel.
    pub running_mean: Vec<f32>,
    /// Running (unbiased) variance per channel.
    pub running_var: Vec<f32>,
    /// Training steps seen (one value; PyTorch stores it as an integer).
    pub num_batches_tracked: Vec<f32>,
}

/// `nn.BatchNorm1d`: a [`BatchNorm`] over `[n, c]`.
pub type BatchNorm1d = BatchNorm;
/// `nn.BatchNorm2d`: a [`BatchNorm`] over `[n, c, h, w]`.
pub type BatchNorm2d = BatchNorm;

impl BatchNorm {
    /// PyTorch's initial batch norm over `features` channels.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for zero channels.
    pub fn new(features: usize) -> Result<Self> {
        if features == 0 {
            return Err(Error::InvalidArgument { op: "batch_norm", msg: "needs at least one channel".into() });
        }
        Ok(BatchNorm {
            features,
            eps: 1e-5,
            momentum: 0.1,
            weight: vec![1.0; features],
            bias: vec![0.0; features],
            running_mean: vec![0.0; features],
            running_var: vec![1.0; features],
            num_batches_tracked: vec![0.0],
        })
    }
}

impl Module for BatchNorm {
    fn forward(&self, scope: &mut Scope, x: NodeId) -> Result<NodeId> {
        let f = self.features;
        let weight = scope.parameter("weight", [f], &self.weight)?;
        let bias = scope.parameter("bias", [f], &self.bias)?;
        let mean = scope.buffer("running_mean", [f], &self.running_mean)?;
        let var = scope.buffer("running_var", [f], &self.running_var)?;
        let tracked = scope.buffer("num_batches_tracked", [0usize; 0], &self.num_batches_tracked)?;
        let training = scope.training();
        let g = scope.graph();
        if !training {
            return g.batch_norm_eval(x, weight, bias, [mean, var], self.eps);
        }
        let stats = g.batch_norm_train(x, weight, bias, self.eps)?;
        g.update_running_stats(&stats, [mean, var, tracked], self.momentum)?;
        Ok(stats.output)
    }

    fn parameters(&self) -> Vec<Param<'_>> {
        weight_and_bias((&self.weight, vec![self.features]), (&self.bias, vec![self.features]))
    }

    fn parameter_mut(&mut self, name: &str) -> Option<&mut [f32]> {
        weight_or_bias(name, &mut self.weight, &mut self.bias)
    }

    fn buffers(&self) -> Vec<Param<'_>> {
        vec![
            Param { name: "running_mean".into(), shape: vec![self.features], values: &self.running_mean },
            Param { name: "running_var".into(), shape: vec![self.features], values: &self.running_var },
            Param { name: "num_batches_tracked".into(), shape: vec![], values: &self.num_batches_tracked },
        ]
    }

    fn buffer_mut(&mut self, name: &str) -> Option<&mut [f32]> {
        match name {
            "running_mean" => Some(&mut self.running_mean),
            "running_var" => Some(&mut self.running_var),
            "num_batches_tracked" => Some(&mut self.num_batches_tracked),
            _ => None,
        }
    }
}
