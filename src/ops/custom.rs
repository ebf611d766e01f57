//! Elementwise ops defined outside the crate: a user describes one as the crate describes
//! its own ([`crate::Map`]), with a CPU function, a WGSL expression and a derivative, and
//! gets a [`Map`] that records, differentiates, fuses and runs on both backends through
//! the same paths as the built-in ops (its GPU kernel is generated from the same template).
//!
//! ```
//! use backprop::custom::{register, CustomMap};
//! use backprop::{Graph, Map};
//!
//! // swish(x) = x·σ(x); swish' = σ(x)·(1 + x·(1 − σ(x))).
//! let swish = register(CustomMap {
//!     name: "swish",
//!     arity: 1,
//!     cpu: |a, _, _| a / (1.0 + (-a).exp()),
//!     wgsl: "a / (1.0 + exp(-a))",
//!     vjp: Some(|g, _, x, dy, _| {
//!         let s = g.sigmoid(x[0])?;
//!         let one = g.constant([1, 1], vec![1.0])?;
//!         let rest = g.sub(one, s)?;
//!         let t = g.mul(x[0], rest)?;
//!         let u = g.add(t, one)?;
//!         let slope = g.mul(s, u)?;
//!         Ok(vec![Some(g.mul(dy, slope)?)])
//!     }),
//! })?;
//! let mut g = Graph::new();
//! let x = g.parameter("x", [1, 3], vec![-1.0, 0.0, 2.0])?;
//! let y = g.map(swish, 0.0, &[x])?;
//! # Ok::<(), backprop::Error>(())
//! ```

use crate::error::{Error, Result};
use crate::ops::elementwise::{def, register_def, Map};

pub use crate::ops::elementwise::MapVjp;

/// A user's elementwise op, described as the crate's own are.
#[derive(Clone, Copy)]
pub struct CustomMap {
    /// A lowercase identifier (`[a-z_][a-z0-9_]*`), unique among all ops: errors, labels
    /// and the generated entry point `map_<name>` use it.
    pub name: &'static str,
    /// One or two operands (broadcasting as the built-in ops of two operands do).
    pub arity: usize,
    /// One element on the CPU: `(a, b, s)`, `b` 0 for one operand, `s` the constant
    /// given to [`crate::Graph::map`].
    pub cpu: fn(f32, f32, f32) -> f32,
    /// The same element in WGSL: an expression in `a`, `b` and `s` (f32), which may call
    /// WGSL built-ins and the crate's helpers (`tanh_accurate`, `softplus_stable`,
    /// `is_nan`, ...). An expression that does not compile is an error when a GPU session
    /// is compiled, naming the op.
    pub wgsl: &'static str,
    /// The derivative, or `None` for an op that is not differentiable.
    pub vjp: Option<MapVjp>,
}

/// Registers `op` for this process and returns its [`Map`], to record with
/// [`crate::Graph::map`].
///
/// # Errors
///
/// [`Error::InvalidArgument`] for a name that is not an identifier or is already taken
/// (by a built-in op or an earlier registration), or an arity other than 1 or 2.
pub fn register(op: CustomMap) -> Result<Map> {
    let bad = |msg: String| Err(Error::InvalidArgument { op: "register", msg });
    let identifier = op.name.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && op.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !identifier {
        return bad(format!("'{}' is not a lowercase identifier", op.name));
    }
    if !(1..=2).contains(&op.arity) {
        return bad(format!("'{}' takes {} operands; 1 or 2 are possible", op.name, op.arity));
    }
    register_def(def(op.name, op.arity, op.cpu, op.wgsl, op.vjp))
}
