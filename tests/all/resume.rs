//! Training resumes exactly: 5 epochs, a checkpoint on disk, a fresh process's worth of
//! objects, and 5 more epochs give bit for bit the parameters and optimizer state of 10
//! epochs without a stop, on each backend.

use backprop::classifier::Classifier;
use backprop::data::Dataset;
use backprop::nn::{Init, Layer, Sequential};
use backprop::resume::{self, state_path, TrainingState};
use backprop::{init, Device, Optimizer};

const SEED: u64 = 7;

fn model(seed: u64) -> Sequential {
    Sequential::mlp(&[12, 16, 10], Layer::Relu, Init::PyTorch, &mut init::rng(seed)).unwrap()
}

fn train(classifier: &mut Classifier, data: &Dataset, epochs: std::ops::RangeInclusive<usize>) {
    for epoch in epochs {
        classifier.train_epoch(data, &mut init::epoch_rng(SEED, epoch), |_| {}).unwrap();
    }
}

pub fn five_plus_five_epochs_equal_ten(device: &Device) {
    let data = crate::optimizers::synthetic(150);
    let dir = crate::files::temp_dir(&format!("resume-{}", device.name().len()));
    for optimizer in [Optimizer::adam(0.01), Optimizer::sgd_momentum(0.05, 0.9)] {
        let mut straight = Classifier::new(device, model(1), optimizer, 32, 64).unwrap();
        train(&mut straight, &data, 1..=10);

        let mut first = Classifier::new(device, model(1), optimizer, 32, 64).unwrap();
        train(&mut first, &data, 1..=5);
        let path = dir.join("model.safetensors");
        let tensors = first.optimizer_state().unwrap();
        let state =
            TrainingState { epoch: 5, seed: SEED, batch: 32, samples: data.len(), optimizer, clip_norm: None, tensors };
        resume::save(&path, &first.model().unwrap(), &state).unwrap();
        drop(first);

        let mut restored = model(99);
        let loaded = resume::load(&path, &mut restored).unwrap();
        let by_name = |mut s: TrainingState| {
            s.tensors.sort_by(|a, b| a.name.cmp(&b.name));
            s
        };
        assert!(by_name(loaded.clone()) == by_name(state), "the training state reads back as written");
        let mut second = Classifier::new(device, restored, loaded.optimizer, loaded.batch, 64).unwrap();
        second.set_optimizer_state(&loaded.tensors).unwrap();
        train(&mut second, &data, 6..=10);

        let want = straight.model().unwrap().state_dict();
        assert!(second.model().unwrap().state_dict() == want, "{optimizer:?}: parameters differ");
        let same_state = second.optimizer_state().unwrap() == straight.optimizer_state().unwrap();
        assert!(same_state, "{optimizer:?}: optimizer states differ");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// A state that belongs to another model, or that does not fit the optimizer, is an error
/// that changes nothing.
pub fn mismatched_training_states_are_errors() {
    let dir = crate::files::temp_dir("resume-mismatch");
    let path = dir.join("m.safetensors");
    let mut classifier = Classifier::new(&Device::Cpu, model(1), Optimizer::adam(0.01), 32, 64).unwrap();
    let tensors = classifier.optimizer_state().unwrap();
    assert!(
        tensors.iter().any(|t| t.name == "adam.bias_corrections")
            && tensors.iter().any(|t| t.name == "0.weight.exp_avg")
    );
    let state = TrainingState {
        epoch: 1,
        seed: 0,
        batch: 32,
        samples: 150,
        optimizer: classifier.optimizer(),
        clip_norm: None,
        tensors,
    };
    resume::save(&path, &model(1), &state).unwrap();
    // The model file replaced by another model's: the state no longer belongs to it.
    backprop::checkpoint::save(&path, &model(2).state_dict()).unwrap();
    let mut target = model(3);
    let text = resume::load(&path, &mut target).unwrap_err().to_string();
    assert!(text.contains("belongs to another model"), "{text}");
    assert_eq!(target, model(3), "a failed load changes nothing");
    std::fs::remove_file(state_path(&path)).unwrap();
    assert!(resume::load(&path, &mut target).unwrap_err().to_string().contains("train-state"));
    // A file that is no checkpoint (found from outside: it was reported as a missing
    // training state) is named as what it is, and so is a missing one.
    for (bytes, name) in
        [(&b"\x93\x11 random bytes, not a checkpoint"[..], "noise.bin"), (&b""[..], "empty.safetensors")]
    {
        let file = dir.join(name);
        std::fs::write(&file, bytes).unwrap();
        let text = resume::load(&file, &mut target).unwrap_err().to_string();
        assert!(text.starts_with(&file.display().to_string()) && !text.contains("train-state"), "{text}");
    }
    let text = resume::load(&dir.join("absent.safetensors"), &mut target).unwrap_err().to_string();
    assert!(text.contains("absent.safetensors: No such file") && !text.contains("train-state"), "{text}");

    let mut wrong = state.tensors.clone();
    wrong.retain(|t| t.name != "adam.bias_corrections");
    wrong[0].values[0] = f32::NAN;
    let text = classifier.set_optimizer_state(&wrong).unwrap_err().to_string();
    assert!(text.contains("missing adam.bias_corrections") && text.contains("is not finite"), "{text}");
    std::fs::remove_dir_all(dir).unwrap();
}
