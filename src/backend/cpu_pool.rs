//! The CPU backend's threads: helpers that spin between a step's parallel sections.
//!
//! A training step alternates parallel sections (a product's two halves, a batch's
//! rows, Adam's chunks) with short serial ones (an epilogue, a loss). A thread pool whose
//! idle workers go to sleep pays a wake-up per section: on a 2-core virtual machine a
//! rayon `join` of two 20 µs halves took 60–190 µs (40–170 µs more than the halves)
//! after 50 µs–1 ms of serial work. The helpers a section asks for spin for [`SPIN`]
//! after it before they park, so a section that follows within a step starts at once; a
//! section after a longer pause unparks them.
//!
//! [`for_parts`] runs `parts` calls `f(0..parts)` on the calling thread and the helpers,
//! each part exactly once, and returns when all are done. How many threads take part
//! never changes what a part computes, so results do not depend on it; it is at most
//! rayon's `current_num_threads()` (so `RAYON_NUM_THREADS` or an installed rayon pool
//! limits it, as the tests do), and 1 inside a part or while another thread's section
//! holds the helpers.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// How long a helper spins for the next section before it parks.
const SPIN: Duration = Duration::from_millis(2);

/// A section's work: the parts' function, erased to be shared with the helpers.
type Job = &'static (dyn Fn(usize) + Sync);

/// What the helpers and the calling thread share about the current section.
struct Shared {
    /// Bumped to announce a section; helpers remember the last one they looked at.
    generation: AtomicUsize,
    job: Mutex<Option<(Job, usize)>>,
    /// The next part to take.
    next: AtomicUsize,
    /// Helpers asked into the current section: those numbered below it.
    invited: AtomicUsize,
    /// Helper places in the current section not yet taken.
    wanted: AtomicUsize,
    /// Places taken or not whose helper has not finished: the section ends at 0.
    busy: AtomicUsize,
    panicked: AtomicBool,
}

/// The helper threads, and the lock a thread holds while it runs a section.
struct Pool {
    shared: &'static Shared,
    helpers: Vec<Thread>,
    section: Mutex<()>,
}

static POOL: OnceLock<Pool> = OnceLock::new();

thread_local! {
    /// Whether this thread is inside a part (a helper, or a caller running its share).
    static IN_PART: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The pool, its helpers started on first use: one fewer than the cores, or than
/// `RAYON_NUM_THREADS` when that is set and smaller.
fn pool() -> &'static Pool {
    POOL.get_or_init(|| {
        let shared: &'static Shared = Box::leak(Box::new(Shared {
            generation: AtomicUsize::new(0),
            job: Mutex::new(None),
            next: AtomicUsize::new(0),
            wanted: AtomicUsize::new(0),
            invited: AtomicUsize::new(0),
            busy: AtomicUsize::new(0),
            panicked: AtomicBool::new(false),
        }));
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let asked = std::env::var("RAYON_NUM_THREADS").ok().and_then(|v| v.parse().ok()).filter(|&n: &usize| n > 0);
        let count = asked.map_or(cores, |n| n.min(cores)).saturating_sub(1);
        let spawn = |i| std::thread::Builder::new().name(format!("backprop-cpu-{i}")).spawn(move || help(shared, i));
        // A helper the system refuses to start is one fewer; the work still gets done.
        let helpers = (0..count).filter_map(|i| spawn(i).ok().map(|h| h.thread().clone())).collect();
        Pool { shared, helpers, section: Mutex::new(()) }
    })
}

