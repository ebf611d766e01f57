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

use std::sync::RwLock;

use crate::error::{Error, Result};
use crate::map::{def, Map, MapDef};

/// The derivative of an elementwise op: given the graph, the op's node `y`, its operands,
/// the incoming gradient `dy` and the op's constant `s`, it records and returns the
/// gradient of each operand (`None` where there is none), using any recording method.
pub type MapVjp =
    fn(&mut crate::Graph, crate::NodeId, &[crate::NodeId], crate::NodeId, f32) -> Result<Vec<Option<crate::NodeId>>>;

/// A user's elementwise op, described as the crate's own are.
#[derive(Clone, Copy)]
pub struct CustomMap {
    /// A lowercase identifier (`[a-z_][a-z0-9_]*`), unique among all ops: errors, labels
    /// and the generated entry point `map_<name>` use it.
    pub name: &'static str,
    /// One or two operands (a `[1, m]` row or `[1, 1]` scalar operand broadcasts).
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

/// Registered ops, by number.
static REGISTRY: RwLock<Vec<CustomMap>> = RwLock::new(Vec::new());

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
    let mut registry = REGISTRY.write().unwrap_or_else(|poisoned| poisoned.into_inner());
    let taken = Map::ALL.iter().any(|m| m.def().name == op.name) || registry.iter().any(|c| c.name == op.name);
    if taken {
        return bad(format!("an op named '{}' exists already", op.name));
    }
    registry.push(op);
    Ok(Map::Custom(registry.len() as u32 - 1))
}

/// Whether `index` names a registered op (a `Map::Custom` built by hand may not).
pub(crate) fn is_registered(index: u32) -> bool {
    (index as usize) < REGISTRY.read().unwrap_or_else(|poisoned| poisoned.into_inner()).len()
}

/// The description of registered op `index`.
pub(crate) fn def_custom(index: u32) -> MapDef {
    let registry = REGISTRY.read().unwrap_or_else(|poisoned| poisoned.into_inner());
    let op = registry[index as usize];
    def(op.name, op.arity, op.cpu, op.wgsl, op.vjp)
}
