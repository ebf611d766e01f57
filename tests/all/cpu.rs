//! The CPU backend as the reference: its products, elementwise loops, sums and updates
//! split across cores, and its results must not depend on how many threads it has
//! (capped by the rayon pool the session runs in).

use crate::held_mlp::held_mlp;

/// Three Adam steps of the MLP 784-128-64-10 at batch 600 (products, elementwise loops,
/// the batch gather and softmax cross-entropy all past the sizes split across cores), the
/// batches gathered from a byte data set held in the session, run in a pool of `threads`
/// threads: each step's loss, then every parameter.
fn train_with(threads: usize) -> Vec<Vec<f32>> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    pool.install(|| {
        let mut mlp = held_mlp(1500, 600);
        let mut values = Vec::new();
        for _ in 0..3 {
            mlp.session.run().unwrap();
            values.push(mlp.session.read(mlp.loss).unwrap());
        }
        values.extend(mlp.session.read_many(&mlp.parameters).unwrap());
        values
    })
}

pub fn results_do_not_depend_on_the_thread_count() {
    let one = train_with(1);
    assert_eq!(one, train_with(2), "one thread against two");
    assert_eq!(one, train_with(4), "one thread against four");
}

/// A convolution block's output and the gradients of its image, weights and bias
/// (images split across parts, the weight gradient by ranges of taps, pooling by planes):
/// `[c_in, c_out]` channels in `groups` groups, run in a pool of `threads` threads.
fn convolve_with(threads: usize, [c_in, c_out]: [usize; 2], groups: usize) -> Vec<Vec<f32>> {
    use backprop::conv::{Conv2d, Pool2d};
    use backprop::{Device, Graph};
    let values =
        |len: usize, seed: usize| (0..len).map(move |i| ((i * 7919 + seed * 104_729) % 2003) as f32 / 1001.5 - 1.0);
    let mut g = Graph::new();
    let x = g.parameter("x", [40, c_in, 13, 11], values(40 * c_in * 13 * 11, 1).collect()).unwrap();
    let per_group = c_in / groups;
    let w = g.parameter("w", [c_out, per_group, 3, 3], values(c_out * per_group * 9, 2).collect()).unwrap();
    let b = g.parameter("b", [c_out], values(c_out, 3).collect()).unwrap();
    let o = Conv2d { padding: [1, 1], groups, ..Conv2d::default() };
    let y = g.conv2d(x, w, Some(b), o).unwrap();
    let y = g.relu(y).unwrap();
    let y = g.max_pool2d(y, Pool2d::square(2)).unwrap();
    let cot = g.constant(g.shape(y).unwrap(), values(g.shape(y).unwrap().len(), 4).collect()).unwrap();
    let grads = g.backward_from(y, cot).unwrap();
    let keep = [y, grads.get(x).unwrap(), grads.get(w).unwrap(), grads.get(b).unwrap()];
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    pool.install(|| Device::Cpu.compile_inference(&g, &keep).unwrap().run_and_read(&keep).unwrap())
}

pub fn convolutions_do_not_depend_on_the_thread_count() {
    // Im2col products (groups) and Winograd's tiles (3×3, channels in sixteens).
    for (channels, groups) in [([6, 70], 2), ([32, 48], 1)] {
        let one = convolve_with(1, channels, groups);
        assert_eq!(one, convolve_with(2, channels, groups), "one thread against two, {channels:?}");
        assert_eq!(one, convolve_with(3, channels, groups), "one thread against three, {channels:?}");
    }
}
