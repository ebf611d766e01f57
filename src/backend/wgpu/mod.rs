//! The wgpu backend: adapter and device ([`GpuContext`]), the WGSL kernels, and the
//! compiled session that records one command buffer per step.

mod context;
mod conv;
mod fused;
mod generate;
pub mod kernels;
mod launch;
mod loss;
mod matmul;
mod profile;
mod readback;
mod reduce;
mod session;
mod templates;
mod tensor;

pub use context::{is_software_adapter, AdapterKind, GpuContext};
pub(crate) use readback::PendingGpuRead;
pub use session::GpuSession;
