//! The built-in layers: `Linear`, `LayerNorm`, and the parameterless ones of [`Layer`].

use rand::Rng;

use super::module::{weight_and_bias, weight_or_bias, Module, Param, Scope};
use crate::error::{Error, Result};
use crate::graph::NodeId;
use crate::ops::elementwise::Map;
use crate::train::init;

/// How a `Linear` layer's weights start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Init {
    /// PyTorch's default: weight and bias uniform in `±1/sqrt(fan_in)` (what
    /// `kaiming_uniform_(a=√5)` works out to).
    #[default]
    PyTorch,
    /// He/Kaiming normal for ReLU networks: weight `N(0, 2/fan_in)`, bias 0.
    He,
    /// Xavier/Glorot uniform: weight uniform in `±sqrt(6/(fan_in+fan_out))`, bias 0.
    Xavier,
}

/// A fully connected layer `y = x·Wᵀ + b`, with `W` stored `[out, in]` as in PyTorch.
#[derive(Clone, Debug, PartialEq)]
pub struct Linear {
    /// Input features.
    pub in_features: usize,
    /// Output features.
    pub out_features: usize,
    /// `[out, in]`, row-major.
    pub weight: Vec<f32>,
    /// `[out]`.
    pub bias: Vec<f32>,
}

impl Linear {
    /// A layer initialised by `init` from `rng`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] when a size is 0, [`Error::TooLarge`] when the weight
    /// would exceed [`crate::Shape::MAX_ELEMENTS`].
    pub fn new(in_features: usize, out_features: usize, init: Init, rng: &mut impl Rng) -> Result<Self> {
        if in_features == 0 || out_features == 0 {
            let msg = format!("Linear({in_features}, {out_features}): sizes must be at least 1");
            return Err(Error::InvalidArgument { op: "linear", msg });
        }
        let shape = [out_features, in_features];
        let fan_in = in_features as f32;
        let (weight, bias) = match init {
            Init::PyTorch => {
                let bound = 1.0 / fan_in.sqrt();
                (init::uniform(rng, shape, bound)?, init::uniform(rng, [1, out_features], bound)?)
            }
            Init::He => {
                let std = (2.0 / fan_in).sqrt();
                (init::normal(rng, shape)?.iter().map(|v| v * std).collect(), vec![0.0; out_features])
            }
            Init::Xavier => {
                let bound = (6.0 / (fan_in + out_features as f32)).sqrt();
                (init::uniform(rng, shape, bound)?, vec![0.0; out_features])
            }
        };
        Ok(Linear { in_features, out_features, weight, bias })
    }
}

/// Layer normalisation over each row's features, as PyTorch's `nn.LayerNorm(features)`:
/// `(x − mean) / sqrt(var + eps) · weight + bias`, the variance biased (divided by the
/// feature count), `weight` starting at ones and `bias` at zeros.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerNorm {
    /// Features per row.
    pub features: usize,
    /// Added to the variance (PyTorch: 1e-5).
    pub eps: f32,
    /// Scale per feature.
    pub weight: Vec<f32>,
    /// Shift per feature.
    pub bias: Vec<f32>,
}

impl LayerNorm {
    /// PyTorch's initial layer norm over `features` features.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for zero features.
    pub fn new(features: usize) -> Result<Self> {
        if features == 0 {
            return Err(Error::InvalidArgument { op: "layer_norm", msg: "needs at least one feature".into() });
        }
        Ok(LayerNorm { features, eps: 1e-5, weight: vec![1.0; features], bias: vec![0.0; features] })
    }
}

impl Module for Linear {
    fn forward(&self, scope: &mut Scope, x: NodeId) -> Result<NodeId> {
        let w = scope.parameter("weight", [self.out_features, self.in_features], &self.weight)?;
        let b = scope.parameter("bias", [1, self.out_features], &self.bias)?;
        let g = scope.graph();
        let z = g.matmul_t(x, w, false, true)?;
        g.add(z, b)
    }

    fn parameters(&self) -> Vec<Param<'_>> {
        weight_and_bias(
            (&self.weight, vec![self.out_features, self.in_features]),
            (&self.bias, vec![self.out_features]),
        )
    }

    fn parameter_mut(&mut self, name: &str) -> Option<&mut [f32]> {
        weight_or_bias(name, &mut self.weight, &mut self.bias)
    }

    fn in_features(&self) -> Option<usize> {
        Some(self.in_features)
    }
}

impl Module for LayerNorm {
    fn forward(&self, scope: &mut Scope, x: NodeId) -> Result<NodeId> {
        let w = scope.parameter("weight", [1, self.features], &self.weight)?;
        let b = scope.parameter("bias", [1, self.features], &self.bias)?;
        scope.graph().layer_norm(x, w, b, self.eps)
    }

