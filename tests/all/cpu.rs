//! The CPU backend as the reference: its products, elementwise loops, sums and updates
//! split across cores, and its results must not depend on how many threads it has
//! (capped by the rayon pool the session runs in).

use backprop::data::Dataset;
use backprop::nn::{Init, Layer, Sequential};
use backprop::{init, Device, Graph, Optimizer};

/// Three Adam steps of the MLP 784-128-64-10 at batch 600 (products, elementwise loops,
/// the batch gather and softmax cross-entropy all past the sizes split across cores), the
/// batches gathered from a byte data set held in the session, run in a pool of `threads`
/// threads: each step's loss, then every parameter.
fn train_with(threads: usize) -> Vec<Vec<f32>> {
    let (samples, batch) = (1500, 600);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    pool.install(|| {
        let images: Vec<f32> = (0..samples * 784).map(|i| (i * 37 % 256) as f32 / 255.0).collect();
        let labels: Vec<u8> = (0..samples).map(|i| (i * 7 % 10) as u8).collect();
        let data = Dataset::new(images, labels, 784).unwrap();
        let model = Sequential::mlp(&[784, 128, 64, 10], Layer::Relu, Init::PyTorch, &mut init::rng(0)).unwrap();
        let mut g = Graph::new();
        let batches = g.device_batches(&data, batch).unwrap();
        let out = model.record(&mut g, batches.x).unwrap().output;
        let loss = g.softmax_cross_entropy(out, batches.y).unwrap();
        let grads = g.backward(loss).unwrap();
        g.optimize(&grads, Optimizer::adam(1e-3)).unwrap();
        let mut session = Device::Cpu.compile(&g, &[loss]).unwrap();
        batches.upload(session.as_mut(), &data).unwrap();
        let order: Vec<usize> = (0..samples).map(|i| i * 7 % samples).collect();
        batches.start_epoch(session.as_mut(), &order).unwrap();
        let mut values = Vec::new();
        for _ in 0..3 {
            session.run().unwrap();
            values.push(session.read(loss).unwrap());
        }
        values.extend(session.read_many(&g.parameters()).unwrap());
        values
    })
}

pub fn results_do_not_depend_on_the_thread_count() {
    let one = train_with(1);
    assert_eq!(one, train_with(2), "one thread against two");
    assert_eq!(one, train_with(4), "one thread against four");
}
