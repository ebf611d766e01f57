//! Shared helpers: the GPU device, the tolerance rule, and random data.

use backprop::{Device, Shape};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// The best GPU adapter, or why there is none.
pub fn gpu_device() -> Result<Device, String> {
    Device::gpu().map_err(|e| e.to_string())
}

/// `|actual - expected| <= atol + rtol · |expected|`, elementwise: the one tolerance rule.
#[derive(Clone, Copy, Debug)]
pub struct Tolerance {
    pub atol: f32,
    pub rtol: f32,
}

/// Same arithmetic, same order: only last-bit differences (e.g. fma contraction).
pub const ELEMENTWISE: Tolerance = Tolerance { atol: 1e-6, rtol: 1e-6 };
/// exp-based kernels: the GPU's exp may differ from libm by a few ulp.
pub const TRANSCENDENTAL: Tolerance = Tolerance { atol: 1e-6, rtol: 2e-5 };
/// Sums and products whose summation order differs between backends.
pub const REDUCTION: Tolerance = Tolerance { atol: 1e-5, rtol: 1e-4 };
/// Whole training steps: the above, compounded over a few steps.
pub const TRAINING: Tolerance = Tolerance { atol: 2e-5, rtol: 2e-4 };

/// Panics with the first element outside `tol`, naming `what`; NaN must meet NaN.
pub fn assert_close(what: &str, actual: &[f32], expected: &[f32], tol: Tolerance) {
    assert_eq!(actual.len(), expected.len(), "{what}: lengths differ");
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        let ok = if e.is_nan() { a.is_nan() } else { (a - e).abs() <= tol.atol + tol.rtol * e.abs() };
        assert!(ok, "{what}[{i}]: got {a}, expected {e} (tolerance {tol:?})");
    }
}

pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// Uniform values in [-1, 1) kept at least 0.05 away from 0, so that ReLU's kink and
/// division-like behaviour are avoided.
pub fn away_from_zero(rng: &mut StdRng, shape: Shape) -> Vec<f32> {
    backprop::testing::away_from_zero(rng, shape)
}
