//! The CPU reference backend: runs a [`Plan`] with the loops of `cpu_ops`. It is the
//! executable specification that every GPU result is checked against, and it runs the
//! same plan the GPU does: the same storage slots, reused by last use, and the same
//! aliasing of in-place updates, allocated once when compiling. A planner bug that hands
//! one slot to two live values therefore shows on both backends.

use super::cpu_conv;
use super::cpu_ops as k;
use super::cpu_tensor;
use super::Session;
use crate::compile::fuse::{Group, Update};
use crate::compile::plan::{CompileOptions, Plan};
use crate::error::{Error, Result};
use crate::graph::op::Op;
use crate::graph::shape::Shape;
use crate::graph::sliding::Sliding;
use crate::graph::strided::{around, Batched, Folding, Strided};
use crate::graph::{Graph, NodeId};
use crate::ops::elementwise::ElementLoop;
use crate::ops::total::Total;

/// A graph compiled for the CPU: one vector per plan slot.
pub struct CpuSession {
    graph: Graph,
    plan: Plan,
    slots: Vec<Vec<f32>>,
    /// Room for a column sum an optimizer launch computes inline (a bias gradient).
    column_sum: Vec<f32>,
    /// `(1 − β₁, 1 − β₂)` of each Adam node, by node index: computed once here, not
    /// every step (`AdamConfig::complements` formats and parses the betas).
    complements: Vec<(f32, f32)>,
    has_run: bool,
    guard: super::RunGuard,
}

impl CpuSession {
    /// Plans `graph` (see [`Plan::new`]), allocates its slots and loads the initial values
    /// of leaves.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignNode`] for a kept id of another graph, [`Error::TooLarge`] when the
    /// values would not fit in memory.
    pub fn new(graph: &Graph, keep: &[NodeId], options: CompileOptions) -> Result<Self> {
        let plan = Plan::new(graph, keep, options)?;
        check_memory(&plan)?;
        let mut slots: Vec<Vec<f32>> = plan.slot_len.iter().map(|&len| vec![0.0; len]).collect();
        for (i, node) in graph.nodes().iter().enumerate() {
            if let (Some(init), Some(slot)) = (&node.init, plan.slot[i]) {
                slots[slot].copy_from_slice(init);
            }
        }
        let complements = graph
            .nodes()
            .iter()
            .map(|n| match n.op {
                Op::Adam(config) | Op::AdamCorrections(config) => config.complements(),
                _ => (0.0, 0.0),
            })
            .collect();
        let column_sum = vec![0.0; column_sum_len(graph, &plan)];
        let guard = super::RunGuard::new(graph, &plan);
        Ok(CpuSession { graph: graph.clone(), plan, slots, column_sum, complements, has_run: false, guard })
    }

    fn slot(&self, id: NodeId) -> usize {
        self.plan.slot_of(id).expect("a planned node has a slot")
    }

