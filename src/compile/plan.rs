//! Compiling a graph for execution: which nodes run (those the kept outputs and the
//! in-place updates depend on), in what order, and which storage slot holds each value.
//! Slots of temporaries are reused once their last reader has run, so a training step's
//! memory is the peak of what is live, not the sum of every node.

use crate::compile::fuse::{self, Group};
use crate::error::Result;
use crate::graph::op::Op;
use crate::graph::{Graph, NodeId};

/// How a graph is compiled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompileOptions {
    /// Run the in-place updates (optimizer steps) every run; without, only what the kept
    /// nodes need (inference).
    pub updates: bool,
    /// Fuse launches (see [`crate::compile::fuse`]); off, every node is its own launch, which the
    /// tests use to check the fused kernels against.
    pub fuse: bool,
    /// Which tiled kernel the GPU runs matrix products with; the CPU ignores it.
    pub matmul: MatmulTiles,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions { updates: true, fuse: true, matmul: MatmulTiles::Auto }
    }
}

/// How the GPU backend tiles a matrix product. The choices differ in speed and, where a
/// product is split along K (its partial sums then added in order), in rounding: each is
/// deterministic and checked against the CPU within the same tolerance. The forced
/// choices are there to compare the kernels (`cargo bench --bench matmul`) and to test
/// each one at any shape.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MatmulTiles {
    /// By shape: one thread per output below one 64×64 tile when K ≤ 16, 128×128 tiles
    /// when the output has enough of them to fill a large GPU (128), 64×64 tiles split
    /// along K toward 512 workgroups otherwise.
    #[default]
    Auto,
    /// 64×64 tiles for every product (split along K when they are few).
    Tile64,
    /// 128×128 tiles for every product.
    Tile128,
    /// 64×64 tiles for every product, K split into ranges of this many steps (rounded up
    /// to a multiple of 16) whose partial products a second launch adds.
    SplitK(u32),
}

/// The execution plan shared by both backends.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Non-leaf nodes to run, in topological order.
    pub order: Vec<NodeId>,
    /// The launches that run them, in order (see [`crate::compile::fuse`]): every node of `order`
    /// in exactly one group.
    pub groups: Vec<Group>,
    /// Storage slot of each node (indexed by node id); `None` for nodes that never run and
    /// for the intermediates a fused launch never stores.
    pub slot: Vec<Option<usize>>,
    /// Element count of each slot.
    pub slot_len: Vec<usize>,
    /// Nodes whose values stay readable after a run.
    pub kept: Vec<NodeId>,
}

impl Plan {
    /// Plans `graph` so that every node in `keep` can be read after a run, as `options`
    /// say.
    ///
    /// # Errors
    ///
    /// [`crate::Error::ForeignNode`] for a kept id of another graph.
    pub fn new(graph: &Graph, keep: &[NodeId], options: CompileOptions) -> Result<Plan> {
        Plan::with_storage(graph, keep, options, |_, id| graph.nodes()[id.index()].shape.len())
    }

    /// [`Plan::new`] where output `id` of a launch `group` needs `storage(group, id)`
    /// elements of storage, at least its own length: a backend may want room for partial
    /// results (split-K matmuls do).
    ///
    /// # Errors
    ///
    /// As [`Plan::new`].
    pub fn with_storage(
        graph: &Graph,
        keep: &[NodeId],
        options: CompileOptions,
        storage: impl Fn(&Group, NodeId) -> usize,
    ) -> Result<Plan> {
        for &id in keep {
            graph.node(id)?;
        }
        let live = live_nodes(graph, keep, options.updates);
        // A reshape runs nothing: it shares its input's storage, so it is not in the
        // order, and what it reads stays stored (never a fused intermediate).
        let is_view = |id: &NodeId| graph.nodes()[id.index()].op == Op::Reshape;
        let order: Vec<NodeId> = ids(graph)
            .filter(|id| live[id.index()] && !graph.nodes()[id.index()].op.is_leaf() && !is_view(id))
            .collect();
        let mut stored = keep.to_vec();
        stored.extend(
            ids(graph).filter(|id| live[id.index()] && is_view(id)).map(|id| graph.nodes()[id.index()].inputs[0]),
        );
        let groups = fuse::groups(graph, &order, &stored, options.fuse);
        let pinned = pinned_nodes(graph, keep, &live);
        let (mut slot, slot_len) = assign_slots(graph, &groups, &live, &pinned, &storage);
        for id in ids(graph).filter(|id| live[id.index()] && is_view(id)) {
            let root = graph.storage_root(id)?;
            slot[id.index()] = slot[root.index()];
        }
        Ok(Plan { order, groups, slot, slot_len, kept: keep.to_vec() })
    }

