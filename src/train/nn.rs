//! Layers and a `Sequential` container that record themselves into a [`Graph`], with
//! parameter names and layouts as PyTorch's `nn.Sequential` has them (`0.weight` is
//! `[out, in]`), so checkpoints move between the two.

use rand::Rng;

use crate::error::{Error, Result};
use crate::graph::{Graph, NodeId};
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

/// One stage of a [`Sequential`].
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
    /// Layer normalisation (parameters `{index}.weight` and `{index}.bias`, both of
    /// PyTorch's shape `[features]`).
    LayerNorm(LayerNorm),
    /// Dropout with probability `p` while training ([`Sequential::record`]); the
    /// identity in [`Sequential::record_eval`]. Its mask is drawn from `seed` and the
    /// layer's index.
    Dropout {
        /// Probability of dropping an element, in [0, 1).
        p: f32,
        /// Seed of the masks.
        seed: u32,
    },
}

/// Layers applied in order; parameters are named `{index}.weight` and `{index}.bias`.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Sequential {
    /// The layers.
    pub layers: Vec<Layer>,
}

/// What recording a [`Sequential`] produced.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// The last layer's output.
    pub output: NodeId,
    /// `(name, node)` of every parameter, in layer order.
    pub params: Vec<(String, NodeId)>,
}

impl Sequential {
    /// A multilayer perceptron: `Linear` layers through `sizes` with `activation` between
    /// them (not after the last), e.g. `[784, 128, 64, 10]`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for fewer than two sizes, a zero size, or a `Linear` as
    /// the activation; [`Error::TooLarge`] for a layer beyond
    /// [`crate::Shape::MAX_ELEMENTS`].
    pub fn mlp(sizes: &[usize], activation: Layer, init: Init, rng: &mut impl Rng) -> Result<Self> {
        if sizes.len() < 2 || sizes.contains(&0) || matches!(activation, Layer::Linear(_)) {
            let msg = format!("need at least two non-zero sizes and an activation, got {sizes:?}");
            return Err(Error::InvalidArgument { op: "mlp", msg });
        }
        let mut layers = Vec::new();
        for (i, pair) in sizes.windows(2).enumerate() {
            if i > 0 {
                layers.push(activation.clone());
            }
            layers.push(Layer::Linear(Linear::new(pair[0], pair[1], init, rng)?));
        }
        Ok(Sequential { layers })
    }

    /// Records the network applied to `x` (`[batch, in]`) into `g` for training (dropout
    /// on), parameters initialised with the layers' current values.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when `x` does not have the first layer's input width or two layers
    /// do not fit; [`Error::InvalidArgument`] for a dropout `p` outside [0, 1);
    /// [`Error::ForeignNode`] for an `x` of another graph.
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
        let mut h = x;
        let mut params = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            h = match layer {
                Layer::Linear(l) => {
                    let w = g.parameter(&format!("{i}.weight"), [l.out_features, l.in_features], l.weight.clone())?;
                    let b = g.parameter(&format!("{i}.bias"), [1, l.out_features], l.bias.clone())?;
                    params.push((format!("{i}.weight"), w));
                    params.push((format!("{i}.bias"), b));
                    let z = g.matmul_t(h, w, false, true)?;
                    g.add(z, b)?
                }
                Layer::Relu => g.relu(h)?,
                Layer::Sigmoid => g.sigmoid(h)?,
                Layer::Tanh => g.tanh(h)?,
                Layer::LayerNorm(n) => {
                    let w = g.parameter(&format!("{i}.weight"), [1, n.features], n.weight.clone())?;
                    let b = g.parameter(&format!("{i}.bias"), [1, n.features], n.bias.clone())?;
                    params.push((format!("{i}.weight"), w));
                    params.push((format!("{i}.bias"), b));
                    g.layer_norm(h, w, b, n.eps)?
                }
                Layer::Dropout { p, seed } if training => g.dropout(h, *p, seed.wrapping_add(i as u32))?,
                Layer::Dropout { p, .. } if !(0.0..1.0).contains(p) => {
                    return Err(Error::InvalidArgument { op: "dropout", msg: format!("p {p} must be in [0, 1)") });
                }
                Layer::Dropout { .. } => h,
            };
        }
        Ok(Recorded { output: h, params })
    }

    /// `(name, [rows, cols], values)` of every parameter, weights `[out, in]` and biases
    /// `[1, out]`; a layer norm's weight and bias `[1, features]`.
    pub fn named_parameters(&self) -> Vec<(String, [usize; 2], &[f32])> {
        let mut out = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            match layer {
                Layer::Linear(l) => {
                    out.push((format!("{i}.weight"), [l.out_features, l.in_features], l.weight.as_slice()));
                    out.push((format!("{i}.bias"), [1, l.out_features], l.bias.as_slice()));
                }
                Layer::LayerNorm(n) => {
                    out.push((format!("{i}.weight"), [1, n.features], n.weight.as_slice()));
                    out.push((format!("{i}.bias"), [1, n.features], n.bias.as_slice()));
                }
                _ => {}
            }
        }
        out
    }

    /// Whether PyTorch stores parameter `name` as a vector `[n]` (biases, a layer norm's
    /// weight) rather than a matrix.
    pub fn is_vector(&self, name: &str) -> bool {
        let layer = name.split_once('.').and_then(|(i, _)| self.layers.get(i.parse::<usize>().ok()?));
        name.ends_with(".bias") || matches!(layer, Some(Layer::LayerNorm(_)))
    }

    /// Replaces the value of the parameter called `name`; its length must match.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for an unknown name or the wrong number of values.
    pub fn set_parameter(&mut self, name: &str, values: &[f32]) -> Result<()> {
        let target = self.parameter_mut(name).ok_or_else(|| Error::InvalidArgument {
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

    fn parameter_mut(&mut self, name: &str) -> Option<&mut Vec<f32>> {
        let (index, field) = name.split_once('.')?;
        let (weight, bias) = match self.layers.get_mut(index.parse::<usize>().ok()?)? {
            Layer::Linear(l) => (&mut l.weight, &mut l.bias),
            Layer::LayerNorm(n) => (&mut n.weight, &mut n.bias),
            _ => return None,
        };
        match field {
            "weight" => Some(weight),
            "bias" => Some(bias),
            _ => None,
        }
    }
}
