//! What the page's controls choose, read from the JSON the page sends.

use serde_json::Value;

use crate::data::{Dataset, Feature};

/// The activation between hidden layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// tanh
    Tanh,
    /// max(x, 0)
    Relu,
    /// the logistic sigmoid
    Sigmoid,
    /// none (the network stays linear)
    Linear,
}

/// The optimizer of the parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Plain stochastic gradient descent.
    Sgd,
    /// Adam.
    Adam,
}

/// One playground setup: data, network and training.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Which points.
    pub dataset: Dataset,
    /// Noise, 0 to 0.5.
    pub noise: f32,
    /// Points drawn in all (train and test).
    pub points: usize,
    /// The share of the points trained on, 0.1 to 0.9; the rest are the test set.
    pub train_share: f32,
    /// What the network sees of each point.
    pub features: Vec<Feature>,
    /// Widths of the hidden layers (none: a logistic regression).
    pub hidden: Vec<usize>,
    /// Between the hidden layers.
    pub activation: Activation,
    /// SGD or Adam.
    pub method: Method,
    /// Learning rate.
    pub lr: f32,
    /// Points per step (at most the training set).
    pub batch: usize,
    /// L2 penalty (weight decay) on every parameter.
    pub l2: f32,
    /// Seed of the data and of the initial weights.
    pub seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            dataset: Dataset::Spiral,
            noise: 0.0,
            points: 500,
            train_share: 0.5,
            features: vec![Feature::X, Feature::Y, Feature::SinX, Feature::SinY],
            hidden: vec![8, 8],
            activation: Activation::Tanh,
            method: Method::Adam,
            lr: 0.03,
            batch: 10,
            l2: 0.0,
            seed: 1,
        }
    }
}

/// The most hidden layers and the widest one the page offers.
pub const MAX_LAYERS: usize = 6;
/// See [`MAX_LAYERS`].
pub const MAX_WIDTH: usize = 64;

impl Config {
    /// Reads a setup from JSON such as `{"dataset": "spiral", "hidden": [8, 8], ...}`;
    /// missing keys keep [`Config::default`]'s values. An unknown name or a value out of
    /// range is an error in words.
    pub fn from_json(text: &str) -> Result<Config, String> {
        let value: Value = serde_json::from_str(text).map_err(|e| format!("the setup is not JSON: {e}"))?;
        let Value::Object(map) = value else { return Err("the setup must be a JSON object".into()) };
        let mut c = Config::default();
        for (key, v) in &map {
            match key.as_str() {
                "dataset" => c.dataset = name(v, key, Dataset::from_name)?,
                "noise" => c.noise = number(v, key, 0.0, 0.5)? as f32,
                "points" => c.points = number(v, key, 20.0, 5000.0)? as usize,
                "trainShare" => c.train_share = number(v, key, 0.1, 0.9)? as f32,
                "features" => {
                    c.features =
                        list(v, key)?.iter().map(|f| name(f, key, Feature::from_name)).collect::<Result<_, _>>()?
                }
                "hidden" => {
                    c.hidden = list(v, key)?
                        .iter()
                        .map(|w| number(w, key, 1.0, MAX_WIDTH as f64).map(|w| w as usize))
                        .collect::<Result<_, _>>()?
                }
                "activation" => c.activation = name(v, key, activation)?,
                "optimizer" => c.method = name(v, key, method)?,
                "lr" => c.lr = number(v, key, 1e-6, 10.0)? as f32,
                "batch" => c.batch = number(v, key, 1.0, 5000.0)? as usize,
                "l2" => c.l2 = number(v, key, 0.0, 1.0)? as f32,
                "seed" => c.seed = number(v, key, 0.0, 1e15)? as u64,
                other => return Err(format!("unknown setting '{other}'")),
            }
        }
        if c.features.is_empty() {
            return Err("choose at least one input feature".into());
        }
        if c.hidden.len() > MAX_LAYERS {
            return Err(format!("at most {MAX_LAYERS} hidden layers"));
        }
        Ok(c)
    }
}

fn activation(name: &str) -> Option<Activation> {
    Some(match name {
        "tanh" => Activation::Tanh,
        "relu" => Activation::Relu,
        "sigmoid" => Activation::Sigmoid,
        "linear" => Activation::Linear,
        _ => return None,
    })
}

fn method(name: &str) -> Option<Method> {
    Some(match name {
        "sgd" => Method::Sgd,
        "adam" => Method::Adam,
        _ => return None,
    })
}

fn name<T>(v: &Value, key: &str, parse: impl Fn(&str) -> Option<T>) -> Result<T, String> {
    let text = v.as_str().ok_or_else(|| format!("'{key}' must be a name"))?;
    parse(text).ok_or_else(|| format!("'{text}' is not a known {key}"))
}

fn number(v: &Value, key: &str, low: f64, high: f64) -> Result<f64, String> {
    match v.as_f64() {
        Some(n) if n.is_finite() && (low..=high).contains(&n) => Ok(n),
        _ => Err(format!("'{key}' must be a number from {low} to {high}, got {v}")),
    }
}

fn list<'v>(v: &'v Value, key: &str) -> Result<&'v Vec<Value>, String> {
    v.as_array().ok_or_else(|| format!("'{key}' must be a list"))
}
