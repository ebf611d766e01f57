//! The layers of convolutional networks, as PyTorch's: `Conv2d`, `MaxPool2d`,
//! `AvgPool2d`, `Flatten`, and `Unflatten` to turn a data set's flat rows into images.

use rand::Rng;

use super::module::{Module, Param, Scope};
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
        vec![
            Param { name: "weight".into(), shape: self.weight_shape().to_vec(), values: &self.weight },
            Param { name: "bias".into(), shape: vec![self.out_channels], values: &self.bias },
        ]
    }

    fn parameter_mut(&mut self, name: &str) -> Option<&mut [f32]> {
        match name {
            "weight" => Some(&mut self.weight),
            "bias" => Some(&mut self.bias),
            _ => None,
        }
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
        let n = g.shape(x)?.dims()[0];
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
