//! The computational graph as a picture, as the textbook draws it: the forward pass left
//! to right, the backward pass beneath it flowing back, each node with its op and shape,
//! optionally the values a run computed. [`View::to_dot`] gives Graphviz text;
//! [`View::write`] draws SVG or PNG with a layered layout of its own, so no system
//! Graphviz is needed.
//!
//! ```
//! use backprop::{Device, Graph, view::View};
//!
//! let mut g = Graph::new();
//! let x = g.parameter("x", [1, 1], vec![2.0])?;
//! let y = g.square(x)?;
//! g.set_name(y, "y")?;
//! let dx = g.backward(y)?.get(x).unwrap();
//! let mut session = Device::Cpu.compile(&g, &[y, dx])?;
//! session.run()?;
//! let view = View::new(&g).with_values(session.as_mut(), &[x, y, dx])?;
//! assert!(view.to_dot().contains("∂y/∂x"));
//! let svg = view.to_svg()?; // or view.write(Path::new("graph.png"))
//! assert!(svg.starts_with("<svg"));
//! # Ok::<(), backprop::Error>(())
//! ```

mod draw;
mod layout;

use std::collections::HashMap;
use std::fmt::Write;
use std::path::Path;

use crate::backend::Session;
use crate::error::Result;
use crate::graph::op::Op;
use crate::graph::{Graph, NodeId};

/// Which nodes a drawing shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Part {
    /// Everything recorded.
    #[default]
    All,
    /// Leaves and forward ops: no gradient or update nodes.
    Forward,
    /// Gradient and update nodes, with the forward values they read.
    Backward,
}

/// What a node is, as the drawing colours it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Data written before each run.
    Input,
    /// A trainable value.
    Parameter,
    /// A fixed value.
    Constant,
    /// Optimizer or bookkeeping state.
    State,
    /// A forward op.
    Forward,
    /// A node recorded by differentiation.
    Gradient,
    /// An in-place update (optimizer step, accumulation).
    Update,
}

impl Kind {
    /// The kind of node `id` of `graph`.
    pub fn of(graph: &Graph, id: NodeId) -> Kind {
        let op = graph.nodes()[id.index()].op;
        match op {
            Op::Input => Kind::Input,
            Op::Parameter => Kind::Parameter,
            Op::State => Kind::State,
            _ if !op.updated_inputs().is_empty() => Kind::Update,
            _ if graph.is_gradient(id) => Kind::Gradient,
            Op::Constant => Kind::Constant,
            _ => Kind::Forward,
        }
    }

    /// Fill colour (RGB).
    pub(crate) fn colour(self) -> (u8, u8, u8) {
        match self {
            Kind::Input => (200, 230, 201),
            Kind::Parameter => (255, 224, 130),
            Kind::Constant => (224, 224, 224),
            Kind::State => (209, 196, 233),
            Kind::Forward => (187, 222, 251),
            Kind::Gradient => (255, 204, 188),
            Kind::Update => (206, 147, 216),
        }
    }

    /// The word a legend uses.
    pub(crate) fn word(self) -> &'static str {
        match self {
            Kind::Input => "input",
            Kind::Parameter => "parameter",
            Kind::Constant => "constant",
            Kind::State => "state",
            Kind::Forward => "forward op",
            Kind::Gradient => "gradient",
            Kind::Update => "update",
        }
    }
}

/// A drawing of a graph: which part, and the values to write on the nodes.
pub struct View<'g> {
    graph: &'g Graph,
    part: Part,
    values: HashMap<NodeId, Vec<f32>>,
}

impl<'g> View<'g> {
    /// All of `graph`, without values.
    pub fn new(graph: &'g Graph) -> Self {
        View { graph, part: Part::All, values: HashMap::new() }
    }

    /// Only `part` of the graph (large graphs stay readable by drawing one half).
    pub fn part(mut self, part: Part) -> Self {
        self.part = part;
        self
    }

    /// Reads `nodes` from `session` (in one transfer) to write their values on the
    /// drawing. The session must have been compiled from this graph.
    ///
    /// # Errors
    ///
    /// The errors of [`Session::read_many`]: an id of another graph, a node not kept, a
    /// computed node before the first run.
    pub fn with_values(mut self, session: &mut dyn Session, nodes: &[NodeId]) -> Result<Self> {
        for &id in nodes {
            self.graph.node(id)?;
        }
        let values = session.read_many(nodes)?;
        self.values.extend(nodes.iter().copied().zip(values));
        Ok(self)
    }

    /// Writes values already read (for example awaited with
    /// `session.read_async(..)` in a web page) on the drawing.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignNode`](crate::Error::ForeignNode) for an id of another graph,
    /// [`Error::DataLength`](crate::Error::DataLength) for values that do not fill their node.
    pub fn with_read_values(mut self, values: impl IntoIterator<Item = (NodeId, Vec<f32>)>) -> Result<Self> {
        for (id, values) in values {
            let node = self.graph.node(id)?;
            crate::graph::check_len(&self.graph.label(id), node.shape, values.len())?;
            self.values.insert(id, values);
        }
        Ok(self)
    }

