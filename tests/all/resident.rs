//! Batches gathered on the device from a resident data set against the host-fed path:
//! the same values bit for bit (bytes and f32 storage, a partial last batch), training
//! that ends with the same parameters, many steps per submission equal to one at a time,
//! and clear errors for orders and data that do not fit.

use backprop::data::Dataset;
use backprop::nn::{Init, Layer, Sequential};
use backprop::resident::Encoding;
use backprop::{init, CompileOptions, Device, Error, Graph, Optimizer};

/// Ten samples of seven values in three classes: bytes over 255 (`bytes`), or values no
/// byte gives.
fn data(bytes: bool) -> Dataset {
    let images: Vec<f32> = (0..70u32)
        .map(|i| {
            let byte = (i * 37 % 256) as f32 / 255.0;
            if bytes {
                byte
            } else {
                byte * 0.7 - 0.3
            }
        })
        .collect();
    let labels = (0..10u8).map(|i| i * 7 % 3).collect();
    Dataset::with_classes(images, labels, 7, 3).unwrap()
}

const ORDER: [usize; 10] = [3, 9, 0, 4, 7, 1, 8, 2, 6, 5];

pub fn gathered_batches_equal_host_batches(device: &Device) {
    // Images and targets in one launch (fused, the default) and in one launch each.
    for (bytes, fuse) in [(true, true), (false, true), (true, false), (false, false)] {
        let data = data(bytes);
        let mut g = Graph::new();
        let batches = g.device_batches(&data, 4).unwrap();
        let expected = if bytes { Encoding::Bytes } else { Encoding::F32 };
        assert_eq!(batches.encoding, expected);
        let options = CompileOptions { fuse, ..Default::default() };
        let mut session = device.compile_with(&g, &[batches.x, batches.y], options).unwrap();
        // Counter, gathers: three launches unfused, two fused.
        assert_eq!(session.launches_per_step(), if fuse { 2 } else { 3 });
        batches.upload(session.as_mut(), &data).unwrap();
        // Two epochs: the count restarts with each order.
        for _ in 0..2 {
            batches.start_epoch(session.as_mut(), &ORDER).unwrap();
            assert_eq!(batches.steps_per_epoch(), 3);
            for chunk in ORDER.chunks(4) {
                let got = session.run_and_read(&[batches.x, batches.y]).unwrap();
                let (mut x, mut y) = (vec![0.0; 4 * 7], vec![0.0; 4 * 3]);
                data.fill_batch(chunk, &mut x, &mut y).unwrap();
                let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&got[0]), bits(&x), "images of samples {chunk:?} (bytes: {bytes})");
                assert_eq!(got[1], y, "targets of samples {chunk:?}");
            }
        }
    }
}

/// The parameters after two epochs of an MLP with Adam, fed by the host or gathered on
/// the device (`resident`), with `per_submission` steps per submission.
fn train(device: &Device, resident: bool, per_submission: usize) -> Vec<Vec<f32>> {
    let data = data(true);
    let model = Sequential::mlp(&[7, 5, 3], Layer::Relu, Init::PyTorch, &mut init::rng(4)).unwrap();
    let mut g = Graph::new();
    let (x, y, batches) = if resident {
        let b = g.device_batches(&data, 4).unwrap();
        (b.x, b.y, Some(b))
    } else {
        (g.input("x", [4, 7]).unwrap(), g.input("y", [4, 3]).unwrap(), None)
    };
    let out = model.record(&mut g, x).unwrap().output;
    let loss = g.softmax_cross_entropy(out, y).unwrap();
    let grads = g.backward(loss).unwrap();
    g.optimize(&grads, Optimizer::adam(0.05)).unwrap();
    let params = g.parameters();
    let mut session = device.compile(&g, &[loss]).unwrap();
    if let Some(b) = &batches {
        b.upload(session.as_mut(), &data).unwrap();
    }
    for _ in 0..2 {
        match &batches {
            Some(b) => {
                b.start_epoch(session.as_mut(), &ORDER).unwrap();
                let mut left = b.steps_per_epoch();
                while left > 0 {
                    let n = per_submission.min(left);
                    session.run_steps(n).unwrap();
                    left -= n;
                }
            }
            None => {
                for chunk in ORDER.chunks(4) {
                    let (mut xs, mut ys) = (vec![0.0; 4 * 7], vec![0.0; 4 * 3]);
                    data.fill_batch(chunk, &mut xs, &mut ys).unwrap();
                    session.write(x, &xs).unwrap();
                    session.write(y, &ys).unwrap();
                    session.run().unwrap();
                }
            }
        }
    }
    session.read_many(&params).unwrap()
}

pub fn training_on_gathered_batches_equals_host_fed(device: &Device) {
    let host = train(device, false, 1);
    assert_eq!(train(device, true, 1), host, "one step per submission");
    assert_eq!(train(device, true, 3), host, "a whole epoch per submission");
    let untrained = Sequential::mlp(&[7, 5, 3], Layer::Relu, Init::PyTorch, &mut init::rng(4)).unwrap();
    let first = untrained.parameters()[0].values.to_vec();
    assert_ne!(host[0], first, "the parameters moved");
}

pub fn orders_and_data_that_do_not_fit_are_errors(device: &Device) {
    let data = data(true);
    let mut g = Graph::new();
    let batches = g.device_batches(&data, 4).unwrap();
    let mut session = device.compile(&g, &[batches.x]).unwrap();
    let invalid = |r: backprop::Result<()>| matches!(r, Err(Error::InvalidArgument { .. }));
    assert!(invalid(batches.start_epoch(session.as_mut(), &ORDER[..9])), "too short");
    assert!(invalid(batches.start_epoch(session.as_mut(), &[10, 0, 1, 2, 3, 4, 5, 6, 7, 8])), "out of range");
    assert!(invalid(batches.upload(session.as_mut(), &data.split_at(5).0)), "fewer samples");
    // Recorded for bytes, given values that are not: an error, not a silent rounding.
    assert!(invalid(batches.upload(session.as_mut(), &self::data(false))), "not bytes");
    assert!(invalid(g.device_batches(&data, 0).map(|_| ())), "a batch of 0");
    // An order written directly with an index past the data set gathers a zero row (no
    // panic, no stray memory), the same on both backends.
    let mut session = device.compile(&g, &[batches.x, batches.y]).unwrap();
    batches.upload(session.as_mut(), &data).unwrap();
    batches.start_epoch(session.as_mut(), &ORDER).unwrap();
    session.write(batches.order, &[10.0, 2.0, 1e9, 0.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]).unwrap();
    let got = session.run_and_read(&[batches.x, batches.y]).unwrap();
    let row = |v: &Vec<f32>, r: usize, w: usize| v[r * w..(r + 1) * w].to_vec();
    assert_eq!(row(&got[0], 0, 7), vec![0.0; 7], "index 10 of 10 samples");
    assert_eq!(row(&got[0], 2, 7), vec![0.0; 7], "index 1e9");
    assert_eq!(row(&got[0], 1, 7), data.images()[2 * 7..3 * 7].to_vec(), "index 2");
    assert_eq!(row(&got[0], 3, 7), data.images()[..7].to_vec(), "index 0");
    assert_eq!(row(&got[1], 0, 3), vec![0.0; 3], "no target for index 10");
    let many = g.device_batches_as(1 << 25, 4, 2, 8, Encoding::F32);
    assert!(invalid(many.map(|_| ())), "more samples than f32 indexes exactly");
}
