//! A graph compiled for the GPU: buffers, pipelines, uniforms and bind groups are all
//! created once; a step records every dispatch into one compute pass and submits once.

use std::sync::Arc;

use bytemuck::bytes_of;
use wgpu::util::DeviceExt;

use super::context::GpuContext;
use super::kernels::{
    ElementwiseParams, GatherParams, Kernel, LayoutParams, MatmulParams, OptimParams, RandomParams, ReduceParams,
};
use super::launch::{adam_params, sgd_params, storage, Launch};
use super::loss::for_width;
use super::matmul::{MatmulShape, Tiling};
use super::readback::Readback;
use crate::backend::{PendingRead, Session};
use crate::compile::fuse::Group;
use crate::compile::plan::{CompileOptions, MatmulTiles, Plan};
use crate::error::{Error, Result};
use crate::graph::op::Op;
use crate::graph::shape::Shape;
use crate::graph::{Graph, Node, NodeId};

/// One recorded kernel launch.
pub(super) struct Dispatch {
    pub(super) label: String,
    pipeline: wgpu::ComputePipeline,
    bind_group: wgpu::BindGroup,
    workgroups: [u32; 3],
}

impl Dispatch {
    pub(super) fn record(&self, pass: &mut wgpu::ComputePass) {
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        let [x, y, z] = self.workgroups;
        pass.dispatch_workgroups(x, y, z);
    }
}

/// A graph compiled for a [`GpuContext`].
pub struct GpuSession {
    pub(super) ctx: Arc<GpuContext>,
    graph: Graph,
    plan: Plan,
    buffers: Vec<wgpu::Buffer>,
    pub(super) dispatches: Vec<Dispatch>,
    pub(super) readback: Readback,
    has_run: bool,
    tiles: MatmulTiles,
    guard: crate::backend::RunGuard,
}

impl GpuSession {
    /// Plans `graph` (see [`Plan::new`]), allocates its buffers and builds every dispatch.
    ///
    /// # Errors
    ///
    /// As [`crate::Device::compile`].
    pub fn new(ctx: Arc<GpuContext>, graph: &Graph, keep: &[NodeId], options: CompileOptions) -> Result<Self> {
        // Split matmuls (fused or not) and reductions keep their partial results in their
        // own storage.
        let storage = |group: &Group, id: NodeId| {
            let len = graph.nodes()[id.index()].shape.len();
            match (group, graph.nodes()[id.index()].op) {
                (Group::MatMul { matmul, .. }, _) if matches!(graph.nodes()[matmul.index()].op, Op::MatMul { .. }) => {
                    len * MatmulShape::of(graph, *matmul).splits(options.matmul).0 as usize
                }
                (_, Op::MatMul { .. }) => len * MatmulShape::of(graph, id).splits(options.matmul).0 as usize,
                _ => super::conv::storage(graph, id).unwrap_or_else(|| storage(graph, id)),
            }
        };
        let plan = Plan::with_storage(graph, keep, options, storage)?;
        let guard = crate::backend::RunGuard::new(graph, &plan);
        let buffers = ctx.checked("allocating buffers", || allocate(&ctx, &plan))??;
        let mut session = GpuSession {
            ctx,
            graph: graph.clone(),
            plan,
            buffers,
            dispatches: vec![],
            readback: Readback::default(),
            has_run: false,
            tiles: options.matmul,
            guard,
        };
        session.upload_leaves();
        for group in session.plan.groups.clone() {
            let what = group.describe(&session.graph);
            for launch in session.group_launches(&group)? {
                let kernel = launch.kernel.entry_point();
                let mut dispatch = session.build(launch)?;
                dispatch.label = format!("{kernel} {what}");
                session.dispatches.push(dispatch);
            }
        }
        Ok(session)
    }

    fn upload_leaves(&self) {
        for (i, node) in self.graph.nodes().iter().enumerate() {
            if let (Some(init), Some(slot)) = (&node.init, self.plan.slot[i]) {
                self.ctx.queue.write_buffer(&self.buffers[slot], 0, bytemuck::cast_slice(init));
            }
        }
    }