    /// Computes node `id` into `out`, its own slot (taken out of `slots` meanwhile; the
    /// planner never gives a node the slot of one of its inputs).
    fn eval(&self, id: NodeId, out: &mut [f32]) {
        let node = &self.graph.nodes()[id.index()];
        let arg = |i: usize| self.slots[self.slot(node.inputs[i])].as_slice();
        let shape = |i: usize| self.graph.nodes()[node.inputs[i].index()].shape;
        if let Some((total, mean)) = Total::of(node.op) {
            let y = if node.inputs.len() > 1 { arg(1) } else { &[] };
            let sum = k::total(total, arg(0), y);
            out[0] = if mean { (sum / shape(0).len() as f64) as f32 } else { sum as f32 };
            return;
        }
        match node.op {
            Op::MatMul { trans_a, trans_b } => {
                super::cpu_matmul::matmul(arg(0), shape(0), arg(1), shape(1), trans_a, trans_b, out)
            }
            Op::Map(map, s) => {
                let (b, sb) = if node.inputs.len() > 1 { (arg(1), shape(1)) } else { (&[0.0][..], Shape::SCALAR) };
                map.with_cpu(MapInto { s, a: (arg(0), shape(0)), b: (b, sb), shape: node.shape, out })
            }
            Op::SumRows => k::sum_rows(arg(0), shape(0), out),
            Op::SumCols => k::sum_cols(arg(0), shape(0), out),
            Op::MaxCols => k::max_cols(arg(0), shape(0), out),
            Op::SoftmaxCrossEntropy => out[0] = k::softmax_cross_entropy(arg(0), arg(1), shape(0)),
            Op::SoftmaxCrossEntropyGrad => k::softmax_cross_entropy_grad(arg(0), arg(1), arg(2)[0], shape(0), out),
            Op::CountCorrect => out[0] = k::count_correct(arg(0), arg(1), shape(0)),
            Op::GradStats => out.copy_from_slice(&k::grad_stats(arg(0))),
            Op::DropoutMask { p, seed } => k::dropout_mask(arg(0), p, seed, out),
            Op::GatherRows => {
                let cols = node.shape.cols();
                k::gather(arg(1), arg(2), node.shape, out, |s, row| row.copy_from_slice(&arg(0)[s * cols..][..cols]))
            }
            Op::GatherBytes => k::gather_bytes(arg(0), shape(0).cols(), arg(1), arg(2), arg(3), node.shape, out),
            Op::GatherOneHot => k::gather(arg(1), arg(2), node.shape, out, |s, row| {
                row.fill(0.0);
                if let Some(hot) = row.get_mut(k::byte_at(arg(0), s) as usize) {
                    *hot = 1.0;
                }
            }),
            Op::Transpose | Op::SliceCols { .. } | Op::PadCols { .. } | Op::ConcatCols => {
                let b = if node.inputs.len() > 1 { shape(1) } else { Shape::SCALAR };
                let cols = node.shape.cols();
                for (i, y) in out.iter_mut().enumerate() {
                    *y = k::layout_source(node.op, shape(0), b, i / cols, i % cols).map_or(0.0, |(j, at)| arg(j)[at]);
                }
            }
            Op::Conv2d(conv) => {
                let bias = (node.inputs.len() > 2).then(|| arg(2));
                cpu_conv::conv2d(arg(0), arg(1), bias, &Sliding::conv(conv, shape(0), shape(1)), out)
            }
            Op::Conv2dInput(conv) => {
                cpu_conv::conv2d_input(arg(0), arg(1), &Sliding::conv(conv, node.shape, shape(1)), out)
            }
            Op::Conv2dWeight(conv) => {
                cpu_conv::conv2d_weight(arg(0), arg(1), &Sliding::conv(conv, shape(0), node.shape), out)
            }
            Op::MaxPool2d(pool) => cpu_conv::max_pool2d(arg(0), &Sliding::pool(pool, shape(0)), out),
            Op::MaxPool2dGrad(pool) => cpu_conv::max_pool2d_grad(arg(0), arg(1), &Sliding::pool(pool, shape(0)), out),
            Op::Unfold(window) => {
                let d = shape(0).dims();
                cpu_tensor::unfold(arg(0), [d[0], d[1], d[2], d[3]], window, out)
            }
            Op::Permute { .. } | Op::Expand | Op::Narrow { .. } | Op::Pad { .. } => {
                cpu_tensor::restride(arg(0), &Strided::of(node.op, shape(0), node.shape), out)
            }
            Op::Fold(window) => cpu_tensor::fold(arg(0), &Folding::of(window, shape(0), node.shape), out),
            Op::Reduce { kind, dim } => cpu_tensor::reduce(kind, arg(0), around(shape(0), dim as usize), out),
            Op::BatchMatMul { trans_a, trans_b } => {
                let layout = Batched::of(shape(0), shape(1), node.shape, trans_a);
                cpu_tensor::batch_matmul(arg(0), arg(1), layout, trans_a, trans_b, out)
            }
            Op::IndexSelect { dim } => {
                cpu_tensor::index_select(arg(0), around(shape(0), dim as usize), &arg(1)[..shape(1).len()], out)
            }
            Op::IndexAdd { dim } => {
                cpu_tensor::index_add(&arg(0)[..shape(0).len()], arg(1), around(node.shape, dim as usize), out)
            }
            op => unreachable!("{} is a leaf, an update or a view, not evaluated", op.name()),
        }
    }

