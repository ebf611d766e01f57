//! Convolutions and poolings over `[n, c, h, w]` images, as PyTorch's `conv2d`,
//! `max_pool2d`, `avg_pool2d` and `adaptive_avg_pool2d(1)`. A convolution and a max
//! pooling are ops of their own ([`Op::Conv2d`], [`Op::MaxPool2d`] and their gradients:
//! products per image on the CPU, implicit products on the GPU, with no windows buffer);
//! average pooling reads every window of the padded image through [`Op::Unfold`] (its
//! adjoint [`Op::Fold`] a deterministic scatter-add) and takes the mean.

use crate::error::{Error, Result};
use crate::graph::op::{Conv, Op, Pool, Window};
use crate::graph::shape::Shape;
use crate::graph::{Graph, NodeId};

/// How a convolution moves over its input (PyTorch's `Conv2d` arguments); `Default` is
/// stride 1, no padding, no dilation, one group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2d {
    /// Steps between windows, down and across.
    pub stride: [usize; 2],
    /// Zeros added above and below, and left and right.
    pub padding: [usize; 2],
    /// Steps between a kernel's taps.
    pub dilation: [usize; 2],
    /// Channel groups: input and output channels split into this many, each output group
    /// seeing its input group alone (`groups = channels`: depthwise).
    pub groups: usize,
}

impl Default for Conv2d {
    fn default() -> Self {
        Conv2d { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 }
    }
}

/// A pooling's windows (PyTorch's `MaxPool2d`/`AvgPool2d` arguments; the stride is
/// usually the kernel).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2d {
    /// Window height and width.
    pub kernel: [usize; 2],
    /// Steps between windows.
    pub stride: [usize; 2],
    /// Padding on each side (at most half the kernel, as PyTorch requires).
    pub padding: [usize; 2],
}

impl Pool2d {
    /// Windows of `k × k`, `k` apart, no padding (`nn.MaxPool2d(k)`).
    pub fn square(k: usize) -> Self {
        Pool2d { kernel: [k, k], stride: [k, k], padding: [0, 0] }
    }
}

fn invalid(op: &'static str, msg: String) -> Error {
    Error::InvalidArgument { op, msg }
}

/// `[n, c, h, w]` of `x`, or an error naming `op`.
fn image(g: &Graph, op: &'static str, x: NodeId) -> Result<[usize; 4]> {
    let s = g.shape(x)?;
    match *s.dims() {
        [n, c, h, w] => Ok([n, c, h, w]),
        _ => Err(invalid(op, format!("the input must be [n, c, h, w], not {s}"))),
    }
}

/// The window of `kernel`, `stride`, `dilation`, checked: each at least 1 and small
/// enough for the op's u16 fields, and the kernel inside the padded image.
fn window(
    op: &'static str,
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
    padded: [usize; 2],
) -> Result<Window> {
    let small = |name: &str, v: [usize; 2]| {
        if v.iter().any(|&x| x == 0 || x > u16::MAX as usize) {
            return Err(invalid(op, format!("{name} {v:?} must be at least 1 (and below 65536)")));
        }
        Ok(v.map(|x| x as u16))
    };
    let w = Window {
        kernel: small("kernel", kernel)?,
        stride: small("stride", stride)?,
        dilation: small("dilation", dilation)?,
    };
    if w.output(padded[0], padded[1]).is_none() {
        let span = [0, 1].map(|k| (kernel[k] - 1) * dilation[k] + 1);
        let msg = format!("the kernel spans {span:?} (dilation {dilation:?}), larger than the padded input {padded:?}");
        return Err(invalid(op, msg));
    }
    Ok(w)
}

/// A pooling's padding: at most half its kernel (PyTorch's rule; a window of padding
/// alone would have no maximum).
fn check_pool_padding(op: &'static str, p: Pool2d) -> Result<()> {
    if (0..2).any(|k| p.padding[k] * 2 > p.kernel[k]) {
        let msg = format!("padding {:?} must be at most half the kernel {:?}", p.padding, p.kernel);
        return Err(invalid(op, msg));
    }
    Ok(())
}

