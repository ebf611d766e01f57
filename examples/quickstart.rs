//! The README's first example: the path a newcomer needs first. A `Sequential` MLP trained
//! by a `Classifier` on the Fashion-MNIST split shipped in `data/`, evaluated, and saved
//! as a checkpoint PyTorch loads.
//!
//! cargo run --release --example quickstart

use backprop::classifier::Classifier;
use backprop::data::Dataset;
use backprop::nn::{Init, Layer, Sequential};
use backprop::{checkpoint, init, Device, Optimizer};

fn main() -> anyhow::Result<()> {
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data"); // the shipped split
    let all = Dataset::load(&data.join("t10k-images-idx3-ubyte.gz"), &data.join("t10k-labels-idx1-ubyte.gz"))?;
    let (train, test) = all.split_at(8000);
    let model = Sequential::mlp(&[784, 128, 64, 10], Layer::Relu, Init::PyTorch, &mut init::rng(0))?;
    let mut classifier = Classifier::new(&Device::best(), model, Optimizer::adam(1e-3), 64, 1000)?;
    for epoch in 1..=3 {
        let stats = classifier.train_epoch(&train, &mut init::epoch_rng(0, epoch), |_| {})?;
        let eval = classifier.evaluate(&test)?;
        println!("epoch {epoch}: train loss {:.3}, test accuracy {:.3}", stats.mean_loss, eval.accuracy);
    }
    checkpoint::save("quickstart.safetensors".as_ref(), &classifier.model()?.state_dict())?;
    Ok(())
}
