//! A CPU training step allocates nothing: every value has its slot from compile time, the
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
}
