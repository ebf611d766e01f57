//! Adapter choice, device creation with the adapter's real limits, and the pipeline cache.

use std::collections::HashMap;
use std::sync::Mutex;

use super::kernels::Kernel;
use crate::error::{Error, Result};

const NO_ADAPTER_HINT: &str = "On a CPU-only Linux machine install Mesa's software Vulkan driver \
(apt-get install mesa-vulkan-drivers libvulkan1). On a headless NVIDIA machine whose stock \
Vulkan manifest points at libGLX_nvidia.so.0, write one that points at libEGL_nvidia.so.0 \
and set VK_ICD_FILENAMES to it.";

/// An open GPU device, its queue, and the compute pipelines built so far.
pub struct GpuContext {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    limits: wgpu::Limits,
    pipelines: Mutex<HashMap<Kernel, wgpu::ComputePipeline>>,
}

/// Lower is preferred: real GPUs before software rasterizers.
fn preference(kind: wgpu::DeviceType) -> u8 {
    match kind {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Cpu => 3,
        wgpu::DeviceType::Other => 4,
    }
}

impl GpuContext {
    /// Opens the best adapter on Vulkan, Metal or DX12 with all of its limits.
    pub fn new() -> Result<Self> {
        let backends = wgpu::Backends::PRIMARY;
        let mut descriptor = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
        descriptor.backends = backends;
        let instance = wgpu::Instance::new(descriptor);
        let adapters = pollster::block_on(instance.enumerate_adapters(backends));
        let adapter = adapters
            .into_iter()
            .min_by_key(|a| preference(a.get_info().device_type))
            .ok_or(Error::NoAdapter { tried: "Vulkan, Metal, DX12".into(), hint: NO_ADAPTER_HINT })?;
        let info = adapter.get_info();
        let limits = adapter.limits();
        // Timestamps inside compute passes serve `Session::profile`; optional.
        let timing = wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES;
        let descriptor = wgpu::DeviceDescriptor {
            label: Some("backprop"),
            required_limits: limits.clone(),
            required_features: adapter.features() & timing,
            ..Default::default()
        };
        let (device, queue) = pollster::block_on(adapter.request_device(&descriptor))
            .map_err(|e| Error::RequestDevice { adapter: info.name.clone(), msg: e.to_string() })?;
        Ok(GpuContext { device, queue, info, limits, pipelines: Mutex::new(HashMap::new()) })
    }

    /// The adapter's name and graphics API, e.g. `NVIDIA H200 (Vulkan)`.
    pub fn adapter_name(&self) -> String {
        format!("{} ({:?})", self.info.name, self.info.backend)
    }

    /// Whether kernels can be timed on the device (`Session::profile`).
    pub fn can_profile(&self) -> bool {
        self.device.features().contains(wgpu::Features::TIMESTAMP_QUERY)
    }

    /// The limits the device was opened with (the adapter's own).
    pub fn limits(&self) -> &wgpu::Limits {
        &self.limits
    }

    /// The compute pipeline of `kernel`, built on first use and cached.
    pub fn pipeline(&self, kernel: Kernel) -> Result<wgpu::ComputePipeline> {
        let mut cache = self.pipelines.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(pipeline) = cache.get(&kernel) {
            return Ok(pipeline.clone());
        }
        let pipeline = self.checked(kernel.entry_point(), || self.build_pipeline(kernel))?;
        cache.insert(kernel, pipeline.clone());
        Ok(pipeline)
    }

    fn build_pipeline(&self, kernel: Kernel) -> wgpu::ComputePipeline {
        let module = self.device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(kernel.file()),
            source: wgpu::ShaderSource::Wgsl(kernel.source().into()),
        });
        self.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(kernel.entry_point()),
            layout: None,
            module: &module,
            entry_point: Some(kernel.entry_point()),
            compilation_options: Default::default(),
            cache: None,
        })
    }

    /// Runs `f` inside validation and out-of-memory error scopes and returns what wgpu
    /// reports as an `Err` naming `what`, instead of wgpu's default panic.
    pub(crate) fn checked<T>(&self, what: &str, f: impl FnOnce() -> T) -> Result<T> {
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let value = f();
        let errors = [pollster::block_on(validation.pop()), pollster::block_on(oom.pop())];
        match errors.into_iter().flatten().next() {
            Some(err) => Err(Error::Gpu { kernel: what.to_owned(), msg: err.to_string() }),
            None => Ok(value),
        }
    }
}