    /// The slot of a node that runs or is a live leaf.
    pub fn slot_of(&self, id: NodeId) -> Option<usize> {
        self.slot.get(id.index()).copied().flatten()
    }
}

fn ids(graph: &Graph) -> impl Iterator<Item = NodeId> + '_ {
    (0..graph.len()).map(|i| graph.id_at(i))
}

/// Marks what the kept nodes and the in-place updates depend on.
fn live_nodes(graph: &Graph, keep: &[NodeId], updates: bool) -> Vec<bool> {
    let nodes = graph.nodes();
    let mut live = vec![false; nodes.len()];
    for &id in keep {
        live[id.index()] = true;
    }
    for (i, node) in nodes.iter().enumerate() {
        live[i] |= updates && !node.op.updated_inputs().is_empty();
    }
    for i in (0..nodes.len()).rev() {
        if live[i] {
            for input in &nodes[i].inputs {
                live[input.index()] = true;
            }
        }
    }
    live
}

/// Values that must survive the whole run: leaves, kept outputs, update targets.
fn pinned_nodes(graph: &Graph, keep: &[NodeId], live: &[bool]) -> Vec<bool> {
    let nodes = graph.nodes();
    let mut pinned: Vec<bool> = nodes.iter().zip(live).map(|(n, &l)| l && n.op.is_leaf()).collect();
    for &id in keep {
        pinned[id.index()] = true;
        pinned[graph.storage_root(id).unwrap_or(id).index()] = true;
    }
    pinned
}

/// Gives each live value a slot: leaves and kept nodes their own, update nodes their
/// target's, temporaries a freed slot of the same length when one exists.
fn assign_slots(
    graph: &Graph,
    groups: &[Group],
    live: &[bool],
    pinned: &[bool],
    storage: &dyn Fn(&Group, NodeId) -> usize,
) -> (Vec<Option<usize>>, Vec<usize>) {
    let nodes = graph.nodes();
    let last_use = last_uses(graph, groups);
    let mut slot = vec![None; nodes.len()];
    let mut slot_len = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let fresh = |len: usize, slot_len: &mut Vec<usize>| {
        slot_len.push(len);
        slot_len.len() - 1
    };
    for (i, node) in nodes.iter().enumerate() {
        if live[i] && node.op.is_leaf() {
            slot[i] = Some(fresh(node.shape.len(), &mut slot_len));
        }
    }
    for (step, group) in groups.iter().enumerate() {
        for id in group.outputs() {
            let node = &nodes[id.index()];
            let len = storage(group, id);
            slot[id.index()] = if let Some(&target) = node.op.updated_inputs().first() {
                slot[node.inputs[target].index()]
            } else if pinned[id.index()] {
                Some(fresh(len, &mut slot_len))
            } else {
                let reuse = free.iter().position(|&s| slot_len[s] == len);
                Some(match reuse {
                    Some(pos) => free.swap_remove(pos),
                    None => fresh(len, &mut slot_len),
                })
            };
        }
        // Inputs read for the last time by this launch can be overwritten by later ones;
        // the outputs were given their slots first, so none shares one with an input. An
        // update node's slot is its target's, a leaf's, which stays pinned however often
        // the update node itself is read. A fused intermediate has no slot to free.
        let inputs: Vec<NodeId> = group.nodes().iter().flat_map(|id| nodes[id.index()].inputs.clone()).collect();
        let owners: Vec<NodeId> =
            inputs.iter().map(|&i| graph.storage_root(i).expect("a node's inputs belong to its graph")).collect();
        for owner in dedup(&owners) {
            if !pinned[owner.index()] && last_use[owner.index()] == Some(step) {
                free.extend(slot[owner.index()]);
            }
        }
    }
    (slot, slot_len)
}

fn dedup(inputs: &[NodeId]) -> Vec<NodeId> {
    let mut unique = inputs.to_vec();
    unique.sort();
    unique.dedup();
    unique
}

/// Which launch reads each storage last, by the node that owns it (a read of a reshape
/// is a read of its input's storage).
fn last_uses(graph: &Graph, groups: &[Group]) -> Vec<Option<usize>> {
    let mut last = vec![None; graph.len()];
    for (step, group) in groups.iter().enumerate() {
        for id in group.nodes() {
            for &input in &graph.nodes()[id.index()].inputs {
                let owner = graph.storage_root(input).expect("a node's inputs belong to its graph");
                last[owner.index()] = Some(step);
            }
        }
    }
    last
}
