//! The playground's training core, run natively on the CPU backend: the setups the page's
//! self-test uses learn what it expects, and bad setups are refused in words.

use backprop::Device;
use backprop_playground::config::Config;
use backprop_playground::trainer::Trainer;

fn train(setup: &str, steps: usize) -> backprop_playground::trainer::Observation {
    let config = Config::from_json(setup).expect("a valid setup");
    let mut trainer = Trainer::new(&Device::Cpu, config).expect("compiles");
    trainer.train(steps).expect("trains");
    let pending = trainer.observe().expect("reads");
    pollster::block_on(pending.finish()).expect("finite").0
}

#[test]
fn the_spiral_self_test_reaches_95_percent() {
    let o = train(r#"{"dataset": "spiral", "seed": 1}"#, 3000);
    println!("spiral: test accuracy {}, loss {}", o.test_accuracy, o.test_loss);
    assert!(o.test_accuracy >= 0.95, "{}", o.test_accuracy);
}

#[test]
fn every_data_set_trains_past_chance() {
    for dataset in ["xor", "circle", "gaussians", "moons"] {
        let o = train(&format!(r#"{{"dataset": "{dataset}", "noise": 0.1, "features": ["x", "y"]}}"#), 500);
        println!("{dataset}: test accuracy {}", o.test_accuracy);
        assert!(o.test_accuracy > 0.8, "{dataset}: {}", o.test_accuracy);
    }
}

#[test]
fn bad_setups_are_refused_in_words() {
    for (setup, says) in [
        (r#"{"dataset": "rings"}"#, "'rings' is not a known dataset"),
        (r#"{"lr": -1}"#, "'lr' must be a number"),
        (r#"{"features": []}"#, "at least one input feature"),
        (r#"{"hidden": [8, 8, 8, 8, 8, 8, 8]}"#, "at most 6 hidden layers"),
        (r#"{"depth": 3}"#, "unknown setting 'depth'"),
        ("[1, 2]", "must be a JSON object"),
    ] {
        let err = Config::from_json(setup).expect_err(setup);
        assert!(err.contains(says), "{setup}: {err}");
    }
}

#[test]
fn a_diverged_run_says_so() {
    let config = Config::from_json(r#"{"dataset": "circle", "optimizer": "sgd", "lr": 10, "features": ["x2", "y2", "xy"], "activation": "linear"}"#).unwrap();
    let mut trainer = Trainer::new(&Device::Cpu, config).unwrap();
    trainer.train(200).unwrap();
    match pollster::block_on(trainer.observe().unwrap().finish()) {
        Err(e) => assert!(e.contains("diverged"), "{e}"),
        Ok((o, _)) => panic!("a learning rate of 10 on x² features did not diverge: loss {}", o.train_loss),
    }
}

#[test]
fn the_download_holds_pytorchs_names() {
    let config = Config::from_json(r#"{"hidden": [4, 3]}"#).unwrap();
    let mut trainer = Trainer::new(&Device::Cpu, config).unwrap();
    trainer.train(5).unwrap();
    let (_, values) = pollster::block_on(trainer.observe().unwrap().finish()).unwrap();
    trainer.remember(values);
    let bytes = trainer.safetensors().unwrap();
    let tensors = backprop::checkpoint::parse(&bytes, std::path::Path::new("download")).unwrap();
    let names: Vec<(&str, Vec<usize>)> = tensors.iter().map(|t| (t.name.as_str(), t.shape.clone())).collect();
    let want = [
        ("0.weight", vec![4, 4]),
        ("0.bias", vec![4]),
        ("2.weight", vec![3, 4]),
        ("2.bias", vec![3]),
        ("4.weight", vec![1, 3]),
        ("4.bias", vec![1]),
    ];
    for (name, shape) in want {
        assert!(names.contains(&(name, shape.clone())), "{name} {shape:?} in {names:?}");
    }
    assert!(trainer.graph_svg().unwrap().starts_with("<svg"));
}
