//! The model: token and position embeddings, one pre-norm transformer block (causal
//! self-attention, then an MLP, each added back to its input) and a final layer norm and
//! head, as nanoGPT lays it out. Parameters are named and shaped as the same model in
//! PyTorch (`benches/attention_torch.py`) names its `state_dict`, Linear weights
//! `[out, in]`, so a checkpoint loads there with `strict=True`.

use backprop::{Graph, NodeId, Result};
use rand::Rng;
use rand_distr::{Distribution, Normal};

/// Digits 0-9 and the separator.
pub const VOCAB: usize = 11;
/// The separator token.
pub const SEP: usize = 10;
/// Digits per sequence.
pub const DIGITS: usize = 8;
/// Positions the model reads: the digits, the separator and all but the last reversed one.
pub const T: usize = 2 * DIGITS;

/// The sizes of the model.
#[derive(Clone, Copy)]
pub struct Config {
    /// Width of every position's vector.
    pub width: usize,
    /// Attention heads (each `width / heads` wide).
    pub heads: usize,
}

/// One named parameter with its PyTorch shape and initial values.
pub struct Param {
    pub name: String,
    pub shape: Vec<usize>,
    pub init: Vec<f32>,
}

/// The nodes a recording gives back.
pub struct Recorded {
    /// `[batch, T, VOCAB]`.
    pub logits: NodeId,
    /// `[batch, heads, T, T]`: each query position's attention over the key positions.
    pub attention: NodeId,
}

/// The parameters, initialised as PyTorch initialises the layers: embeddings N(0, 1),
/// Linear weights and biases U(±1/√in), layer norms 1 and 0.
pub fn parameters(config: Config, rng: &mut impl Rng) -> Vec<Param> {
    let d = config.width;
    let mut params = Vec::new();
    let normal = Normal::new(0.0f32, 1.0).expect("a valid deviation");
    let embedding = |name: &str, rows: usize, rng: &mut dyn rand::RngCore| Param {
        name: name.into(),
        shape: vec![rows, d],
        init: (0..rows * d).map(|_| normal.sample(rng)).collect(),
    };
    params.push(embedding("tok_emb.weight", VOCAB, rng));
    params.push(embedding("pos_emb.weight", T, rng));
    let mut linear = |name: &str, inputs: usize, outputs: usize, params: &mut Vec<Param>| {
        let bound = 1.0 / (inputs as f32).sqrt();
        let mut draw = |n: usize| (0..n).map(|_| rng.random_range(-bound..bound)).collect();
        params.push(Param {
            name: format!("{name}.weight"),
            shape: vec![outputs, inputs],
            init: draw(outputs * inputs),
        });
        params.push(Param { name: format!("{name}.bias"), shape: vec![outputs], init: draw(outputs) });
    };
    let norm = |name: &str, params: &mut Vec<Param>| {
        params.push(Param { name: format!("{name}.weight"), shape: vec![d], init: vec![1.0; d] });
        params.push(Param { name: format!("{name}.bias"), shape: vec![d], init: vec![0.0; d] });
    };
    norm("ln1", &mut params);
    linear("attn.qkv", d, 3 * d, &mut params);
    linear("attn.proj", d, d, &mut params);
    norm("ln2", &mut params);
    linear("mlp.fc", d, 4 * d, &mut params);
    linear("mlp.proj", 4 * d, d, &mut params);
    norm("ln_f", &mut params);
    linear("head", d, VOCAB, &mut params);
    params
}

/// The model's graph over `tokens` (`[batch, T]`, token ids as f32), its parameters
/// recorded from `params` by name.
pub fn record(g: &mut Graph, config: Config, params: &[Param], tokens: NodeId) -> Result<Recorded> {
    let mut p = |name: &str| -> Result<NodeId> {
        let param = params.iter().find(|p| p.name == name).expect("every parameter is listed");
        g.parameter(name, backprop::Shape::from_dims(&param.shape).expect("rank 2 or less"), param.init.clone())
    };
    let w: Vec<NodeId> = [
        "tok_emb.weight",
        "pos_emb.weight",
        "ln1.weight",
        "ln1.bias",
        "attn.qkv.weight",
        "attn.qkv.bias",
        "attn.proj.weight",
        "attn.proj.bias",
        "ln2.weight",
        "ln2.bias",
        "mlp.fc.weight",
        "mlp.fc.bias",
        "mlp.proj.weight",
        "mlp.proj.bias",
        "ln_f.weight",
        "ln_f.bias",
        "head.weight",
        "head.bias",
    ]
    .iter()
    .map(|name| p(name))
    .collect::<Result<_>>()?;
    let tok = g.embedding(w[0], tokens)?;
    let x = g.add(tok, w[1])?;
    let a = g.layer_norm(x, w[2], w[3], 1e-5)?;
    let (attended, attention) = attention(g, config, a, [w[4], w[5], w[6], w[7]])?;
    let x = g.add(x, attended)?;
    let m = g.layer_norm(x, w[8], w[9], 1e-5)?;
    let hidden = linear(g, m, w[10], w[11])?;
    let hidden = g.gelu(hidden)?;
    let m = linear(g, hidden, w[12], w[13])?;
    let x = g.add(x, m)?;
    let x = g.layer_norm(x, w[14], w[15], 1e-5)?;
    let logits = linear(g, x, w[16], w[17])?;
    Ok(Recorded { logits, attention })
}

