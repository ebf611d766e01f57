//! Backends: where a compiled graph runs. [`Device`] picks one; [`Session`] runs steps.

pub mod cpu;
#[cfg(target_arch = "x86_64")]
mod cpu_avx512;
mod cpu_conv;
mod cpu_matmul;
pub mod cpu_ops;
mod cpu_pool;
mod cpu_tensor;
mod cpu_winograd;
mod guard;
pub mod wgpu;

use std::sync::Arc;

use crate::compile::plan::{CompileOptions, Plan};
use crate::error::{Error, Result};
use crate::graph::{Graph, NodeId};
pub(crate) use guard::RunGuard;

/// Whether a session compiled from `graph` with `plan` can read `id` now: the id is of
/// this graph, a leaf or a kept node, and (if computed) the session has run. One rule for
/// both backends, so they give the same answer.
pub(crate) fn check_readable(graph: &Graph, plan: &Plan, id: NodeId, has_run: bool) -> Result<()> {
    let node = graph.node(id)?;
    // A leaf that nothing in the plan uses has no storage on the GPU; refused on both.
    let stored = plan.slot_of(id).is_some();
    if !stored || !(node.op.is_leaf() || plan.kept.contains(&id)) {
        return Err(Error::NotKept { node: graph.label(id) });
    }
    if !has_run && !node.op.is_leaf() {
        return Err(Error::NotComputed { node: graph.label(id) });
    }
    Ok(())
}

/// A graph compiled for one backend, replayed once per training step.
pub trait Session {
    /// Which backend and adapter run this session.
    fn backend_name(&self) -> String;

    /// Sets the data of a leaf (input, parameter, constant or state) for the next runs.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignNode`] for an id of another graph, [`Error::InvalidArgument`] for a
    /// computed node, [`Error::DataLength`] when `data` does not fill the node.
    fn write(&mut self, node: NodeId, data: &[f32]) -> Result<()>;

    /// How many kernel launches (GPU) or op evaluations (CPU) one run makes: what fusion
    /// reduces.
    fn launches_per_step(&self) -> usize;

    /// Runs the whole plan once (forward, backward, updates) without reading anything back.
    ///
    /// # Errors
    ///
    /// [`Error::Gpu`] when the device reports an error.
    fn run(&mut self) -> Result<()>;

    /// Runs the whole plan `steps` times, each run seeing the previous one's updates, as
    /// [`Session::run`] would one after another; the GPU records them all into one
    /// submission, with no host work in between. Use it when the steps need no new host
    /// data (a graph that gathers its batches on the device, or a benchmark).
    ///
    /// # Errors
    ///
    /// As [`Session::run`].
    fn run_steps(&mut self, steps: usize) -> Result<()> {
        for _ in 0..steps {
            self.run()?;
        }
        Ok(())
    }

    /// Bytes of device memory (host memory on the CPU) this session's values occupy: every
    /// storage slot of its plan, allocated once at compile time and never during a run.
    fn storage_bytes(&self) -> u64;

    /// Reads a kept node or a leaf, after the runs so far.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignNode`] for an id of another graph, [`Error::NotKept`] for a node not
    /// kept when compiling, [`Error::NotComputed`] for a computed node before the first
    /// run, [`Error::Gpu`] when reading back fails.
    fn read(&mut self, node: NodeId) -> Result<Vec<f32>>;

    /// The graph this session was compiled from.
    fn graph(&self) -> &Graph;

    /// Reads the node called `name` (a parameter such as `0.weight`, a state such as
    /// `lr` or `0.weight.exp_avg`, or a named kept node), found without listing its id:
    /// leaves are always readable, computed nodes when kept.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] when no node has that name; as [`Session::read`].
    fn read_named(&mut self, name: &str) -> Result<Vec<f32>> {
        let id = self
            .graph()
            .find(name)
            .ok_or_else(|| Error::InvalidArgument { op: "read_named", msg: format!("no node is called '{name}'") })?;
        self.read(id)
    }

    /// Reads several kept nodes or leaves; on the GPU in one transfer.
    ///
    /// # Errors
    ///
    /// As [`Session::read`].
    fn read_many(&mut self, nodes: &[NodeId]) -> Result<Vec<Vec<f32>>> {
        nodes.iter().map(|&n| self.read(n)).collect()
    }

    /// Runs the plan once with every kernel timed on the device, and returns the times in
    /// execution order: GPU sessions on adapters with timestamp queries, and the CPU
    /// backend (each launch group timed by the host clock).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] on a backend or adapter that cannot time kernels,
    /// [`Error::Gpu`] when the device reports an error.
    fn profile(&mut self) -> Result<Vec<KernelTime>> {
        Err(crate::Error::InvalidArgument {
            op: "profile",
            msg: format!("{} cannot time kernels", self.backend_name()),
        })
    }

    /// Whether node `id` has storage in this session: the leaves its plan uses and the
    /// nodes it computes and stores (a leaf nothing reads is not allocated).
    fn is_stored(&self, id: NodeId) -> bool;

