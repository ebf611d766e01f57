//! The recorded computation: an arena of nodes in creation order, which is already a
//! topological order. Every recording method checks shapes and returns `Err` on misuse.

pub(crate) mod op;
pub(crate) mod shape;
pub(crate) mod sliding;
pub(crate) mod strided;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::error::{Error, Result};
use crate::graph::op::Op;
use crate::graph::shape::Shape;

/// A node of one [`Graph`]: the graph's identity and the node's position in it. Every
/// method that takes an id checks that it belongs to the graph (or to the graph a session
/// was compiled from), so an id from another graph is an [`Error::ForeignNode`], never
/// silently another node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId {
    graph: u32,
    index: u32,
}

impl NodeId {
    /// Position of the node in the graph's arena.
    pub fn index(self) -> usize {
        self.index as usize
    }
}

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.index)
    }
}

/// Source of graph identities; 0 is never handed out.
static NEXT_GRAPH: AtomicU32 = AtomicU32::new(1);

/// One recorded value.
#[derive(Clone, Debug)]
pub struct Node {
    /// What computes it.
    pub op: Op,
    /// Its operands, all earlier in the graph.
    pub inputs: Vec<NodeId>,
    /// Its shape.
    pub shape: Shape,
    /// Whether a gradient flows back through it.
    pub requires_grad: bool,
    /// A name, for leaves (used in errors, checkpoints and diagnostics).
    pub name: Option<String>,
    /// Initial data of parameters, constants and optimizer state.
    pub init: Option<Vec<f32>>,
}

/// A computation under construction. A clone keeps its original's identity: ids recorded
/// before cloning are valid in both (sessions compile a clone). Recording into two clones
/// afterwards makes two different graphs that the ids cannot tell apart: record into one.
#[derive(Clone, Debug)]
pub struct Graph {
    id: u32,
    nodes: Vec<Node>,
    backward: BackwardMarks,
    /// `(counter, steps per epoch)` of each [`Graph::device_batches`], so that sessions
    /// refuse a run past an epoch's end.
    epochs: Vec<(NodeId, usize)>,
}

/// What differentiation recorded about the nodes it added, for drawings: which forward
/// node's rule created each, and which gradients each holds.
#[derive(Clone, Debug, Default)]
struct BackwardMarks {
    /// Gradient node index → the forward node being differentiated when it was recorded.
    owner: BTreeMap<usize, NodeId>,
    /// Gradient node index → names such as `∂L/∂w1`.
    names: BTreeMap<usize, Vec<String>>,
}

impl Default for Graph {
    fn default() -> Self {
        Graph {
            id: NEXT_GRAPH.fetch_add(1, Ordering::Relaxed),
            nodes: Vec::new(),
            backward: BackwardMarks::default(),
            epochs: Vec::new(),
        }
    }
}

impl Graph {
    /// An empty graph with an identity of its own.
    pub fn new() -> Self {
        Self::default()
    }

    /// The identity that this graph's node ids carry.
    pub(crate) fn identity(&self) -> u32 {
        self.id
    }

    /// The id of the node at `index` (which must be below [`Graph::len`]).
    /// The leaf (input, parameter, constant or state) called `name`.
    fn leaf_named(&self, name: &str) -> Option<NodeId> {
        let found = self.nodes.iter().position(|n| n.op.is_leaf() && n.name.as_deref() == Some(name));
        found.map(|i| self.id_at(i))
    }

    pub(crate) fn epoch_counters(&self) -> &[(NodeId, usize)] {
        &self.epochs
    }

    /// Notes that `counter` counts the steps of epochs of `steps` steps.
    pub(crate) fn add_epoch_counter(&mut self, counter: NodeId, steps: usize) {
        self.epochs.push((counter, steps));
    }

    pub(crate) fn id_at(&self, index: usize) -> NodeId {
        NodeId { graph: self.id, index: index as u32 }
    }

    /// Number of nodes recorded.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when nothing has been recorded.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The node behind an id.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignNode`] for an id recorded in another graph.
    pub fn node(&self, id: NodeId) -> Result<&Node> {
        let node = if id.graph == self.id { self.nodes.get(id.index()) } else { None };
        node.ok_or(Error::ForeignNode { node: id.to_string() })
    }

    /// All nodes in recording order.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Shape of a node.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignNode`] for an id recorded in another graph.
    pub fn shape(&self, id: NodeId) -> Result<Shape> {
        Ok(self.node(id)?.shape)
    }

    /// Ids of all trainable parameters, in recording order.
    pub fn parameters(&self) -> Vec<NodeId> {
        self.ids_where(|n| n.op == Op::Parameter)
    }

    /// Names node `id` (any node, not only leaves): names appear in errors, diagnostics and
    /// drawings.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignNode`] for an id of another graph.
    pub fn set_name(&mut self, id: NodeId, name: &str) -> Result<()> {
        self.node(id)?;
        self.nodes[id.index()].name = Some(name.to_owned());
        Ok(())
    }

