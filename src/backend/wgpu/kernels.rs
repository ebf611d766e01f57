//! The WGSL kernels: which file and entry point each one is, the elementwise family's
//! kernels generated from their template, and the uniform `Params` structs that mirror
//! the shaders' (each `#[repr(C)]`, padded to 16 bytes).

use std::borrow::Cow;
use std::sync::OnceLock;

use bytemuck::{Pod, Zeroable};

use super::templates::{map_helpers, with_element, PRELUDE};
use crate::ops::elementwise::Map;
use crate::ops::total::Total;

/// Every hand-written WGSL file of the crate, by name, each after the shared prelude, for
/// loading and for validation tests. The elementwise family's module and the reductions'
/// are generated from templates (see [`map_source`] and [`reduce_source`]).
pub const SHADERS: [(&str, &str); 8] = [
    (
        "matmul.wgsl",
        concat!(
            include_str!("../../../shaders/prelude.wgsl"),
            include_str!("../../../shaders/matmul.wgsl"),
            // A plain product's epilogue; fused launches generate theirs (`generate.rs`).
            "\nfn epilogue(i: u32, v: f32) -> f32 {\n    return v;\n}\n"
        ),
    ),
    ("loss.wgsl", concat!(include_str!("../../../shaders/prelude.wgsl"), include_str!("../../../shaders/loss.wgsl"))),
    (
        "layout.wgsl",
        concat!(include_str!("../../../shaders/prelude.wgsl"), include_str!("../../../shaders/layout.wgsl")),
    ),
    (
        "random.wgsl",
        concat!(include_str!("../../../shaders/prelude.wgsl"), include_str!("../../../shaders/random.wgsl")),
    ),
    (
        "optim.wgsl",
        concat!(
            include_str!("../../../shaders/prelude.wgsl"),
            include_str!("../../../shaders/optim_math.wgsl"),
            include_str!("../../../shaders/optim.wgsl")
        ),
    ),
    (
        "gather.wgsl",
        concat!(include_str!("../../../shaders/prelude.wgsl"), include_str!("../../../shaders/gather.wgsl")),
    ),
    (
        "tensor.wgsl",
        concat!(include_str!("../../../shaders/prelude.wgsl"), include_str!("../../../shaders/tensor.wgsl")),
    ),
    (
        "conv.wgsl",
        concat!(
            include_str!("../../../shaders/prelude.wgsl"),
            include_str!("../../../shaders/conv.wgsl"),
            // A plain convolution's epilogue; fused launches generate theirs (`generate.rs`).
            "\nfn epilogue(i: u32, v: f32) -> f32 {\n    return v;\n}\n"
        ),
    ),
];

/// The reductions' template: written-out entries, then `// @entry` and the entry every
/// whole-tensor sum gets.
const REDUCE_TEMPLATE: &str = include_str!("../../../shaders/reduce.wgsl");

/// The elementwise family's template: a prelude, then `// @entry` and the entry point
/// every op gets.
const MAP_TEMPLATE: &str = include_str!("../../../shaders/map.wgsl");

/// The entry point of an elementwise op in [`map_source`]: its name, prefixed so that
/// it never clashes with a WGSL built-in (`exp`, `log`, `sqrt`, ...).
fn map_entry(map: Map) -> String {
    format!("map_{}", map.def().name)
}

/// The WGSL module of the whole elementwise family: the template's prelude once, then one
/// entry point per [`Map`] op, named `map_<name>`, with its expression spliced in.
pub fn map_source() -> &'static str {
    static SOURCE: OnceLock<String> = OnceLock::new();
    SOURCE.get_or_init(|| Map::ALL.into_iter().fold(map_prelude(), |source, map| source + &map_entry_source(map)))
}

