//! Between the recorded graph and a backend: which nodes run together in one launch
//! (fusion) and the plan both backends run (order, storage slots).

pub mod fuse;
pub mod plan;