    pub(super) fn node(&self, id: NodeId) -> &Node {
        &self.graph.nodes()[id.index()]
    }

    fn buffer(&self, id: NodeId) -> &wgpu::Buffer {
        let slot = self.plan.slot_of(id).expect("a planned node has a slot");
        &self.buffers[slot]
    }

    /// The kernel launches that compute one node, in order.
    pub(super) fn launches(&self, id: NodeId) -> Result<Vec<Launch>> {
        if let Some(launches) = self.reduction(id) {
            return Ok(launches);
        }
        if let Some(launch) = self.tensor_launch(id) {
            return Ok(vec![launch]);
        }
        if let Some(launches) = self.conv_launches(id, &[]) {
            return Ok(launches);
        }
        match self.node(id).op {
            Op::MatMul { .. } => Ok(self.matmul(id, &[])),
            _ => Ok(vec![self.launch(id)?]),
        }
    }

    /// Chooses the kernel, uniform and bindings for a node computed by one launch.
    fn launch(&self, id: NodeId) -> Result<Launch> {
        let node = self.node(id);
        let x = &node.inputs;
        let shape_of = |i: usize| self.node(x[i]).shape;
        let len = node.shape.len();
        let ew = |kernel, scalar| {
            let b = if x.len() > 1 { shape_of(1) } else { Shape::SCALAR };
            let params = elementwise_params(node.shape, shape_of(0), b, scalar);
            let mut bindings = vec![(0, x[0]), (2, id)];
            if x.len() > 1 {
                bindings.push((1, x[1]));
            }
            Launch { kernel, params, bindings, workgroups: self.linear(len) }
        };
        let reduce = |kernel, scale: f32, workgroups| {
            let s = shape_of(0);
            let params =
                bytes_of(&ReduceParams { rows: s.rows() as u32, cols: s.cols() as u32, scale, parts: 1 }).to_vec();
            let mut bindings = vec![(0, x[0]), (2, id)];
            if x.len() > 1 {
                bindings.push((1, x[1]));
            }
            Launch { kernel, params, bindings, workgroups }
        };
        Ok(match node.op {
            Op::Map(map, s) => ew(Kernel::Map(map), s),
            Op::SumCols => reduce(Kernel::SumCols, 1.0, self.linear(node.shape.rows())),
            Op::MaxCols => reduce(Kernel::MaxCols, 1.0, self.linear(node.shape.rows())),
            Op::SoftmaxCrossEntropy => reduce(for_width(Kernel::SoftmaxXent, shape_of(0).cols()), 1.0, [1, 1, 1]),
            Op::CountCorrect => reduce(for_width(Kernel::CountCorrect, shape_of(0).cols()), 1.0, [1, 1, 1]),
            Op::SoftmaxCrossEntropyGrad => {
                let mut launch = reduce(for_width(Kernel::SoftmaxXentGrad, shape_of(0).cols()), 1.0, [1, 1, 1]);
                launch.bindings.push((4, x[2]));
                launch
            }
            Op::FirstNonFinite { tag } => Launch {
                kernel: Kernel::FirstNonFinite,
                params: bytes_of(&OptimParams { len: shape_of(1).len() as u32, tag, ..Default::default() }).to_vec(),
                bindings: vec![(0, x[1]), (1, x[2]), (2, id)],
                workgroups: [1, 1, 1],
            },
            Op::Accumulate => self.update(Kernel::Accumulate, OptimParams::default(), id, &[]),
            Op::Sgd(config) => {
                let (params, kernel) = sgd_params(config);
                let mut extra = vec![(6, x[2])];
                if config.momentum != 0.0 {
                    extra.push((4, x[3]));
                }
                self.update(kernel, params, id, &extra)
            }
            Op::Adam(config) => {
                self.update(Kernel::Adam, adam_params(config), id, &[(1, x[4]), (4, x[2]), (5, x[3]), (6, x[5])])
            }
            Op::AdamCorrections(config) => Launch {
                kernel: Kernel::AdamCorrections,
                params: bytes_of(&OptimParams { len: 4, ..adam_params(config) }).to_vec(),
                bindings: vec![(2, id)],
                workgroups: [1, 1, 1],
            },
            Op::Increment => Launch {
                kernel: Kernel::Increment,
                params: bytes_of(&OptimParams { len: 1, ..Default::default() }).to_vec(),
                bindings: vec![(2, id)],
                workgroups: [1, 1, 1],
            },
            Op::Transpose | Op::SliceCols { .. } | Op::PadCols { .. } | Op::ConcatCols => self.layout(id),
            Op::GatherRows | Op::GatherBytes | Op::GatherOneHot => self.gather(id),
            Op::DropoutMask { p, seed } => Launch {
                kernel: Kernel::DropoutMask,
                params: bytes_of(&RandomParams { len: len as u32, p, seed, _pad: 0 }).to_vec(),
                bindings: vec![(0, x[0]), (2, id)],
                workgroups: self.linear(len),
            },
            op => return Err(Error::InvalidArgument { op: op.name(), msg: "not a single launch".into() }),
        })
    }

