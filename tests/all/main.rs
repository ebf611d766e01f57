//! The test suite, as one binary (one link instead of one per file).

mod common;
mod crosscheck;
mod gradcheck;
mod shaders;
mod shapes;
mod training;
