//! An L2 penalty written as a loss term records the gradient `map_gradients` would
//! (`g + 2λ·w`, one elementwise pass per parameter: the penalty's constant weight is
//! folded in rather than broadcast), so it trains the same and costs the same backward
//! launches; its speed is measured by `cargo bench --bench penalty`.

use backprop::nn::{Init, Layer, Sequential};
use backprop::{init, Device, Graph, NodeId, Optimizer, Session};

const LAMBDA: f32 = 1e-2;

fn step(device: &Device, as_loss_term: bool) -> (Box<dyn Session>, Vec<NodeId>, NodeId, NodeId) {
    let model = Sequential::mlp(&[5, 7, 3], Layer::Tanh, Init::PyTorch, &mut init::rng(2)).unwrap();
    let mut g = Graph::new();
    let (x, y) = (g.input("x", [4, 5]).unwrap(), g.input("y", [4, 3]).unwrap());
    let recorded = model.record(&mut g, x).unwrap();
    let mut loss = g.softmax_cross_entropy(recorded.output, y).unwrap();
    if as_loss_term {
        for (_, p) in &recorded.params {
            let squares = g.sum_squares(*p).unwrap();
            let term = g.scale(squares, LAMBDA).unwrap();
            loss = g.add(loss, term).unwrap();
        }
    }
    let mut grads = g.backward(loss).unwrap();
    if !as_loss_term {
        grads = g
            .map_gradients(&grads, |g, p, grad| {
                let decay = g.scale(p, 2.0 * LAMBDA)?;
                g.add(grad, decay)
            })
            .unwrap();
    }
    g.optimize(&grads, Optimizer::adam(0.05)).unwrap();
    let params = recorded.params.iter().map(|(_, p)| *p).collect();
    (device.compile(&g, &[loss]).unwrap(), params, x, y)
}

pub fn a_penalty_as_a_loss_term_is_the_map_gradients_update(device: &Device) {
    let xs: Vec<f32> = init::uniform(&mut init::rng(3), [4, 5], 1.0).unwrap();
    let ys: Vec<f32> = (0..12).map(|i| if i % 3 == (i / 3) % 3 { 1.0 } else { 0.0 }).collect();
    let mut trained = Vec::new();
    let mut launches = Vec::new();
    for as_loss_term in [true, false] {
        let (mut session, params, x, y) = step(device, as_loss_term);
        session.write(x, &xs).unwrap();
        session.write(y, &ys).unwrap();
        session.run_steps(5).unwrap();
        trained.push(session.read_many(&params).unwrap());
        launches.push(session.launches_per_step());
    }
    for (a, b) in trained[0].iter().flatten().zip(trained[1].iter().flatten()) {
        assert!((a - b).abs() <= 1e-6 * b.abs().max(1.0), "{a} against {b} (tolerance 1e-6)");
    }
    // The loss term adds three nodes per parameter (its sum of squares, the scale and the
    // add, all in the forward pass) and one launch besides; its gradient is the same
    // `add(g, scale(w, 2λ))` nodes as map_gradients'.
    assert!(launches[0] <= launches[1] + 3 * 4 + 1, "{launches:?}");
}