/// The module of one op registered from outside the crate ([`crate::ops::custom`]): the same
/// prelude and the op's entry, generated once per op and kept for the process.
pub fn custom_map_source(map: Map) -> &'static str {
    let module =
        super::generate::intern(format!("custom {}", map.def().name), || map_prelude() + &map_entry_source(map));
    super::generate::source(module)
}

/// What every elementwise module starts with: the prelude, the template's prelude and
/// the helpers expressions call.
fn map_prelude() -> String {
    let (prelude, _) = MAP_TEMPLATE.split_once("\n// @entry\n").expect("map.wgsl has an entry template");
    PRELUDE.to_owned() + &with_element(prelude) + &map_helpers()
}

/// The entry point of `map`: the template's entry with its name and expression.
fn map_entry_source(map: Map) -> String {
    let (_, entry) = MAP_TEMPLATE.split_once("\n// @entry\n").expect("map.wgsl has an entry template");
    let def = map.def();
    let b = if def.arity == 2 { "let b = b_at(i);" } else { "let b = 0.0;" };
    entry.replace("NAME", &map_entry(map)).replace("ENTRY_B", b).replace("EXPR", def.wgsl)
}

/// Modules of fused launches (`generate.rs`) for validation tests: each elementwise op as
/// a product's epilogue, on either side of a two-operand op, a chain of the most steps
/// after a product and after a convolution,
/// and each optimizer's launch over parameters with and without inline column sums.
pub fn fused_examples() -> Vec<(String, &'static str)> {
    use super::generate::{epilogue_module, updates_module, EpilogueStep, Head, UpdateKind};
    let mut modules = Vec::new();
    for map in Map::ALL {
        for value_first in [true, false] {
            let module = epilogue_module(&[EpilogueStep { map, value_first }], Head::MatMul);
            modules.push((format!("matmul with epilogue {}", map.def().name), super::generate::source(module)));
        }
    }
    let chain = [Map::Add, Map::Relu, Map::Mul, Map::Tanh].map(|map| EpilogueStep { map, value_first: true });
    for (head, name) in [(Head::MatMul, "matmul"), (Head::Conv, "convolution"), (Head::PoolGrad, "convolution pool")] {
        let module = epilogue_module(&chain, head);
        modules.push((format!("{name} with a 4-step epilogue"), super::generate::source(module)));
    }
    for kind in [UpdateKind::Sgd, UpdateKind::Momentum, UpdateKind::Adam] {
        let module = updates_module(kind, &[false, true, false]);
        modules.push((format!("{kind:?} updates"), super::generate::source(module)));
    }
    modules
}

/// The WGSL module of the reductions: `reduce.wgsl`'s written-out part once, then one
/// entry point per [`Total`], named as it, with its term spliced in.
pub fn reduce_source() -> &'static str {
    static SOURCE: OnceLock<String> = OnceLock::new();
    SOURCE.get_or_init(|| {
        let (fixed, entry) = REDUCE_TEMPLATE.split_once("\n// @entry\n").expect("reduce.wgsl has an entry template");
        let mut source = PRELUDE.to_owned() + fixed;
        for total in Total::ALL {
            let def = total.def();
            source += &entry.replace("NAME", def.name).replace("TERM", def.wgsl);
        }
        source
    })
}

/// Where a kernel's module comes from: a generated family module, a generated fused
/// launch, or a hand-written file of [`SHADERS`].
#[derive(Clone, Copy)]
enum Origin {
    Map(Map),
    Reduce,
    Generated(u32),
    File(usize),
}

