//! The playground's training core, the same on every target: the network recorded into a
//! training graph (forward, loss, backward, optimizer) compiled once on the device, and
//! three evaluation graphs (train set, test set, the plane's grid) that receive the
//! parameters on the device after each batch of steps. Nothing here blocks: reads are
//! started here and awaited by the caller ([`Pending::finish`]).

use backprop::checkpoint::{self, Tensor};
use backprop::nn::{Init, Layer, Linear, Sequential};
use backprop::view::View;
use backprop::{init, Device, Graph, NodeId, Optimizer, PendingRead, Session};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::config::{Activation, Config, Method};
use crate::data::{self, Points};

/// Points per side of the decision-region grid.
pub const RESOLUTION: usize = 50;

type Fallible<T> = Result<T, String>;

fn words(e: backprop::Error) -> String {
    e.to_string()
}

/// The network of `config`: `Linear` layers through the hidden widths to one logit, the
/// activation between them; PyTorch's initialisation from the seed.
pub fn network(config: &Config) -> Fallible<Sequential> {
    let mut rng = init::rng(config.seed);
    let sizes: Vec<usize> =
        std::iter::once(config.features.len()).chain(config.hidden.iter().copied()).chain([1]).collect();
    let mut net = Sequential::new();
    for (i, pair) in sizes.windows(2).enumerate() {
        if i > 0 {
            net = match config.activation {
                Activation::Tanh => net.with(Layer::Tanh),
                Activation::Relu => net.with(Layer::Relu),
                Activation::Sigmoid => net.with(Layer::Sigmoid),
                Activation::Linear => net,
            };
        }
        net = net.with(Layer::Linear(Linear::new(pair[0], pair[1], Init::PyTorch, &mut rng).map_err(words)?));
    }
    Ok(net)
}

/// An inference graph of the network over `rows` points: probabilities, and the mean
/// binary cross-entropy when `targets` are given.
struct Eval {
    session: Box<dyn Session>,
    p: NodeId,
    loss: Option<NodeId>,
    /// `(training node, this graph's node)` of every parameter.
    pairs: Vec<(NodeId, NodeId)>,
}

impl Eval {
    fn new(
        device: &Device,
        net: &Sequential,
        trained: &[(String, NodeId)],
        x: &[f32],
        t: Option<&[f32]>,
    ) -> Fallible<Eval> {
        let width = net_width(net);
        let rows = x.len() / width;
        let mut g = Graph::new();
        let xn = g.input("x", [rows, width]).map_err(words)?;
        let recorded = net.record_eval(&mut g, xn).map_err(words)?;
        let p = g.sigmoid(recorded.output).map_err(words)?;
        let (tn, loss) = match t {
            Some(_) => {
                let tn = g.input("t", [rows, 1]).map_err(words)?;
                (Some(tn), Some(g.bce_with_logits(recorded.output, tn).map_err(words)?))
            }
            None => (None, None),
        };
        let keep: Vec<NodeId> = [Some(p), loss].into_iter().flatten().collect();
        let mut session = device.compile_inference(&g, &keep).map_err(words)?;
        session.write(xn, x).map_err(words)?;
        if let (Some(tn), Some(t)) = (tn, t) {
            session.write(tn, t).map_err(words)?;
        }
        let pairs = trained.iter().zip(&recorded.params).map(|((_, from), (_, to))| (*from, *to)).collect();
        Ok(Eval { session, p, loss, pairs })
    }

    /// Takes the parameters from `training` (on the device) and starts the evaluation.
    fn start(&mut self, training: &mut dyn Session) -> Fallible<PendingRead> {
        training.copy_values_to(self.session.as_mut(), &self.pairs).map_err(words)?;
        let keep: Vec<NodeId> = [Some(self.p), self.loss].into_iter().flatten().collect();
        self.session.run_and_start_read(&keep).map_err(words)
    }
}

fn net_width(net: &Sequential) -> usize {
    net.parameters().first().map_or(1, |p| p.shape.get(1).copied().unwrap_or(1))
}

/// A training run of one setup on one device.
pub struct Trainer {
    config: Config,
    net: Sequential,
    graph: Graph,
    x: NodeId,
    t: NodeId,
    loss: NodeId,
    params: Vec<(String, NodeId)>,
    grads: Vec<NodeId>,
    session: Box<dyn Session>,
    train_eval: Eval,
    test_eval: Eval,
    grid_eval: Eval,
    /// The data as drawn: training points first.
    pub train: Points,
    /// The held-out points.
    pub test: Points,
    train_features: Vec<f32>,
    order: Vec<usize>,
    cursor: usize,
    rng: StdRng,
    batch_x: Vec<f32>,
    batch_t: Vec<f32>,
    steps: usize,
    /// The last values read: `(node, values)` of the loss, parameters and gradients.
    last: Vec<(NodeId, Vec<f32>)>,
}

