//! The test suite, as one binary (one link instead of one per file).

mod checkpoints;
mod common;
mod crosscheck;
mod data;
mod diagnostics;
mod gradcheck;
mod optimizers;
mod shaders;
mod shapes;
mod training;