/// One compute entry point.
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// An op of the elementwise family, from [`map_source`].
    Map(Map),
    /// An entry point of a module generated for a fused launch (`generate.rs`).
    Generated {
        /// The module's number among those generated.
        module: u32,
        /// Its entry point.
        entry: &'static str,
    },
    MatMul,
    MatMulSmall,
    /// `matmul_big` in `matmul.wgsl`: 128×128 tiles.
    MatMulBig,
    MatMulSumSplits,
    GatherRows,
    GatherBytes,
    GatherOneHot,
    GatherBatchBytes,
    GatherBatchRows,
    /// A whole-tensor sum, from [`reduce_source`].
    Total(Total),
    SumParts,
    SumRows,
    SumRowsParts,
    SumCols,
    MaxCols,
    SoftmaxXent,
    SoftmaxXentGrad,
    SoftmaxXentWithGrad,
    SoftmaxXentWithGradAcc,
    CountCorrect,
    /// The wide-row forms (see `loss.rs`).
    SoftmaxXentWide,
    SoftmaxXentGradWide,
    SoftmaxXentWithGradWide,
    SoftmaxXentWithGradAccWide,
    CountCorrectWide,
    Sgd,
    SgdMomentum,
    Adam,
    AdamCorrections,
    Increment,
    Accumulate,
    GradStats,
    GradStatsParts,
    FirstNonFinite,
    DropoutMask,
    Transpose,
    SliceCols,
    PadCols,
    ConcatCols,
    /// The N-d ops of `tensor.wgsl`.
    Restride,
    ReduceDim,
    IndexSelect,
    IndexAdd,
    BatchMatMul,
    Fold,
    /// The convolutions and max pooling of `conv.wgsl`.
    ConvGemm,
    ConvGemmBias,
    MaxPool,
    MaxPoolGrad,
}

impl Kernel {
    /// Every kernel, for tests that build them all.
    pub fn all() -> Vec<Kernel> {
        let fixed = [
            Kernel::MatMul,
            Kernel::MatMulSmall,
            Kernel::MatMulBig,
            Kernel::MatMulSumSplits,
            Kernel::SumParts,
            Kernel::SumRows,
            Kernel::SumRowsParts,
            Kernel::SumCols,
            Kernel::MaxCols,
            Kernel::SoftmaxXent,
            Kernel::SoftmaxXentGrad,
            Kernel::SoftmaxXentWithGrad,
            Kernel::SoftmaxXentWithGradAcc,
            Kernel::CountCorrect,
            Kernel::SoftmaxXentWide,
            Kernel::SoftmaxXentGradWide,
            Kernel::SoftmaxXentWithGradWide,
            Kernel::SoftmaxXentWithGradAccWide,
            Kernel::CountCorrectWide,
            Kernel::Sgd,
            Kernel::SgdMomentum,
            Kernel::Adam,
            Kernel::AdamCorrections,
            Kernel::Increment,
            Kernel::Accumulate,
            Kernel::GradStats,
            Kernel::GradStatsParts,
            Kernel::FirstNonFinite,
            Kernel::DropoutMask,
            Kernel::Transpose,
            Kernel::SliceCols,
            Kernel::PadCols,
            Kernel::ConcatCols,
            Kernel::GatherRows,
            Kernel::GatherBytes,
            Kernel::GatherOneHot,
            Kernel::GatherBatchBytes,
            Kernel::GatherBatchRows,
            Kernel::Restride,
            Kernel::ReduceDim,
            Kernel::IndexSelect,
            Kernel::IndexAdd,
            Kernel::BatchMatMul,
            Kernel::Fold,
            Kernel::ConvGemm,
            Kernel::ConvGemmBias,
            Kernel::MaxPool,
            Kernel::MaxPoolGrad,
        ];
        let totals = Total::ALL.into_iter().map(Kernel::Total);
        Map::ALL.into_iter().map(Kernel::Map).chain(totals).chain(fixed).collect()
    }

