//! Checkpoints: round trip, PyTorch names and shapes, strict loading, atomic writes.

use backprop::checkpoint::{self, Tensor};
use backprop::nn::{Init, Layer, Sequential};
use backprop::{init, Error};

fn mlp(seed: u64) -> Sequential {
    Sequential::mlp(&[784, 128, 64, 10], Layer::Relu, Init::PyTorch, &mut init::rng(seed)).unwrap()
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    // Unique per call: a test run once per backend, in parallel, gets two directories.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("backprop-test-{name}-{}-{call}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn round_trip_with_pytorch_names_and_shapes() {
    let dir = temp_dir("roundtrip");
    let path = dir.join("model.safetensors");
    let saved = mlp(1);
    checkpoint::save(&path, &saved.state_dict()).unwrap();
    let tensors = checkpoint::load(&path).unwrap();
    let names: Vec<(&str, &[usize])> = tensors.iter().map(|t| (t.name.as_str(), t.shape.as_slice())).collect();
    assert_eq!(
        names,
        vec![
            ("0.bias", &[128][..]),
            ("0.weight", &[128, 784][..]),
            ("2.bias", &[64][..]),
            ("2.weight", &[64, 128][..]),
            ("4.bias", &[10][..]),
            ("4.weight", &[10, 64][..]),
        ]
    );
    let mut loaded = mlp(2);
    assert_ne!(loaded, saved);
    loaded.load_state_dict(&tensors, &path).unwrap();
    assert_eq!(loaded, saved);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temporary file is left behind");
    std::fs::remove_dir_all(dir).unwrap();
}

/// A layer norm's weight and bias are vectors in PyTorch, `[features]`, and load back.
pub fn layer_norms_have_pytorch_shapes() {
    use backprop::nn::{Layer, LayerNorm, Linear};
    let mut rng = backprop::init::rng(3);
    let linear = Linear::new(2, 16, backprop::nn::Init::PyTorch, &mut rng).unwrap();
    let mut model = Sequential::from(vec![Layer::Linear(linear), Layer::LayerNorm(LayerNorm::new(16).unwrap())]);
    let shapes: Vec<(String, Vec<usize>)> = model.state_dict().into_iter().map(|t| (t.name, t.shape)).collect();
    let expected = [("0.weight", vec![16, 2]), ("0.bias", vec![16]), ("1.weight", vec![16]), ("1.bias", vec![16])];
    assert_eq!(shapes, expected.map(|(n, s)| (n.to_owned(), s)));
    let mut tensors = model.state_dict();
    tensors[2].values[0] = 2.5;
    model.load_state_dict(&tensors, std::path::Path::new("memory")).unwrap();
    assert!(
        matches!(model.layers[1].as_any().downcast_ref::<Layer>(), Some(Layer::LayerNorm(n)) if n.weight[0] == 2.5)
    );
    assert!(LayerNorm::new(0).is_err());
}

pub fn strict_loading_rejects_missing_unexpected_and_misshapen() {
    let mut model = mlp(1);
    let before = model.clone();
    let good = model.state_dict();
    let path = std::path::Path::new("test.safetensors");

    let missing: Vec<Tensor> = good.iter().filter(|t| t.name != "2.weight").cloned().collect();
    let err = model.load_state_dict(&missing, path).unwrap_err().to_string();
    assert!(err.contains("missing 2.weight [64, 128]"), "{err}");

    let mut misshapen = good.clone();
    misshapen[0] = Tensor { name: "0.weight".into(), shape: vec![784, 128], values: misshapen[0].values.clone() };
    let err = model.load_state_dict(&misshapen, path).unwrap_err().to_string();
    assert!(err.contains("0.weight has shape [784, 128], expected [128, 784]"), "{err}");

    let mut extra = good.clone();
    extra.push(Tensor { name: "6.weight".into(), shape: vec![1], values: vec![0.0] });
    let err = model.load_state_dict(&extra, path).unwrap_err().to_string();
    assert!(err.contains("unexpected 6.weight"), "{err}");
    assert_eq!(model, before, "a failed load changes nothing");
}

pub fn unreadable_files_are_errors() {
    let dir = temp_dir("bad");
    let path = dir.join("garbage.safetensors");
    std::fs::write(&path, b"not a checkpoint").unwrap();
    assert!(matches!(checkpoint::load(&path), Err(Error::Format { .. })));
    assert!(matches!(checkpoint::load(&dir.join("absent.safetensors")), Err(Error::Io { .. })));
    // Saving into a directory that does not exist fails without creating anything.
    assert!(checkpoint::save(&dir.join("no/such/dir/m.safetensors"), &mlp(1).state_dict()).is_err());
    std::fs::remove_dir_all(dir).unwrap();
}
