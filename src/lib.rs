//! # backprop
//!
//! Train neural networks by backpropagation on the GPU. A computation is recorded once as
//! a [`Graph`], differentiated into the same graph by [`Graph::backward`], compiled once
//! per backend by [`Device::compile`], then replayed each training step: forward,
//! backward and optimizer update in one GPU submission, reading back only what is asked.
//!
//! Every kernel is WGSL run through `wgpu` (Vulkan, Metal, DX12). The CPU backend runs the
//! same plan with plain loops; it is the specification every GPU result is tested against.
//!
//! ```
//! use backprop::{Device, Graph};
//!
//! // y = x² + 3x + 1; dy/dx at x = 2 is 2·2 + 3 = 7.
//! let mut g = Graph::new();
//! let x = g.parameter("x", [1, 1], vec![2.0])?;
//! let x2 = g.square(x)?;
//! let three_x = g.scale(x, 3.0)?;
//! let one = g.constant([1, 1], vec![1.0])?;
//! let sum = g.add(x2, three_x)?;
//! let y = g.add(sum, one)?;
//! let grads = g.backward(y)?;
//! let dx = grads.get(x).unwrap();
//! let mut session = Device::Cpu.compile(&g, &[y, dx])?;
//! let out = session.run_and_read(&[y, dx])?;
//! assert_eq!(out, vec![vec![11.0], vec![7.0]]);
//! # Ok::<(), backprop::Error>(())
//! ```
#![deny(missing_docs)]
#![warn(clippy::missing_errors_doc)]

// The pipeline, one folder a stage: the recorded graph and its shapes, the op families
// that record into it, differentiation, fusion and planning, the backends that run a
// plan; then training (layers, optimizers, schedules, the classifier, checkpoints, data)
// and seeing (charts and the graph view).
mod autodiff;
pub mod backend;
mod compile;
mod error;
mod graph;
mod ops;
pub mod output;
mod see;
pub mod testing;
mod train;

pub use compile::{fuse, plan};
pub use ops::{conv, custom, norm, total};
pub use see::{plot, view};
#[cfg(feature = "mpi")]
pub use train::mpi;
pub use train::{
    checkpoint, classifier, data, data_parallel, diagnostics, init, models, nn, optim, resident, resume, schedule,
};

pub use autodiff::Gradients;
pub use backend::{Device, DeviceChoice, KernelTime, PendingRead, Session};
pub use compile::plan::{CompileOptions, MatmulTiles};
pub use error::{Error, Result};
pub use graph::op::{AdamConfig, Conv, Map, Op, Pool, Reduction, SgdConfig, Window};
pub use graph::shape::{Dims, Shape};
pub use graph::{Graph, Node, NodeId};
pub use train::optim::{Optimizer, OptimizerNodes};
pub use train::schedule::Schedule;
