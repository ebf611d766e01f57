//! The WGSL kernels: which file and entry point each one is, and the uniform `Params`
//! structs that mirror the shaders' (each `#[repr(C)]`, padded to 16 bytes).

use bytemuck::{Pod, Zeroable};

/// Every WGSL file of the crate, by name, for loading and for validation tests.
pub const SHADERS: [(&str, &str); 6] = [
    ("matmul.wgsl", include_str!("../../../shaders/matmul.wgsl")),
    ("elementwise.wgsl", include_str!("../../../shaders/elementwise.wgsl")),
    ("activation.wgsl", include_str!("../../../shaders/activation.wgsl")),
    ("reduce.wgsl", include_str!("../../../shaders/reduce.wgsl")),
    ("loss.wgsl", include_str!("../../../shaders/loss.wgsl")),
    ("optim.wgsl", include_str!("../../../shaders/optim.wgsl")),
];

/// One compute entry point.
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    MatMul,
    MatMulSmall,
    MatMulSumSplits,
    Add,
    Sub,
    Mul,
    Scale,
    Square,
    Broadcast,
    Sigmoid,
    Tanh,
    Relu,
    SigmoidGrad,
    TanhGrad,
    ReluGrad,
    SumAll,
    SumParts,
    SumRows,
    SumRowsParts,
    Mse,
    SoftmaxXent,
    SoftmaxXentGrad,
    CountCorrect,
    Sgd,
    SgdMomentum,
    Adam,
    AdamCorrections,
    Increment,
    Accumulate,
    SumSquares,
    GradStats,
    GradStatsParts,
    Sqrt,
    ClipValue,
    ClipCoefficient,
    FirstNonFinite,
}

impl Kernel {
    /// Every kernel, for tests that build them all.
    pub const ALL: [Kernel; 36] = [
        Kernel::MatMul,
        Kernel::MatMulSmall,
        Kernel::MatMulSumSplits,
        Kernel::Add,
        Kernel::Sub,
        Kernel::Mul,
        Kernel::Scale,
        Kernel::Square,
        Kernel::Broadcast,
        Kernel::Sigmoid,
        Kernel::Tanh,
        Kernel::Relu,
        Kernel::SigmoidGrad,
        Kernel::TanhGrad,
        Kernel::ReluGrad,
        Kernel::SumAll,
        Kernel::SumParts,
        Kernel::SumRows,
        Kernel::SumRowsParts,
        Kernel::Mse,
        Kernel::SoftmaxXent,
        Kernel::SoftmaxXentGrad,
        Kernel::CountCorrect,
        Kernel::Sgd,
        Kernel::SgdMomentum,
        Kernel::Adam,
        Kernel::AdamCorrections,
        Kernel::Increment,
        Kernel::Accumulate,
        Kernel::SumSquares,
        Kernel::GradStats,
        Kernel::GradStatsParts,
        Kernel::Sqrt,
        Kernel::ClipValue,
        Kernel::ClipCoefficient,
        Kernel::FirstNonFinite,
    ];

    /// Index into [`SHADERS`] of the file that holds this kernel.
    fn file_index(self) -> usize {
        use Kernel::*;
        match self {
            MatMul | MatMulSmall | MatMulSumSplits => 0,
            Add | Sub | Mul | Scale | Square | Broadcast | Sqrt | ClipValue | ClipCoefficient => 1,
            Sigmoid | Tanh | Relu | SigmoidGrad | TanhGrad | ReluGrad => 2,
            SumAll | SumParts | SumRows | SumRowsParts | SumSquares | GradStats | GradStatsParts => 3,
            Mse | SoftmaxXent | SoftmaxXentGrad | CountCorrect => 4,
            Sgd | SgdMomentum | Adam | AdamCorrections | Increment | Accumulate | FirstNonFinite => 5,
        }
    }

    /// The WGSL file name.
    pub fn file(self) -> &'static str {
        SHADERS[self.file_index()].0
    }

    /// The WGSL source.
    pub fn source(self) -> &'static str {
        SHADERS[self.file_index()].1
    }

    /// The entry point's name in its file.
    pub fn entry_point(self) -> &'static str {
        use Kernel::*;
        match self {
            MatMul => "matmul",
            MatMulSmall => "matmul_small",
            MatMulSumSplits => "matmul_sum_splits",
            Add => "add",
            Sub => "sub",
            Mul => "mul",
            Scale => "scale",
            Square => "square",
            Broadcast => "broadcast",
            Sigmoid => "sigmoid",
            Tanh => "tanh_fwd",
            Relu => "relu",
            SigmoidGrad => "sigmoid_grad",
            TanhGrad => "tanh_grad",
            ReluGrad => "relu_grad",
            SumAll => "sum_all",
            SumParts => "sum_parts",
            SumRows => "sum_rows",
            SumRowsParts => "sum_rows_parts",
            Mse => "mse",
            SoftmaxXent => "softmax_xent",
            SoftmaxXentGrad => "softmax_xent_grad",
            CountCorrect => "count_correct",
            Sgd => "sgd",
            SgdMomentum => "sgd_momentum",
            Adam => "adam",
            AdamCorrections => "adam_corrections",
            Increment => "increment",
            Accumulate => "accumulate",
            SumSquares => "sum_squares",
            GradStats => "grad_stats",
            GradStatsParts => "grad_stats_parts",
            Sqrt => "sqrt_fwd",
            ClipValue => "clip_value",
            ClipCoefficient => "clip_coefficient",
            FirstNonFinite => "first_non_finite",
        }
    }
}

/// `Params` of `elementwise.wgsl` and `activation.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub(crate) struct ElementwiseParams {
    pub len: u32,
    pub cols: u32,
    pub a_rows: u32,
    pub a_cols: u32,
    pub b_rows: u32,
    pub b_cols: u32,
    pub scalar: f32,
    pub _pad: u32,
}

/// `Params` of `matmul.wgsl`: `C[m, n] = op(A)[m, k] · op(B)[k, n]`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub(crate) struct MatmulParams {
    pub m: u32,
    pub n: u32,
    pub k: u32,
    pub trans_a: u32,
    pub trans_b: u32,
    pub k_chunk: u32,
    pub splits: u32,
    pub _pad: u32,
}

/// `Params` of `reduce.wgsl` and `loss.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub(crate) struct ReduceParams {
    pub rows: u32,
    pub cols: u32,
    pub scale: f32,
    /// Workgroups or row ranges the reduction is split into (see `reduce.rs`).
    pub parts: u32,
}

/// `Params` of `optim.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub(crate) struct OptimParams {
    pub len: u32,
    pub lr: f32,
    pub momentum: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub tag: u32,
    /// `1 − β₁` and `1 − β₂`, from [`crate::AdamConfig::complements`].
    pub one_minus_beta1: f32,
    pub one_minus_beta2: f32,
    pub _pad: [u32; 3],
}
