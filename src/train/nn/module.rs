//! The layer trait and the scope a layer records itself in.

use std::any::Any;

use crate::error::Result;
use crate::graph::shape::Shape;
use crate::graph::{Graph, NodeId};

/// A parameter of a layer: its name (relative to the layer, e.g. `weight`, or
/// `body.0.weight` inside a block), its shape as PyTorch stores it (a bias is `[out]`),
/// and its values, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Param<'a> {
    /// The name, `.`-separated as in a PyTorch state dict.
    pub name: String,
    /// PyTorch's shape.
    pub shape: Vec<usize>,
    /// The values.
    pub values: &'a [f32],
}

/// A layer: records itself applied to a node, and lists its parameters by name, as
/// PyTorch's `nn.Module` does.
///
/// A layer with parameters of its own (as [`crate::nn::Linear`]) records them with
/// [`Scope::parameter`] and lists them in [`Module::parameters`] and
/// [`Module::parameter_mut`] under the same names. A layer built from other layers
/// records each with [`Scope::child`] and lists them in [`Module::children`] and
/// [`Module::children_mut`] under the same names; its parameters are then found
/// through them. Recording checks that the names recorded and the names listed agree.
pub trait Module: ModuleClone + std::fmt::Debug + Send + Sync {
    /// Records this layer applied to `x` into `scope`'s graph and returns its output.
    ///
    /// # Errors
    ///
    /// Whatever recording the layer's ops returns (a shape that does not fit, ...).
    fn forward(&self, scope: &mut Scope, x: NodeId) -> Result<NodeId>;

    /// The layers this one is built from, by name (none by default).
    fn children(&self) -> Vec<(String, &dyn Module)> {
        Vec::new()
    }

    /// [`Module::children`], mutable (to load trained values into them).
    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module)> {
        Vec::new()
    }

    /// This layer's parameters, its children's included (by default: the children's,
    /// their names prefixed with the child's name and a dot).
    fn parameters(&self) -> Vec<Param<'_>> {
        prefixed(self.children(), |child| child.parameters())
    }

    /// The values of parameter `name` (as [`Module::parameters`] names it), to replace
    /// them (by default: looked up among the children).
    fn parameter_mut(&mut self, name: &str) -> Option<&mut [f32]> {
        let (prefix, rest) = name.split_once('.')?;
        let child = self.children_mut().into_iter().find(|(n, _)| n == prefix)?.1;
        child.parameter_mut(rest)
    }

    /// This layer's buffers: state it keeps that is not trained by gradients (a batch
    /// norm's running estimates), in PyTorch's state dict beside the parameters (by
    /// default: the children's, prefixed as parameters are).
    fn buffers(&self) -> Vec<Param<'_>> {
        prefixed(self.children(), |child| child.buffers())
    }

    /// The values of buffer `name`, to replace them (by default: among the children).
    fn buffer_mut(&mut self, name: &str) -> Option<&mut [f32]> {
        let (prefix, rest) = name.split_once('.')?;
        let child = self.children_mut().into_iter().find(|(n, _)| n == prefix)?.1;
        child.buffer_mut(rest)
    }

    /// The input features this layer takes, when it fixes them (a `Linear` does; an
    /// activation does not). A model's input width is its first layer's that says.
    fn in_features(&self) -> Option<usize> {
        self.children().iter().find_map(|(_, child)| child.in_features())
    }
}

/// What `list` gives for each child, each name prefixed with the child's and a dot.
fn prefixed<'a>(
    children: Vec<(String, &'a dyn Module)>,
    list: impl Fn(&'a dyn Module) -> Vec<Param<'a>>,
) -> Vec<Param<'a>> {
    let mut out = Vec::new();
    for (prefix, child) in children {
        out.extend(list(child).into_iter().map(|p| Param { name: format!("{prefix}.{}", p.name), ..p }));
    }
    out
}