    /// A launch of the layout family: one thread per output element.
    fn layout(&self, id: NodeId) -> Launch {
        let node = self.node(id);
        let (kernel, start) = match node.op {
            Op::Transpose => (Kernel::Transpose, 0),
            Op::SliceCols { start } => (Kernel::SliceCols, start),
            Op::PadCols { start } => (Kernel::PadCols, start),
            _ => (Kernel::ConcatCols, 0),
        };
        let cols_of = |i: usize| node.inputs.get(i).map_or(0, |&x| self.node(x).shape.cols() as u32);
        let (rows, cols) = (node.shape.rows() as u32, node.shape.cols() as u32);
        let params =
            LayoutParams { rows, cols, a_cols: cols_of(0), b_cols: cols_of(1), start: start as u32, _pad: [0; 3] };
        let mut bindings = vec![(0, node.inputs[0]), (2, id)];
        if node.inputs.len() > 1 {
            bindings.push((1, node.inputs[1]));
        }
        Launch { kernel, params: bytes_of(&params).to_vec(), bindings, workgroups: self.linear(node.shape.len()) }
    }

    /// A batch gathered from a device-resident data set: one thread per output element.
    fn gather(&self, id: NodeId) -> Launch {
        let node = self.node(id);
        let x = &node.inputs;
        let (kernel, bindings) = match node.op {
            Op::GatherRows => (Kernel::GatherRows, vec![(0, x[0]), (1, x[1]), (4, x[2]), (2, id)]),
            Op::GatherBytes => (Kernel::GatherBytes, vec![(0, x[0]), (5, x[1]), (1, x[2]), (4, x[3]), (2, id)]),
            _ => (Kernel::GatherOneHot, vec![(6, x[0]), (1, x[1]), (4, x[2]), (7, id)]),
        };
        let order = x[x.len() - 2];
        let samples = self.node(order).shape.len();
        let (rows, cols) = (node.shape.rows(), node.shape.cols());
        let params = GatherParams {
            rows: rows as u32,
            cols: cols as u32,
            samples: samples as u32,
            steps: samples.div_ceil(rows) as u32,
            words: self.node(x[0]).shape.cols() as u32,
            classes: cols as u32,
            _pad: [0; 2],
        };
        Launch { kernel, params: bytes_of(&params).to_vec(), bindings, workgroups: self.linear(node.shape.len()) }
    }

    /// [`Group::Batch`]: the launch of the images `x` with the targets `y` added.
    pub(super) fn batch(&self, x: NodeId, y: NodeId) -> Launch {
        let mut launch = self.gather(x);
        let bytes = launch.kernel == Kernel::GatherBytes;
        launch.kernel = if bytes { Kernel::GatherBatchBytes } else { Kernel::GatherBatchRows };
        let classes = self.node(y).shape.cols();
        let mut params: GatherParams = bytemuck::pod_read_unaligned(&launch.params);
        params.classes = classes as u32;
        launch.params = bytes_of(&params).to_vec();
        launch.bindings.extend([(6, self.node(y).inputs[0]), (7, y)]);
        let rows = self.node(x).shape.rows();
        launch.workgroups = self.linear(rows * (self.node(x).shape.cols() + classes));
        launch
    }

