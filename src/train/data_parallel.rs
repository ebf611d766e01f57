//! Data-parallel training: every process (rank) holds the model, computes gradients on its
//! part of each global batch, and the gradients are averaged across ranks before the
//! update, so every rank applies the same update and the parameters stay equal: the
//! training of one process on the whole batch, in the summation order of the all-reduce.
//!
//! The communication is a [`Collective`]: MPI's (the `mpi` feature, `backprop::mpi`), or
//! any other that sums and broadcasts f32 buffers. A step is one readback of every
//! gradient (one transfer on the GPU), one all-reduce of them as one flat buffer (in
//! buckets of [`BUCKET_VALUES`] for a large model), and one write of the averages before
//! the update runs:
//!
//! ```text
//! rank r: batch part r ─► forward, backward ─► gradients ─┐
//!                                                          all-reduce (sum) ÷ ranks
//! rank r: parameters ◄─ optimizer update ◄─ averages ◄─────┘
//! ```
//!
//! The graph is recorded once as usual; [`Graph::gradient_inputs`] gives the optimizer
//! inputs to read instead of the computed gradients, and [`DataParallel`] compiles it as
//! two sessions: forward and backward (what the kept nodes and the gradients need), and
//! the updates (which then read only the averages, the parameters and their state).

use std::hash::Hasher;

use crate::autodiff::Gradients;
use crate::backend::{Device, Session};
use crate::compile::plan::CompileOptions;
use crate::error::{Error, Result};
use crate::graph::op::Op;
use crate::graph::{Graph, NodeId};

/// The most gradient values one all-reduce carries: 4 Mi values, 16 MiB (PyTorch's
/// DistributedDataParallel buckets 25 MB). Every rank cuts the same flat buffer the same
/// way, so the buckets match.
pub const BUCKET_VALUES: usize = 1 << 22;

/// What data-parallel training needs of a communication library. Every rank must make
/// the same calls in the same order (as MPI's collectives require).
pub trait Collective {
    /// This process's index, from 0.
    fn rank(&self) -> usize;

    /// How many processes train together.
    fn size(&self) -> usize;

    /// Replaces `values` on every rank by their element-wise sum over all ranks.
    ///
    /// # Errors
    ///
    /// [`Error::Distributed`] when the communication fails.
    fn all_reduce_sum(&self, values: &mut [f32]) -> Result<()>;

    /// Replaces `values` on every rank by rank 0's.
    ///
    /// # Errors
    ///
    /// [`Error::Distributed`] when the communication fails.
    fn broadcast(&self, values: &mut [f32]) -> Result<()>;
}

/// The optimizer's inputs for data-parallel training ([`Graph::gradient_inputs`]).
#[derive(Clone, Debug)]
pub struct GradientInputs {
    /// The gradients to give [`Graph::optimize`]: each parameter's is an input leaf that
    /// [`DataParallel::step`] fills with the average over ranks.
    pub gradients: Gradients,
    /// `(parameter, computed gradient, averaged-gradient input)`, in node order.
    pub pairs: Vec<(NodeId, NodeId, NodeId)>,
}

impl Graph {
    /// For data-parallel training: an input leaf per parameter (`{name}.grad_mean`, the
    /// parameter's shape) to stand for its gradient averaged over ranks, and gradients
    /// that name those inputs, for [`Graph::optimize`]. The computed gradients stay in the
    /// graph; [`DataParallel`] reads them.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignNode`] for gradients of another graph.
    pub fn gradient_inputs(&mut self, grads: &Gradients) -> Result<GradientInputs> {
        let mut gradients = grads.clone();
        let mut pairs = Vec::new();
        for (node, computed) in grads.iter() {
            if self.node(node)?.op != Op::Parameter {
                continue;
            }
            let name = format!("{}.grad_mean", self.label(node));
            let shape = self.shape(node)?;
            let input = self.input(&name, shape)?;
            self.set_gradient(&mut gradients, node, input)?;
            pairs.push((node, computed, input));
        }
        Ok(GradientInputs { gradients, pairs })
    }
}

/// Whether `op` is an optimizer's update (it reads the averaged gradients and runs in the
/// update session); every other in-place update (batch norm's running statistics, a step
/// counter, a summed loss) belongs to the forward and backward pass and runs there.
fn is_optimizer_update(op: &Op) -> bool {
    matches!(op, Op::Sgd(_) | Op::Adam(_) | Op::AdamCorrections(_))
}

