//! Which loss kernels a softmax cross-entropy runs with: rows of up to [`WIDE_ROWS`]
//! classes a thread each (an MLP's 10 classes: one pass, no barriers), wider rows the
//! whole workgroup each (`_wide` in `shaders/loss.wgsl`), so that no thread walks a wide
//! row alone (30,000 classes took a thread 120,000 loop steps, past what lavapipe runs).

use super::kernels::Kernel;

/// The most classes a row may have to be walked by one thread.
pub(super) const WIDE_ROWS: usize = 1024;

/// `kernel`, or its wide-row form for rows of `cols` classes.
pub(super) fn for_width(kernel: Kernel, cols: usize) -> Kernel {
    if cols <= WIDE_ROWS {
        return kernel;
    }
    match kernel {
        Kernel::SoftmaxXent => Kernel::SoftmaxXentWide,
        Kernel::SoftmaxXentGrad => Kernel::SoftmaxXentGradWide,
        Kernel::SoftmaxXentWithGrad => Kernel::SoftmaxXentWithGradWide,
        Kernel::SoftmaxXentWithGradAcc => Kernel::SoftmaxXentWithGradAccWide,
        Kernel::CountCorrect => Kernel::CountCorrectWide,
        other => other,
    }
}
