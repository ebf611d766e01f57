//! The closed op set. Forward ops, the derivative ops that backward rules emit, and the
//! in-place optimizer updates. Both backends implement every variant; the elementwise
//! ones are one family, [`Map`], each described once.

pub use crate::ops::elementwise::Map;

/// SGD's hyper-parameters, as PyTorch's `torch.optim.SGD` (no dampening).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdConfig {
    /// The initial learning rate; the step reads the current one from a `[1, 1]` state
    /// node (see [`crate::OptimizerNodes::learning_rate`]), so it can change between steps.
    pub lr: f32,
    /// Momentum factor; 0 for plain SGD.
    pub momentum: f32,
    /// Nesterov momentum: the step is `g + momentum · v` instead of `v`.
    pub nesterov: bool,
    /// L2 penalty added to the gradient: `g + weight_decay · p`.
    pub weight_decay: f32,
}

/// Adam's hyper-parameters (PyTorch's defaults from `Optimizer::adam` and
/// `Optimizer::adamw`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamConfig {
    /// The initial learning rate; the step reads the current one from a `[1, 1]` state
    /// node (see [`crate::OptimizerNodes::learning_rate`]).
    pub lr: f32,
    /// First-moment decay (PyTorch: 0.9).
    pub beta1: f32,
    /// Second-moment decay (PyTorch: 0.999).
    pub beta2: f32,
    /// Added to `sqrt(v̂)` for stability (PyTorch: 1e-8).
    pub eps: f32,
    /// Weight decay: added to the gradient as `weight_decay · p` (Adam), or, when
    /// `decoupled`, applied to the parameter as `p · (1 − lr · weight_decay)` before the
    /// step (AdamW).
    pub weight_decay: f32,
    /// AdamW's decoupled weight decay.
    pub decoupled: bool,
}

impl AdamConfig {
    /// `(1 − β₁, 1 − β₂)` as PyTorch computes them: in f64 from the decimal the betas were
    /// written as (their shortest representation, e.g. 0.999), then rounded once. In f32,
    /// 1 − 0.999f32 is 0.00099998713, 1.3e-5 away from 0.001.
    pub fn complements(&self) -> (f32, f32) {
        let complement = |beta: f32| (1.0 - beta.to_string().parse::<f64>().unwrap_or(beta as f64)) as f32;
        (complement(self.beta1), complement(self.beta2))
    }
}

/// The windows of a 2-d convolution or pooling over `[n, c, h, w]`: a `kh × kw` kernel
/// moved by `stride` with its taps `dilation` apart (padding is applied before).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Window {
    /// Kernel height and width.
    pub kernel: [u16; 2],
    /// Steps between windows, down and across.
    pub stride: [u16; 2],
    /// Steps between the taps of a window, down and across.
    pub dilation: [u16; 2],
}

impl Window {
    /// The output height and width over an input of height `h` and width `w`, or `None`
    /// when the (dilated) kernel is larger than the input.
    pub fn output(&self, h: usize, w: usize) -> Option<[usize; 2]> {
        let span = |k: u16, d: u16| (k as usize - 1) * d as usize + 1;
        let along = |size: usize, k: u16, d: u16, s: u16| size.checked_sub(span(k, d)).map(|r| r / s as usize + 1);
        Some([
            along(h, self.kernel[0], self.dilation[0], self.stride[0])?,
            along(w, self.kernel[1], self.dilation[1], self.stride[1])?,
        ])
    }
}

/// A convolution as its ops carry it: the window, the zeros around the image, the
/// channel groups (see [`crate::conv::Conv2d`] for what each means).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv {
    /// Kernel, stride and dilation.
    pub window: Window,
    /// Zeros above and below, left and right.
    pub padding: [u16; 2],
    /// Channel groups.
    pub groups: u32,
}

/// A max pooling as its ops carry it: the window (dilation 1) and the padding, which no
/// window ever picks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pool {
    /// Kernel and stride.
    pub window: Window,
    /// Padding above and below, left and right.
    pub padding: [u16; 2],
}

/// What a [`Op::Reduce`] computes along its dim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reduction {
    /// The sum (in f64 on the CPU).
    Sum,
    /// The largest value; NaN when one is NaN (PyTorch's `amax`).
    Max,
    /// The smallest value; NaN when one is NaN (PyTorch's `amin`).
    Min,
    /// The index of the largest value, the first of equals, NaN counted largest
    /// (PyTorch's `argmax`), as an exact f32 integer. Not differentiable.
    ArgMax,
}

impl Reduction {
    /// A short lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Reduction::Sum => "sum_dim",
            Reduction::Max => "amax",
            Reduction::Min => "amin",
            Reduction::ArgMax => "argmax",
        }
    }
}

