//! Seeded parameter initialisation.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

use crate::shape::Shape;

/// A seeded random number generator, so that runs are reproducible.
pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// Values drawn from the standard normal distribution (NumPy's `randn`).
pub fn normal(rng: &mut impl Rng, shape: impl Into<Shape>) -> Vec<f32> {
    (0..shape.into().len()).map(|_| rng.sample::<f32, _>(StandardNormal)).collect()
}

/// Values drawn uniformly from `[-bound, bound)`.
pub fn uniform(rng: &mut impl Rng, shape: impl Into<Shape>, bound: f32) -> Vec<f32> {
    (0..shape.into().len()).map(|_| rng.random_range(-bound..bound)).collect()
}
