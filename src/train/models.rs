//! Ready-made networks used by the examples, tests and benchmarks.

use crate::error::Result;
use crate::graph::{Graph, NodeId};
use crate::train::init;

/// The four XOR inputs, row-major `[4, 2]`.
pub const XOR_INPUTS: [f32; 8] = [0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0];
/// The XOR targets, `[4, 1]`.
pub const XOR_TARGETS: [f32; 4] = [0.0, 1.0, 1.0, 0.0];

/// The classic 2-4-1 sigmoid network with MSE loss, as in the textbook NumPy loop.
pub struct Xor {
    /// Forward, backward and (if requested) the SGD updates.
    pub graph: Graph,
    /// Input batch `[4, 2]`.
    pub x: NodeId,
    /// Targets `[4, 1]`.
    pub y: NodeId,
    /// Network output `[4, 1]`.
    pub prediction: NodeId,
    /// `mean((prediction - y)²)`.
    pub loss: NodeId,
    /// `[w1, b1, w2, b2]`.
    pub params: Vec<NodeId>,
    /// Gradient nodes of `params`, in the same order.
    pub grads: Vec<NodeId>,
}

impl Xor {
    /// Records the network with weights drawn from `N(0, 1)` (seeded), zero biases, its
    /// backward pass, and SGD updates with learning rate `lr`.
    ///
    /// # Errors
    ///
    /// [`crate::Error::InvalidArgument`] for a learning rate that is negative or not finite.
    pub fn new(seed: u64, lr: f32) -> Result<Xor> {
        let mut rng = init::rng(seed);
        let mut g = Graph::new();
        let x = g.input("x", [4, 2])?;
        let y = g.input("y", [4, 1])?;
        let initial = [init::normal(&mut rng, [2, 4])?, vec![0.0; 4], init::normal(&mut rng, [4, 1])?, vec![0.0]];
        let (params, prediction) = Xor::record(&mut g, x, initial)?;
        let [w1, b1, w2, b2] = params;
        let loss = g.mse_loss(prediction, y)?;
        g.set_name(loss, "loss")?;
        let gradients = g.backward(loss)?;
        let params = vec![w1, b1, w2, b2];
        let grads = params.iter().map(|&p| gradients.get(p).expect("every parameter reaches the loss")).collect();
        g.sgd(&gradients, lr)?;
        Ok(Xor { graph: g, x, y, prediction, loss, params, grads })
    }

    /// Records the network on `x` (`[n, 2]`) with parameters `[w1, b1, w2, b2]` holding
    /// `values`; returns the parameter nodes and the prediction.
    fn record(g: &mut Graph, x: NodeId, values: [Vec<f32>; 4]) -> Result<([NodeId; 4], NodeId)> {
        let [w1, b1, w2, b2] = values;
        let w1 = g.parameter("w1", [2, 4], w1)?;
        let b1 = g.parameter("b1", [1, 4], b1)?;
        let w2 = g.parameter("w2", [4, 1], w2)?;
        let b2 = g.parameter("b2", [1, 1], b2)?;
        let z1 = g.matmul(x, w1)?;
        let z1 = g.add(z1, b1)?;
        let a1 = g.sigmoid(z1)?;
        let z2 = g.matmul(a1, w2)?;
        let z2 = g.add(z2, b2)?;
        let prediction = g.sigmoid(z2)?;
        g.set_name(prediction, "prediction")?;
        Ok(([w1, b1, w2, b2], prediction))
    }

    /// The network with trained parameter `values` (`[w1, b1, w2, b2]`, as read from
    /// [`Xor::params`]) on a batch of `n` points: the graph, its `[n, 2]` input and its
    /// `[n, 1]` prediction, for evaluating many points in one run.
    ///
    /// # Errors
    ///
    /// [`crate::Error::DataLength`] when a value does not fit its parameter, and the size
    /// errors of recording a batch of `n`.
    pub fn predictor(values: Vec<Vec<f32>>, n: usize) -> Result<(Graph, NodeId, NodeId)> {
        let values: [Vec<f32>; 4] = values.try_into().map_err(|v: Vec<Vec<f32>>| crate::Error::InvalidArgument {
            op: "xor predictor",
            msg: format!("{} parameter values, expected 4", v.len()),
        })?;
        let mut g = Graph::new();
        let x = g.input("x", [n, 2])?;
        let (_, prediction) = Xor::record(&mut g, x, values)?;
        Ok((g, x, prediction))
    }
}

