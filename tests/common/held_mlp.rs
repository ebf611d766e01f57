//! The MLP 784-128-64-10 with Adam on the CPU, its batches gathered from a byte data set
//! held in the session (as the classifier trains): shared by the thread-count test
//! (`tests/all/cpu.rs`) and the allocation test (`tests/alloc.rs`).

use backprop::data::Dataset;
use backprop::nn::{Init, Layer, Sequential};
use backprop::{init, Device, Graph, NodeId, Optimizer, Session};

/// A compiled training step, its first epoch's order written.
pub struct HeldMlp {
    pub session: Box<dyn Session>,
    pub loss: NodeId,
    #[allow(dead_code)] // read by the thread-count test, not by the allocation test
    pub parameters: Vec<NodeId>,
}

/// `samples` synthetic images (every value a byte over 255, so they are held as bytes) in
/// batches of `batch`, in a fixed shuffled order.
pub fn held_mlp(samples: usize, batch: usize) -> HeldMlp {
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
    // 7 has no factor in common with the sample counts used, so this is a permutation.
    let order: Vec<usize> = (0..samples).map(|i| i * 7 % samples).collect();
    batches.start_epoch(session.as_mut(), &order).unwrap();
    HeldMlp { session, loss, parameters: g.parameters() }
}