    /// This session as [`std::any::Any`], so that a backend can recognise its own
    /// sessions (GPU sessions of one device copy values between them without the host).
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any;

    /// Copies the current value of each `(from, to)` pair's node `from` of this session
    /// into node `to` (a leaf) of `other`, which may have been compiled from another
    /// graph (e.g. training → evaluation). Between GPU sessions of one device the values
    /// never leave the device.
    ///
    /// # Errors
    ///
    /// As [`Session::read`] on this session and [`Session::write`] on `other`
    /// ([`Error::DataLength`] when the two nodes differ in size).
    fn copy_values_to(&mut self, other: &mut dyn Session, pairs: &[(NodeId, NodeId)]) -> Result<()> {
        let from: Vec<NodeId> = pairs.iter().map(|p| p.0).collect();
        let values = self.read_many(&from)?;
        for ((_, to), values) in pairs.iter().zip(values) {
            other.write(*to, &values)?;
        }
        Ok(())
    }

    /// Copies the current values of `nodes` (leaves, e.g. parameters) into `other`, which
    /// must have been compiled from the same graph (e.g. training → inference).
    ///
    /// # Errors
    ///
    /// As [`Session::read`] on this session and [`Session::write`] on `other` (an id of
    /// another graph is an error there too).
    fn copy_to(&mut self, other: &mut dyn Session, nodes: &[NodeId]) -> Result<()> {
        let pairs: Vec<(NodeId, NodeId)> = nodes.iter().map(|&n| (n, n)).collect();
        self.copy_values_to(other, &pairs)
    }

    /// Starts reading kept nodes or leaves without waiting for them: await
    /// [`PendingRead::values`] (or call [`Session::read_async`](trait.Session.html#method.read_async)).
    /// What a web page does, where waiting for the GPU would block the page; the session
    /// may run again before the values are awaited.
    ///
    /// # Errors
    ///
    /// As [`Session::read`], for what is known before the copies are submitted.
    fn start_read(&mut self, nodes: &[NodeId]) -> Result<PendingRead> {
        Ok(PendingRead::ready(self.read_many(nodes)?))
    }

    /// Runs once and starts reading `nodes`, as [`Session::start_read`]; on the GPU in one
    /// submission.
    ///
    /// # Errors
    ///
    /// As [`Session::run`] and [`Session::start_read`].
    fn run_and_start_read(&mut self, nodes: &[NodeId]) -> Result<PendingRead> {
        Ok(PendingRead::ready(self.run_and_read(nodes)?))
    }

    /// Runs once and reads `nodes` back; on the GPU both happen in one submission.
    ///
    /// # Errors
    ///
    /// As [`Session::run`] and [`Session::read`].
    fn run_and_read(&mut self, nodes: &[NodeId]) -> Result<Vec<Vec<f32>>> {
        // An id of another graph is refused before anything runs.
        for &n in nodes {
            self.graph().node(n)?;
        }
        self.run()?;
        nodes.iter().map(|&n| self.read(n)).collect()
    }
}

impl dyn Session + '_ {
    /// Reads kept nodes or leaves without blocking: [`Session::start_read`], awaited.
    ///
    /// # Errors
    ///
    /// As [`Session::read`]; in a web page also the errors the device reported since the
    /// last read (a rejected kernel, a lost device).
    pub async fn read_async(&mut self, nodes: &[NodeId]) -> Result<Vec<Vec<f32>>> {
        self.start_read(nodes)?.values().await
    }

    /// Runs once and reads `nodes` without blocking: [`Session::run_and_start_read`], awaited.
    ///
    /// # Errors
    ///
    /// As `read_async` and [`Session::run`].
    pub async fn run_and_read_async(&mut self, nodes: &[NodeId]) -> Result<Vec<Vec<f32>>> {
        self.run_and_start_read(nodes)?.values().await
    }
}

/// Values on their way back from a session ([`Session::start_read`]): the CPU's are
/// ready, the GPU's are mapped while the caller awaits [`PendingRead::values`].
pub struct PendingRead(Pending);

enum Pending {
    Ready(Vec<Vec<f32>>),
    Gpu(self::wgpu::PendingGpuRead),
}

impl PendingRead {
    pub(crate) fn ready(values: Vec<Vec<f32>>) -> Self {
        PendingRead(Pending::Ready(values))
    }

    pub(crate) fn gpu(pending: self::wgpu::PendingGpuRead) -> Self {
        PendingRead(Pending::Gpu(pending))
    }

    /// The values, waited for: what the blocking reads return natively. A web page cannot
    /// wait, so there it is an error that says to await [`PendingRead::values`].
    pub(crate) fn wait(self) -> Result<Vec<Vec<f32>>> {
        match self.0 {
            Pending::Ready(values) => Ok(values),
            Pending::Gpu(pending) => pending.wait(),
        }
    }