    /// An optimizer launch: gradient at 0, the parameter (aliased by `id`) at 2, `extra`
    /// state bindings, one thread per element.
    fn update(&self, kernel: Kernel, params: OptimParams, id: NodeId, extra: &[(u32, NodeId)]) -> Launch {
        let node = self.node(id);
        let len = node.shape.len();
        let params = OptimParams { len: len as u32, ..params };
        let mut bindings = vec![(0, node.inputs[1]), (2, id)];
        bindings.extend_from_slice(extra);
        Launch { kernel, params: bytes_of(&params).to_vec(), bindings, workgroups: self.linear(len) }
    }

    /// The tiled product, split along K when the output has too few tiles to fill the
    /// device, followed by the pass that adds the partial products; with an `epilogue`
    /// (elementwise nodes that follow, see [`crate::compile::fuse`]), the final values pass through
    /// them and are stored in the last one's slot.
    pub(super) fn matmul(&self, id: NodeId, epilogue: &[NodeId]) -> Vec<Launch> {
        let node = self.node(id);
        let Op::MatMul { trans_a, trans_b } = node.op else { unreachable!("a matmul node") };
        let shape = MatmulShape::of(&self.graph, id);
        let (m, n, k) = (shape.m as u32, shape.n as u32, shape.k as u32);
        let out = *epilogue.last().unwrap_or(&id);
        let mut bindings = vec![(0, node.inputs[0]), (1, node.inputs[1]), (2, out)];
        let super::launch::EpilogueLaunch { ep, bindings: operands, module } =
            self.epilogue(id, epilogue, super::generate::Head::MatMul);
        bindings.extend(operands);
        let kernel = |plain: Kernel, entry: &'static str| match module {
            Some(module) => Kernel::Generated { module, entry },
            None => plain,
        };
        let (trans_a, trans_b) = (trans_a as u32, trans_b as u32);
        let tiling = shape.tiling(self.tiles);
        // Below one 64×64 tile of output the tiled kernel would idle most of its threads.
        if tiling == Tiling::Small {
            let params = MatmulParams { m, n, k, trans_a, trans_b, k_chunk: k, splits: 1, aligned: 0, ep };
            let workgroups = self.linear_with(shape.m * shape.n, 64);
            let kernel = kernel(Kernel::MatMulSmall, "matmul_small");
            return vec![Launch { kernel, params: bytes_of(&params).to_vec(), bindings, workgroups }];
        }
        let (splits, k_chunk) = shape.splits(self.tiles);
        // The dimension each operand is contiguous in, for matmul_big's vec4 loads.
        let a_row = if trans_a == 1 { m } else { k };
        let b_row = if trans_b == 1 { k } else { n };
        let aligned = (a_row % 4 == 0) as u32 | ((b_row % 4 == 0) as u32) << 1;
        let params = MatmulParams { m, n, k, trans_a, trans_b, k_chunk, splits, aligned, ep };
        let params = bytes_of(&params).to_vec();
        let side = tiling.tile() as u32;
        let workgroups = [n.div_ceil(side), m.div_ceil(side), splits];
        let tiled = match tiling {
            Tiling::Tile128 => kernel(Kernel::MatMulBig, "matmul_big"),
            _ => kernel(Kernel::MatMul, "matmul"),
        };
        let mut launches =
            vec![Launch { kernel: tiled, params: params.clone(), bindings: bindings.clone(), workgroups }];
        if splits > 1 {
            let workgroups = self.linear(shape.m * shape.n);
            let mut bindings = bindings;
            bindings.retain(|&(b, _)| b >= 2);
            let kernel = kernel(Kernel::MatMulSumSplits, "matmul_sum_splits");
            launches.push(Launch { kernel, params, bindings, workgroups });
        }
        launches
    }

    /// Workgroups of 256 covering `len` threads, spilling into y past the x limit.
    pub(super) fn linear(&self, len: usize) -> [u32; 3] {
        self.linear_with(len, 256)
    }

    /// Workgroups of `size` threads covering `len` threads, spilling into y.
    pub(super) fn linear_with(&self, len: usize, size: usize) -> [u32; 3] {
        let groups = len.div_ceil(size).max(1) as u32;
        let max_x = self.ctx.limits().max_compute_workgroups_per_dimension;
        if groups <= max_x {
            [groups, 1, 1]
        } else {
            [max_x, groups.div_ceil(max_x), 1]
        }
    }

    fn build(&self, launch: Launch) -> Result<Dispatch> {
        let pipeline = self.ctx.pipeline(launch.kernel)?;
        let what = format!("{} ({})", launch.kernel.entry_point(), launch.kernel.file());
        self.ctx.checked(&what, || {
            let uniform = self.ctx.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("params"),
                contents: &launch.params,
                usage: wgpu::BufferUsages::UNIFORM,
            });
            let mut entries: Vec<wgpu::BindGroupEntry> = launch
                .bindings
                .iter()
                .map(|&(binding, id)| wgpu::BindGroupEntry { binding, resource: self.buffer(id).as_entire_binding() })
                .collect();
            entries.push(wgpu::BindGroupEntry { binding: 3, resource: uniform.as_entire_binding() });
            let bind_group = self.ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some(&launch.kernel.entry_point()),
                layout: &pipeline.get_bind_group_layout(0),
                entries: &entries,
            });
            Dispatch { label: String::new(), pipeline: pipeline.clone(), bind_group, workgroups: launch.workgroups }
        })
    }

    /// Records the whole plan `steps` times into one compute pass (WebGPU orders the
    /// dispatches of a pass as their storage accesses require).
    fn encode(&self, steps: usize) -> wgpu::CommandEncoder {
        let mut encoder = self.ctx.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            for _ in 0..steps {
                for d in &self.dispatches {
                    d.record(&mut pass);
                }
            }
        }
        encoder
    }

    fn check_readable(&self, id: NodeId, running: bool) -> Result<()> {
        crate::backend::check_readable(&self.graph, &self.plan, id, self.has_run || running)
    }

    fn submit_and_start_read(&mut self, encoder: wgpu::CommandEncoder, nodes: &[NodeId]) -> Result<PendingRead> {
        let mut readback = std::mem::take(&mut self.readback);
        let sources: Vec<(&wgpu::Buffer, usize)> =
            nodes.iter().map(|&id| (self.buffer(id), self.node(id).shape.len())).collect();
        let pending = readback.start(&self.ctx, encoder, &sources);
        self.readback = readback;
        Ok(PendingRead::gpu(pending?))
    }
}

