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

    /// Addition accepts exactly PyTorch's broadcasting: dims aligned from the end, each
    /// pair equal or one of them 1, at any ranks from 0 to 4.
    #[test]
    fn add_broadcast_rule(a_dims in prop::collection::vec(1usize..4, 0..5), b_dims in prop::collection::vec(1usize..4, 0..5)) {
        let mut g = Graph::new();
        let (sa, sb) = (Shape::from_dims(&a_dims).unwrap(), Shape::from_dims(&b_dims).unwrap());
        let a = g.input("a", sa).unwrap();
        let b = g.input("b", sb).unwrap();
        let rank = a_dims.len().max(b_dims.len());
        let at = |d: &[usize], back: usize| if back <= d.len() { d[d.len() - back] } else { 1 };
        let mut expected = vec![0; rank];
        let mut conflict = None;
        for back in (1..=rank).rev() {
            let (x, y) = (at(&a_dims, back), at(&b_dims, back));
            expected[rank - back] = x.max(y);
            if x != y && x != 1 && y != 1 {
                conflict = Some(-(back as isize));
            }
        }
        match g.add(a, b) {
            Ok(id) => {
                prop_assert_eq!(conflict, None);
                prop_assert_eq!(&g.shape(id).unwrap().dims()[..], &expected[..]);
            }
            Err(Error::Broadcast { op, lhs, rhs, dim, .. }) => {
                prop_assert!(conflict.is_some());
                prop_assert!(dim >= conflict.unwrap(), "the first conflict from the end");
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