    /// Where this kernel's module comes from.
    fn origin(self) -> Origin {
        use Kernel::*;
        match self {
            Map(map) => Origin::Map(map),
            Generated { module, .. } => Origin::Generated(module),
            Total(_) | SumParts | SumRows | SumRowsParts | SumCols | MaxCols | GradStats | GradStatsParts => {
                Origin::Reduce
            }
            MatMul | MatMulSmall | MatMulBig | MatMulSumSplits => Origin::File(0),
            SoftmaxXent
            | SoftmaxXentGrad
            | SoftmaxXentWithGrad
            | SoftmaxXentWithGradAcc
            | CountCorrect
            | SoftmaxXentWide
            | SoftmaxXentGradWide
            | SoftmaxXentWithGradWide
            | SoftmaxXentWithGradAccWide
            | CountCorrectWide => Origin::File(1),
            Transpose | SliceCols | PadCols | ConcatCols => Origin::File(2),
            DropoutMask => Origin::File(3),
            GatherRows | GatherBytes | GatherOneHot | GatherBatchBytes | GatherBatchRows => Origin::File(5),
            Sgd | SgdMomentum | Adam | AdamCorrections | Increment | Accumulate | FirstNonFinite => Origin::File(4),
            Restride | ReduceDim | IndexSelect | IndexAdd | BatchMatMul | Fold => Origin::File(6),
            ConvGemm | ConvGemmBias | MaxPool | MaxPoolGrad => Origin::File(7),
        }
    }

    /// The WGSL file name (for the generated modules, their template's).
    pub fn file(self) -> &'static str {
        match self.origin() {
            Origin::Map(_) => "map.wgsl (generated)",
            Origin::Generated(_) => "fused launch (generated)",
            Origin::Reduce => "reduce.wgsl (generated)",
            Origin::File(i) => SHADERS[i].0,
        }
    }

    /// The WGSL source.
    pub fn source(self) -> &'static str {
        match self.origin() {
            Origin::Map(map @ Map::Custom(_)) => custom_map_source(map),
            Origin::Map(_) => map_source(),
            Origin::Generated(module) => super::generate::source(module),
            Origin::Reduce => reduce_source(),
            Origin::File(i) => SHADERS[i].1,
        }
    }

    /// The entry point's name in its file.
    pub fn entry_point(self) -> Cow<'static, str> {
        use Kernel::*;
        let name = match self {
            Map(map) => return Cow::Owned(map_entry(map)),
            Generated { entry, .. } => entry,
            MatMul => "matmul",
            MatMulSmall => "matmul_small",
            MatMulBig => "matmul_big",
            MatMulSumSplits => "matmul_sum_splits",
            Total(total) => total.def().name,
            SumParts => "sum_parts",
            SumRows => "sum_rows",
            SumRowsParts => "sum_rows_parts",
            SumCols => "sum_cols",
            MaxCols => "max_cols",
            SoftmaxXent => "softmax_xent",
            SoftmaxXentGrad => "softmax_xent_grad",
            SoftmaxXentWithGrad => "softmax_xent_with_grad",
            SoftmaxXentWithGradAcc => "softmax_xent_with_grad_acc",
            CountCorrect => "count_correct",
            SoftmaxXentWide => "softmax_xent_wide",
            SoftmaxXentGradWide => "softmax_xent_grad_wide",
            SoftmaxXentWithGradWide => "softmax_xent_with_grad_wide",
            SoftmaxXentWithGradAccWide => "softmax_xent_with_grad_acc_wide",
            CountCorrectWide => "count_correct_wide",
            Sgd => "sgd",
            SgdMomentum => "sgd_momentum",
            Adam => "adam",
            AdamCorrections => "adam_corrections",
            Increment => "increment",
            Accumulate => "accumulate",
            GradStats => "grad_stats",
            GradStatsParts => "grad_stats_parts",
            FirstNonFinite => "first_non_finite",
            DropoutMask => "dropout_mask",
            Transpose => "transpose",
            SliceCols => "slice_cols",
            PadCols => "pad_cols",
            ConcatCols => "concat_cols",
            GatherRows => "gather_rows",
            GatherBytes => "gather_bytes",
            GatherOneHot => "gather_one_hot",
            GatherBatchBytes => "gather_batch_bytes",
            GatherBatchRows => "gather_batch_rows",
            Restride => "restride",
            ReduceDim => "reduce_dim",
            IndexSelect => "index_select",
            IndexAdd => "index_add",
            BatchMatMul => "batch_matmul",
            Fold => "fold",
            ConvGemm => "conv_gemm",
            ConvGemmBias => "conv_gemm_bias",
            MaxPool => "max_pool",
            MaxPoolGrad => "max_pool_grad",
        };
        Cow::Borrowed(name)
    }
}