/// Locks `m`, whatever a panic elsewhere left in it (its contents stay consistent: each
/// is one value written whole).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A helper's life: wait for a section (spinning, then parked), take parts, repeat.
fn help(pool: &'static Shared, index: usize) {
    IN_PART.with(|p| p.set(true));
    let mut seen = 0;
    // Only helpers a section asks for keep spinning: one numbered past what recent
    // sections asked for keeps its earlier deadline and parks, so a machine with many
    // cores does not keep them all busy for sections that use one or two.
    let mut spin_until = Instant::now();
    loop {
        let generation = loop {
            let now = pool.generation.load(Ordering::Acquire);
            if now != seen {
                break now;
            }
            if Instant::now() < spin_until {
                std::hint::spin_loop();
            } else {
                std::thread::park_timeout(Duration::from_millis(100));
            }
        };
        seen = generation;
        // Join the section if a place is still open. `wanted` never goes below 0, so only
        // the caller's store opens places and its swap closes exactly the untaken ones.
        if index < pool.invited.load(Ordering::Acquire) {
            spin_until = Instant::now() + SPIN;
        }
        if pool.wanted.fetch_update(Ordering::AcqRel, Ordering::Acquire, |w| w.checked_sub(1)).is_err() {
            continue;
        }
        let job = *lock(&pool.job);
        if let Some((f, parts)) = job {
            take_parts(pool, f, parts);
        }
        pool.busy.fetch_sub(1, Ordering::AcqRel);
        spin_until = Instant::now() + SPIN;
    }
}

/// Runs parts until none are left, recording a panic instead of unwinding.
fn take_parts(pool: &Shared, f: Job, parts: usize) {
    loop {
        let part = pool.next.fetch_add(1, Ordering::AcqRel);
        if part >= parts {
            return;
        }
        if catch_unwind(AssertUnwindSafe(|| f(part))).is_err() {
            pool.panicked.store(true, Ordering::Release);
        }
    }
}

/// Runs `f(part)` for every part in `0..parts`, across this thread and the idle helpers.
///
/// # Panics
///
/// When `f` panicked in a part (after every part has run or been abandoned).
pub fn for_parts(parts: usize, f: impl Fn(usize) + Sync) {
    let threads = rayon::current_num_threads().min(parts);
    if threads <= 1 || IN_PART.with(|p| p.get()) {
        return (0..parts).for_each(f);
    }
    let Pool { shared, helpers, section } = pool();
    let _section = match section.try_lock() {
        Ok(guard) => guard,
        Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
        Err(std::sync::TryLockError::WouldBlock) => return (0..parts).for_each(f),
    };
    let count = helpers.len().min(threads - 1);
    if count == 0 {
        return (0..parts).for_each(f);
    }
    let f: &(dyn Fn(usize) + Sync) = &f;
    // SAFETY: the job is cleared and every helper that took a place has finished before
    // this function returns, so the erased lifetime never outlives `f`.
    let job: Job = unsafe { std::mem::transmute::<&(dyn Fn(usize) + Sync), Job>(f) };
    *lock(&shared.job) = Some((job, parts));
    shared.next.store(0, Ordering::Release);
    shared.panicked.store(false, Ordering::Release);
    shared.busy.store(count, Ordering::Release);
    shared.wanted.store(count, Ordering::Release);
    shared.invited.store(count, Ordering::Release);
    shared.generation.fetch_add(1, Ordering::AcqRel);
    helpers.iter().take(count).for_each(Thread::unpark);
    IN_PART.with(|p| p.set(true));
    take_parts(shared, job, parts);
    IN_PART.with(|p| p.set(false));
    // Places no helper took before the parts ran out are closed, and count as finished.
    let untaken = shared.wanted.swap(0, Ordering::AcqRel);
    shared.busy.fetch_sub(untaken, Ordering::AcqRel);
    while shared.busy.load(Ordering::Acquire) != 0 {
        std::hint::spin_loop();
    }
    *lock(&shared.job) = None;
    if shared.panicked.load(Ordering::Acquire) {
        resume_unwind(Box::new("a part of a parallel CPU kernel panicked"));
    }
}

/// Runs `a` and `b` at once (see [`for_parts`]) and returns both results.
pub fn join<A: FnOnce() -> RA + Send, B: FnOnce() -> RB + Send, RA: Send, RB: Send>(a: A, b: B) -> (RA, RB) {
    let (a, b) = (Mutex::new(Some(a)), Mutex::new(Some(b)));
    let (ra, rb) = (Mutex::new(None), Mutex::new(None));
    for_parts(2, |part| {
        if part == 0 {
            if let Some(a) = lock(&a).take() {
                *lock(&ra) = Some(a());
            }
        } else if let Some(b) = lock(&b).take() {
            *lock(&rb) = Some(b());
        }
    });
    (result(ra), result(rb))
}