/// Padding as the ops carry it (below 65536).
fn padding(op: &'static str, p: [usize; 2]) -> Result<[u16; 2]> {
    if p.iter().any(|&v| v > u16::MAX as usize) {
        return Err(invalid(op, format!("padding {p:?} must be below 65536")));
    }
    Ok(p.map(|v| v as u16))
}

impl Graph {
    /// Every window of `x` (`[n, c, h, w]`, padded with `padding` of `fill` first) as
    /// `[n, oh, ow, c, kh, kw]` (im2col; see [`Op::Unfold`]).
    fn unfold(&mut self, op: &'static str, x: NodeId, w: Window, padding: [usize; 2], fill: f32) -> Result<NodeId> {
        let mut padded = x;
        for (dim, p) in [(2, padding[0]), (3, padding[1])] {
            if p > 0 {
                padded = self.pad(padded, dim, p, p, fill)?;
            }
        }
        let [n, c, h, wd] = image(self, op, padded)?;
        let [oh, ow] = w.output(h, wd).expect("checked by window()");
        let kk = w.kernel.map(usize::from);
        let out = Shape::from_dims(&[n, oh, ow, c, kk[0], kk[1]]).expect("rank 6");
        crate::error::check_size(out, op)?;
        self.push(Op::Unfold(w), &[padded], out)
    }

    /// The adjoint of an unfold of `windows` back onto an image of `shape` (see
    /// [`Op::Fold`]).
    pub(crate) fn fold(&mut self, windows: NodeId, w: Window, shape: Shape) -> Result<NodeId> {
        self.push(Op::Fold(w), &[windows], shape)
    }

    /// The unfold `Op::Unfold(w)` of `x` as recorded (for a gradient rule).
    pub(crate) fn unfold_as(&mut self, x: NodeId, w: Window, out: Shape) -> Result<NodeId> {
        self.push(Op::Unfold(w), &[x], out)
    }

    /// A 2-d convolution as PyTorch's `conv2d`: `x [n, c, h, w]`, `weight [out, c / groups,
    /// kh, kw]`, `bias` of `out` values (any shape) or none; the result `[n, out, oh, ow]`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] naming the op and the parameter at fault: an input or
    /// weight that is not 4-d, channels or outputs not divisible by `groups`, a weight of
    /// another channel count, a bias of another length, a zero stride or dilation, a
    /// kernel larger than the padded input; [`Error::ForeignNode`] for ids of another graph.
    pub fn conv2d(&mut self, x: NodeId, weight: NodeId, bias: Option<NodeId>, o: Conv2d) -> Result<NodeId> {
        const OP: &str = "conv2d";
        let [n, c, h, w] = image(self, OP, x)?;
        let [out, per_group, kh, kw] = match *self.shape(weight)?.dims() {
            [a, b, c, d] => [a, b, c, d],
            _ => {
                return Err(invalid(
                    OP,
                    format!("the weight must be [out, in / groups, kh, kw], not {}", self.shape(weight)?),
                ))
            }
        };
        let groups = o.groups;
        if groups == 0 || c % groups != 0 || out % groups != 0 {
            return Err(invalid(OP, format!("groups {groups} must divide the {c} input and {out} output channels")));
        }
        if per_group != c / groups {
            let msg =
                format!("the weight takes {per_group} channels per group; the input has {c} in {groups} group(s)");
            return Err(invalid(OP, msg));
        }
        if let Some(b) = bias {
            if self.shape(b)?.len() != out {
                return Err(invalid(OP, format!("the bias has {} values for {out} outputs", self.shape(b)?.len())));
            }
        }
        let padded = [h + 2 * o.padding[0], w + 2 * o.padding[1]];
        let win = window(OP, [kh, kw], o.stride, o.dilation, padded)?;
        let [oh, ow] = win.output(padded[0], padded[1]).expect("checked");
        let conv = Conv { window: win, padding: padding(OP, o.padding)?, groups: groups as u32 };
        let out_shape = Shape::from_dims(&[n, out, oh, ow]).expect("rank 4");
        crate::error::check_size(out_shape, OP)?;
        let mut inputs = vec![x, weight];
        if let Some(b) = bias {
            inputs.push(self.reshape(b, [out])?);
        }
        self.push(Op::Conv2d(conv), &inputs, out_shape)
    }

