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
