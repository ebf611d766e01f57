//! Byte-level mutation tests of everything that reads files: the IDX reader (plain and
//! gzip), the checkpoint loader and the training-state loader. Seeds are real files (the
//! shipped Fashion-MNIST test split, checkpoints this crate writes); each case applies a
//! few random edits and requires an `Ok` or an `Err` quickly, never a panic, an abort or
//! a hang. Fixed seeds, so a failure reproduces.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use backprop::checkpoint;
use backprop::classifier::Classifier;
use backprop::data::{idx, Dataset};
use backprop::nn::{Init, Layer, Sequential};
use backprop::resume::{self, TrainingState};
use backprop::{init, Device, Optimizer};
use proptest::prelude::*;

/// One edit of a byte string; positions wrap around its length.
#[derive(Clone, Debug)]
enum Edit {
    FlipBit(usize, u8),
    SetByte(usize, u8),
    /// A big-endian u32 at a position: where IDX dimensions and safetensors lengths live.
    SetWord(usize, u32),
    Truncate(usize),
    Insert(usize, Vec<u8>),
    Repeat(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let word = prop_oneof![Just(0u32), Just(1), Just(u32::MAX), Just(1 << 31), any::<u32>()];
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(p, b)| Edit::FlipBit(p, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Edit::SetByte(p, b)),
        (any::<usize>(), word).prop_map(|(p, w)| Edit::SetWord(p, w)),
        any::<usize>().prop_map(Edit::Truncate),
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..16)).prop_map(|(p, b)| Edit::Insert(p, b)),
        (any::<usize>(), 1usize..64).prop_map(|(p, n)| Edit::Repeat(p, n)),
    ]
}

fn apply(seed: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for edit in edits {
        let at = |p: usize, len: usize| if len == 0 { 0 } else { p % len };
        let len = bytes.len();
        match edit {
            Edit::FlipBit(p, b) if len > 0 => bytes[at(*p, len)] ^= 1 << b,
            Edit::SetByte(p, v) if len > 0 => bytes[at(*p, len)] = *v,
            Edit::SetWord(p, w) if len >= 4 => {
                let p = at(*p, len - 3);
                bytes[p..p + 4].copy_from_slice(&w.to_be_bytes());
            }
            Edit::Truncate(p) => bytes.truncate(at(*p, len + 1)),
            Edit::Insert(p, extra) => {
                let p = at(*p, len + 1);
                bytes.splice(p..p, extra.iter().copied());
            }
            Edit::Repeat(p, n) if len > 0 => {
                let p = at(*p, len);
                let chunk: Vec<u8> = bytes[p..(p + n).min(len)].to_vec();
                bytes.splice(p..p, chunk);
            }
            _ => {}
        }
    }
    bytes
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// The real test split's first 16 images and labels, as plain and gzip IDX files, and the
/// real (whole) labels file.
fn idx_seeds() -> &'static [(Vec<u8>, usize)] {
    static SEEDS: OnceLock<Vec<(Vec<u8>, usize)>> = OnceLock::new();
    SEEDS.get_or_init(read_idx_seeds)
}

fn read_idx_seeds() -> Vec<(Vec<u8>, usize)> {
    let real = Dataset::load(Path::new("data/t10k-images-idx3-ubyte.gz"), Path::new("data/t10k-labels-idx1-ubyte.gz"))
        .unwrap();
    let pixels: Vec<u8> = real.images()[..16 * 784].iter().map(|p| (p * 255.0).round() as u8).collect();
    let images = idx::encode(&[16, 28, 28], &pixels);
    let labels = idx::encode(&[16], &real.labels()[..16]);
    let real_labels = std::fs::read("data/t10k-labels-idx1-ubyte.gz").unwrap();
    vec![(gzip(&images), 3), (images, 3), (gzip(&labels), 1), (labels, 1), (real_labels, 1)]
}

fn small_model(seed: u64) -> Sequential {
    Sequential::mlp(&[20, 8, 10], Layer::Relu, Init::PyTorch, &mut init::rng(seed)).unwrap()
}

