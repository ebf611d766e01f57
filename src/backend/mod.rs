//! Backends: where a compiled graph runs. [`Device`] picks one; [`Session`] runs steps.

pub mod cpu;
pub mod cpu_ops;
pub mod wgpu;

use std::sync::Arc;

use crate::error::Result;
use crate::graph::{Graph, NodeId};

/// A graph compiled for one backend, replayed once per training step.
pub trait Session {
    /// Which backend and adapter run this session.
    fn backend_name(&self) -> String;

    /// Sets the data of a leaf (input, parameter, constant or state) for the next runs.
    fn write(&mut self, node: NodeId, data: &[f32]) -> Result<()>;

    /// Runs the whole plan once (forward, backward, updates) without reading anything back.
    fn run(&mut self) -> Result<()>;

    /// Reads a kept node or a leaf, after the runs so far.
    fn read(&mut self, node: NodeId) -> Result<Vec<f32>>;

    /// Reads several kept nodes or leaves; on the GPU in one transfer.
    fn read_many(&mut self, nodes: &[NodeId]) -> Result<Vec<Vec<f32>>> {
        nodes.iter().map(|&n| self.read(n)).collect()
    }

    /// Runs the plan once with every kernel timed on the device, and returns the times in
    /// execution order. Only GPU sessions on adapters with timestamp queries can.
    fn profile(&mut self) -> Result<Vec<KernelTime>> {
        Err(crate::Error::InvalidArgument {
            op: "profile",
            msg: format!("{} cannot time kernels", self.backend_name()),
        })
    }

    /// Copies the current values of `nodes` (leaves, e.g. parameters) into `other`, which
    /// must have been compiled from the same graph (e.g. training → inference).
    fn copy_to(&mut self, other: &mut dyn Session, nodes: &[NodeId]) -> Result<()> {
        for &node in nodes {
            let values = self.read(node)?;
            other.write(node, &values)?;
        }
        Ok(())
    }

    /// Runs once and reads `nodes` back; on the GPU both happen in one submission.
    fn run_and_read(&mut self, nodes: &[NodeId]) -> Result<Vec<Vec<f32>>> {
        self.run()?;
        nodes.iter().map(|&n| self.read(n)).collect()
    }
}

/// One kernel launch of a profiled run.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelTime {
    /// The op, node and shape the launch computes, e.g. `matmul #12 [64, 128]`.
    pub what: String,
    /// Device time in microseconds.
    pub micros: f64,
}

/// Where to run: the CPU reference backend or a wgpu adapter.
#[derive(Clone)]
pub enum Device {
    /// Plain Rust loops.
    Cpu,
    /// A wgpu device (Vulkan, Metal or DX12; Mesa's lavapipe counts).
    Gpu(Arc<self::wgpu::GpuContext>),
}

impl Device {
    /// The best GPU adapter: discrete, then integrated, virtual, and software (lavapipe).
    pub fn gpu() -> Result<Device> {
        Ok(Device::Gpu(Arc::new(self::wgpu::GpuContext::new()?)))
    }

    /// The best GPU adapter, or the CPU backend with a one-line notice on stderr.
    pub fn best() -> Device {
        Device::gpu().unwrap_or_else(|err| {
            eprintln!("notice: using the CPU backend: {err}");
            Device::Cpu
        })
    }

    /// `"gpu"` → [`Device::best`], `"cpu"` → [`Device::Cpu`]; what `--backend` flags take.
    pub fn from_name(name: &str) -> Result<Device> {
        match name {
            "gpu" => Ok(Device::best()),
            "cpu" => Ok(Device::Cpu),
            other => Err(crate::Error::InvalidArgument {
                op: "backend",
                msg: format!("unknown backend '{other}': expected 'gpu' or 'cpu'"),
            }),
        }
    }

    /// A description such as `cpu (reference)` or `gpu: NVIDIA H200 (Vulkan)`.
    pub fn name(&self) -> String {
        match self {
            Device::Cpu => "cpu (reference)".into(),
            Device::Gpu(ctx) => format!("gpu: {}", ctx.adapter_name()),
        }
    }

    /// Compiles `graph` for training: each run computes what `keep` needs and applies
    /// every in-place update (optimizer step). `keep` lists the nodes readable after a run.
    pub fn compile(&self, graph: &Graph, keep: &[NodeId]) -> Result<Box<dyn Session>> {
        self.compile_with(graph, keep, true)
    }

    /// Compiles `graph` for inference: each run computes only what `keep` needs and
    /// leaves parameters unchanged.
    pub fn compile_inference(&self, graph: &Graph, keep: &[NodeId]) -> Result<Box<dyn Session>> {
        self.compile_with(graph, keep, false)
    }

    fn compile_with(&self, graph: &Graph, keep: &[NodeId], updates: bool) -> Result<Box<dyn Session>> {
        Ok(match self {
            Device::Cpu => Box::new(cpu::CpuSession::new(graph, keep, updates)?),
            Device::Gpu(ctx) => Box::new(self::wgpu::GpuSession::new(ctx.clone(), graph, keep, updates)?),
        })
    }
}