/// A layer's `weight` and `bias` as [`Module::parameters`] lists them, in PyTorch's shapes.
pub(crate) fn weight_and_bias<'a>(weight: (&'a [f32], Vec<usize>), bias: (&'a [f32], Vec<usize>)) -> Vec<Param<'a>> {
    vec![
        Param { name: "weight".into(), shape: weight.1, values: weight.0 },
        Param { name: "bias".into(), shape: bias.1, values: bias.0 },
    ]
}

/// [`Module::parameter_mut`] of a layer whose parameters are `weight` and `bias`.
pub(crate) fn weight_or_bias<'a>(name: &str, weight: &'a mut [f32], bias: &'a mut [f32]) -> Option<&'a mut [f32]> {
    match name {
        "weight" => Some(weight),
        "bias" => Some(bias),
        _ => None,
    }
}

/// Cloning and downcasting a boxed [`Module`]; implemented for every `Clone` layer.
pub trait ModuleClone {
    /// A boxed copy.
    fn clone_module(&self) -> Box<dyn Module>;
    /// This layer as [`Any`], to get the concrete layer back
    /// (`layer.as_any().downcast_ref::<Linear>()`).
    fn as_any(&self) -> &dyn Any;
}

impl<T: Module + Clone + 'static> ModuleClone for T {
    fn clone_module(&self) -> Box<dyn Module> {
        Box::new(self.clone())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Clone for Box<dyn Module> {
    fn clone(&self) -> Self {
        self.clone_module()
    }
}

/// `(name, node)` pairs, in the order recorded.
pub type Named = Vec<(String, NodeId)>;

/// Where a layer records itself: the graph, the name prefix of its parameters, whether
/// it records for training (dropout on) or evaluation, and its position in its
/// [`crate::nn::Sequential`].
pub struct Scope<'g> {
    graph: &'g mut Graph,
    prefix: String,
    training: bool,
    index: usize,
    params: Vec<(String, NodeId)>,
    buffers: Vec<(String, NodeId)>,
}

impl<'g> Scope<'g> {
    /// A scope at the top of `graph`, for training or evaluation.
    pub fn new(graph: &'g mut Graph, training: bool) -> Self {
        Scope { graph, prefix: String::new(), training, index: 0, params: Vec::new(), buffers: Vec::new() }
    }

    /// The graph to record into.
    pub fn graph(&mut self) -> &mut Graph {
        self.graph
    }

    /// Whether this records the training step (dropout on) rather than evaluation.
    pub fn training(&self) -> bool {
        self.training
    }

    /// The layer's position in its `Sequential` (0 at the top): seeds differ by it, so
    /// that two dropout layers of one seed draw different masks.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Records a parameter of this layer named `name` (its full name is the scope's
    /// prefix and `name`, e.g. `1.body.0.weight`), starting at `values`, with `shape`
    /// in the graph (which may differ from PyTorch's, e.g. `[1, out]` for a bias).
    ///
    /// # Errors
    ///
    /// As [`Graph::parameter`]: a name already taken, values that do not fill the shape.
    pub fn parameter(&mut self, name: &str, shape: impl Into<Shape>, values: &[f32]) -> Result<NodeId> {
        let full = format!("{}{name}", self.prefix);
        let id = self.graph.parameter(&full, shape, values.to_vec())?;
        self.params.push((full, id));
        Ok(id)
    }

    /// Records a buffer of this layer named `name` (full name as for a parameter),
    /// holding `values`: state the step reads and may update in place, not trained.
    ///
    /// # Errors
    ///
    /// As [`Scope::parameter`].
    pub fn buffer(&mut self, name: &str, shape: impl Into<Shape>, values: &[f32]) -> Result<NodeId> {
        let full = format!("{}{name}", self.prefix);
        let id = self.graph.state_with(&full, shape, values.to_vec())?;
        self.buffers.push((full, id));
        Ok(id)
    }

    /// Records `module` applied to `x` as this layer's child `name` (its parameters named
    /// under `name.`).
    ///
    /// # Errors
    ///
    /// As the child's [`Module::forward`].
    pub fn child(&mut self, name: &str, module: &dyn Module, x: NodeId) -> Result<NodeId> {
        self.at(name, self.index, |scope| module.forward(scope, x))
    }

    /// Runs `record` with the prefix extended by `name.` and the position `index`.
    pub(crate) fn at<T>(&mut self, name: &str, index: usize, record: impl FnOnce(&mut Self) -> T) -> T {
        let (len, outer) = (self.prefix.len(), self.index);
        self.prefix.push_str(name);
        self.prefix.push('.');
        self.index = index;
        let out = record(self);
        self.prefix.truncate(len);
        self.index = outer;
        out
    }

    /// The `(name, node)` of every parameter and of every buffer recorded so far, in order.
    pub fn into_recorded(self) -> (Named, Named) {
        (self.params, self.buffers)
    }
}