/// A directory of this test process, for the files the cases read.
fn fuzz_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("backprop-fuzz-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A real checkpoint's path and bytes, written once.
fn seed_checkpoint() -> &'static (PathBuf, Vec<u8>) {
    static SEED: OnceLock<(PathBuf, Vec<u8>)> = OnceLock::new();
    SEED.get_or_init(|| {
        let path = fuzz_dir("ckpt").join("seed.safetensors");
        checkpoint::save(&path, &small_model(1).state_dict()).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        (path, bytes)
    })
}

fn adam_classifier() -> Classifier {
    Classifier::new(&Device::Cpu, small_model(1), Optimizer::adam(1e-3), 4, 4).unwrap()
}

/// A model file with its training state beside it, written once, and the state's bytes.
fn seed_state() -> &'static (PathBuf, Vec<u8>) {
    static SEED: OnceLock<(PathBuf, Vec<u8>)> = OnceLock::new();
    SEED.get_or_init(|| {
        let path = fuzz_dir("state").join("model.safetensors");
        let mut classifier = adam_classifier();
        let tensors = classifier.optimizer_state().unwrap();
        let optimizer = classifier.optimizer();
        let state = TrainingState { epoch: 3, seed: 9, batch: 4, samples: 40, optimizer, clip_norm: None, tensors };
        resume::save(&path, &small_model(1), &state).unwrap();
        let bytes = std::fs::read(resume::state_path(&path)).unwrap();
        (path, bytes)
    })
}

fn finishes_quickly<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let value = f();
    assert!(start.elapsed() < Duration::from_secs(10), "{what} took {:?}", start.elapsed());
    value
}

fn config(cases: u32, seed: u64) -> ProptestConfig {
    ProptestConfig {
        cases,
        rng_seed: proptest::test_runner::RngSeed::Fixed(seed),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(2000, 1))]

    #[test]
    fn idx_reader_never_panics(which in 0usize..5, edits in proptest::collection::vec(edit(), 1..6)) {
        let seeds = idx_seeds();
        let (seed, dims) = &seeds[which];
        let bytes = apply(seed, &edits);
        finishes_quickly("idx::parse", || {
            if let Ok(parsed) = idx::parse(&bytes, *dims, "fuzz") {
                let declared: usize = parsed.dims.iter().product();
                assert_eq!(parsed.data.len(), declared, "data and dimensions agree");
            }
        });
        let labels = &seeds[3].0;
        if *dims == 3 {
            finishes_quickly("Dataset::from_idx", || Dataset::from_idx(&bytes, labels, "fuzz").map(|d| d.len())).ok();
        }
    }
}

proptest! {
    #![proptest_config(config(1000, 2))]

    #[test]
    fn checkpoint_loader_never_panics(edits in proptest::collection::vec(edit(), 1..6)) {
        let (path, seed) = seed_checkpoint();
        let bytes = apply(seed, &edits);
        finishes_quickly("checkpoint::parse", || {
            if let Ok(tensors) = checkpoint::parse(&bytes, path) {
                let mut model = small_model(2);
                let before = model.clone();
                if model.load_state_dict(&tensors, path).is_err() {
                    assert_eq!(model, before, "a failed load changes nothing");
                }
            }
        });
    }
}

proptest! {
    #![proptest_config(config(300, 3))]

    /// The training state beside a model: its tensors and its metadata both mutated.
    #[test]
    fn training_state_loader_never_panics(edits in proptest::collection::vec(edit(), 1..6)) {
        let (path, seed) = seed_state();
        std::fs::write(resume::state_path(path), apply(seed, &edits)).unwrap();
        let mut model = small_model(5);
        let loaded = finishes_quickly("resume::load", || resume::load(path, &mut model));
        if let Ok(loaded) = loaded {
            let mut classifier = adam_classifier();
            finishes_quickly("set_optimizer_state", || classifier.set_optimizer_state(&loaded.tensors)).ok();
        } else {
            assert_eq!(model, small_model(5), "a failed load changes nothing");
        }
    }
}