    /// Applies an in-place update. Its inputs have distinct slots (recording checks that
    /// no two share storage), so each is taken out, updated, and put back; nothing is
    /// allocated. A gradient computed inline (`column_sum`) is read from its scratch.
    fn update(&mut self, id: NodeId, column_sum: Option<NodeId>) {
        let node = &self.graph.nodes()[id.index()];
        let (op, n) = (node.op, node.inputs.len());
        let mut at = [None; 6];
        for (slot, &input) in at.iter_mut().zip(&node.inputs) {
            *slot = if Some(input) == column_sum { None } else { Some(self.slot(input)) };
        }
        if let Some(sum) = column_sum {
            let x = self.graph.nodes()[sum.index()].inputs[0];
            let len = self.graph.nodes()[sum.index()].shape.len();
            k::sum_rows(&self.slots[self.slot(x)], self.graph.nodes()[x.index()].shape, &mut self.column_sum[..len]);
        }
        let mut values: [Vec<f32>; 6] = Default::default();
        for (value, slot) in values.iter_mut().zip(&at[..n]) {
            *value = match slot {
                Some(slot) => std::mem::take(&mut self.slots[*slot]),
                None => std::mem::take(&mut self.column_sum),
            };
        }
        match (op, &mut values[..n]) {
            (Op::Sgd(config), [p, g, lr]) => k::sgd(p, g, lr[0], &config, None),
            (Op::Sgd(config), [p, g, lr, v]) => k::sgd(p, g, lr[0], &config, Some(v)),
            (Op::Accumulate, [p, g]) => p.iter_mut().zip(g.iter()).for_each(|(p, g)| *p += g),
            (Op::FirstNonFinite { tag }, [record, value, step]) => {
                if record[..2] == [0.0, 0.0] && value.iter().any(|v| !v.is_finite()) {
                    record.copy_from_slice(&[step[0], step[1], tag as f32]);
                }
            }
            (Op::Adam(config), [p, g, m, v, t, lr]) => {
                k::adam(p, g, m, v, t, lr[0], &config, self.complements[id.index()])
            }
            (Op::Increment, [counter]) => k::increment(counter),
            (Op::AdamCorrections(_), [state]) => k::adam_corrections(state, self.complements[id.index()]),
            (op, _) => unreachable!("{} is not an update of these inputs", op.name()),
        }
        for (slot, value) in at[..n].iter().zip(values) {
            match slot {
                Some(slot) => self.slots[*slot] = value,
                None => self.column_sum = value,
            }
        }
    }

    /// Runs one node into its slot.
    fn run_node(&mut self, id: NodeId) {
        if !self.graph.nodes()[id.index()].op.updated_inputs().is_empty() {
            return self.update(id, None);
        }
        let slot = self.slot(id);
        let mut out = std::mem::take(&mut self.slots[slot]);
        self.eval(id, &mut out[..self.graph.nodes()[id.index()].shape.len()]);
        self.slots[slot] = out;
    }

    /// A product and its elementwise epilogue, all in the last node's slot.
    fn run_matmul(&mut self, matmul: NodeId, epilogue: &[NodeId]) {
        let last = *epilogue.last().unwrap_or(&matmul);
        let slot = self.slot(last);
        let mut out = std::mem::take(&mut self.slots[slot]);
        let nodes = self.graph.nodes();
        let shape = nodes[last.index()].shape;
        let value = &mut out[..shape.len()];
        self.eval(matmul, value);
        let mut previous = matmul;
        for &id in epilogue {
            let Op::Map(map, s) = nodes[id.index()].op else { unreachable!("an epilogue is elementwise") };
            let inputs = &nodes[id.index()].inputs;
            let value_first = inputs[0] == previous;
            let other = match inputs.iter().find(|&&i| i != previous) {
                Some(&o) => (self.slots[self.slot(o)].as_slice(), nodes[o.index()].shape),
                None => (&[0.0][..], crate::graph::shape::Shape::SCALAR),
            };
            map.with_cpu(MapInPlace { s, value: &mut *value, shape, other, value_first });
            previous = id;
        }
        self.slots[slot] = out;
    }

    /// Softmax cross-entropy and its gradient in one pass over the rows (the gradient
    /// node reads the loss node's logits and targets).
    fn run_softmax_xent(&mut self, loss: NodeId, grad: NodeId) {
        let (grad_slot, loss_slot) = (self.slot(grad), self.slot(loss));
        let mut out = std::mem::take(&mut self.slots[grad_slot]);
        let node = &self.graph.nodes()[grad.index()];
        let arg = |i: usize| self.slots[self.slot(node.inputs[i])].as_slice();
        let shape = self.graph.nodes()[node.inputs[0].index()].shape;
        let value = k::softmax_cross_entropy_with_grad(arg(0), arg(1), arg(2)[0], shape, &mut out[..shape.len()]);
        self.slots[grad_slot] = out;
        self.slots[loss_slot][0] = value;
    }

    fn run_group(&mut self, group: &Group) {
        match group {
            Group::Single(id) => self.run_node(*id),
            Group::MatMul { matmul, epilogue } => self.run_matmul(*matmul, epilogue),
            Group::SoftmaxXent { loss, grad, accumulate } => {
                self.run_softmax_xent(*loss, *grad);
                accumulate.iter().for_each(|&id| self.run_node(id));
            }
            Group::Updates(members) => {
                members.iter().for_each(|&Update { node, column_sum }| self.update(node, column_sum))
            }
            Group::Batch { x, y } => {
                self.run_node(*x);
                self.run_node(*y);
            }
        }
    }
}

