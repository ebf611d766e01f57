//! Compiling a graph for execution: which nodes run (those the kept outputs and the
//! in-place updates depend on), in what order, and which storage slot holds each value.
//! Slots of temporaries are reused once their last reader has run, so a training step's
//! memory is the peak of what is live, not the sum of every node.

use crate::error::Result;
use crate::graph::{Graph, NodeId};

/// The execution plan shared by both backends.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Non-leaf nodes to run, in topological order.
    pub order: Vec<NodeId>,
    /// Storage slot of each node (indexed by node id); `None` for nodes that never run.
    pub slot: Vec<Option<usize>>,
    /// Element count of each slot.
    pub slot_len: Vec<usize>,
    /// Nodes whose values stay readable after a run.
    pub kept: Vec<NodeId>,
}

impl Plan {
    /// Plans `graph` so that every node in `keep` can be read after a run. With
    /// `updates`, the in-place updates (optimizer steps) run too; without, only what
    /// `keep` needs (inference).
    ///
    /// # Errors
    ///
    /// [`crate::Error::ForeignNode`] for a kept id of another graph.
    pub fn new(graph: &Graph, keep: &[NodeId], updates: bool) -> Result<Plan> {
        Plan::with_storage(graph, keep, updates, |id| graph.nodes()[id.index()].shape.len())
    }

    /// [`Plan::new`] where node `id` needs `storage(id)` elements of storage, at least its
    /// own length: a backend may want room for partial results (split-K matmuls do).
    ///
    /// # Errors
    ///
    /// As [`Plan::new`].
    pub fn with_storage(
        graph: &Graph,
        keep: &[NodeId],
        updates: bool,
        storage: impl Fn(NodeId) -> usize,
    ) -> Result<Plan> {
        for &id in keep {
            graph.node(id)?;
        }
        let live = live_nodes(graph, keep, updates);
        let order: Vec<NodeId> =
            ids(graph).filter(|id| live[id.index()] && !graph.nodes()[id.index()].op.is_leaf()).collect();
        let pinned = pinned_nodes(graph, keep, &live);
        let (slot, slot_len) = assign_slots(graph, &order, &live, &pinned, &storage);
        Ok(Plan { order, slot, slot_len, kept: keep.to_vec() })
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
    }
    pinned
}

/// Gives each live value a slot: leaves and kept nodes their own, update nodes their
/// target's, temporaries a freed slot of the same length when one exists.
fn assign_slots(
    graph: &Graph,
    order: &[NodeId],
    live: &[bool],
    pinned: &[bool],
    storage: &dyn Fn(NodeId) -> usize,
) -> (Vec<Option<usize>>, Vec<usize>) {
    let nodes = graph.nodes();
    let last_use = last_uses(graph, order);
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
    for (step, &id) in order.iter().enumerate() {
        let node = &nodes[id.index()];
        slot[id.index()] = if let Some(&target) = node.op.updated_inputs().first() {
            slot[node.inputs[target].index()]
        } else if pinned[id.index()] {
            Some(fresh(storage(id), &mut slot_len))
        } else {
            let reuse = free.iter().position(|&s| slot_len[s] == storage(id));
            Some(match reuse {
                Some(pos) => free.swap_remove(pos),
                None => fresh(storage(id), &mut slot_len),
            })
        };
        // Inputs read for the last time here can be overwritten by later nodes; the
        // output was given its slot first, so it never shares one with its own inputs. An
        // update node's slot is its target's, a leaf's, which stays pinned however often
        // the update node itself is read.
        for input in dedup(&node.inputs) {
            let owner = graph.storage_root(input).expect("a node's inputs belong to its graph");
            if !pinned[owner.index()] && last_use[input.index()] == Some(step) {
                free.extend(slot[input.index()]);
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

/// Position in `order` of each node's last reader.
fn last_uses(graph: &Graph, order: &[NodeId]) -> Vec<Option<usize>> {
    let mut last = vec![None; graph.len()];
    for (step, id) in order.iter().enumerate() {
        for input in &graph.nodes()[id.index()].inputs {
            last[input.index()] = Some(step);
        }
    }
    last
}