    fn parameters(&self) -> Vec<Param<'_>> {
        weight_and_bias((&self.weight, vec![self.features]), (&self.bias, vec![self.features]))
    }

    fn parameter_mut(&mut self, name: &str) -> Option<&mut [f32]> {
        weight_or_bias(name, &mut self.weight, &mut self.bias)
    }
}

/// A lookup table, as PyTorch's `nn.Embedding(count, dim)`: each index of its input (a
/// node of whole numbers below `count`, any shape) becomes row `index` of `weight`
/// (`[count, dim]`, drawn from `N(0, 1)` as PyTorch does); the output has the input's
/// dims and `dim`. Its gradient is a deterministic scatter-add.
#[derive(Clone, Debug, PartialEq)]
pub struct Embedding {
    /// Rows in the table.
    pub count: usize,
    /// Values per row.
    pub dim: usize,
    /// `[count, dim]`, row-major.
    pub weight: Vec<f32>,
}

impl Embedding {
    /// A table of `count` rows of `dim` values drawn from `N(0, 1)`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] when a size is 0, [`Error::TooLarge`] beyond
    /// [`crate::Shape::MAX_ELEMENTS`].
    pub fn new(count: usize, dim: usize, rng: &mut impl Rng) -> Result<Self> {
        if count == 0 || dim == 0 {
            let msg = format!("Embedding({count}, {dim}): sizes must be at least 1");
            return Err(Error::InvalidArgument { op: "embedding", msg });
        }
        Ok(Embedding { count, dim, weight: init::normal(rng, [count, dim])? })
    }
}

impl Module for Embedding {
    fn forward(&self, scope: &mut Scope, x: NodeId) -> Result<NodeId> {
        let weight = scope.parameter("weight", [self.count, self.dim], &self.weight)?;
        scope.graph().embedding(weight, x)
    }

    fn parameters(&self) -> Vec<Param<'_>> {
        vec![Param { name: "weight".into(), shape: vec![self.count, self.dim], values: &self.weight }]
    }

    fn parameter_mut(&mut self, name: &str) -> Option<&mut [f32]> {
        (name == "weight").then_some(&mut self.weight)
    }
}

/// The built-in layers, as one type for lists of them and for [`super::Sequential::mlp`]'s
/// activation. Each is a [`Module`]; any other `Module` goes into a `Sequential` beside
/// them.
#[derive(Clone, Debug, PartialEq)]
pub enum Layer {
    /// Fully connected.
    Linear(Linear),
    /// `max(x, 0)`.
    Relu,
    /// Logistic sigmoid.
    Sigmoid,
    /// Hyperbolic tangent.
    Tanh,
    /// An elementwise op of one operand applied as an activation: a custom one from
    /// [`crate::custom::register`], or a built-in such as [`Map::GeluTanh`] (any
    /// [`Map`] of one operand, recorded with the constant 0).
    Map(Map),
    /// Layer normalisation (parameters `{index}.weight` and `{index}.bias`, both of
    /// PyTorch's shape `[features]`).
    LayerNorm(LayerNorm),
    /// Dropout with probability `p` while training; the identity in evaluation. Its mask
    /// is drawn from `seed` and the layer's index.
    Dropout {
        /// Probability of dropping an element, in [0, 1).
        p: f32,
        /// Seed of the masks.
        seed: u32,
    },
}

impl Module for Layer {
    fn forward(&self, scope: &mut Scope, x: NodeId) -> Result<NodeId> {
        let index = scope.index() as u32;
        let training = scope.training();
        let g = scope.graph();
        match self {
            Layer::Linear(l) => l.forward(scope, x),
            Layer::LayerNorm(n) => n.forward(scope, x),
            Layer::Relu => g.relu(x),
            Layer::Sigmoid => g.sigmoid(x),
            Layer::Tanh => g.tanh(x),
            Layer::Map(map) => g.map(*map, 0.0, &[x]),
            Layer::Dropout { p, .. } if !(0.0..1.0).contains(p) => {
                Err(Error::InvalidArgument { op: "dropout", msg: format!("p {p} must be in [0, 1)") })
            }
            Layer::Dropout { p, seed } if training => g.dropout(x, *p, seed.wrapping_add(index)),
            Layer::Dropout { .. } => Ok(x),
        }
    }

    fn parameters(&self) -> Vec<Param<'_>> {
        match self {
            Layer::Linear(l) => l.parameters(),
            Layer::LayerNorm(n) => n.parameters(),
            _ => Vec::new(),
        }
    }

    fn parameter_mut(&mut self, name: &str) -> Option<&mut [f32]> {
        match self {
            Layer::Linear(l) => l.parameter_mut(name),
            Layer::LayerNorm(n) => n.parameter_mut(name),
            _ => None,
        }
    }

    fn in_features(&self) -> Option<usize> {
        match self {
            Layer::Linear(l) => Some(l.in_features),
            Layer::LayerNorm(n) => Some(n.features),
            _ => None,
        }
    }
}
