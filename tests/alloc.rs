//! A CPU training step (an MLP's, a CNN's) allocates nothing: every value has its slot from compile time, the
//! product's packing buffer and the helper threads are made once. Counted by a global
//! allocator, in a binary of its own so that no other test allocates meanwhile.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

#[path = "common/held_mlp.rs"]
mod held_mlp;

use held_mlp::{held_mlp, HeldMlp};

/// The system allocator, counting the blocks it hands out.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        System.alloc_zeroed(layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The MLP with Adam, its batches gathered from a byte data set held in the session (as
/// the classifier trains), at a batch whose products are split across cores.
#[test]
fn cpu_training_steps_allocate_nothing() {
    let HeldMlp { mut session, loss, .. } = held_mlp(2048, 256);
    // The first steps start the helper threads and grow the packing buffers.
    session.run_steps(2).unwrap();
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    session.run_steps(6).unwrap();
    let during = ALLOCATIONS.load(Ordering::Relaxed) - before;
    assert_eq!(during, 0, "six training steps allocated {during} blocks");
    assert!(session.read(loss).unwrap()[0].is_finite());
    // The same for a convolutional network with batch norm (in this test, not beside it:
    // the tests of one binary run at once and would count each other's blocks).
    let (mut session, loss) = held_cnn();
    session.run_steps(2).unwrap();
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    session.run_steps(6).unwrap();
    let during = ALLOCATIONS.load(Ordering::Relaxed) - before;
    assert_eq!(during, 0, "six CNN training steps allocated {during} blocks");
    assert!(session.read(loss).unwrap()[0].is_finite());
}

/// A small CNN (convolution, batch norm, ReLU, max pooling, linear) with Adam, its batches
/// of 64 gathered from 1,024 byte images held in the session.
fn held_cnn() -> (Box<dyn backprop::Session>, backprop::NodeId) {
    use backprop::conv::{Conv2d as Options, Pool2d};
    use backprop::data::Dataset;
    use backprop::nn::{BatchNorm2d, Conv2d, Flatten, Init, Layer, Linear, MaxPool2d, Sequential, Unflatten};
    use backprop::{init, Device, Graph, Optimizer};
    let images: Vec<f32> = (0..1024 * 784).map(|i| (i * 37 % 256) as f32 / 255.0).collect();
    let labels: Vec<u8> = (0..1024).map(|i| (i * 7 % 10) as u8).collect();
    let data = Dataset::new(images, labels, 784).unwrap();
    let mut rng = init::rng(0);
    let model = Sequential::new()
        .with(Unflatten(vec![1, 28, 28]))
        .with(Conv2d::new(1, 8, [3, 3], Options { padding: [1, 1], ..Options::default() }, &mut rng).unwrap())
        .with(BatchNorm2d::new(8).unwrap())
        .with(Layer::Relu)
        .with(MaxPool2d(Pool2d::square(2)))
        .with(Flatten)
        .with(Linear::new(8 * 14 * 14, 10, Init::PyTorch, &mut rng).unwrap());
    let mut g = Graph::new();
    let batches = g.device_batches(&data, 64).unwrap();
    let out = model.record(&mut g, batches.x).unwrap().output;
    let loss = g.softmax_cross_entropy(out, batches.y).unwrap();
    let grads = g.backward(loss).unwrap();
    g.optimize(&grads, Optimizer::adam(1e-3)).unwrap();
    let mut session = Device::Cpu.compile(&g, &[loss]).unwrap();
    batches.upload(session.as_mut(), &data).unwrap();
    let order: Vec<usize> = (0..1024).map(|i| i * 7 % 1024).collect();
    batches.start_epoch(session.as_mut(), &order).unwrap();
    (session, loss)
}
