//! Ops registered from outside the crate (`backprop::custom`): they record,
//! differentiate, fuse and run on both backends like the built-in ones; bad
//! registrations are errors, and a WGSL expression that does not compile is an error
//! naming the op when a GPU session is compiled.

use backprop::custom::{register, CustomMap};
use backprop::testing::{check_gradients, compare_backends};
use backprop::{Device, Error, Graph, Map, Shape};

use crate::common::{assert_close, TRANSCENDENTAL};

/// `a·b + s`, for a two-operand op with a constant; registered once per process.
fn fma_plus() -> Map {
    static OP: std::sync::OnceLock<Map> = std::sync::OnceLock::new();
    *OP.get_or_init(|| {
        register(CustomMap {
            name: "test_mul_add",
            arity: 2,
            cpu: |a, b, s| a * b + s,
            wgsl: "a * b + s",
            vjp: Some(|g, _, x, dy, _| Ok(vec![Some(g.mul(dy, x[1])?), Some(g.mul(dy, x[0])?)])),
        })
        .unwrap()
    })
}

pub fn registered_ops_differentiate_and_match_the_reference(device: &Device) {
    let op = fma_plus();
    let shapes = [Shape::new(5, 7), Shape::new(1, 7)];
    let mismatches = check_gradients(&shapes, 4, |g, x| g.map(op, 0.5, x)).unwrap();
    assert!(mismatches.is_empty(), "{mismatches:?}");
    let (actual, expected) = compare_backends(device, &shapes, 5, |g, x| g.map(op, 0.5, x)).unwrap();
    assert_close("test_mul_add", &actual, &expected, TRANSCENDENTAL);
    // Fused after a product on the GPU (its expression in the generated epilogue).
    let (actual, expected) =
        compare_backends(device, &[Shape::new(9, 300), Shape::new(300, 7), Shape::new(9, 7)], 6, |g, x| {
            let z = g.matmul(x[0], x[1])?;
            g.map(op, -1.0, &[z, x[2]])
        })
        .unwrap();
    assert_close("matmul then test_mul_add", &actual, &expected, crate::common::REDUCTION);
}

pub fn bad_registrations_are_errors() {
    let base = CustomMap { name: "x", arity: 1, cpu: |a, _, _| a, wgsl: "a", vjp: None };
    for (name, arity, expected) in [
        ("Swish", 1, "not a lowercase identifier"),
        ("two words", 1, "not a lowercase identifier"),
        ("", 1, "not a lowercase identifier"),
        ("relu", 1, "exists already"),
        ("three_operands", 3, "1 or 2 are possible"),
    ] {
        let err = register(CustomMap { name, arity, ..base }).unwrap_err().to_string();
        assert!(err.contains(expected), "{name}: {err}");
    }
    register(CustomMap { name: "test_twice", ..base }).unwrap();
    let err = register(CustomMap { name: "test_twice", ..base }).unwrap_err().to_string();
    assert!(err.contains("exists already"), "{err}");
    // Not differentiable: backward says so, naming the op.
    let op = register(CustomMap { name: "test_flat", ..base }).unwrap();
    let mut g = Graph::new();
    let x = g.parameter("x", [1, 2], vec![1.0, 2.0]).unwrap();
    let y = g.map(op, 0.0, &[x]).unwrap();
    let loss = g.sum(y).unwrap();
    assert!(matches!(g.backward(loss), Err(Error::NotDifferentiable { op: "test_flat" })));
    // A custom op built by hand rather than registered.
    let err = g.map(Map::Custom(1_000_000), 0.0, &[x]).unwrap_err().to_string();
    assert!(err.contains("was not returned by custom::register"), "{err}");
}

pub fn a_wgsl_expression_that_does_not_compile_is_an_error(device: &Device) {
    let op = register(CustomMap { name: "test_broken", arity: 1, cpu: |a, _, _| a, wgsl: "a +* nonsense(", vjp: None })
        .unwrap();
    let mut g = Graph::new();
    let x = g.input("x", [2, 2]).unwrap();
    let y = g.map(op, 0.0, &[x]).unwrap();
    let err = device.compile(&g, &[y]).err().expect("the module does not compile").to_string();
    assert!(err.contains("map_test_broken"), "{err}");
    // The CPU backend runs the CPU function alone.
    assert!(Device::Cpu.compile(&g, &[y]).is_ok());
}