/// The block a [`DeepNet`] repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Block {
    /// `sigmoid(Linear(h))`: the textbook vanishing-gradient network.
    Sigmoid,
    /// `relu(Linear(h))`.
    Relu,
    /// `h + sigmoid(Linear(h))`: a skip connection around each sigmoid block.
    Residual,
}

impl Block {
    /// A short name for tables and legends.
    pub fn name(self) -> &'static str {
        match self {
            Block::Sigmoid => "sigmoid",
            Block::Relu => "relu",
            Block::Residual => "residual sigmoid",
        }
    }
}

/// `depth` blocks of `Linear(width, width)` and an activation, on a batch of standard
/// normal inputs with standard normal targets and MSE loss: the deep network of the
/// vanishing-gradient demonstration, its backward pass, and statistics of every
/// parameter's gradient.
pub struct DeepNet {
    /// Forward, backward and the gradient statistics (no optimizer).
    pub graph: Graph,
    /// The MSE loss.
    pub loss: NodeId,
    /// Gradient statistics, one per parameter, in the order `0.weight, 0.bias, 1.weight, ...`.
    pub watch: crate::train::diagnostics::GradWatch,
}

impl DeepNet {
    /// Records the network; weights as PyTorch initialises `nn.Linear`, data seeded.
    ///
    /// # Errors
    ///
    /// [`crate::Error::InvalidArgument`] when `depth`, `width` or `batch` is 0, and the
    /// size errors of recording.
    pub fn new(block: Block, depth: usize, width: usize, batch: usize, seed: u64) -> Result<DeepNet> {
        if depth == 0 || width == 0 || batch == 0 {
            let msg = format!("depth {depth}, width {width} and batch {batch} must all be at least 1");
            return Err(crate::Error::InvalidArgument { op: "deep_net", msg });
        }
        let mut rng = init::rng(seed);
        let mut g = Graph::new();
        let x = g.constant([batch, width], init::normal(&mut rng, [batch, width])?)?;
        let y = g.constant([batch, width], init::normal(&mut rng, [batch, width])?)?;
        let mut h = x;
        for i in 0..depth {
            let layer = crate::train::nn::Linear::new(width, width, crate::train::nn::Init::PyTorch, &mut rng)?;
            let w = g.parameter(&format!("{i}.weight"), [width, width], layer.weight)?;
            let b = g.parameter(&format!("{i}.bias"), [1, width], layer.bias)?;
            let z = g.matmul_t(h, w, false, true)?;
            let z = g.add(z, b)?;
            h = match block {
                Block::Sigmoid => g.sigmoid(z)?,
                Block::Relu => g.relu(z)?,
                Block::Residual => {
                    let s = g.sigmoid(z)?;
                    g.add(h, s)?
                }
            };
        }
        let loss = g.mse_loss(h, y)?;
        let grads = g.backward(loss)?;
        let watch = g.watch_gradients(&grads)?;
        Ok(DeepNet { graph: g, loss, watch })
    }
}

/// The `cnn` example's network (`cargo bench --bench cnn` measures it, and
/// `benches/cnn_torch.py` is the same in PyTorch): `[n, 784]` rows unflattened to
/// `[n, 1, 28, 28]`, two blocks of a 3×3 convolution (padding 1), ReLU and 2×2 max pooling
/// (32 and 64 channels), then `Linear(3136, 128)`, ReLU, dropout 0.3 and `Linear(128, 10)`;
/// initialised as PyTorch would from `seed`.
///
/// # Errors
///
/// None in practice (the sizes are fixed); the errors of the layers' constructors.
pub fn fashion_cnn(seed: u64) -> Result<crate::train::nn::Sequential> {
    use crate::ops::conv::{self, Pool2d};
    use crate::train::nn::{Conv2d, Flatten, Init, Layer, Linear, MaxPool2d, Sequential, Unflatten};
    let mut rng = init::rng(seed);
    let same = conv::Conv2d { padding: [1, 1], ..Default::default() };
    Ok(Sequential::new()
        .with(Unflatten(vec![1, 28, 28]))
        .with(Conv2d::new(1, 32, [3, 3], same, &mut rng)?)
        .with(Layer::Relu)
        .with(MaxPool2d(Pool2d::square(2)))
        .with(Conv2d::new(32, 64, [3, 3], same, &mut rng)?)
        .with(Layer::Relu)
        .with(MaxPool2d(Pool2d::square(2)))
        .with(Flatten)
        .with(Linear::new(64 * 7 * 7, 128, Init::PyTorch, &mut rng)?)
        .with(Layer::Relu)
        .with(Layer::Dropout { p: 0.3, seed: 7 })
        .with(Linear::new(128, 10, Init::PyTorch, &mut rng)?))
}