/// A digest of the parameters' names and shapes, equal on ranks that hold the same model.
fn model_digest(graph: &Graph, pairs: &[(NodeId, NodeId, NodeId)]) -> Result<u64> {
    // FNV-1a: stable across processes and builds (std's default hasher is seeded).
    struct Fnv(u64);
    impl Hasher for Fnv {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, bytes: &[u8]) {
            for b in bytes {
                self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
            }
        }
    }
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    for &(param, _, _) in pairs {
        h.write(graph.label(param).as_bytes());
        h.write(&[0]);
        for d in graph.shape(param)?.dims().iter() {
            h.write(&(*d as u64).to_le_bytes());
        }
    }
    Ok(h.finish())
}

/// A graph trained data-parallel across the ranks of a [`Collective`].
pub struct DataParallel<'c, C: Collective> {
    comm: &'c C,
    gradients: Box<dyn Session>,
    updates: Box<dyn Session>,
    /// The computed gradients, the averaged-gradient inputs and the parameters, in
    /// [`GradientInputs::pairs`] order (listed once, not per step).
    computed: Vec<NodeId>,
    averages: Vec<NodeId>,
    params: Vec<NodeId>,
    /// The flat buffer of every gradient, then one element: how many ranks failed.
    flat: Vec<f32>,
}

impl<'c, C: Collective> DataParallel<'c, C> {
    /// Compiles `graph` (whose optimizer reads `inputs.gradients`) on `device` as two
    /// sessions, checks that every rank holds the same model (a digest of the parameters'
    /// names and shapes), and gives every rank rank 0's initial parameters. `keep` lists
    /// the nodes of the forward and backward pass to read after a step (the loss, say).
    ///
    /// # Errors
    ///
    /// [`Error::Distributed`] on every rank when the models differ; the errors of
    /// [`Device::compile_with`]; [`Error::Distributed`] when the communication fails. An
    /// error on one rank only (a device out of memory) leaves the others waiting in the
    /// next collective: end the job then (`backprop::mpi::abort_with`).
    pub fn new(comm: &'c C, device: &Device, graph: &Graph, inputs: &GradientInputs, keep: &[NodeId]) -> Result<Self> {
        let digest = model_digest(graph, &inputs.pairs)?;
        // Four 16-bit pieces: exact in f32, so rank 0's digest arrives unchanged.
        let pieces = |d: u64| -> [f32; 4] { std::array::from_fn(|i| ((d >> (16 * i)) & 0xffff) as f32) };
        let mut theirs = pieces(digest);
        comm.broadcast(&mut theirs)?;
        let mut differ = [f32::from(u8::from(theirs != pieces(digest)))];
        comm.all_reduce_sum(&mut differ)?;
        if differ[0] > 0.0 {
            let msg = format!(
                "{} of {} ranks hold a model whose parameter names or shapes differ from rank 0's \
                 (this rank's digest {digest:016x})",
                differ[0],
                comm.size()
            );
            return Err(Error::Distributed { msg });
        }
        // Each session runs its own updates, kept (so they run) rather than all of them.
        let in_place = |optimizer: bool| {
            let ids = (0..graph.len()).map(|i| graph.id_at(i));
            ids.filter(move |&id| {
                let op = &graph.nodes()[id.index()].op;
                !op.updated_inputs().is_empty() && is_optimizer_update(op) == optimizer
            })
        };
        let mut kept = keep.to_vec();
        kept.extend(inputs.pairs.iter().map(|p| p.1));
        kept.extend(in_place(false));
        let only_kept = CompileOptions { updates: false, ..Default::default() };
        let mut gradients = device.compile_with(graph, &kept, only_kept)?;
        let optimizer: Vec<NodeId> = in_place(true).collect();
        let mut updates = device.compile_with(graph, &optimizer, only_kept)?;
        let params: Vec<NodeId> = inputs.pairs.iter().map(|p| p.0).collect();
        let total: usize = params.iter().map(|&p| graph.shape(p).map(|s| s.len())).sum::<Result<usize>>()?;
        let mut flat = vec![0.0; total + 1];
        gather(&mut flat, updates.read_many(&params)?);
        comm.broadcast(&mut flat[..total])?;
        scatter(&flat[..total], &params, graph, |id, v| {
            updates.write(id, v)?;
            gradients.write(id, v)
        })?;
        let computed = inputs.pairs.iter().map(|p| p.1).collect();
        let averages = inputs.pairs.iter().map(|p| p.2).collect();
        Ok(DataParallel { comm, gradients, updates, computed, averages, params, flat })
    }

