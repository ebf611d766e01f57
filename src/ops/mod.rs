//! The op families, one file each, every one recording into [`crate::Graph`] with its
//! shapes checked: the elementwise family (its descriptions, the math beyond an MLP's,
//! ops registered from outside, its recording methods), products, row and whole-tensor
//! reductions, reductions along dims, the layouts of matrices and of N-d tensors,
//! convolutions and poolings, and the losses composed from them.

pub(crate) mod basic;
pub mod conv;
pub mod custom;
pub(crate) mod elementwise;
pub(crate) mod elementwise_defs;
pub(crate) mod elementwise_math;
pub(crate) mod elementwise_record;
pub(crate) mod losses;
pub(crate) mod matrix_layout;
pub mod norm;
pub(crate) mod products;
pub(crate) mod reductions;
pub(crate) mod rows;
pub(crate) mod tensor_layout;
pub mod total;
