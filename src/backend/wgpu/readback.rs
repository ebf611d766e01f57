//! Copying values back to the host: staging buffers are created on first use for a size
//! and reused, so reading the loss every N steps allocates nothing after the first time.
//!
//! A read is started (copies submitted, buffers asked to map) and finished later, awaited:
//! native code waits at once ([`Readback::submit_and_read`]); in a web page nothing may
//! block, so the browser's event loop maps the buffers while the page awaits
//! ([`PendingGpuRead::finish`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_intrusive::channel::shared::OneshotReceiver;

use super::context::GpuContext;
use crate::error::{Error, Result};

type Free = Arc<Mutex<HashMap<u64, Vec<wgpu::Buffer>>>>;

/// Staging buffers by byte size, free for the next read; a read in flight holds its own
/// and gives them back when it has copied their contents out.
#[derive(Default)]
pub(super) struct Readback {
    free: Free,
}

/// A read whose copies are submitted and whose staging buffers are being mapped.
pub(crate) struct PendingGpuRead {
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    device: wgpu::Device,
    buffers: Vec<(u64, wgpu::Buffer)>,
    mapped: Vec<OneshotReceiver<std::result::Result<(), wgpu::BufferAsyncError>>>,
    free: Free,
    reported: Arc<Mutex<Option<String>>>,
}

fn readback_error(msg: impl ToString) -> Error {
    Error::Gpu { kernel: "readback".into(), msg: msg.to_string() }
}

impl Readback {
    /// Copies each `(buffer, element count)` into staging, submits `encoder` with the
    /// copies, waits, and returns the values. Native only: a web page awaits
    /// [`Readback::start`] instead.
    pub fn submit_and_read(
        &mut self,
        ctx: &GpuContext,
        encoder: wgpu::CommandEncoder,
        sources: &[(&wgpu::Buffer, usize)],
    ) -> Result<Vec<Vec<f32>>> {
        self.start(ctx, encoder, sources)?.wait()
    }

    /// Copies each `(buffer, element count)` into staging buffers, submits `encoder` with
    /// the copies and asks for the staging buffers to be mapped, without waiting.
    pub fn start(
        &mut self,
        ctx: &GpuContext,
        mut encoder: wgpu::CommandEncoder,
        sources: &[(&wgpu::Buffer, usize)],
    ) -> Result<PendingGpuRead> {
        let mut buffers = Vec::with_capacity(sources.len());
        for &(src, len) in sources {
            let size = (len * 4) as u64;
            let reused = lock(&self.free).get_mut(&size).and_then(Vec::pop);
            let staging = reused.unwrap_or_else(|| {
                ctx.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("staging"),
                    size,
                    usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                })
            });
            encoder.copy_buffer_to_buffer(src, 0, &staging, 0, size);
            buffers.push((size, staging));
        }
        ctx.checked("submit", || ctx.queue.submit([encoder.finish()]))?;
        let mapped = buffers
            .iter()
            .map(|(_, buffer)| {
                let (sender, receiver) = futures_intrusive::channel::shared::oneshot_channel();
                buffer.map_async(wgpu::MapMode::Read, .., move |result| {
                    let _ = sender.send(result);
                });
                receiver
            })
            .collect();
        let (device, free, reported) = (ctx.device.clone(), self.free.clone(), ctx.reported());
        Ok(PendingGpuRead { device, buffers, mapped, free, reported })
    }
}

impl PendingGpuRead {
    /// [`PendingGpuRead::finish`], blocking: natively only (a web page awaits it).
    pub fn wait(self) -> Result<Vec<Vec<f32>>> {
        if cfg!(target_arch = "wasm32") {
            return Err(readback_error(
                "a web page cannot wait for the GPU: read with `read_async` (or `start_read`) and await it",
            ));
        }
        pollster::block_on(self.finish())
    }

    /// Waits for every staging buffer to map, copies their contents out and gives the
    /// buffers back for the next read.
    pub async fn finish(self) -> Result<Vec<Vec<f32>>> {
        // Natively the mapping callbacks run inside a poll; in a browser, its event loop.
        #[cfg(not(target_arch = "wasm32"))]
        self.device.poll(wgpu::PollType::wait_indefinitely()).map_err(readback_error)?;
        let mut values = Vec::with_capacity(self.buffers.len());
        for ((size, buffer), mapped) in self.buffers.into_iter().zip(self.mapped) {
            match mapped.receive().await {
                Some(Ok(())) => {}
                Some(Err(e)) => return Err(reported_or(&self.reported, e)),
                None => return Err(reported_or(&self.reported, "mapping was cancelled")),
            }
            let view = buffer.get_mapped_range(..).map_err(readback_error)?;
            values.push(bytemuck::cast_slice(&view).to_vec());
            drop(view);
            buffer.unmap();
            lock(&self.free).entry(size).or_default().push(buffer);
        }
        // A web page learns of errors in the steps before only now (see `GpuContext::reported`).
        match lock(&self.reported).clone() {
            Some(msg) => Err(Error::Gpu { kernel: "device".into(), msg }),
            None => Ok(values),
        }
    }
}

/// The error the device reported (a lost device explains a failed mapping), else `e`.
fn reported_or(reported: &Mutex<Option<String>>, e: impl ToString) -> Error {
    match lock(reported).clone() {
        Some(msg) => Error::Gpu { kernel: "device".into(), msg },
        None => readback_error(e),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
