//! Copying values back to the host: staging buffers are created on first use for a size
//! and reused, so reading the loss every N steps allocates nothing after the first time.

use std::collections::HashMap;

use super::context::GpuContext;
use crate::error::{Error, Result};

/// Staging buffers by byte size; several of one size for reads in the same submission.
#[derive(Default)]
pub(super) struct Readback {
    staging: HashMap<u64, Vec<wgpu::Buffer>>,
}

impl Readback {
    /// Copies each `(buffer, element count)` into staging, submits `encoder` with the
    /// copies, waits, and returns the values.
    pub fn submit_and_read(
        &mut self,
        ctx: &GpuContext,
        mut encoder: wgpu::CommandEncoder,
        sources: &[(&wgpu::Buffer, usize)],
    ) -> Result<Vec<Vec<f32>>> {
        let mut used: HashMap<u64, usize> = HashMap::new();
        let mut targets = Vec::with_capacity(sources.len());
        for &(src, len) in sources {
            let size = (len * 4) as u64;
            let index = used.entry(size).or_default();
            let pool = self.staging.entry(size).or_default();
            if pool.len() == *index {
                pool.push(ctx.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("staging"),
                    size,
                    usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                }));
            }
            encoder.copy_buffer_to_buffer(src, 0, &pool[*index], 0, size);
            targets.push((size, *index));
            *index += 1;
        }
        ctx.checked("submit", || ctx.queue.submit([encoder.finish()]))?;
        let buffers: Vec<&wgpu::Buffer> = targets.iter().map(|(size, i)| &self.staging[size][*i]).collect();
        map_all(ctx, &buffers)
    }
}

/// Maps every buffer, waits once for all of them, and copies their contents out.
fn map_all(ctx: &GpuContext, buffers: &[&wgpu::Buffer]) -> Result<Vec<Vec<f32>>> {
    let mut receivers = Vec::with_capacity(buffers.len());
    for buffer in buffers {
        let (sender, receiver) = futures_intrusive::channel::shared::oneshot_channel();
        buffer.map_async(wgpu::MapMode::Read, .., move |result| {
            let _ = sender.send(result);
        });
        receivers.push(receiver);
    }
    ctx.device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| Error::Gpu { kernel: "readback".into(), msg: e.to_string() })?;
    let mut values = Vec::with_capacity(buffers.len());
    for (buffer, receiver) in buffers.iter().zip(receivers) {
        match pollster::block_on(receiver.receive()) {
            Some(Ok(())) => {}
            Some(Err(e)) => return Err(Error::Gpu { kernel: "readback".into(), msg: e.to_string() }),
            None => return Err(Error::Gpu { kernel: "readback".into(), msg: "mapping was cancelled".into() }),
        }
        let view =
            buffer.get_mapped_range(..).map_err(|e| Error::Gpu { kernel: "readback".into(), msg: e.to_string() })?;
        values.push(bytemuck::cast_slice(&view).to_vec());
        drop(view);
        buffer.unmap();
    }
    Ok(values)
}
