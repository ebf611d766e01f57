//! The whole-tensor reduction family: the sum over every element of one term, scaled
//! (`sum`, `mean`, `sum_squares`, `mse_loss`). Each is described by its term in WGSL here
//! and on the CPU (in f64, as the reference accumulates) in `backend/cpu_ops.rs`
//! (`total_any`, where each loop is compiled with its term inlined); the GPU's entry points are
//! generated from one template (the `// @entry` part of `shaders/reduce.wgsl`), which
//! splits the sum into parts and adds them in a fixed order.

use crate::graph::op::Op;

/// A whole-tensor sum of one term per element.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Total {
    /// `Σ x` (`sum`; `mean` scales it).
    Sum,
    /// `Σ x²`.
    Squares,
    /// `Σ (x − y)²` (`mse_loss` scales it).
    SquaredError,
}

/// Everything about one sum.
pub(crate) struct TotalDef {
    /// The entry point's name.
    pub name: &'static str,
    /// The same in WGSL, of `x[i]` and `y[i]`.
    pub wgsl: &'static str,
}

impl Total {
    /// Every sum of the family (for kernel generation and tests).
    pub const ALL: [Total; 3] = [Total::Sum, Total::Squares, Total::SquaredError];

    /// The sum an op computes, and the scale applied to it: `(total, divide by the
    /// element count)`.
    pub(crate) fn of(op: Op) -> Option<(Total, bool)> {
        Some(match op {
            Op::SumAll => (Total::Sum, false),
            Op::Mean => (Total::Sum, true),
            Op::SumSquares => (Total::Squares, false),
            Op::MseLoss => (Total::SquaredError, true),
            _ => return None,
        })
    }

    /// The sum's one description.
    pub(crate) fn def(self) -> TotalDef {
        match self {
            Total::Sum => TotalDef { name: "sum_all", wgsl: "x[i]" },
            Total::Squares => TotalDef { name: "sum_squares", wgsl: "x[i] * x[i]" },
            Total::SquaredError => TotalDef { name: "mse", wgsl: "(x[i] - y[i]) * (x[i] - y[i])" },
        }
    }
}
