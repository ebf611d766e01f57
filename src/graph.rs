//! The recorded computation: an arena of nodes in creation order, which is already a
//! topological order. Every recording method checks shapes and returns `Err` on misuse.

use crate::error::{Error, Result};
use crate::op::Op;
use crate::shape::Shape;

/// Index of a node in its [`Graph`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub(crate) u32);

impl NodeId {
    /// Position of the node in the graph's arena.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

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

/// A computation under construction.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    nodes: Vec<Node>,
}

impl Graph {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of nodes recorded.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when nothing has been recorded.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The node behind an id, or `Err` for an id of another graph.
    pub fn node(&self, id: NodeId) -> Result<&Node> {
        self.nodes.get(id.index()).ok_or(Error::UnknownNode(id.0))
    }

    /// All nodes in recording order.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Shape of a node.
    pub fn shape(&self, id: NodeId) -> Result<Shape> {
        Ok(self.node(id)?.shape)
    }

    /// Ids of all trainable parameters, in recording order.
    pub fn parameters(&self) -> Vec<NodeId> {
        self.ids_where(|n| n.op == Op::Parameter)
    }

    /// Display name of a node: its own name or `#id`.
    pub fn label(&self, id: NodeId) -> String {
        match self.node(id).ok().and_then(|n| n.name.clone()) {
            Some(name) => name,
            None => format!("#{}", id.0),
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

    fn ids_where(&self, keep: impl Fn(&Node) -> bool) -> Vec<NodeId> {
        (0..self.nodes.len() as u32).map(NodeId).filter(|id| keep(&self.nodes[id.index()])).collect()
    }

    /// Appends a node after checking that its inputs exist. `requires_grad` is inherited.
    pub(crate) fn push(&mut self, op: Op, inputs: &[NodeId], shape: Shape) -> Result<NodeId> {
        let mut requires_grad = false;
        for &input in inputs {
            requires_grad |= self.node(input)?.requires_grad;
        }
        self.push_node(Node { op, inputs: inputs.to_vec(), shape, requires_grad, name: None, init: None })
    }

    fn push_node(&mut self, node: Node) -> Result<NodeId> {
        if node.shape.is_empty() {
            return Err(Error::InvalidArgument { op: node.op.name(), msg: format!("empty shape {}", node.shape) });
        }
        let id = u32::try_from(self.nodes.len())
            .map_err(|_| Error::InvalidArgument { op: node.op.name(), msg: "graph has 2^32 nodes".into() })?;
        self.nodes.push(node);
        Ok(NodeId(id))
    }

    fn leaf(&mut self, op: Op, name: Option<&str>, shape: Shape, init: Option<Vec<f32>>) -> Result<NodeId> {
        if let Some(values) = &init {
            check_len(name.unwrap_or(op.name()), shape, values.len())?;
        }
        let requires_grad = op == Op::Parameter;
        let name = name.map(str::to_owned);
        self.push_node(Node { op, inputs: vec![], shape, requires_grad, name, init })
    }

    /// A value written before each run, e.g. a batch of samples.
    pub fn input(&mut self, name: &str, shape: impl Into<Shape>) -> Result<NodeId> {
        self.leaf(Op::Input, Some(name), shape.into(), None)
    }

    /// A trainable value with its initial data (row-major).
    pub fn parameter(&mut self, name: &str, shape: impl Into<Shape>, init: Vec<f32>) -> Result<NodeId> {
        self.leaf(Op::Parameter, Some(name), shape.into(), Some(init))
    }

    /// A fixed value.
    pub fn constant(&mut self, shape: impl Into<Shape>, values: Vec<f32>) -> Result<NodeId> {
        self.leaf(Op::Constant, None, shape.into(), Some(values))
    }

    /// Persistent optimizer state, initialised to zeros.
    pub fn state(&mut self, name: &str, shape: impl Into<Shape>) -> Result<NodeId> {
        let shape = shape.into();
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