/// One operation of the graph.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Op {
    /// Data supplied before each run (a batch of inputs or targets).
    Input,
    /// A trainable value; gradients flow to it and optimizers update it in place.
    Parameter,
    /// A fixed value set when recording.
    Constant,
    /// Optimizer state (e.g. Adam moments): persistent, updated in place, not trainable.
    State,
    /// `op(A) · op(B)` where `op` transposes when the flag is set; the transposed variants
    /// let backward compute `dC·Bᵀ` and `Aᵀ·dC` without transpose copies.
    MatMul {
        /// Use `Aᵀ` in place of `A`.
        trans_a: bool,
        /// Use `Bᵀ` in place of `B`.
        trans_b: bool,
    },
    /// An op of the elementwise family and its constant (0 when it takes none): see
    /// [`Map`], where each is described once.
    Map(Map, f32),
    /// Sum of all elements, shape `[1, 1]`.
    SumAll,
    /// Sum over the batch axis: `[n, m] → [1, m]`.
    SumRows,
    /// Sum over the feature axis: `[n, m] → [n, 1]`.
    SumCols,
    /// The largest value of each row, `[n, m] → [n, 1]`; NaN for a row holding one. Its
    /// gradient is shared evenly among a row's maxima, as PyTorch's `amax`.
    MaxCols,
    /// Mean of all elements, shape `[1, 1]`.
    Mean,
    /// `[n, m] → [m, n]`.
    Transpose,
    /// Columns `start .. start + cols` of the input, `[n, m] → [n, cols]`.
    SliceCols {
        /// The first column taken.
        start: usize,
    },
    /// The input placed at column `start` of a zero matrix of the node's width: the
    /// adjoint of [`Op::SliceCols`].
    PadCols {
        /// The column the input starts at.
        start: usize,
    },
    /// Inputs `(a [n, p], b [n, q])` side by side, `[n, p + q]`.
    ConcatCols,
    /// The input's elements under the node's shape (the same count), in the same order:
    /// no copy, the node shares its input's storage (reshape, view, flatten, squeeze).
    Reshape,
    /// The input's dims reordered: output dim `k` is input dim `perm[k]` (the first rank
    /// entries count).
    Permute {
        /// The input dim of each output dim.
        perm: [u8; 6],
    },
    /// The input repeated along its size-1 dims (and new leading dims) to the node's shape,
    /// by PyTorch's broadcasting rules.
    Expand,
    /// Indices `start ..` along `dim` of the input, as many as the node's size there.
    Narrow {
        /// The dim sliced.
        dim: u8,
        /// The first index taken.
        start: u32,
    },
    /// The input placed at index `start` along `dim` of a tensor of the node's shape
    /// filled with `value` elsewhere (constant padding; the adjoint of [`Op::Narrow`] with
    /// `value` 0).
    Pad {
        /// The dim padded.
        dim: u8,
        /// Where the input starts along it.
        start: u32,
        /// The value around it.
        value: f32,
    },
    /// A reduction along `dim`, kept with size 1 (`keepdim`): the input seen as
    /// `[outer, size, inner]`, the output `[outer, 1, inner]`, each output by one thread
    /// in index order, so the result does not depend on the launch.
    Reduce {
        /// What is computed.
        kind: Reduction,
        /// The dim reduced.
        dim: u8,
    },
    /// Inputs `(a [.., n, k], b [.., k, m])` with the same batch dims or batch dims all 1
    /// (broadcast): `op(a) · op(b)` for each batch, `[.., n, m]`.
    BatchMatMul {
        /// Use each `aᵀ` (its last two dims swapped).
        trans_a: bool,
        /// Use each `bᵀ`.
        trans_b: bool,
    },
    /// Inputs `(x, indices)`: along `dim` of `x`, the entries the indices name (exact f32
    /// integers), in the indices' shape: `x.dims[..dim] ++ indices.dims ++
    /// x.dims[dim + 1..]`. An index outside `0 .. x.dims[dim]` reads zeros.
    IndexSelect {
        /// The dim indexed.
        dim: u8,
    },
    /// Inputs `(indices, dy)`: the adjoint of [`Op::IndexSelect`], a tensor of the node's
    /// shape (that of `x`) where each entry along `dim` is the sum, in index order, of the
    /// entries of `dy` whose index names it: a deterministic scatter-add.
    IndexAdd {
        /// The dim indexed.
        dim: u8,
    },
    /// Input `x [n, c, h, w]` (already padded): every window of `window` as
    /// `[n, oh, ow, c, kh, kw]` (im2col, a strided read of overlapping windows; the
    /// convolutions and poolings start here).
    Unfold(Window),
    /// Input `dy [n, oh, ow, c, kh, kw]`: the adjoint of [`Op::Unfold`], a tensor of the
    /// node's shape (`[n, c, h, w]`) where each element is the sum, in window order (`ky`,
    /// then `kx`), of the window entries that read it: a deterministic scatter-add.
    Fold(Window),
    /// Inputs `(x [n, c, h, w], weight [out, c / groups, kh, kw])`, and a `bias [out]`
    /// third when there is one: PyTorch's `conv2d`, `[n, out, oh, ow]`. Computed as a
    /// product per image and group (the CPU: the image's columns into a reused buffer and
    /// the product kernel; the GPU: an implicit product reading the image in place).
    Conv2d(Conv),
    /// Inputs `(dy [n, out, oh, ow], weight)`: the gradient of [`Op::Conv2d`] with respect
    /// to its input, of the node's shape (`x`'s): each element one sum over the outputs
    /// and taps that read it.
    Conv2dInput(Conv),
    /// Inputs `(x, dy [n, out, oh, ow])`: the gradient of [`Op::Conv2d`] with respect to
    /// its weight, of the node's shape: each element one sum over the images and output
    /// pixels, images in order.
    Conv2dWeight(Conv),
    /// Input `x [n, c, h, w]`: the largest value of each window, `[n, c, oh, ow]` (NaN
    /// when the window holds one; padding never chosen), as PyTorch's `max_pool2d`.
    MaxPool2d(Pool),
    /// Inputs `(x, dy [n, c, oh, ow])`: the gradient of [`Op::MaxPool2d`], `x`'s shape:
    /// each window's `dy` added to its first largest element (windows in order where
    /// they overlap). Not differentiable again.
    MaxPool2dGrad(Pool),
    /// Inputs `(prediction, target)`: `mean((p - t)²)`, shape `[1, 1]`. Fused: one
    /// reduction kernel instead of sub, square and mean with two temporaries.
    MseLoss,
    /// Inputs `(logits [n, k], targets [n, k])`: softmax cross-entropy averaged over the
    /// rows whose target is not all zeros, `[1, 1]`. Targets are one-hot (or any
    /// distribution); an all-zero row is padding and counts for nothing, so a partial last
    /// batch runs through the same compiled graph. Computed with log-sum-exp.
    SoftmaxCrossEntropy,
    /// Inputs `(logits, targets, dy)`: the gradient of [`Op::SoftmaxCrossEntropy`] with
    /// respect to the logits, `dy · (softmax(z)·Σt_row − t) / rows`, padding rows zero.
    SoftmaxCrossEntropyGrad,
    /// Inputs `(logits, targets)`: how many non-padding rows have their largest logit
    /// where the target is largest, `[1, 1]`. Not differentiable.
    CountCorrect,
    /// Inputs `(param, grad, lr)`, and `velocity` last when the momentum is not 0:
    /// PyTorch's SGD, `g += weight_decay·p`; with momentum `v = momentum·v + g` and the
    /// step `v` (Nesterov: `g + momentum·v`); `param -= lr · step`, in place (the node
    /// aliases `param`). `lr` is a `[1, 1]` node.
    Sgd(SgdConfig),
    /// Inputs `(param, grad, m, v, corrections, lr)`: Adam (or AdamW) with bias
    /// correction as PyTorch computes it, `param`, `m` and `v` updated in place;
    /// `corrections` is the state after its [`Op::AdamCorrections`], `lr` a `[1, 1]` node.
    Adam(AdamConfig),
    /// Input `corrections [1, 4]` = `[1 − β₁ᵗ, 1 − β₂ᵗ, β₁ᵗ, β₂ᵗ]`, advanced one step in
    /// place, each by the exact `1 − β` (see `cpu_ops::adam_corrections`): no nearly equal
    /// numbers are subtracted and no float step count has to stay exact.
    AdamCorrections(AdamConfig),
    /// `Σ x²`, `[1, 1]`. Fused: one reduction instead of square and sum with a temporary.
    SumSquares,
    /// Input `grad`: `[mean |g|, max |g|, ‖g‖₂]` as `[1, 3]`, in one reduction.
    GradStats,
    /// Inputs `(record [1, 3], value, step [1, 2])`: if `record` is still `[0, 0, 0]` and
    /// `value` holds a NaN or ±Inf, writes the step (its two words, see
    /// [`Op::Increment`]) and `tag` into it, in place: the first step and the watched
    /// quantity where training went non-finite.
    FirstNonFinite {
        /// Which watched value this check is (0 for the loss, i + 1 for parameter i).
        tag: u32,
    },
    /// Input `counter [1, 2]` = `[low, high]`, the count `high · 65536 + low`: adds one in
    /// place, carrying into `high`, so the count is exact far past the 2²⁴ where one f32
    /// stops counting (to 2⁴⁰).
    Increment,
    /// Inputs `(total, value)`: `total += value` in place, e.g. summing the loss over an
    /// epoch on the device so that nothing is read back per step.
    Accumulate,
    /// Input `step [1, 2]` (a counter, see [`Op::Increment`]): a dropout mask of the
    /// node's shape, each element `1 / (1 − p)` or, with probability `p`, 0, drawn from a
    /// hash of `seed`, the step and the element's index, the same bits on both backends
    /// (`cpu_ops::dropout_mask`). Not differentiable (it depends on no parameter).
    DropoutMask {
        /// Probability of dropping an element, in [0, 1).
        p: f32,
        /// Seed of the hash.
        seed: u32,
    },
    /// Inputs `(table [n, cols], order [1, n], step [1, 2])`: this step's batch of a data
    /// set held on the device (see [`crate::train::resident`]). With `count` the step counter and
    /// `steps = ⌈n / rows⌉` batches per epoch, batch `b = (count − 1) mod steps`; output row
    /// `r` is row `order[b·rows + r]` of `table`, or zeros past `n` (a partial last batch).
    /// The order holds sample indices as exact f32 integers. Not differentiable.
    GatherRows,
    /// Inputs `(table [n, ⌈features / 4⌉], palette [1, 256], order, step)`: as
    /// [`Op::GatherRows`] from a table of bytes, four to each 32-bit word (little-endian);
    /// each output value is `palette[byte]`. Not differentiable.
    GatherBytes,
    /// Inputs `(labels [1, ⌈n / 4⌉], order, step)`: the batch's one-hot targets, from labels
    /// stored one byte each, four to a word; zero rows past `n`. Not differentiable.
    GatherOneHot,
}