/// PyTorch's `nn.Linear` on `[batch, T, in]`: the rows of every position at once, one
/// product with the bias fused into it, then back to `[batch, T, out]`.
fn linear(g: &mut Graph, x: NodeId, weight: NodeId, bias: NodeId) -> Result<NodeId> {
    let s = g.shape(x)?;
    let outputs = g.shape(weight)?.dims()[0];
    let rows = g.reshape(x, [s.rows(), s.cols()])?;
    let y = g.matmul_t(rows, weight, false, true)?;
    let y = g.add(y, bias)?;
    g.reshape(y, [s.dims()[0], s.dims()[1], outputs])
}

/// Causal self-attention: queries, keys and values from one product, split into heads
/// `[batch, heads, T, width / heads]`, scores `q·kᵀ/√dₕ` with the future masked by a
/// `[T, T]` constant broadcast over batch and heads, softmax over the keys, the heads'
/// outputs joined and projected. Returns the output and the attention weights.
fn attention(g: &mut Graph, config: Config, x: NodeId, w: [NodeId; 4]) -> Result<(NodeId, NodeId)> {
    let s = g.shape(x)?;
    let (batch, d, h) = (s.dims()[0], config.width, config.heads);
    let qkv = linear(g, x, w[0], w[1])?;
    let mut heads = Vec::new();
    for part in 0..3 {
        let one = g.narrow(qkv, -1, part * d, d)?;
        let split = g.reshape(one, [batch, T, h, d / h])?;
        heads.push(g.transpose_dims(split, 1, 2)?);
    }
    let keys_t = g.transpose_dims(heads[1], -2, -1)?;
    let scores = g.matmul(heads[0], keys_t)?;
    let scores = g.scale(scores, 1.0 / ((d / h) as f32).sqrt())?;
    let future: Vec<f32> = (0..T * T).map(|i| if i % T > i / T { -1e9 } else { 0.0 }).collect();
    let mask = g.constant([T, T], future)?;
    let scores = g.add(scores, mask)?;
    let weights = g.softmax_dim(scores, -1)?;
    let out = g.matmul(weights, heads[2])?;
    let out = g.transpose_dims(out, 1, 2)?;
    let out = g.reshape(out, [batch, T, d])?;
    Ok((linear(g, out, w[2], w[3])?, weights))
}

/// One sequence of `DIGITS` random digits: the tokens read (`digits, SEP, reversed
/// digits but the last`) and the target of each position (`None` before the separator).
pub fn sequence(rng: &mut impl Rng) -> ([usize; T], [Option<usize>; T]) {
    let digits: Vec<usize> = (0..DIGITS).map(|_| rng.random_range(0..10)).collect();
    let reversed: Vec<usize> = digits.iter().rev().copied().collect();
    let mut tokens = [0; T];
    let mut targets = [None; T];
    tokens[..DIGITS].copy_from_slice(&digits);
    tokens[DIGITS] = SEP;
    tokens[DIGITS + 1..].copy_from_slice(&reversed[..DIGITS - 1]);
    for (i, &r) in reversed.iter().enumerate() {
        targets[DIGITS + i] = Some(r);
    }
    (tokens, targets)
}

/// A batch of sequences as the graph's inputs: token ids `[n, T]` and one-hot targets
/// `[n, T, VOCAB]` (rows before the separator all zero, so the loss skips them).
pub fn batch(sequences: &[([usize; T], [Option<usize>; T])]) -> (Vec<f32>, Vec<f32>) {
    let mut tokens = Vec::with_capacity(sequences.len() * T);
    let mut targets = vec![0.0; sequences.len() * T * VOCAB];
    for (s, (seq, want)) in sequences.iter().enumerate() {
        tokens.extend(seq.iter().map(|&t| t as f32));
        for (i, target) in want.iter().enumerate() {
            if let Some(t) = target {
                targets[(s * T + i) * VOCAB + t] = 1.0;
            }
        }
    }
    (tokens, targets)
}
