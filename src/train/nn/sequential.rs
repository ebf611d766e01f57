//! Layers applied in order, named by position as PyTorch's `nn.Sequential` names them.

use rand::Rng;

use super::layers::{Init, Layer, Linear};
use super::module::{Module, Param, Scope};
use crate::error::{Error, Result};
use crate::graph::{Graph, NodeId};

/// Layers applied in order; a layer's parameters are named after its position
/// (`0.weight`, `0.bias`, `2.weight`, ...). It holds any [`Module`], and is one itself, so
/// a block of layers can sit inside another `Sequential`.
#[derive(Clone, Default)]
pub struct Sequential {
    /// The layers.
    pub layers: Vec<Box<dyn Module>>,
}

impl std::fmt::Debug for Sequential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(&self.layers).finish()
    }
}

/// Two models are equal when they print the same: the same layers, in order, holding
/// the same values.
impl PartialEq for Sequential {
    fn eq(&self, other: &Self) -> bool {
        format!("{self:?}") == format!("{other:?}")
    }
}

impl From<Vec<Layer>> for Sequential {
    fn from(layers: Vec<Layer>) -> Self {
        Sequential { layers: layers.into_iter().map(|l| Box::new(l) as Box<dyn Module>).collect() }
    }
}

/// What recording a [`Sequential`] produced.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// The last layer's output.
    pub output: NodeId,
    /// `(name, node)` of every parameter, in layer order.
    pub params: Vec<(String, NodeId)>,
    /// `(name, node)` of every buffer (running estimates), in layer order.
    pub buffers: Vec<(String, NodeId)>,
}

impl Sequential {
    /// No layers yet; add them with [`Sequential::with`].
    pub fn new() -> Self {
        Self::default()
    }

    /// This model with `layer` added at the end.
    pub fn with(mut self, layer: impl Module + 'static) -> Self {
        self.layers.push(Box::new(layer));
        self
    }

    /// A multilayer perceptron: `Linear` layers through `sizes` with `activation` (any
    /// layer without parameters of its own: `Layer::Relu`, a custom one) between them
    /// (not after the last), e.g. `[784, 128, 64, 10]`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for fewer than two sizes, a zero size, or a `Linear` as
    /// the activation; [`Error::TooLarge`] for a layer beyond
    /// [`crate::Shape::MAX_ELEMENTS`].
    pub fn mlp<A>(sizes: &[usize], activation: A, init: Init, rng: &mut impl Rng) -> Result<Self>
    where
        A: Module + Clone + 'static,
    {
        let linear =
            activation.as_any().is::<Linear>() || matches!(activation.as_any().downcast_ref(), Some(Layer::Linear(_)));
        if sizes.len() < 2 || sizes.contains(&0) || linear {
            let msg = format!("need at least two non-zero sizes and an activation, got {sizes:?}");
            return Err(Error::InvalidArgument { op: "mlp", msg });
        }
        let mut model = Sequential::new();
        for (i, pair) in sizes.windows(2).enumerate() {
            if i > 0 {
                model = model.with(activation.clone());
            }
            model = model.with(Layer::Linear(Linear::new(pair[0], pair[1], init, rng)?));
        }
        Ok(model)
    }

    /// Records the network applied to `x` (`[batch, in]`) into `g` for training (dropout
    /// on), parameters initialised with the layers' current values.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when `x` does not have the first layer's input width or two layers
    /// do not fit; [`Error::InvalidArgument`] for a dropout `p` outside [0, 1), or a layer
    /// whose recorded parameters are not the ones it lists; [`Error::ForeignNode`] for an
    /// `x` of another graph.
    pub fn record(&self, g: &mut Graph, x: NodeId) -> Result<Recorded> {
        self.record_mode(g, x, true)
    }

    /// [`Sequential::record`] for evaluation: dropout layers pass their input through.
    ///
    /// # Errors
    ///
    /// As [`Sequential::record`].
    pub fn record_eval(&self, g: &mut Graph, x: NodeId) -> Result<Recorded> {
        self.record_mode(g, x, false)
    }

    fn record_mode(&self, g: &mut Graph, x: NodeId, training: bool) -> Result<Recorded> {
        let mut scope = Scope::new(g, training);
        let output = self.forward(&mut scope, x)?;
        let (params, buffers) = scope.into_recorded();
        let names = |list: Vec<Param>| list.into_iter().map(|p| p.name).collect::<Vec<String>>();
        let listed = [names(self.parameters()), names(Module::buffers(self))].concat();
        let recorded: Vec<String> = params.iter().chain(&buffers).map(|(name, _)| name.clone()).collect();
        if listed != recorded {
            let msg = format!(
                "the layers recorded the parameters {recorded:?} but list {listed:?}: a layer's \
                 parameters() (or children()) must name what its forward() records"
            );
            return Err(Error::InvalidArgument { op: "sequential", msg });
        }
        Ok(Recorded { output, params, buffers })
    }

    /// Every parameter, named as in PyTorch's state dict (`0.weight`, `1.body.0.bias`),
    /// in PyTorch's shapes (what [`Module::parameters`] gives, without importing it).
    pub fn parameters(&self) -> Vec<Param<'_>> {
        Module::parameters(self)
    }

    /// Every buffer (a batch norm's running estimates), named as in PyTorch's state dict.
    pub fn buffers(&self) -> Vec<Param<'_>> {
        Module::buffers(self)
    }

    /// Replaces the value of the parameter (or buffer) called `name`; its length must match.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for an unknown name or the wrong number of values.
    pub fn set_parameter(&mut self, name: &str, values: &[f32]) -> Result<()> {
        let target = match self.parameter_mut(name).is_some() {
            true => self.parameter_mut(name),
            false => self.buffer_mut(name),
        };
        let target = target.ok_or_else(|| Error::InvalidArgument {
            op: "set_parameter",
            msg: format!("no parameter named '{name}'"),
        })?;
        if target.len() != values.len() {
            let msg = format!("'{name}' holds {} values, got {}", target.len(), values.len());
            return Err(Error::InvalidArgument { op: "set_parameter", msg });
        }
        target.copy_from_slice(values);
        Ok(())
    }
}

impl Module for Sequential {
    fn forward(&self, scope: &mut Scope, x: NodeId) -> Result<NodeId> {
        let mut h = x;
        for (i, layer) in self.layers.iter().enumerate() {
            h = scope.at(&i.to_string(), i, |scope| layer.forward(scope, h))?;
        }
        Ok(h)
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        self.layers.iter().enumerate().map(|(i, l)| (i.to_string(), l.as_ref())).collect()
    }

    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module)> {
        let mut out: Vec<(String, &mut dyn Module)> = Vec::new();
        for (i, layer) in self.layers.iter_mut().enumerate() {
            out.push((i.to_string(), layer.as_mut()));
        }
        out
    }
}