    /// The values, one vector per node in the order asked, once they have arrived.
    ///
    /// # Errors
    ///
    /// [`Error::Gpu`] when mapping the copies fails or the device reported an error.
    pub async fn values(self) -> Result<Vec<Vec<f32>>> {
        match self.0 {
            Pending::Ready(values) => Ok(values),
            Pending::Gpu(pending) => pending.finish().await,
        }
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

/// The device [`Device::auto`] or [`Device::from_name`] chose, and why, in words fit for
/// one line of a program's output (the library itself prints nothing).
#[derive(Clone)]
pub struct DeviceChoice {
    /// The chosen device.
    pub device: Device,
    /// Why it was chosen, e.g. `no hardware GPU adapter (found only llvmpipe ...)`.
    pub reason: String,
}

impl Device {
    /// The best adapter, software rasterizers included: discrete, then integrated,
    /// virtual, and software (lavapipe). What the test suite and `--backend gpu` use.
    /// Blocks until the device is open; a web page awaits [`Device::gpu_async`].
    ///
    /// # Errors
    ///
    /// [`Error::NoAdapter`] saying which backends were tried and how to get an adapter.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn gpu() -> Result<Device> {
        pollster::block_on(Device::gpu_async())
    }

    /// As [`Device::gpu`], awaited; in a web page, the browser's WebGPU adapter.
    ///
    /// # Errors
    ///
    /// As [`Device::gpu`].
    // In a web page wgpu's types are not `Send`: the page has one thread.
    #[cfg_attr(target_arch = "wasm32", allow(clippy::arc_with_non_send_sync))]
    pub async fn gpu_async() -> Result<Device> {
        let ctx = self::wgpu::GpuContext::new_async(self::wgpu::AdapterKind::Any).await?;
        Ok(Device::Gpu(Arc::new(ctx)))
    }

    /// A hardware GPU when there is one, else the CPU backend. A software rasterizer is
    /// not chosen here: training on it is many times slower than on the CPU backend.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn auto() -> DeviceChoice {
        pollster::block_on(Device::auto_async())
    }

    /// As [`Device::auto`], awaited. In a web page: the browser's WebGPU adapter when it
    /// offers one, else the CPU backend (compiled to WebAssembly).
    #[cfg_attr(target_arch = "wasm32", allow(clippy::arc_with_non_send_sync))]
    pub async fn auto_async() -> DeviceChoice {
        match self::wgpu::GpuContext::new_async(self::wgpu::AdapterKind::Hardware).await {
            Ok(ctx) => DeviceChoice { device: Device::Gpu(Arc::new(ctx)), reason: "the best hardware adapter".into() },
            Err(Error::NoAdapter { tried, .. }) => {
                DeviceChoice { device: Device::Cpu, reason: format!("no hardware GPU adapter; tried {tried}") }
            }
            Err(err) => DeviceChoice { device: Device::Cpu, reason: err.to_string() },
        }
    }

    /// [`Device::auto`]'s device.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn best() -> Device {
        Device::auto().device
    }

    /// What `--backend` flags take: `"auto"` → [`Device::auto`], `"gpu"` →
    /// [`Device::gpu`] (any adapter, software included), `"cpu"` → [`Device::Cpu`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for another name, and [`Device::gpu`]'s error for `"gpu"`
    /// without an adapter.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_name(name: &str) -> Result<DeviceChoice> {
        let chosen = |device, reason: &str| DeviceChoice { device, reason: reason.into() };
        match name {
            "auto" => Ok(Device::auto()),
            "gpu" => Ok(chosen(Device::gpu()?, "asked for with gpu")),
            "cpu" => Ok(chosen(Device::Cpu, "asked for with cpu")),
            other => Err(Error::InvalidArgument {
                op: "backend",
                msg: format!("unknown backend '{other}': expected auto, gpu or cpu"),
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
    ///
    /// # Errors
    ///
    /// [`Error::ForeignNode`] for a kept id of another graph; [`Error::TooLarge`] when the
    /// values would not fit (CPU) or a value exceeds the adapter's buffer limit (GPU);
    /// [`Error::Gpu`] when the device rejects a kernel or buffer.
    pub fn compile(&self, graph: &Graph, keep: &[NodeId]) -> Result<Box<dyn Session>> {
        self.compile_with(graph, keep, CompileOptions::default())
    }

    /// Compiles `graph` for inference: each run computes only what `keep` needs and
    /// leaves parameters unchanged.
    ///
    /// # Errors
    ///
    /// As [`Device::compile`].
    pub fn compile_inference(&self, graph: &Graph, keep: &[NodeId]) -> Result<Box<dyn Session>> {
        self.compile_with(graph, keep, CompileOptions { updates: false, ..Default::default() })
    }

    /// Compiles `graph` as `options` say: with or without the updates, fused or not (an
    /// unfused session runs one launch per node, two for a product or reduction split in
    /// parts; the fused one computes the same values).
    ///
    /// # Errors
    ///
    /// As [`Device::compile`].
    pub fn compile_with(&self, graph: &Graph, keep: &[NodeId], options: CompileOptions) -> Result<Box<dyn Session>> {
        Ok(match self {
            Device::Cpu => Box::new(cpu::CpuSession::new(graph, keep, options)?),
            Device::Gpu(ctx) => Box::new(self::wgpu::GpuSession::new(ctx.clone(), graph, keep, options)?),
        })
    }
}
