//! Seeded parameter initialisation.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

use crate::error::{Error, Result};
use crate::graph::shape::Shape;

/// A seeded random number generator, so that runs are reproducible.
pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// The generator of epoch `epoch`'s data order in a run seeded with `seed`. Each epoch's
/// order depends only on the two numbers, so training resumed at any epoch sees the
/// same orders as training that never stopped.
pub fn epoch_rng(seed: u64, epoch: usize) -> StdRng {
    // A golden-ratio multiple spreads neighbouring epochs over the whole seed space.
    StdRng::seed_from_u64(seed ^ (epoch as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

fn checked_len(shape: Shape, what: &str) -> Result<usize> {
    crate::error::check_size(shape, what)?;
    if shape.is_empty() {
        return Err(Error::InvalidArgument { op: "init", msg: format!("empty shape {shape}") });
    }
    Ok(shape.len())
}

/// Values drawn from the standard normal distribution (NumPy's `randn`).
///
/// # Errors
///
/// [`Error::InvalidArgument`] for an empty shape, [`Error::TooLarge`] for one beyond
/// [`Shape::MAX_ELEMENTS`].
pub fn normal(rng: &mut impl Rng, shape: impl Into<Shape>) -> Result<Vec<f32>> {
    let len = checked_len(shape.into(), "init::normal")?;
    Ok((0..len).map(|_| rng.sample::<f32, _>(StandardNormal)).collect())
}

/// Values drawn uniformly from `[-bound, bound)`; all zeros when `bound` is 0.
///
/// # Errors
///
/// As [`normal`], and [`Error::InvalidArgument`] for a negative or non-finite bound.
pub fn uniform(rng: &mut impl Rng, shape: impl Into<Shape>, bound: f32) -> Result<Vec<f32>> {
    let len = checked_len(shape.into(), "init::uniform")?;
    if !(bound.is_finite() && bound >= 0.0) {
        return Err(Error::InvalidArgument {
            op: "init::uniform",
            msg: format!("bound {bound} must be finite and >= 0"),
        });
    }
    if bound == 0.0 {
        return Ok(vec![0.0; len]);
    }
    Ok((0..len).map(|_| rng.random_range(-bound..bound)).collect())
}