fn elementwise_params(out: Shape, a: Shape, b: Shape, scalar: f32) -> Vec<u8> {
    let u = |v: usize| v as u32;
    let params = ElementwiseParams {
        len: u(out.len()),
        cols: u(out.cols()),
        a_rows: u(a.rows()),
        a_cols: u(a.cols()),
        b_rows: u(b.rows()),
        b_cols: u(b.cols()),
        scalar,
        _pad: 0,
    };
    bytes_of(&params).to_vec()
}

/// One storage buffer per plan slot, checked against the device's binding limit.
fn allocate(ctx: &GpuContext, plan: &Plan) -> Result<Vec<wgpu::Buffer>> {
    let max = ctx.limits().max_storage_buffer_binding_size;
    plan.slot_len
        .iter()
        .map(|&len| {
            // Padded to 16 bytes: matmul_big reads its operands through vec4 views.
            let size = (len * 4).next_multiple_of(16) as u64;
            if size > max {
                return Err(Error::Gpu {
                    kernel: "allocate".into(),
                    msg: format!("a value of {size} bytes exceeds max_storage_buffer_binding_size = {max}"),
                });
            }
            Ok(ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: None,
                size,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }))
        })
        .collect()
}

impl Session for GpuSession {
    fn backend_name(&self) -> String {
        format!("gpu: {}", self.ctx.adapter_name())
    }