impl Op {
    /// A short lowercase name, used in errors and kernel labels.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Input => "input",
            Op::Parameter => "parameter",
            Op::Constant => "constant",
            Op::State => "state",
            Op::MatMul { .. } => "matmul",
            Op::Map(map, _) => map.def().name,
            Op::SumAll => "sum_all",
            Op::SumRows => "sum_rows",
            Op::SumCols => "sum_cols",
            Op::MaxCols => "max_cols",
            Op::Mean => "mean",
            Op::Transpose => "transpose",
            Op::SliceCols { .. } => "slice_cols",
            Op::PadCols { .. } => "pad_cols",
            Op::ConcatCols => "concat_cols",
            Op::MseLoss => "mse_loss",
            Op::Reshape => "reshape",
            Op::Permute { .. } => "permute",
            Op::Expand => "expand",
            Op::Narrow { .. } => "narrow",
            Op::Pad { .. } => "pad",
            Op::Reduce { kind, .. } => kind.name(),
            Op::BatchMatMul { .. } => "batch_matmul",
            Op::IndexSelect { .. } => "index_select",
            Op::IndexAdd { .. } => "index_add",
            Op::Conv2d(_) => "conv2d",
            Op::Conv2dInput(_) => "conv2d_input_grad",
            Op::Conv2dWeight(_) => "conv2d_weight_grad",
            Op::MaxPool2d(_) => "max_pool2d",
            Op::MaxPool2dGrad(_) => "max_pool2d_grad",
            Op::Unfold(_) => "unfold",
            Op::Fold(_) => "fold",
            Op::SoftmaxCrossEntropy => "softmax_cross_entropy",
            Op::SoftmaxCrossEntropyGrad => "softmax_cross_entropy_grad",
            Op::CountCorrect => "count_correct",
            Op::Sgd(c) if c.momentum == 0.0 => "sgd_update",
            Op::Sgd(_) => "sgd_momentum",
            Op::Adam(_) => "adam",
            Op::AdamCorrections(_) => "adam_corrections",
            Op::SumSquares => "sum_squares",
            Op::GradStats => "grad_stats",
            Op::FirstNonFinite { .. } => "first_non_finite",
            Op::Increment => "increment",
            Op::Accumulate => "accumulate",
            Op::DropoutMask { .. } => "dropout_mask",
            Op::GatherRows => "gather_rows",
            Op::GatherBytes => "gather_bytes",
            Op::GatherOneHot => "gather_one_hot",
        }
    }

    /// Leaves hold data of their own; every other op computes from its inputs.
    pub fn is_leaf(&self) -> bool {
        matches!(self, Op::Input | Op::Parameter | Op::Constant | Op::State)
    }

    /// For in-place updates, the inputs whose storage the op overwrites (the node itself
    /// aliases the first of them). Updates are the side effects a step exists for, so the
    /// planner always keeps them.
    pub fn updated_inputs(&self) -> &'static [usize] {
        match self {
            Op::Sgd(c) if c.momentum != 0.0 => &[0, 3],
            Op::Sgd(_) | Op::Increment | Op::Accumulate | Op::FirstNonFinite { .. } | Op::AdamCorrections(_) => &[0],
            Op::Adam(_) => &[0, 2, 3],
            _ => &[],
        }
    }
}