impl Session for CpuSession {
    fn backend_name(&self) -> String {
        "cpu (reference)".into()
    }

    fn launches_per_step(&self) -> usize {
        self.plan.groups.len()
    }

    fn graph(&self) -> &Graph {
        &self.graph
    }

    fn write(&mut self, id: NodeId, data: &[f32]) -> Result<()> {
        self.graph.check_write(id, data.len())?;
        self.graph.check_written_indices(id, data)?;
        // A leaf that nothing in this plan reads has no slot; the write has no effect.
        if let Some(slot) = self.plan.slot_of(id) {
            self.slots[slot].copy_from_slice(data);
        }
        self.guard.written(id, Some(data));
        Ok(())
    }

    fn run(&mut self) -> Result<()> {
        self.run_steps(1)
    }

    fn run_steps(&mut self, steps: usize) -> Result<()> {
        // Checked for all the steps before any runs: none or all of them.
        self.guard.before_runs(&self.graph, steps)?;
        let groups = std::mem::take(&mut self.plan.groups);
        for _ in 0..steps {
            for group in &groups {
                self.run_group(group);
            }
            self.has_run = true;
        }
        self.plan.groups = groups;
        Ok(())
    }

    /// One step with each launch group timed by the host clock (the CPU runs them in
    /// turn, so each time is that group's alone).
    fn profile(&mut self) -> Result<Vec<super::KernelTime>> {
        self.guard.before_runs(&self.graph, 1)?;
        let groups = std::mem::take(&mut self.plan.groups);
        let mut times = Vec::with_capacity(groups.len());
        for group in &groups {
            let start = web_time::Instant::now();
            self.run_group(group);
            let micros = start.elapsed().as_secs_f64() * 1e6;
            times.push(super::KernelTime { what: group.describe(&self.graph), micros });
        }
        self.plan.groups = groups;
        self.has_run = true;
        Ok(times)
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn is_stored(&self, id: NodeId) -> bool {
        self.graph.node(id).is_ok() && self.plan.slot_of(id).is_some()
    }

    fn storage_bytes(&self) -> u64 {
        self.slots.iter().map(|s| s.len() as u64 * 4).sum()
    }

    fn read(&mut self, id: NodeId) -> Result<Vec<f32>> {
        super::check_readable(&self.graph, &self.plan, id, self.has_run)?;
        let len = self.graph.nodes()[id.index()].shape.len();
        Ok(self.slots[self.slot(id)][..len].to_vec())
    }
}

/// An elementwise node's operands and output, for [`k::map`] with the op's function.
struct MapInto<'a> {
    s: f32,
    a: (&'a [f32], Shape),
    b: (&'a [f32], Shape),
    shape: Shape,
    out: &'a mut [f32],
}

impl ElementLoop for MapInto<'_> {
    fn run<F: Fn(f32, f32, f32) -> f32 + Copy + Sync>(self, f: F) {
        k::map(f, self.s, self.a.0, self.a.1, self.b.0, self.b.1, self.shape, self.out)
    }
}

/// One step of a fused epilogue, for [`k::map_in_place`] with the op's function.
struct MapInPlace<'a> {
    s: f32,
    value: &'a mut [f32],
    shape: Shape,
    other: (&'a [f32], Shape),
    value_first: bool,
}

impl ElementLoop for MapInPlace<'_> {
    fn run<F: Fn(f32, f32, f32) -> f32 + Copy + Sync>(self, f: F) {
        k::map_in_place(f, self.s, self.value, self.shape, self.other, self.value_first)
    }
}

/// The longest column sum an optimizer launch computes inline.
fn column_sum_len(graph: &Graph, plan: &Plan) -> usize {
    let sums = plan.groups.iter().flat_map(|g| match g {
        Group::Updates(members) => members.iter().filter_map(|u| u.column_sum).collect(),
        _ => vec![],
    });
    sums.map(|id| graph.nodes()[id.index()].shape.len()).max().unwrap_or(0)
}

/// `Err` before anything is allocated when the session's slots could not be: the whole
/// amount is reserved once and released, so an absurd batch size is an error naming the
/// size, not an allocation abort.
fn check_memory(plan: &Plan) -> Result<()> {
    let bytes = plan.slot_len.iter().map(|&n| n as u128).sum::<u128>() * 4;
    let too_large = || Error::TooLarge {
        what: "the CPU session".into(),
        size: format!("{bytes} bytes for its values"),
        limit: "what this machine can allocate".into(),
    };
    let bytes = usize::try_from(bytes).map_err(|_| too_large())?;
    let mut probe: Vec<u8> = Vec::new();
    probe.try_reserve_exact(bytes).map_err(|_| too_large())
}
