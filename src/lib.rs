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

mod autodiff;
pub mod backend;
pub mod checkpoint;
pub mod classifier;
pub mod custom;
pub mod data;
pub mod diagnostics;
mod error;
pub mod fuse;
mod gradients;
mod graph;
pub mod init;
mod layout;
mod losses;
mod map;
mod map_more;
pub mod models;
pub mod nn;
mod op;
pub mod optim;
pub mod output;
pub mod plan;
pub mod plot;
mod record;
mod record_batched;
mod record_map;
mod record_reduce;
mod record_rows;
mod record_tensor;
pub mod resident;
pub mod resume;
mod rules;
pub mod schedule;
mod shape;
mod strided;
pub mod testing;
pub mod total;
pub mod view;

pub use autodiff::Gradients;
pub use backend::{Device, DeviceChoice, KernelTime, Session};
pub use error::{Error, Result};
pub use graph::{Graph, Node, NodeId};
pub use op::{AdamConfig, Map, Op, Reduction, SgdConfig};
pub use optim::{Optimizer, OptimizerNodes};
pub use plan::{CompileOptions, MatmulTiles};
pub use schedule::Schedule;
pub use shape::Shape;
