//! The fusion pass, between autodiff and the memory plan: which nodes of the plan's order
//! run together in one launch. It groups what a training step repeats:
//!
//! - a product, a forward convolution or a max-pool gradient, and the elementwise ops
//!   applied to it in turn (bias, activation, the activation's derivative in backward):
//!   [`Group::MatMul`], whose intermediates are never stored;
//! - softmax cross-entropy, its gradient, and the running total of the loss:
//!   [`Group::SoftmaxXent`];
//! - every optimizer update of one kind, with the column sums that are bias gradients
//!   (of at most [`MAX_FUSED_ROWS`] rows) computed inline: [`Group::Updates`];
//! - a step's images and targets gathered from a data set held on the device:
//!   [`Group::Batch`].
//!
//! A group runs where its last node was, so it is formed only when moving its nodes there
//! changes nothing another node sees (see [`movable`]). Both backends run the groups; the
//! values are the same as unfused, bit for bit (the tests compare both).

use crate::graph::op::Op;
use crate::graph::{Graph, NodeId};

/// The most rows a fused column sum walks in one thread; longer sums keep their own
/// launch, which splits them into parts of this many rows summed in parallel (one thread
/// walking 4,096 rows took 0.8 ms on an H200; a part of 64 rows, a few µs). Both sum in the
/// same order up to here, so fusing changes no bit.
pub const MAX_FUSED_ROWS: usize = 64;

/// The most elementwise ops fused into one product (the size of `ep` in matmul.wgsl's
/// `Params`).
pub const MAX_EPILOGUE: usize = 4;

/// Nodes computed by one launch.
#[derive(Clone, Debug, PartialEq)]
pub enum Group {
    /// One node.
    Single(NodeId),
    /// A product (or a forward convolution, or a max-pool gradient), then each node of `epilogue` in turn: an
    /// elementwise op that reads the previous value (and perhaps one other operand). Only
    /// the last node is stored.
    MatMul {
        /// The product or convolution.
        matmul: NodeId,
        /// The elementwise nodes applied to it, in order.
        epilogue: Vec<NodeId>,
    },
    /// Softmax cross-entropy and its gradient with respect to the logits, in one pass
    /// over the rows; with `accumulate`, the loss also added to a running total.
    SoftmaxXent {
        /// The loss node.
        loss: NodeId,
        /// Its gradient node.
        grad: NodeId,
        /// `Accumulate(total, loss)`, when there is one.
        accumulate: Option<NodeId>,
    },
    /// Optimizer updates of one kind and configuration, one launch for all.
    Updates(Vec<Update>),
    /// A step's batch gathered from a data set held on the device: the images
    /// ([`Op::GatherBytes`] or [`Op::GatherRows`]) and the one-hot targets
    /// ([`Op::GatherOneHot`]) of the same order and step, in one launch.
    Batch {
        /// The images.
        x: NodeId,
        /// The targets.
        y: NodeId,
    },
}

/// One member of [`Group::Updates`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Update {
    /// The update node.
    pub node: NodeId,
    /// Where its gradient is a column sum (a bias gradient) read by nothing else: that
    /// `SumRows` node, computed inline and never stored.
    pub column_sum: Option<NodeId>,
}

impl Group {
    /// What the launch computes, for labels and profiles: each node's label and shape
    /// (`matmul #12 [64, 128] + relu #13 [64, 128]`), or how many parameters an update
    /// launch updates.
    pub fn describe(&self, graph: &Graph) -> String {
        if let Group::Updates(members) = self {
            return format!("of {} parameters", members.len());
        }
        let names: Vec<String> = self
            .nodes()
            .iter()
            .map(|&id| {
                let node = &graph.nodes()[id.index()];
                format!("{} {} {}", node.op.name(), graph.label(id), node.shape)
            })
            .collect();
        names.join(" + ")
    }

    /// Every node the launch computes.
    pub fn nodes(&self) -> Vec<NodeId> {
        match self {
            Group::Single(id) => vec![*id],
            Group::MatMul { matmul, epilogue } => std::iter::once(*matmul).chain(epilogue.iter().copied()).collect(),
            Group::SoftmaxXent { loss, grad, accumulate } => {
                [Some(*loss), Some(*grad), *accumulate].into_iter().flatten().collect()
            }
            Group::Updates(members) => members.iter().flat_map(|u| u.column_sum.into_iter().chain([u.node])).collect(),
            Group::Batch { x, y } => vec![*x, *y],
        }
    }

    /// The nodes whose values are stored: all but the intermediates of a fused chain and
    /// the inline column sums.
    pub fn outputs(&self) -> Vec<NodeId> {
        match self {
            Group::MatMul { matmul, epilogue } => vec![*epilogue.last().unwrap_or(matmul)],
            Group::Updates(members) => members.iter().map(|u| u.node).collect(),
            other => other.nodes(),
        }
    }
}

