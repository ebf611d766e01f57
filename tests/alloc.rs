//! A CPU training step allocates nothing: every value has its slot from compile time, the
//! product's packing buffer and the helper threads are made once. Counted by a global
//! allocator, in a binary of its own so that no other test allocates meanwhile.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use backprop::nn::{Init, Layer, Sequential};
use backprop::{data::Dataset, init, Device, Graph, Optimizer};

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
    let (samples, batch) = (1024, 256);
    let images: Vec<f32> = (0..samples * 784).map(|i| (i * 7 % 256) as f32 / 255.0).collect();
    let labels: Vec<u8> = (0..samples).map(|i| (i % 10) as u8).collect();
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
    let order: Vec<usize> = (0..samples).rev().collect();
    batches.start_epoch(session.as_mut(), &order).unwrap();
    // The first steps start the helper threads and grow the packing buffers.
    session.run_steps(2).unwrap();
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    session.run_steps(6).unwrap();
    let during = ALLOCATIONS.load(Ordering::Relaxed) - before;
    assert_eq!(during, 0, "six training steps allocated {during} blocks");
    assert!(session.read(loss).unwrap()[0].is_finite());
}
