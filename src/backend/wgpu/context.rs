//! Adapter choice, device creation with the adapter's real limits, and the pipeline cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::kernels::Kernel;
use crate::error::{Error, Result};

#[cfg(not(target_arch = "wasm32"))]
const NO_ADAPTER_HINT: &str = "Without a GPU the CPU backend trains fastest. To run the WGSL \
kernels anyway (for testing), install Mesa's software Vulkan driver \
(apt-get install mesa-vulkan-drivers libvulkan1). On a headless NVIDIA machine whose stock \
Vulkan manifest points at libGLX_nvidia.so.0, write one that points at libEGL_nvidia.so.0 \
and set VK_ICD_FILENAMES to it.";

#[cfg(not(target_arch = "wasm32"))]
fn no_adapter(kind: AdapterKind, software: &[String]) -> Error {
    let tried = "Vulkan, Metal, DX12".into();
    if kind == AdapterKind::Hardware && !software.is_empty() {
        let hint = "Only a software rasterizer is present; it is slower for training than the CPU backend, \
                    and is used only when asked for (--backend gpu).";
        let found = software.join(", ");
        return Error::NoAdapter { tried: format!("{tried}; found only the software rasterizer {found}"), hint };
    }
    Error::NoAdapter { tried, hint: NO_ADAPTER_HINT }
}

/// An open GPU device, its queue, and the compute pipelines built so far.
pub struct GpuContext {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    limits: wgpu::Limits,
    pipelines: Mutex<HashMap<Kernel, wgpu::ComputePipeline>>,
    reported: Arc<Mutex<Option<String>>>,
}

/// Whether an adapter is a software rasterizer (Mesa's lavapipe/llvmpipe, Microsoft's
/// WARP, SwiftShader): right for testing WGSL, much slower than the CPU backend for
/// training.
pub fn is_software_adapter(kind: wgpu::DeviceType, name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    let known = ["llvmpipe", "lavapipe", "swiftshader", "basic render driver", "warp"];
    kind == wgpu::DeviceType::Cpu || known.iter().any(|k| name.contains(k))
}

/// Which adapters [`GpuContext::new`] may open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdapterKind {
    /// Any adapter, software rasterizers included (what the test suite uses).
    Any,
    /// Hardware GPUs only.
    Hardware,
}

/// Lower is preferred: real GPUs before software rasterizers.
#[cfg(not(target_arch = "wasm32"))]
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
    /// Opens the best adapter of `kind` on Vulkan, Metal or DX12 with all of its limits.
    ///
    /// # Errors
    ///
    /// [`Error::NoAdapter`] saying what was found (e.g. only a software rasterizer when
    /// `kind` is [`AdapterKind::Hardware`]), [`Error::RequestDevice`] when the adapter
    /// refuses to open.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn new(kind: AdapterKind) -> Result<Self> {
        pollster::block_on(Self::new_async(kind))
    }

    /// As [`GpuContext::new`], awaited: what a web page calls, where nothing may block
    /// (there the adapter is the browser's WebGPU one).
    ///
    /// # Errors
    ///
    /// As [`GpuContext::new`].
    pub async fn new_async(kind: AdapterKind) -> Result<Self> {
        let adapter = choose_adapter(kind).await?;
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
        let (device, queue) = adapter
            .request_device(&descriptor)
            .await
            .map_err(|e| Error::RequestDevice { adapter: info.name.clone(), msg: e.to_string() })?;
        let reported = Arc::new(Mutex::new(None));
        watch_for_errors(&device, &reported);
        Ok(GpuContext { device, queue, info, limits, pipelines: Mutex::new(HashMap::new()), reported })
    }

    /// The first error the device reported outside an error scope, or its loss: in a web
    /// page errors arrive after the call that caused them, so reads return them.
    pub(crate) fn reported(&self) -> Arc<Mutex<Option<String>>> {
        self.reported.clone()
    }

    /// The adapter's name and graphics API, e.g. `NVIDIA H200 (Vulkan)`.
    pub fn adapter_name(&self) -> String {
        format!("{} ({:?})", self.info.name, self.info.backend)
    }

    /// Destroys the device now, as when a driver resets or a browser reclaims it: every
    /// session on it fails from then on with an error saying the device was lost. For
    /// testing how an application copes.
    pub fn destroy(&self) {
        self.device.destroy();
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
    ///
    /// # Errors
    ///
    /// [`Error::Gpu`] when the device rejects the kernel.
    pub fn pipeline(&self, kernel: Kernel) -> Result<wgpu::ComputePipeline> {
        let mut cache = self.pipelines.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(pipeline) = cache.get(&kernel) {
            return Ok(pipeline.clone());
        }
        let pipeline = self.checked(&kernel.entry_point(), || self.build_pipeline(kernel))?;
        cache.insert(kernel, pipeline.clone());
        Ok(pipeline)
    }

    fn build_pipeline(&self, kernel: Kernel) -> wgpu::ComputePipeline {
        let module = self.device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(kernel.file()),
            source: wgpu::ShaderSource::Wgsl(kernel.source().into()),
        });
        self.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(&kernel.entry_point()),
            layout: None,
            module: &module,
            entry_point: Some(&kernel.entry_point()),
            compilation_options: Default::default(),
            cache: None,
        })
    }

    /// Runs `f` inside validation and out-of-memory error scopes and returns what wgpu
    /// reports as an `Err` naming `what`, instead of wgpu's default panic.
    #[cfg(not(target_arch = "wasm32"))]
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

    /// In a web page an error scope's result arrives only after the page yields, so `f`
    /// runs unscoped: its errors reach [`GpuContext::reported`] and the next read.
    #[cfg(target_arch = "wasm32")]
    pub(crate) fn checked<T>(&self, what: &str, f: impl FnOnce() -> T) -> Result<T> {
        match self.reported.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            Some(msg) => Err(Error::Gpu { kernel: what.to_owned(), msg }),
            None => Ok(f()),
        }
    }
}

