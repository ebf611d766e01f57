//! Data-parallel training without MPI: a world of one rank (whose all-reduce and broadcast
//! change nothing) must train exactly as the plain session does, batch norm's running
//! statistics (state the forward pass updates) included. The two-rank proof runs under
//! `mpirun` (`tests/mpi`).

use backprop::data_parallel::{Collective, DataParallel};
use backprop::nn::{BatchNorm, Init, Layer, Linear, Sequential};
use backprop::{init, Device, Graph, Optimizer};

struct One;

impl Collective for One {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn all_reduce_sum(&self, _: &mut [f32]) -> backprop::Result<()> {
        Ok(())
    }
    fn broadcast(&self, _: &mut [f32]) -> backprop::Result<()> {
        Ok(())
    }
}

fn model(batch_norm: bool) -> Sequential {
    let mut rng = init::rng(3);
    let mut net = Sequential::new().with(Layer::Linear(Linear::new(6, 5, Init::PyTorch, &mut rng).unwrap()));
    if batch_norm {
        net = net.with(BatchNorm::new(5).unwrap());
    }
    net.with(Layer::Tanh).with(Layer::Linear(Linear::new(5, 3, Init::PyTorch, &mut rng).unwrap()))
}

pub fn one_rank_trains_exactly_as_one_session(device: &Device) {
    same_as_one_session(device, false);
}

pub fn batch_norm_statistics_train_as_in_one_session(device: &Device) {
    same_as_one_session(device, true);
}

fn same_as_one_session(device: &Device, batch_norm: bool) {
    let (x_data, t_data): (Vec<f32>, Vec<f32>) = (
        (0..48).map(|i| (i as f32 * 0.37).sin()).collect(),
        (0..24).map(|i| f32::from(u8::from(i % 3 == 0))).collect(),
    );
    let record = |data_parallel: bool| {
        let mut g = Graph::new();
        let x = g.input("x", [8, 6]).unwrap();
        let t = g.input("t", [8, 3]).unwrap();
        let logits = model(batch_norm).record(&mut g, x).unwrap().output;
        let loss = g.softmax_cross_entropy(logits, t).unwrap();
        let grads = g.backward(loss).unwrap();
        let inputs = data_parallel.then(|| g.gradient_inputs(&grads).unwrap());
        g.optimize(inputs.as_ref().map_or(&grads, |i| &i.gradients), Optimizer::adam(0.01)).unwrap();
        (g, x, t, loss, inputs)
    };
    let (g, x, t, loss, _) = record(false);
    let mut plain = device.compile(&g, &[loss]).unwrap();
    plain.write(x, &x_data).unwrap();
    plain.write(t, &t_data).unwrap();
    let (dg, dx, dt, dloss, inputs) = record(true);
    let inputs = inputs.unwrap();
    let mut dp = DataParallel::new(&One, device, &dg, &inputs, &[dloss]).unwrap();
    dp.session().write(dx, &x_data).unwrap();
    dp.session().write(dt, &t_data).unwrap();
    for _ in 0..5 {
        plain.run().unwrap();
        dp.step().unwrap();
    }
    // Both graphs recorded the same parameters (and states) in the same order.
    assert_eq!(dp.parameters().unwrap(), plain.read_many(&g.parameters()).unwrap(), "the same bits after 5 Adam steps");
    if batch_norm {
        for name in ["1.running_mean", "1.running_var"] {
            let (ours, theirs) = (dg.find(name).unwrap(), g.find(name).unwrap());
            assert_eq!(dp.session().read(ours).unwrap(), plain.read(theirs).unwrap(), "{name} after 5 steps");
        }
    }
}