    /// The nodes drawn, in recording order.
    pub(crate) fn nodes(&self) -> Vec<NodeId> {
        let ids = (0..self.graph.len()).map(|i| self.graph.id_at(i));
        let backward = |id: NodeId| matches!(Kind::of(self.graph, id), Kind::Gradient | Kind::Update);
        // What the backward half reads from the forward half is drawn with it.
        let mut read_by_backward = vec![false; self.graph.len()];
        for id in ids.clone().filter(|&id| backward(id)) {
            self.graph.nodes()[id.index()].inputs.iter().for_each(|x| read_by_backward[x.index()] = true);
        }
        ids.filter(|&id| match self.part {
            Part::All => true,
            Part::Forward => !backward(id),
            Part::Backward => backward(id) || read_by_backward[id.index()],
        })
        .collect()
    }

    /// The lines written in node `id`'s box: its name (or gradient name, or op), then its
    /// op and shape, then its value if known.
    pub(crate) fn label(&self, id: NodeId) -> Vec<String> {
        let node = &self.graph.nodes()[id.index()];
        let grads = self.graph.gradient_names(id);
        let title = if !grads.is_empty() {
            grads.join(", ")
        } else if let (Some(target), false) = (node.inputs.first(), node.op.updated_inputs().is_empty()) {
            format!("{} ← {}", self.graph.label(*target), node.op.name())
        } else {
            node.name.clone().unwrap_or_else(|| node.op.name().to_owned())
        };
        let second = match title == node.op.name() {
            true => node.shape.to_string(),
            false => format!("{} {}", node.op.name(), node.shape),
        };
        let mut lines = vec![title, second];
        // A constant's value is known without a run.
        let constant = node.init.as_ref().filter(|_| node.op == Op::Constant);
        if let Some(values) = self.values.get(&id).or(constant) {
            lines.push(format!("= {}", show_values(values)));
        }
        lines
    }

    /// Graphviz DOT text: one node per drawn node (`n<index>`, label and colour), one
    /// edge per input, in the direction the data flows.
    pub fn to_dot(&self) -> String {
        let nodes = self.nodes();
        let mut dot =
            String::from("digraph backprop {\n  rankdir=LR;\n  node [shape=box, style=\"rounded,filled\"];\n");
        for &id in &nodes {
            let (r, g, b) = Kind::of(self.graph, id).colour();
            let label = self.label(id).iter().map(|l| escape(l)).collect::<Vec<_>>().join("\\n");
            let _ = writeln!(dot, "  n{} [label=\"{label}\", fillcolor=\"#{r:02x}{g:02x}{b:02x}\"];", id.index());
        }
        for &id in &nodes {
            for input in &self.graph.nodes()[id.index()].inputs {
                if nodes.contains(input) {
                    let _ = writeln!(dot, "  n{} -> n{};", input.index(), id.index());
                }
            }
        }
        dot.push_str("}\n");
        dot
    }

    /// The drawing as SVG text.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Format`] when drawing fails.
    pub fn to_svg(&self) -> Result<String> {
        draw::svg(self)
    }

    /// Draws the graph to `path`: SVG by the extension, else PNG.
    ///
    /// # Errors
    ///
    /// [`crate::Error::TooLarge`] for a PNG beyond 16,384 pixels a side (draw SVG, or one
    /// [`Part`]), and the errors of [`crate::output::write_atomically`].
    pub fn write(&self, path: &Path) -> Result<()> {
        draw::write(self, path)
    }

    pub(crate) fn graph(&self) -> &Graph {
        self.graph
    }
}

impl Graph {
    /// The whole graph as Graphviz DOT text (see [`View::to_dot`]).
    pub fn to_dot(&self) -> String {
        View::new(self).to_dot()
    }
}

/// One value in at most about eight characters.
fn show_value(v: f32) -> String {
    if v != 0.0 && v.is_finite() && !(1e-3..1e5).contains(&v.abs()) {
        return format!("{v:.2e}");
    }
    let text = format!("{v:.4}");
    match text.contains('.') {
        true => text.trim_end_matches('0').trim_end_matches('.').to_owned(),
        false => text,
    }
}

/// Up to four values, then how many more.
fn show_values(values: &[f32]) -> String {
    let shown: Vec<String> = values.iter().take(4).map(|&v| show_value(v)).collect();
    match values.len() {
        1 => shown[0].clone(),
        n if n <= 4 => format!("[{}]", shown.join(", ")),
        n => format!("[{}, … {} more]", shown.join(", "), n - 4),
    }
}

/// A DOT string literal's content.
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}