/// The launches of `order` (the plan's nodes, in order), fused where `fuse` is set, each
/// group at the position of its last node. `kept` nodes are always stored.
pub fn groups(graph: &Graph, order: &[NodeId], kept: &[NodeId], fuse: bool) -> Vec<Group> {
    if !fuse {
        return order.iter().map(|&id| Group::Single(id)).collect();
    }
    let mut pass = Pass::new(graph, order, kept);
    pass.softmax_xent();
    pass.batches();
    pass.updates();
    pass.matmul_epilogues();
    pass.finish()
}

/// The state of the pass: positions, readers, and what is grouped so far.
struct Pass<'g> {
    graph: &'g Graph,
    order: &'g [NodeId],
    /// Position in `order` by node index.
    position: Vec<Option<usize>>,
    /// Positions of each node's readers, by node index.
    readers: Vec<Vec<usize>>,
    kept: Vec<bool>,
    taken: Vec<bool>,
    /// The group placed at each position.
    placed: Vec<Option<Group>>,
}

impl<'g> Pass<'g> {
    fn new(graph: &'g Graph, order: &'g [NodeId], kept_ids: &[NodeId]) -> Self {
        let mut position = vec![None; graph.len()];
        let mut readers = vec![Vec::new(); graph.len()];
        for (p, &id) in order.iter().enumerate() {
            position[id.index()] = Some(p);
            for input in &graph.nodes()[id.index()].inputs {
                if readers[input.index()].last() != Some(&p) {
                    readers[input.index()].push(p);
                }
            }
        }
        let mut kept = vec![false; graph.len()];
        for id in kept_ids {
            kept[id.index()] = true;
        }
        Pass { graph, order, position, readers, kept, taken: vec![false; order.len()], placed: vec![None; order.len()] }
    }

    fn op(&self, id: NodeId) -> Op {
        self.graph.nodes()[id.index()].op
    }

    fn inputs(&self, id: NodeId) -> &[NodeId] {
        &self.graph.nodes()[id.index()].inputs
    }

    fn pos(&self, id: NodeId) -> Option<usize> {
        self.position[id.index()]
    }

    /// The only reader of `id`, when it has exactly one and is not kept.
    fn sole_reader(&self, id: NodeId) -> Option<NodeId> {
        match self.readers[id.index()].as_slice() {
            [p] if !self.kept[id.index()] => Some(self.order[*p]),
            _ => None,
        }
    }

    /// Places `group` at its last node's position if it is movable there and none of its
    /// nodes is in another group.
    fn place(&mut self, group: Group) -> bool {
        let positions: Vec<usize> = group.nodes().iter().filter_map(|&id| self.pos(id)).collect();
        if positions.iter().any(|&p| self.taken[p]) || !movable(self.graph, self.order, &positions) {
            return false;
        }
        let last = positions.iter().copied().max().expect("a group has nodes");
        for &p in &positions {
            self.taken[p] = true;
        }
        self.placed[last] = Some(group);
        true
    }

    fn softmax_xent(&mut self) {
        for &loss in self.order {
            if self.op(loss) != Op::SoftmaxCrossEntropy {
                continue;
            }
            let (z, t) = (self.inputs(loss)[0], self.inputs(loss)[1]);
            let find = |op: Op, first: NodeId, second: NodeId| {
                self.order.iter().copied().find(|&r| {
                    let inputs = self.inputs(r);
                    self.op(r) == op && inputs.len() >= 2 && inputs[0] == first && inputs[1] == second
                })
            };
            let Some(grad) = find(Op::SoftmaxCrossEntropyGrad, z, t) else { continue };
            let accumulate =
                self.order.iter().copied().find(|&r| self.op(r) == Op::Accumulate && self.inputs(r)[1] == loss);
            if !(accumulate.is_some() && self.place(Group::SoftmaxXent { loss, grad, accumulate })) {
                self.place(Group::SoftmaxXent { loss, grad, accumulate: None });
            }
        }
    }

    fn batches(&mut self) {
        for &y in self.order {
            if self.op(y) != Op::GatherOneHot {
                continue;
            }
            let source = &self.inputs(y)[1..];
            let x =
                self.order.iter().copied().find(|&x| {
                    matches!(self.op(x), Op::GatherBytes | Op::GatherRows) && self.inputs(x).ends_with(source)
                });
            if let Some(x) = x {
                self.place(Group::Batch { x, y });
            }
        }
    }