/// `Params` of `map.wgsl`.
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
    /// Bit 0: A's contiguous dimension is a multiple of 4 (vec4 loads); bit 1: B's.
    pub aligned: u32,
    /// Per epilogue step: the operand's rows and columns, the constant's bits, 0.
    pub ep: [[u32; 4]; 4],
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

/// `Params` of `layout.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub(crate) struct LayoutParams {
    pub rows: u32,
    pub cols: u32,
    pub a_cols: u32,
    pub b_cols: u32,
    pub start: u32,
    pub _pad: [u32; 3],
}

/// `Params` of `random.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub(crate) struct RandomParams {
    pub len: u32,
    pub p: f32,
    pub seed: u32,
    pub _pad: u32,
}

/// `Params` of `gather.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub(crate) struct GatherParams {
    pub rows: u32,
    pub cols: u32,
    pub samples: u32,
    pub steps: u32,
    pub words: u32,
    pub classes: u32,
    pub _pad: [u32; 2],
}

/// `Params` of `optim.wgsl` (and of the generated update launches, which add their
/// ranges after it).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub(crate) struct OptimParams {
    pub len: u32,
    pub weight_decay: f32,
    pub momentum: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub tag: u32,
    /// `1 − β₁` and `1 − β₂`, from [`crate::AdamConfig::complements`].
    pub one_minus_beta1: f32,
    pub one_minus_beta2: f32,
    /// Bit 0: Nesterov momentum; bit 1: decoupled weight decay (AdamW).
    pub flags: u32,
    pub _pad: [u32; 2],
}

/// `Params` of `tensor.wgsl`: each entry point reads the fields its comment names.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub(crate) struct TensorParams {
    pub len: u32,
    pub rank: u32,
    pub offset: u32,
    /// The dim of a padding window; 6 (no dim) for none.
    pub window_dim: u32,
    pub window_start: u32,
    pub window_len: u32,
    pub fill: f32,
    /// The reduction: 0 sum, 1 max, 2 min, 3 argmax.
    pub kind: u32,
    pub outer: u32,
    pub size: u32,
    pub inner: u32,
    pub count: u32,
    pub m: u32,
    pub n: u32,
    pub k: u32,
    /// Bit 0: transpose A; bit 1: transpose B.
    pub flags: u32,
    pub a_stride: u32,
    pub b_stride: u32,
    pub _pad: [u32; 2],
    pub dims: [u32; 8],
    pub strides: [u32; 8],
}

/// `Params` of `conv.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub(crate) struct ConvParams {
    /// 0 forward, 1 input gradient, 2 weight gradient.
    pub mode: u32,
    /// The product's sizes, per group.
    pub m: u32,
    pub n: u32,
    pub k: u32,
    pub k_chunk: u32,
    pub splits: u32,
    pub batch: u32,
    pub channels: u32,
    pub height: u32,
    pub width: u32,
    pub outputs: u32,
    pub out_h: u32,
    pub out_w: u32,
    pub groups: u32,
    pub kh: u32,
    pub kw: u32,
    pub stride: [u32; 2],
    pub pad: [u32; 2],
    pub dilation: [u32; 2],
    /// Threads of a pooling; the weight's length for a weight gradient's partials.
    pub len: u32,
    pub _pad: u32,
    /// Per epilogue step of a fused forward convolution: the operand's rows and columns,
    /// the constant's bits, 0.
    pub ep: [[u32; 4]; 4],
}