    fn launches_per_step(&self) -> usize {
        self.dispatches.len()
    }

    fn storage_bytes(&self) -> u64 {
        self.buffers.iter().map(wgpu::Buffer::size).sum()
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn is_stored(&self, id: NodeId) -> bool {
        self.graph.node(id).is_ok() && self.plan.slot_of(id).is_some()
    }

    fn copy_values_to(&mut self, other: &mut dyn Session, pairs: &[(NodeId, NodeId)]) -> Result<()> {
        for &(from, to) in pairs {
            self.check_readable(from, false)?;
            other.graph().check_write(to, self.node(from).shape.len())?;
        }
        let ctx = self.ctx.clone();
        let Some(target) = other.as_any_mut().downcast_mut::<GpuSession>().filter(|t| Arc::ptr_eq(&t.ctx, &ctx)) else {
            let from: Vec<NodeId> = pairs.iter().map(|p| p.0).collect();
            let values = self.read_many(&from)?;
            return pairs.iter().zip(values).try_for_each(|((_, to), values)| other.write(*to, &values));
        };
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        for &(from, to) in pairs {
            if let Some(slot) = target.plan.slot_of(to) {
                let bytes = (self.node(from).shape.len() * 4) as u64;
                encoder.copy_buffer_to_buffer(self.buffer(from), 0, &target.buffers[slot], 0, bytes);
            }
            target.guard.written(to, None);
        }
        ctx.checked("copy between sessions", || ctx.queue.submit([encoder.finish()]))?;
        Ok(())
    }

    fn graph(&self) -> &Graph {
        &self.graph
    }

    fn write(&mut self, id: NodeId, data: &[f32]) -> Result<()> {
        self.graph.check_write(id, data.len())?;
        self.graph.check_written_indices(id, data)?;
        if let Some(slot) = self.plan.slot_of(id) {
            self.ctx.queue.write_buffer(&self.buffers[slot], 0, bytemuck::cast_slice(data));
        }
        self.guard.written(id, Some(data));
        Ok(())
    }

    fn run(&mut self) -> Result<()> {
        self.run_steps(1)
    }

    fn run_steps(&mut self, steps: usize) -> Result<()> {
        if steps == 0 {
            return Ok(());
        }
        self.guard.before_runs(&self.graph, steps)?;
        let ctx = self.ctx.clone();
        ctx.checked("run", || ctx.queue.submit([self.encode(steps).finish()]))?;
        self.has_run = true;
        // Steps are queued without waiting; a non-blocking poll lets wgpu free the
        // command buffers and staging memory of steps that have finished.
        ctx.device.poll(wgpu::PollType::Poll).map_err(|e| Error::Gpu { kernel: "run".into(), msg: e.to_string() })?;
        Ok(())
    }

    fn read(&mut self, id: NodeId) -> Result<Vec<f32>> {
        Ok(self.read_many(&[id])?.remove(0))
    }

    fn read_many(&mut self, nodes: &[NodeId]) -> Result<Vec<Vec<f32>>> {
        self.start_read(nodes)?.wait()
    }

    fn profile(&mut self) -> Result<Vec<crate::backend::KernelTime>> {
        self.time_kernels()
    }

    fn start_read(&mut self, nodes: &[NodeId]) -> Result<PendingRead> {
        for &id in nodes {
            self.check_readable(id, false)?;
        }
        let encoder = self.ctx.device.create_command_encoder(&Default::default());
        self.submit_and_start_read(encoder, nodes)
    }

    fn run_and_start_read(&mut self, nodes: &[NodeId]) -> Result<PendingRead> {
        for &id in nodes {
            self.check_readable(id, true)?;
        }
        self.guard.before_runs(&self.graph, 1)?;
        let encoder = self.encode(1);
        let pending = self.submit_and_start_read(encoder, nodes)?;
        self.has_run = true;
        Ok(pending)
    }

    fn run_and_read(&mut self, nodes: &[NodeId]) -> Result<Vec<Vec<f32>>> {
        self.run_and_start_read(nodes)?.wait()
    }
}