    /// The forward-and-backward session: write this rank's part of the batch to its
    /// inputs, read its kept nodes.
    pub fn session(&mut self) -> &mut dyn Session {
        self.gradients.as_mut()
    }

    /// The update session: the parameters after the last step, the optimizer's state,
    /// the learning-rate node to write between steps.
    pub fn updates(&mut self) -> &mut dyn Session {
        self.updates.as_mut()
    }

    /// One step: forward and backward on this rank's part, the gradients summed over all
    /// ranks and divided by their count, the update applied, the new parameters handed to
    /// the forward session. A rank whose gradients are not finite (or whose step failed
    /// before the all-reduce) makes the step fail on every rank, no rank updating its
    /// parameters (the forward pass's own updates, such as running statistics, have run).
    ///
    /// # Errors
    ///
    /// [`Error::Distributed`] on every rank when a rank failed; this rank's own error
    /// when its step failed; the errors of [`Session::run`], [`Session::read_many`],
    /// [`Session::write`] and [`Session::copy_to`].
    pub fn step(&mut self) -> Result<()> {
        let total = self.flat.len() - 1;
        let own = self.local_gradients();
        let failed = own.is_err() || self.flat[..total].iter().any(|v| !v.is_finite());
        if failed {
            self.flat[..total].fill(0.0);
        }
        self.flat[total] = f32::from(u8::from(failed));
        // One all-reduce for a small model; a large one's in buckets, so that no single
        // message (and the library's copy of it) is the whole gradient.
        for bucket in self.flat.chunks_mut(BUCKET_VALUES) {
            self.comm.all_reduce_sum(bucket)?;
        }
        own?;
        if self.flat[total] > 0.0 {
            let msg = format!(
                "{} of {} ranks failed this step (gradients not finite or an error); no rank updated",
                self.flat[total],
                self.comm.size()
            );
            return Err(Error::Distributed { msg });
        }
        let scale = 1.0 / self.comm.size() as f32;
        self.flat[..total].iter_mut().for_each(|v| *v *= scale);
        let (updates, graph) = (&mut self.updates, self.gradients.graph());
        scatter(&self.flat[..total], &self.averages, graph, |id, v| updates.write(id, v))?;
        self.updates.run()?;
        self.updates.copy_to(self.gradients.as_mut(), &self.params)
    }

    fn local_gradients(&mut self) -> Result<()> {
        self.gradients.run()?;
        let values = self.gradients.read_many(&self.computed)?;
        gather(&mut self.flat, values);
        Ok(())
    }

    /// Gives every rank rank 0's values of `nodes` in the forward session: state the
    /// forward pass updates on each rank from its own share (batch norm's running
    /// statistics), made equal before evaluating or saving, as PyTorch's
    /// DistributedDataParallel broadcasts buffers.
    ///
    /// # Errors
    ///
    /// As [`Session::read_many`] and [`Session::write`]; [`Error::Distributed`] when the
    /// communication fails.
    pub fn broadcast_from_rank_0(&mut self, nodes: &[NodeId]) -> Result<()> {
        let values = self.gradients.read_many(nodes)?;
        let lens: Vec<usize> = values.iter().map(Vec::len).collect();
        let mut flat: Vec<f32> = values.concat();
        self.comm.broadcast(&mut flat)?;
        let mut at = 0;
        for (&id, len) in nodes.iter().zip(lens) {
            self.gradients.write(id, &flat[at..at + len])?;
            at += len;
        }
        Ok(())
    }

    /// The current parameters (equal on every rank), in [`GradientInputs::pairs`] order.
    ///
    /// # Errors
    ///
    /// As [`Session::read_many`].
    pub fn parameters(&mut self) -> Result<Vec<Vec<f32>>> {
        self.updates.read_many(&self.params)
    }
}

/// Copies `parts` one after another into the front of `flat`.
fn gather(flat: &mut [f32], parts: Vec<Vec<f32>>) {
    let mut at = 0;
    for part in parts {
        flat[at..at + part.len()].copy_from_slice(&part);
        at += part.len();
    }
}

/// Hands each node of `ids` its slice of `flat`, in order.
fn scatter(
    flat: &[f32],
    ids: &[NodeId],
    graph: &Graph,
    mut write: impl FnMut(NodeId, &[f32]) -> Result<()>,
) -> Result<()> {
    let mut at = 0;
    for &id in ids {
        let len = graph.shape(id)?.len();
        write(id, &flat[at..at + len])?;
        at += len;
    }
    Ok(())
}