    /// The gradient of a convolution with respect to its input of shape `x` (see
    /// [`Op::Conv2dInput`]).
    pub(crate) fn conv2d_input_grad(&mut self, dy: NodeId, weight: NodeId, conv: Conv, x: Shape) -> Result<NodeId> {
        self.push(Op::Conv2dInput(conv), &[dy, weight], x)
    }

    /// The gradient of a convolution with respect to its weight of shape `weight` (see
    /// [`Op::Conv2dWeight`]).
    pub(crate) fn conv2d_weight_grad(&mut self, x: NodeId, dy: NodeId, conv: Conv, weight: Shape) -> Result<NodeId> {
        self.push(Op::Conv2dWeight(conv), &[x, dy], weight)
    }

    /// The gradient of a max pooling of `x` (see [`Op::MaxPool2dGrad`]).
    pub(crate) fn max_pool2d_grad(&mut self, x: NodeId, dy: NodeId, pool: Pool) -> Result<NodeId> {
        let shape = self.shape(x)?;
        self.push(Op::MaxPool2dGrad(pool), &[x, dy], shape)
    }

    /// PyTorch's `max_pool2d`: the largest value of each window of `x [n, c, h, w]`
    /// (padding never chosen); the gradient goes to the first largest, as PyTorch's.
    /// Infinite values other than a window's largest make that window NaN.
    ///
    /// # Errors
    ///
    /// As [`Graph::conv2d`], and padding above half the kernel.
    pub fn max_pool2d(&mut self, x: NodeId, p: Pool2d) -> Result<NodeId> {
        const OP: &str = "max_pool2d";
        let [n, c, h, w] = image(self, OP, x)?;
        check_pool_padding(OP, p)?;
        let padded = [h + 2 * p.padding[0], w + 2 * p.padding[1]];
        let win = window(OP, p.kernel, p.stride, [1, 1], padded)?;
        let [oh, ow] = win.output(padded[0], padded[1]).expect("checked");
        let pool = Pool { window: win, padding: padding(OP, p.padding)? };
        self.push(Op::MaxPool2d(pool), &[x], Shape::from_dims(&[n, c, oh, ow]).expect("rank 4"))
    }

    /// PyTorch's `avg_pool2d` (padding counted as zeros, `count_include_pad=True`).
    ///
    /// # Errors
    ///
    /// As [`Graph::max_pool2d`].
    pub fn avg_pool2d(&mut self, x: NodeId, p: Pool2d) -> Result<NodeId> {
        let windows = self.pool_windows("avg_pool2d", x, p, 0.0)?;
        let y = self.mean_dim(windows, &[-1], false)?;
        self.permute(y, &[0, 3, 1, 2])
    }

    /// PyTorch's `adaptive_avg_pool2d(x, 1)`: the mean of each channel, `[n, c, 1, 1]`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for an input that is not `[n, c, h, w]`.
    pub fn adaptive_avg_pool2d(&mut self, x: NodeId) -> Result<NodeId> {
        let [n, c, h, w] = image(self, "adaptive_avg_pool2d", x)?;
        let flat = self.reshape(x, [n, c, h * w])?;
        let mean = self.mean_dim(flat, &[-1], true)?;
        self.reshape(mean, [n, c, 1, 1])
    }

    /// The windows of a pooling as `[n, oh, ow, c, kh · kw]`, padded with `fill`.
    fn pool_windows(&mut self, op: &'static str, x: NodeId, p: Pool2d, fill: f32) -> Result<NodeId> {
        let [n, c, h, w] = image(self, op, x)?;
        check_pool_padding(op, p)?;
        let padded = [h + 2 * p.padding[0], w + 2 * p.padding[1]];
        let win = window(op, p.kernel, p.stride, [1, 1], padded)?;
        let [oh, ow] = win.output(padded[0], padded[1]).expect("checked");
        let windows = self.unfold(op, x, win, p.padding, fill)?;
        self.reshape(windows, [n, oh, ow, c, p.kernel[0] * p.kernel[1]])
    }
}