/// The value a part left in `slot`.
fn result<R>(slot: Mutex<Option<R>>) -> R {
    slot.into_inner().unwrap_or_else(|e| e.into_inner()).expect("each part ran once")
}

/// A slice whose disjoint chunks the parts of one section write, each through
/// [`Parts::chunk`].
pub struct Parts<'a> {
    ptr: *mut f32,
    len: usize,
    _slice: std::marker::PhantomData<&'a mut [f32]>,
}

// SAFETY: the parts write disjoint chunks (the contract of `chunk`).
unsafe impl Send for Parts<'_> {}
unsafe impl Sync for Parts<'_> {}

impl<'a> Parts<'a> {
    /// Borrows `slice` for one section.
    pub fn new(slice: &'a mut [f32]) -> Self {
        Parts { ptr: slice.as_mut_ptr(), len: slice.len(), _slice: std::marker::PhantomData }
    }

    /// Chunk `i` of `size` values (shorter at the end).
    ///
    /// # Safety
    ///
    /// No two live chunks of one `Parts` may overlap: each `i` is taken once, with one size.
    #[allow(clippy::mut_from_ref)] // disjoint chunks, as the contract says
    pub unsafe fn chunk(&self, i: usize, size: usize) -> &'a mut [f32] {
        let start = i.saturating_mul(size).min(self.len);
        std::slice::from_raw_parts_mut(self.ptr.add(start), size.min(self.len - start))
    }
}

#[cfg(test)]
mod tests {
    use super::{for_parts, join};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Each part exactly once, with sections nested inside parts and run from several
    /// threads at once.
    #[test]
    fn every_part_runs_once() {
        let runs: Vec<AtomicUsize> = (0..1000).map(|_| AtomicUsize::new(0)).collect();
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| {
                    for _ in 0..50 {
                        for_parts(runs.len(), |i| {
                            for_parts(2, |_| ());
                            runs[i].fetch_add(1, Ordering::Relaxed);
                        });
                    }
                });
            }
        });
        assert!(runs.iter().all(|r| r.load(Ordering::Relaxed) == 150));
        assert_eq!(join(|| 1, || "two"), (1, "two"));
    }

    /// No part is still running when its section returns, even when helpers arrive late
    /// (parts of uneven length, sections back to back, several callers).
    #[test]
    fn sections_end_after_their_last_part() {
        std::thread::scope(|s| {
            for seed in 0..3u64 {
                s.spawn(move || {
                    // This caller's parts only.
                    let in_flight = &AtomicUsize::new(0);
                    for round in 0..300u64 {
                        let pause = |part: u64| {
                            in_flight.fetch_add(1, Ordering::SeqCst);
                            let micros = (round * 7 + part * 13 + seed * 5) % 40;
                            std::thread::sleep(std::time::Duration::from_micros(micros));
                            in_flight.fetch_sub(1, Ordering::SeqCst);
                        };
                        join(|| pause(0), || pause(1));
                        for_parts(3, |i| pause(i as u64 + 2));
                        assert_eq!(in_flight.load(Ordering::SeqCst), 0, "a part outlived its section");
                    }
                });
            }
        });
    }

    /// A part that panics makes the section panic once the others are done, and the
    /// helpers serve the next section.
    #[test]
    fn a_panicking_part_panics_the_section_and_leaves_the_pool_working() {
        let failed = std::panic::catch_unwind(|| for_parts(8, |i| assert!(i != 5, "part 5")));
        assert!(failed.is_err());
        let sum = AtomicUsize::new(0);
        for_parts(100, |i| {
            sum.fetch_add(i, Ordering::Relaxed);
        });
        assert_eq!(sum.into_inner(), 4950);
    }
}