/// What one look at the run found, for the page to draw.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observation {
    /// Steps so far.
    pub steps: usize,
    /// Mean binary cross-entropy on the training and on the test points.
    pub train_loss: f32,
    /// See `train_loss`.
    pub test_loss: f32,
    /// Share of points classified right (probability above ½ for label 1).
    pub train_accuracy: f32,
    /// See `train_accuracy`.
    pub test_accuracy: f32,
    /// p(label 1) over the [`RESOLUTION`]² grid of [`data::grid`].
    pub grid: Vec<f32>,
    /// The test points' probabilities.
    pub test_probabilities: Vec<f32>,
    /// Each `Linear` layer's weight `[out, in]` (row-major) and bias.
    pub layers: Vec<(Vec<usize>, Vec<f32>, Vec<f32>)>,
    /// Mean |∂loss/∂W| of each layer's weight at the last step (zeros before the first).
    pub gradient_means: Vec<f32>,
}

/// Reads on their way back; [`Pending::finish`] awaits them.
pub struct Pending {
    steps: usize,
    nodes: Vec<NodeId>,
    training: PendingRead,
    train: PendingRead,
    test: PendingRead,
    grid: PendingRead,
    train_labels: Vec<f32>,
    test_labels: Vec<f32>,
    params: usize,
    param_shapes: Vec<Vec<usize>>,
}

impl Trainer {
    /// Draws the data, builds the network and compiles its four graphs on `device`.
    ///
    /// # Errors
    ///
    /// The library's errors, in words (for example a device that rejects a kernel).
    pub fn new(device: &Device, config: Config) -> Fallible<Trainer> {
        let all = data::generate(config.dataset, config.points, config.noise, config.seed);
        let count = ((all.len() as f32 * config.train_share).round() as usize).clamp(1, all.len() - 1);
        let (train, test) = split(&all, count);
        let net = network(&config)?;
        let batch = config.batch.clamp(1, train.len());
        let width = config.features.len();
        let mut g = Graph::new();
        let x = g.input("x", [batch, width]).map_err(words)?;
        let t = g.input("t", [batch, 1]).map_err(words)?;
        let recorded = net.record(&mut g, x).map_err(words)?;
        let loss = g.bce_with_logits(recorded.output, t).map_err(words)?;
        g.set_name(loss, "loss").map_err(words)?;
        let grads = g.backward(loss).map_err(words)?;
        let optimizer = match config.method {
            Method::Sgd => Optimizer::sgd(config.lr),
            Method::Adam => Optimizer::adam(config.lr),
        }
        .with_weight_decay(config.l2);
        g.optimize(&grads, optimizer).map_err(words)?;
        let params = recorded.params.clone();
        let grad_ids: Vec<NodeId> =
            params.iter().map(|(_, p)| grads.get(*p).ok_or("a parameter has no gradient")).collect::<Result<_, _>>()?;
        let keep: Vec<NodeId> = std::iter::once(loss).chain(grad_ids.iter().copied()).collect();
        let session = device.compile(&g, &keep).map_err(words)?;
        let train_features = data::features(&train.xy, &config.features);
        let test_features = data::features(&test.xy, &config.features);
        let grid_features = data::features(&data::grid(RESOLUTION), &config.features);
        let train_eval = Eval::new(device, &net, &params, &train_features, Some(&train.label))?;
        let test_eval = Eval::new(device, &net, &params, &test_features, Some(&test.label))?;
        let grid_eval = Eval::new(device, &net, &params, &grid_features, None)?;
        let order = (0..train.len()).collect();
        let rng = StdRng::seed_from_u64(config.seed ^ 0x5eed);
        Ok(Trainer {
            batch_x: vec![0.0; batch * width],
            batch_t: vec![0.0; batch],
            config,
            net,
            graph: g,
            x,
            t,
            loss,
            params,
            grads: grad_ids,
            session,
            train_eval,
            test_eval,
            grid_eval,
            train,
            test,
            train_features,
            order,
            cursor: usize::MAX,
            rng,
            steps: 0,
            last: Vec::new(),
        })
    }

    /// The setup being trained.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Steps taken so far.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Queues `count` training steps, each on the next batch of a shuffled pass over
    /// the training points; on the GPU nothing waits for them.
    ///
    /// # Errors
    ///
    /// The library's errors, in words.
    pub fn train(&mut self, count: usize) -> Fallible<()> {
        let batch = self.batch_t.len();
        let width = self.config.features.len();
        for _ in 0..count {
            if self.cursor.saturating_add(batch) > self.order.len() {
                for i in (1..self.order.len()).rev() {
                    self.order.swap(i, self.rng.random_range(0..=i));
                }
                self.cursor = 0;
            }
            for (row, &i) in self.order[self.cursor..self.cursor + batch].iter().enumerate() {
                self.batch_x[row * width..][..width].copy_from_slice(&self.train_features[i * width..][..width]);
                self.batch_t[row] = self.train.label[i];
            }
            self.cursor += batch;
            self.session.write(self.x, &self.batch_x).map_err(words)?;
            self.session.write(self.t, &self.batch_t).map_err(words)?;
            self.session.run().map_err(words)?;
            self.steps += 1;
        }
        Ok(())
    }

