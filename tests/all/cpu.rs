//! The CPU backend as the reference: its products, elementwise loops, sums and updates
//! split across cores, and its results must not depend on how many threads it has
//! (capped by the rayon pool the session runs in).

use backprop::nn::{Init, Layer, Sequential};
use backprop::{init, Device, Graph, Optimizer};

/// Three Adam steps of the MLP 784-128-64-10 at batch 256 (products far past the size
/// that is split across cores), run in a pool of `threads` threads: every parameter.
fn train_with(threads: usize) -> Vec<Vec<f32>> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    pool.install(|| {
        let model = Sequential::mlp(&[784, 128, 64, 10], Layer::Relu, Init::PyTorch, &mut init::rng(0)).unwrap();
        let mut g = Graph::new();
        let x = g.input("x", [256, 784]).unwrap();
        let y = g.input("y", [256, 10]).unwrap();
        let out = model.record(&mut g, x).unwrap().output;
        let loss = g.softmax_cross_entropy(out, y).unwrap();
        let grads = g.backward(loss).unwrap();
        g.optimize(&grads, Optimizer::adam(1e-3)).unwrap();
        let mut session = Device::Cpu.compile(&g, &[loss]).unwrap();
        let xs = init::uniform(&mut init::rng(1), [256, 784], 1.0).unwrap();
        let ys: Vec<f32> = (0..256 * 10).map(|i| if i % 10 == (i / 10) % 10 { 1.0 } else { 0.0 }).collect();
        session.write(x, &xs).unwrap();
        session.write(y, &ys).unwrap();
        for _ in 0..3 {
            session.run().unwrap();
        }
        session.read_many(&g.parameters()).unwrap()
    })
}

pub fn results_do_not_depend_on_the_thread_count() {
    let one = train_with(1);
    assert_eq!(one, train_with(2), "one thread against two");
    assert_eq!(one, train_with(4), "one thread against four");
}
