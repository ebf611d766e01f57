//! Per-kernel device time: the plan re-recorded with every dispatch in a compute pass of
//! its own, between two timestamp queries.

use super::session::GpuSession;
use crate::backend::KernelTime;
use crate::error::{Error, Result};

impl GpuSession {
    /// Records each dispatch in a pass of its own, with timestamps around it.
    fn encode_timed(&self, queries: &wgpu::QuerySet) -> wgpu::CommandEncoder {
        let mut encoder = self.ctx.device.create_command_encoder(&Default::default());
        for (i, d) in self.dispatches.iter().enumerate() {
            let timestamp_writes = wgpu::ComputePassTimestampWrites {
                query_set: queries,
                beginning_of_pass_write_index: Some(2 * i as u32),
                end_of_pass_write_index: Some(2 * i as u32 + 1),
            };
            let descriptor = wgpu::ComputePassDescriptor { label: None, timestamp_writes: Some(timestamp_writes) };
            d.record(&mut encoder.begin_compute_pass(&descriptor));
        }
        encoder
    }

    /// Runs the plan once with each dispatch timed on the device (see `Session::profile`).
    pub(super) fn time_kernels(&mut self) -> Result<Vec<KernelTime>> {
        if !self.ctx.can_profile() {
            let msg = format!("{} has no timestamp queries", self.ctx.adapter_name());
            return Err(Error::InvalidArgument { op: "profile", msg });
        }
        let count = 2 * self.dispatches.len() as u32;
        let ctx = self.ctx.clone();
        let (queries, resolved) = ctx.checked("profile", || {
            let queries = ctx.device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("profile"),
                ty: wgpu::QueryType::Timestamp,
                count,
            });
            let resolved = ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("timestamps"),
                size: 8 * count as u64,
                usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            });
            (queries, resolved)
        })?;
        let mut encoder = self.encode_timed(&queries);
        encoder.resolve_query_set(&queries, 0..count, &resolved, 0);
        let mut readback = std::mem::take(&mut self.readback);
        let raw = readback.submit_and_read(&ctx, encoder, &[(&resolved, 2 * count as usize)]);
        self.readback = readback;
        let ticks: Vec<u64> = bytemuck::pod_collect_to_vec(&raw?[0]);
        let period_ns = ctx.queue.get_timestamp_period() as f64;
        let times = self.dispatches.iter().zip(ticks.chunks(2)).map(|(d, t)| KernelTime {
            what: d.label.clone(),
            micros: t[1].saturating_sub(t[0]) as f64 * period_ns / 1e3,
        });
        Ok(times.collect())
    }
}