    /// The ids of all nodes, in recording order.
    pub fn ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        (0..self.nodes.len()).map(|i| self.id_at(i))
    }

    /// The first node named `name` (see [`Graph::set_name`]; optimizers name their state
    /// after the parameter, e.g. `0.weight.exp_avg`).
    pub fn find(&self, name: &str) -> Option<NodeId> {
        self.nodes.iter().position(|n| n.name.as_deref() == Some(name)).map(|i| self.id_at(i))
    }

    /// Whether `id` was recorded by differentiation ([`Graph::backward`]): a gradient or a
    /// step of computing one.
    pub fn is_gradient(&self, id: NodeId) -> bool {
        self.node(id).is_ok() && self.backward.owner.contains_key(&id.index())
    }

    /// For a node recorded by differentiation, the forward node whose backward rule
    /// recorded it.
    pub fn gradient_owner(&self, id: NodeId) -> Option<NodeId> {
        self.node(id).ok()?;
        self.backward.owner.get(&id.index()).copied()
    }

    /// The names of the gradients node `id` holds, e.g. `["∂L/∂w1"]` (empty for other
    /// nodes).
    pub fn gradient_names(&self, id: NodeId) -> &[String] {
        self.backward.names.get(&id.index()).map_or(&[], |v| v.as_slice())
    }

    /// Marks the nodes recorded since index `from` as differentiation of `owner`.
    pub(crate) fn mark_backward(&mut self, from: usize, owner: NodeId) {
        for index in from..self.nodes.len() {
            self.backward.owner.entry(index).or_insert(owner);
        }
    }

    /// Marks node `id` (of this graph) as requiring no gradient, whatever its inputs.
    pub(crate) fn stop_gradients_at(&mut self, id: NodeId) {
        self.nodes[id.index()].requires_grad = false;
    }

    /// Records that gradient node `grad` holds `name`.
    pub(crate) fn name_gradient(&mut self, grad: NodeId, name: String) {
        self.backward.names.entry(grad.index()).or_default().push(name);
    }

    /// Display name of a node: its own name or `#id`.
    pub fn label(&self, id: NodeId) -> String {
        match self.node(id).ok().and_then(|n| n.name.clone()) {
            Some(name) => name,
            None => id.to_string(),
        }
    }

    /// Checks that `len` values may be written into node `id`: it must be a leaf (input,
    /// parameter, constant or state) whose shape holds exactly `len` values.
    pub(crate) fn check_write(&self, id: NodeId, len: usize) -> Result<()> {
        let node = self.node(id)?;
        if !node.op.is_leaf() {
            let msg = format!("{} is computed, not written", self.label(id));
            return Err(Error::InvalidArgument { op: "write", msg });
        }
        check_len(&self.label(id), node.shape, len)
    }

    /// Checks data written to leaf `id` where it is read as indices (by
    /// [`Graph::index_select`] or [`Graph::embedding`]): every value must name an entry of
    /// the indexed dim, so that bad indices from the host are refused when written, not
    /// read as zeros.
    pub(crate) fn check_written_indices(&self, id: NodeId, data: &[f32]) -> Result<()> {
        for node in &self.nodes {
            if let (Op::IndexSelect { dim }, [table, indices]) = (node.op, node.inputs.as_slice()) {
                if *indices == id {
                    let size = self.node(*table)?.shape.dims()[dim as usize];
                    if let Some(at) = data.iter().position(|&v| crate::graph::strided::index_in(v, size).is_none()) {
                        let msg = format!(
                            "index {} at position {at} of {} is not an integer in 0..{size} (dim {dim} of {})",
                            data[at],
                            self.label(id),
                            self.label(*table)
                        );
                        return Err(Error::InvalidArgument { op: "write", msg });
                    }
                }
            }
        }
        Ok(())
    }

    fn ids_where(&self, keep: impl Fn(&Node) -> bool) -> Vec<NodeId> {
        (0..self.nodes.len()).filter(|&i| keep(&self.nodes[i])).map(|i| self.id_at(i)).collect()
    }

    /// Appends a node after checking that its inputs exist. `requires_grad` is inherited.
    pub(crate) fn push(&mut self, op: Op, inputs: &[NodeId], shape: Shape) -> Result<NodeId> {
        let mut requires_grad = false;
        for &input in inputs {
            requires_grad |= self.node(input)?.requires_grad;
        }
        self.push_node(Node { op, inputs: inputs.to_vec(), shape, requires_grad, name: None, init: None })
    }

    /// Appends an in-place update after the checks every update needs: each overwritten
    /// input is a state or parameter leaf, and no two inputs share storage (an update
    /// node shares its target's), so the update never reads what it is writing.
    pub(crate) fn push_update(&mut self, op: Op, inputs: &[NodeId]) -> Result<NodeId> {
        let mut roots = Vec::with_capacity(inputs.len());
        for &input in inputs {
            let root = self.storage_root(input)?;
            if roots.contains(&root) {
                let msg = format!("{} is read and written by one update", self.label(root));
                return Err(Error::InvalidArgument { op: op.name(), msg });
            }
            roots.push(root);
        }
        for &target in op.updated_inputs() {
            let node = self.node(inputs[target])?;
            if !matches!(node.op, Op::State | Op::Parameter) {
                let msg = format!("{} is not a state or parameter node", self.label(inputs[target]));
                return Err(Error::InvalidArgument { op: op.name(), msg });
            }
        }
        let shape = self.shape(inputs[op.updated_inputs()[0]])?;
        self.push(op, inputs, shape)
    }

    /// The node whose storage `id` uses: an update node shares its target's, a reshape
    /// its input's.
    pub(crate) fn storage_root(&self, id: NodeId) -> Result<NodeId> {
        let node = self.node(id)?;
        match node.op.updated_inputs().first() {
            Some(&target) => self.storage_root(node.inputs[target]),
            None if node.op == Op::Reshape => self.storage_root(node.inputs[0]),
            None => Ok(id),
        }
    }

    fn push_node(&mut self, node: Node) -> Result<NodeId> {
        if node.shape.is_empty() {
            return Err(Error::InvalidArgument { op: node.op.name(), msg: format!("empty shape {}", node.shape) });
        }
        let what = node.name.clone().unwrap_or_else(|| node.op.name().to_owned());
        crate::error::check_size(node.shape, &what)?;
        if self.nodes.len() >= u32::MAX as usize {
            return Err(Error::InvalidArgument { op: node.op.name(), msg: "graph has 2^32 nodes".into() });
        }
        self.nodes.push(node);
        Ok(self.id_at(self.nodes.len() - 1))
    }

    fn leaf(&mut self, op: Op, name: Option<&str>, shape: Shape, init: Option<Vec<f32>>) -> Result<NodeId> {
        crate::error::check_size(shape, name.unwrap_or(op.name()))?;
        if let Some(values) = &init {
            check_len(name.unwrap_or(op.name()), shape, values.len())?;
        }
        if let Some(taken) = name.filter(|n| self.leaf_named(n).is_some()) {
            let msg = format!(
                "'{taken}' names a {} already; give each parameter, input and state its own name",
                self.nodes[self.leaf_named(taken).expect("found").index()].op.name()
            );
            return Err(Error::InvalidArgument { op: op.name(), msg });
        }
        let requires_grad = op == Op::Parameter;
        let name = name.map(str::to_owned);
        self.push_node(Node { op, inputs: vec![], shape, requires_grad, name, init })
    }

    /// A value written before each run, e.g. a batch of samples.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for an empty shape, [`Error::TooLarge`] beyond
    /// [`Shape::MAX_ELEMENTS`].
    pub fn input(&mut self, name: &str, shape: impl Into<Shape>) -> Result<NodeId> {
        self.leaf(Op::Input, Some(name), shape.into(), None)
    }

    /// A trainable value with its initial data (row-major).
    ///
    /// # Errors
    ///
    /// As [`Graph::input`], and [`Error::DataLength`] when `init` does not fill the shape.
    pub fn parameter(&mut self, name: &str, shape: impl Into<Shape>, init: Vec<f32>) -> Result<NodeId> {
        self.leaf(Op::Parameter, Some(name), shape.into(), Some(init))
    }

    /// A fixed value.
    ///
    /// # Errors
    ///
    /// As [`Graph::parameter`].
    pub fn constant(&mut self, shape: impl Into<Shape>, values: Vec<f32>) -> Result<NodeId> {
        self.leaf(Op::Constant, None, shape.into(), Some(values))
    }

    /// Persistent state starting from `values`.
    pub(crate) fn state_with(&mut self, name: &str, shape: impl Into<Shape>, values: Vec<f32>) -> Result<NodeId> {
        self.leaf(Op::State, Some(name), shape.into(), Some(values))
    }

    /// Persistent optimizer state, initialised to zeros.
    ///
    /// # Errors
    ///
    /// As [`Graph::input`].
    pub fn state(&mut self, name: &str, shape: impl Into<Shape>) -> Result<NodeId> {
        let shape = shape.into();
        crate::error::check_size(shape, name)?;
        self.leaf(Op::State, Some(name), shape, Some(vec![0.0; shape.len()]))
    }
}

/// Checks that `got` values fill `shape`.
pub(crate) fn check_len(node: &str, shape: Shape, got: usize) -> Result<()> {
    if got == shape.len() {
        return Ok(());
    }
    Err(Error::DataLength { node: node.to_owned(), shape, expected: shape.len(), got })
}