    /// Starts reading what the page draws: the parameters and last gradients, and the
    /// evaluations on both sets and the grid (each one submission on the GPU).
    ///
    /// # Errors
    ///
    /// The library's errors, in words.
    pub fn observe(&mut self) -> Fallible<Pending> {
        let mut nodes: Vec<NodeId> = self.params.iter().map(|p| p.1).collect();
        if self.steps > 0 {
            nodes.push(self.loss);
            nodes.extend(&self.grads);
        }
        let training = self.session.start_read(&nodes).map_err(words)?;
        let train = self.train_eval.start(self.session.as_mut())?;
        let test = self.test_eval.start(self.session.as_mut())?;
        let grid = self.grid_eval.start(self.session.as_mut())?;
        let param_shapes = self.net.parameters().iter().map(|p| p.shape.clone()).collect();
        Ok(Pending {
            steps: self.steps,
            nodes,
            training,
            train,
            test,
            grid,
            train_labels: self.train.label.clone(),
            test_labels: self.test.label.clone(),
            params: self.params.len(),
            param_shapes,
        })
    }

    /// Keeps the values an observation read, for [`Trainer::graph_svg`] and
    /// [`Trainer::safetensors`].
    pub fn remember(&mut self, values: Vec<(NodeId, Vec<f32>)>) {
        self.last = values;
    }

    /// The training step's graph (forward, loss, backward, updates) as SVG, with the
    /// values last read written on the nodes.
    ///
    /// # Errors
    ///
    /// The library's errors, in words.
    pub fn graph_svg(&self) -> Fallible<String> {
        View::new(&self.graph).with_read_values(self.last.iter().cloned()).map_err(words)?.to_svg().map_err(words)
    }

    /// The parameters last read as safetensors with PyTorch's names (`0.weight`, ...):
    /// `nn.Sequential` of the same layers loads it with `load_state_dict(strict=True)`.
    ///
    /// # Errors
    ///
    /// When nothing has been read yet, and the library's errors, in words.
    pub fn safetensors(&self) -> Fallible<Vec<u8>> {
        let mut net = self.net.clone();
        for (name, id) in &self.params {
            let values = self.last.iter().find(|(n, _)| n == id).ok_or("no parameters have been read yet")?;
            net.set_parameter(name, &values.1).map_err(words)?;
        }
        let tensors: Vec<Tensor> = net.state_dict();
        checkpoint::to_bytes(&tensors).map_err(words)
    }
}

impl Pending {
    /// Awaits every read and summarises them; also returns the raw `(node, values)` of
    /// the training graph for [`Trainer::remember`].
    ///
    /// # Errors
    ///
    /// The library's errors in words: a lost device, a run that produced NaN.
    pub async fn finish(self) -> Fallible<(Observation, Vec<(NodeId, Vec<f32>)>)> {
        let training = self.training.values().await.map_err(words)?;
        let train = self.train.values().await.map_err(words)?;
        let test = self.test.values().await.map_err(words)?;
        let grid = self.grid.values().await.map_err(words)?.remove(0);
        let (train_loss, test_loss) = (train[1][0], test[1][0]);
        if !train_loss.is_finite() || !test_loss.is_finite() {
            return Err("the loss is not a number any more: training diverged (try a smaller learning rate), reset to start again".into());
        }
        let params = &training[..self.params];
        let layers = params
            .chunks(2)
            .zip(self.param_shapes.chunks(2))
            .map(|(pair, shapes)| (shapes[0].clone(), pair[0].clone(), pair.get(1).cloned().unwrap_or_default()))
            .collect();
        let gradient_means = match training.len() > self.params {
            true => training[self.params + 1..].chunks(2).map(|g| mean_abs(&g[0])).collect(),
            false => vec![0.0; self.params / 2],
        };
        let observation = Observation {
            steps: self.steps,
            train_loss,
            test_loss,
            train_accuracy: accuracy(&train[0], &self.train_labels),
            test_accuracy: accuracy(&test[0], &self.test_labels),
            grid,
            test_probabilities: test[0].clone(),
            layers,
            gradient_means,
        };
        Ok((observation, self.nodes.into_iter().zip(training).collect()))
    }
}

fn split(all: &Points, count: usize) -> (Points, Points) {
    let part = |range: std::ops::Range<usize>| Points {
        xy: all.xy[2 * range.start..2 * range.end].to_vec(),
        label: all.label[range].to_vec(),
    };
    (part(0..count), part(count..all.len()))
}

fn mean_abs(values: &[f32]) -> f32 {
    values.iter().map(|v| v.abs()).sum::<f32>() / values.len().max(1) as f32
}

/// Share of points whose probability is on their label's side of ½.
pub fn accuracy(p: &[f32], labels: &[f32]) -> f32 {
    let right = p.iter().zip(labels).filter(|(p, t)| (**p > 0.5) == (**t > 0.5)).count();
    right as f32 / labels.len().max(1) as f32
}
