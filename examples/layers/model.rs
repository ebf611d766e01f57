//! The network: `Linear(784, 128)`, swish, a residual block `x + swish(Linear(128, 128)(x))`,
//! `Linear(128, 10)`. Swish is registered from here, outside the crate; the block is a
//! `Module` written here.

use std::sync::OnceLock;

use backprop::custom::{register, CustomMap};
use backprop::nn::{Init, Layer, Linear, Module, Scope, Sequential};
use backprop::{init, Map, NodeId, Result};

/// swish(x) = x·σ(x), its derivative σ(x)·(1 + x·(1 − σ(x))); registered once.
fn swish() -> Result<Map> {
    static SWISH: OnceLock<Map> = OnceLock::new();
    if let Some(map) = SWISH.get() {
        return Ok(*map);
    }
    let map = register(CustomMap {
        name: "swish",
        arity: 1,
        cpu: |a, _, _| a / (1.0 + (-a).exp()),
        wgsl: "a / (1.0 + exp(-a))",
        vjp: Some(|g, _, x, dy, _| {
            let s = g.sigmoid(x[0])?;
            let one = g.constant([1, 1], vec![1.0])?;
            let rest = g.sub(one, s)?;
            let t = g.mul(x[0], rest)?;
            let u = g.add(t, one)?;
            let slope = g.mul(s, u)?;
            Ok(vec![Some(g.mul(dy, slope)?)])
        }),
    })?;
    Ok(*SWISH.get_or_init(|| map))
}

/// `x + body(x)`: PyTorch names its parameters `body.0.weight`, `body.0.bias`.
#[derive(Clone, Debug)]
struct Residual {
    body: Sequential,
}

impl Module for Residual {
    fn forward(&self, scope: &mut Scope, x: NodeId) -> Result<NodeId> {
        let y = scope.child("body", &self.body, x)?;
        scope.graph().add(x, y)
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("body".into(), &self.body)]
    }
    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module)> {
        vec![("body".into(), &mut self.body)]
    }
}

/// The network, initialised as PyTorch would from `seed`.
pub fn network(seed: u64) -> Result<Sequential> {
    let mut rng = init::rng(seed);
    let swish = Layer::Map(swish()?);
    let body = Sequential::new().with(Linear::new(128, 128, Init::PyTorch, &mut rng)?).with(swish.clone());
    Ok(Sequential::new()
        .with(Linear::new(784, 128, Init::PyTorch, &mut rng)?)
        .with(swish)
        .with(Residual { body })
        .with(Linear::new(128, 10, Init::PyTorch, &mut rng)?))
}
