//! Training: layers and models, their initialisation, optimizers and schedules, data
//! sets (from files or held on the device), the classifier that trains on them,
//! diagnostics, and checkpoints with the state to resume from.

pub mod checkpoint;
pub mod classifier;
pub mod data;
pub mod data_parallel;
pub mod diagnostics;
pub mod init;
pub mod models;
#[cfg(feature = "mpi")]
pub mod mpi;
pub mod nn;
pub mod optim;
pub mod resident;
pub mod resume;
pub mod schedule;