/// Natively every adapter of Vulkan, Metal and DX12, the best of `kind`.
#[cfg(not(target_arch = "wasm32"))]
async fn choose_adapter(kind: AdapterKind) -> Result<wgpu::Adapter> {
    let backends = wgpu::Backends::PRIMARY;
    let mut descriptor = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    descriptor.backends = backends;
    let instance = wgpu::Instance::new(descriptor);
    let adapters = instance.enumerate_adapters(backends).await;
    let software: Vec<String> = adapters
        .iter()
        .map(|a| a.get_info())
        .filter(|i| is_software_adapter(i.device_type, &i.name))
        .map(|i| i.name)
        .collect();
    adapters
        .into_iter()
        .filter(|a| kind == AdapterKind::Any || !is_software_adapter(a.get_info().device_type, &a.get_info().name))
        .min_by_key(|a| preference(a.get_info().device_type))
        .ok_or_else(|| no_adapter(kind, &software))
}

/// In a web page the one adapter the browser's WebGPU offers (its kind is not checked:
/// browsers do not say reliably whether an adapter is software).
#[cfg(target_arch = "wasm32")]
async fn choose_adapter(_kind: AdapterKind) -> Result<wgpu::Adapter> {
    let mut descriptor = wgpu::InstanceDescriptor::new_without_display_handle();
    descriptor.backends = wgpu::Backends::BROWSER_WEBGPU;
    let instance = wgpu::Instance::new(descriptor);
    let options =
        wgpu::RequestAdapterOptions { power_preference: wgpu::PowerPreference::HighPerformance, ..Default::default() };
    instance.request_adapter(&options).await.map_err(|e| Error::NoAdapter {
        tried: format!("the browser's WebGPU ({e})"),
        hint: "This browser offers no WebGPU adapter; the CPU backend trains instead.",
    })
}

/// Keeps the first error reported outside a scope and the device's loss, instead of
/// wgpu's default (a panic), so that the next read returns it as an error.
fn watch_for_errors(device: &wgpu::Device, reported: &Arc<Mutex<Option<String>>>) {
    let keep = |slot: &Arc<Mutex<Option<String>>>, msg: String| {
        slot.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(msg);
    };
    if cfg!(target_arch = "wasm32") {
        let slot = reported.clone();
        device.on_uncaptured_error(Arc::new(move |e| keep(&slot, e.to_string())));
    }
    let slot = reported.clone();
    device.set_device_lost_callback(move |reason, msg| keep(&slot, format!("the device was lost ({reason:?}): {msg}")));
}