    fn updates(&mut self) {
        // Members share the op (and its configuration) and the values every member reads:
        // the learning rate, and Adam's corrections.
        let mut kinds: Vec<(Op, Vec<NodeId>, Vec<NodeId>)> = Vec::new();
        for &id in self.order {
            let op = self.op(id);
            let shared = match op {
                Op::Sgd(_) => vec![self.inputs(id)[2]],
                Op::Adam(_) => self.inputs(id)[4..6].to_vec(),
                _ => continue,
            };
            match kinds.iter_mut().find(|(o, s, _)| *o == op && *s == shared) {
                Some((_, _, members)) => members.push(id),
                None => kinds.push((op, shared, vec![id])),
            }
        }
        for (_, _, members) in kinds {
            let with_sums: Vec<Update> =
                members.iter().map(|&node| Update { node, column_sum: self.column_sum(node) }).collect();
            let without: Vec<Update> = members.iter().map(|&node| Update { node, column_sum: None }).collect();
            if members.len() > 1 || with_sums != without {
                let _ = self.place(Group::Updates(with_sums)) || self.place(Group::Updates(without));
            }
        }
    }

    /// The gradient of `update` when it is a column sum short enough to compute inline
    /// and read by nothing else.
    fn column_sum(&self, update: NodeId) -> Option<NodeId> {
        let grad = self.inputs(update)[1];
        let short = |s: NodeId| self.graph.nodes()[self.inputs(s)[0].index()].shape.rows() <= MAX_FUSED_ROWS;
        (self.op(grad) == Op::SumRows && self.sole_reader(grad) == Some(update) && short(grad)).then_some(grad)
    }

    fn matmul_epilogues(&mut self) {
        for &matmul in self.order {
            let head = matches!(self.op(matmul), Op::MatMul { .. } | Op::Conv2d(_) | Op::MaxPool2dGrad(_));
            if !head || self.taken[self.pos(matmul).unwrap_or(0)] {
                continue;
            }
            let mut epilogue = Vec::new();
            let mut value = matmul;
            while epilogue.len() < MAX_EPILOGUE {
                let Some(next) = self.sole_reader(value).filter(|&r| self.continues_chain(value, r)) else { break };
                let mut longer = epilogue.clone();
                longer.push(next);
                let positions: Vec<usize> =
                    std::iter::once(matmul).chain(longer.iter().copied()).filter_map(|id| self.pos(id)).collect();
                if positions.iter().any(|&p| self.taken[p]) || !movable(self.graph, self.order, &positions) {
                    break;
                }
                epilogue = longer;
                value = next;
            }
            if !epilogue.is_empty() {
                self.place(Group::MatMul { matmul, epilogue });
            }
        }
    }

    /// Whether elementwise node `next` can take `value` as its running operand: same
    /// shape (nothing broadcast from it), and `value` read once only.
    fn continues_chain(&self, value: NodeId, next: NodeId) -> bool {
        let node = &self.graph.nodes()[next.index()];
        let Op::Map(map, _) = node.op else { return false };
        let same_shape = node.shape == self.graph.nodes()[value.index()].shape;
        let once = node.inputs.iter().filter(|&&i| i == value).count() == 1;
        same_shape && once && map != crate::ops::elementwise::Map::StopGradient
    }

    fn finish(self) -> Vec<Group> {
        let mut groups = Vec::with_capacity(self.order.len());
        for (p, placed) in self.placed.into_iter().enumerate() {
            match placed {
                Some(group) => groups.push(group),
                None if !self.taken[p] => groups.push(Group::Single(self.order[p])),
                None => {}
            }
        }
        groups
    }
}

/// Whether the nodes at `positions` can all run at the last of them. A node that moves
/// past another changes what that one sees only if the other reads it (or storage it
/// updates in place), or updates storage it reads; only members placed before a
/// non-member move past it.
pub fn movable(graph: &Graph, order: &[NodeId], positions: &[usize]) -> bool {
    let Some(&last) = positions.iter().max() else { return true };
    let root = |id: NodeId| graph.storage_root(id).unwrap_or(id);
    let nodes = graph.nodes();
    let first = positions.iter().copied().min().unwrap_or(last);
    (first..last).filter(|p| !positions.contains(p)).all(|p| {
        let other = &nodes[order[p].index()];
        let other_writes: Vec<NodeId> = other.op.updated_inputs().iter().map(|&i| root(other.inputs[i])).collect();
        positions.iter().filter(|&&m| m < p).all(|&m| {
            let member = &nodes[order[m].index()];
            let member_writes: Vec<NodeId> =
                member.op.updated_inputs().iter().map(|&i| root(member.inputs[i])).collect();
            // Through its storage: a reshape of the member reads the member.
            let reads_member =
                other.inputs.iter().any(|&i| root(i) == root(order[m]) || member_writes.contains(&root(i)));
            let writes_read = member.inputs.iter().any(|&i| other_writes.contains(&root(i)));
            !reads_member && !writes_read
        })
    })
}
