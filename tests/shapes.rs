//! Shape errors are `Err` values naming the op and both shapes, never panics; proptest
//! for the broadcast and matmul rules. (Its own binary: proptest needs the default harness.)

use backprop::{Error, Graph, Shape};
use proptest::prelude::*;

#[test]
fn matmul_mismatch_names_op_and_shapes() {
    let mut g = Graph::new();
    let a = g.input("a", [2, 3]).unwrap();
    let b = g.input("b", [4, 5]).unwrap();
    let err = g.matmul(a, b).unwrap_err();
    assert!(matches!(err, Error::Shape { op: "matmul", .. }), "{err}");
    assert_eq!(err.to_string(), "matmul: incompatible shapes [2, 3] and [4, 5]");
    // With the transpose flag the same operands fit.
    let fits = g.matmul_t(a, a, false, true).unwrap();
    assert_eq!(g.shape(fits).unwrap(), Shape::new(2, 2));
}

#[test]
fn mismatches_are_errors_for_every_checked_op() {
    let mut g = Graph::new();
    let a = g.input("a", [2, 3]).unwrap();
    let b = g.input("b", [3, 2]).unwrap();
    assert!(g.add(a, b).is_err());
    assert!(g.sub(a, b).is_err());
    assert!(g.mul(a, b).is_err());
    assert!(g.sigmoid_grad(a, b).is_err());
    assert!(g.tanh_grad(a, b).is_err());
    assert!(g.relu_grad(a, b).is_err());
    assert!(g.mse_loss(a, b).is_err());
    assert!(g.broadcast(a, [4, 3]).is_err());
    assert!(g.scale(a, f32::NAN).is_err());
    assert!(g.input("empty", [0, 3]).is_err());
    assert!(g.parameter("short", [2, 2], vec![1.0; 3]).is_err());
    let non_scalar = g.sigmoid(a).unwrap();
    assert!(g.backward(non_scalar).is_err());
}

#[test]
fn foreign_node_ids_are_errors() {
    let mut big = Graph::new();
    let mut ids = vec![];
    for i in 0..5 {
        ids.push(big.input(&format!("x{i}"), [1, 1]).unwrap());
    }
    let mut small = Graph::new();
    let x = small.input("x", [1, 1]).unwrap();
    assert!(matches!(small.add(x, ids[4]), Err(Error::ForeignNode { .. })));
    // An id that happens to be in range of the other graph is foreign all the same.
    let err = small.add(x, ids[0]).unwrap_err();
    assert!(matches!(err, Error::ForeignNode { .. }), "{err}");
    assert_eq!(err.to_string(), "#0 belongs to another graph");
}

fn dim() -> impl Strategy<Value = usize> {
    1usize..6
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, rng_seed: proptest::test_runner::RngSeed::Fixed(7), ..ProptestConfig::default() })]

    /// Addition accepts exactly: equal shapes, a [1, m] row or an [n, 1] column against
    /// [n, m], a scalar.
    #[test]
    fn add_broadcast_rule(r1 in dim(), c1 in dim(), r2 in dim(), c2 in dim()) {
        let mut g = Graph::new();
        let a = g.input("a", [r1, c1]).unwrap();
        let b = g.input("b", [r2, c2]).unwrap();
        let (sa, sb) = (Shape::new(r1, c1), Shape::new(r2, c2));
        let allowed = |x: Shape, y: Shape| {
            x == y || x == Shape::SCALAR || (x.rows == 1 && x.cols == y.cols) || (x.cols == 1 && x.rows == y.rows)
        };
        let expected = if allowed(sb, sa) { Some(sa) } else if allowed(sa, sb) { Some(sb) } else { None };
        match g.add(a, b) {
            Ok(id) => prop_assert_eq!(Some(g.shape(id).unwrap()), expected),
            Err(Error::Shape { op, lhs, rhs }) => {
                prop_assert_eq!(expected, None);
                prop_assert_eq!((op, lhs, rhs), ("add", sa, sb));
            }
            Err(other) => prop_assert!(false, "unexpected error {}", other),
        }
    }

    /// matmul_t accepts exactly the shapes whose inner dimensions agree after transposes.
    #[test]
    fn matmul_shape_rule(r1 in dim(), c1 in dim(), r2 in dim(), c2 in dim(), ta: bool, tb: bool) {
        let mut g = Graph::new();
        let a = g.input("a", [r1, c1]).unwrap();
        let b = g.input("b", [r2, c2]).unwrap();
        let (m, k1) = if ta { (c1, r1) } else { (r1, c1) };
        let (k2, n) = if tb { (c2, r2) } else { (r2, c2) };
        let result = g.matmul_t(a, b, ta, tb);
        if k1 == k2 {
            prop_assert_eq!(g.shape(result.unwrap()).unwrap(), Shape::new(m, n));
        } else {
            prop_assert!(result.is_err());
        }
    }
}
