//! The elementwise family: every op that computes each output element from the elements
//! of one or two operands at the same place (a `[1, m]` row or `[1, 1]` scalar operand
//! repeats, see [`crate::Shape::broadcasts_to`]), and perhaps one constant `s`. Each op
//! is described once, in [`Map::def`]: its name, its CPU reference, its WGSL expression
//! and its derivative. The backends have one generic path for the whole family: the CPU
//! applies `cpu` per element, and the GPU kernels are generated from one template
//! (`shaders/map.wgsl`) with the expression spliced in.
//!
//! This file holds the family's types and its registry of ops defined outside the crate;
//! the descriptions are in `elementwise_defs.rs` (the MLP's ops) and
//! `elementwise_math.rs` (the rest). Adding an elementwise op is one variant and one arm
//! of [`Map::def`], plus a recording method and its tests.

use std::sync::RwLock;

use crate::error::{Error, Result};

/// An op of the elementwise family. Its constant `s`, if it takes one, is carried by
/// [`crate::Op::Map`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Map {
    /// `a + b`.
    Add,
    /// `a − b`.
    Sub,
    /// `a ⊙ b`.
    Mul,
    /// `s · a`.
    Scale,
    /// `a²`.
    Square,
    /// `a`, repeated to the node's (larger) shape.
    Broadcast,
    /// `1 / (1 + e^{−a})`.
    Sigmoid,
    /// `tanh a`.
    Tanh,
    /// `max(a, 0)`; NaN stays NaN.
    Relu,
    /// `eᵃ`.
    Exp,
    /// `sqrt a`.
    Sqrt,
    /// `clamp(a, −s, s)`; NaN stays NaN. Not differentiable (clipping by value).
    ClipValue,
    /// `min(1, s / (a + 1e−6))`, PyTorch's `clip_grad_norm_` factor for the global norm
    /// `a` and `max_norm` `s`; NaN for a NaN norm. Not differentiable.
    ClipCoefficient,
    /// Derivative of sigmoid from its output: `b · a · (1 − a)` for `a = y`, `b = dy`.
    SigmoidGrad,
    /// Derivative of tanh from its output: `b · (1 − a²)` for `a = y`, `b = dy`.
    TanhGrad,
    /// Derivative of relu: `b` except where `a ≤ 0` (so a NaN passes `b`, as PyTorch's
    /// `threshold_backward`), for `a` = the input or the output, `b = dy`.
    ReluGrad,
    /// `−a`.
    Neg,
    /// `|a|`.
    Abs,
    /// `sign a`: −1, 0 or 1 (NaN stays NaN). Not differentiable.
    Sign,
    /// `ln a`.
    Log,
    /// `a / b`.
    Div,
    /// `a` where `a > 0`, else `s · a` (PyTorch's `leaky_relu` with negative slope `s`).
    LeakyRelu,
    /// Derivative of leaky relu: `b` where `a > 0`, else `s · b`, for `a = x`, `b = dy`.
    LeakyReluGrad,
    /// `ln(1 + eᵃ)`, and `a` itself above 20 (PyTorch's `softplus` threshold).
    Softplus,
    /// GELU with PyTorch's tanh approximation: `a/2 · (1 + tanh(√(2/π)(a + 0.044715a³)))`.
    GeluTanh,
    /// Derivative of [`Map::GeluTanh`]: `b · d/da gelu(a)`, for `a = x`, `b = dy`.
    GeluTanhGrad,
    /// `a`, through which no gradient flows (the node does not require one).
    StopGradient,
    /// `aˢ` for a constant `s`, as PyTorch's `pow`: NaN for a negative `a` and a
    /// fractional `s`, the sign of `a` kept for odd integer `s`.
    Pow,
    /// GELU in its exact form, PyTorch's default: `a·Φ(a) = a/2 · (1 + erf(a/√2))`, erf
    /// from Abramowitz and Stegun 7.1.26 (within 1.5e-7) on both backends.
    Gelu,
    /// Derivative of [`Map::Gelu`]: `b · (Φ(a) + a·φ(a))`, for `a = x`, `b = dy`.
    GeluGrad,
    /// `1` where `a == b`, else `0` (NaN equals nothing). Not differentiable (a mask).
    Equal,
    /// An op registered from outside the crate ([`crate::ops::custom::register`]), by number.
    Custom(u32),
}

/// The derivative of an elementwise op: given the graph, the op's node `y`, its operands,
/// the incoming gradient `dy` and the op's constant `s`, it records and returns the
/// gradient of each operand (`None` where there is none), using any recording method.
pub type MapVjp =
    fn(&mut crate::Graph, crate::NodeId, &[crate::NodeId], crate::NodeId, f32) -> Result<Vec<Option<crate::NodeId>>>;

/// Everything about one elementwise op.
#[derive(Clone, Copy)]
pub(crate) struct MapDef {
    /// Lowercase name: errors, kernel labels, the generated entry point.
    pub name: &'static str,
    /// One or two operands.
    pub arity: usize,
    /// One element, on the CPU: `(a, b, s)`; `b` is 0 for one operand.
    pub cpu: fn(f32, f32, f32) -> f32,
    /// The same in WGSL: an expression in `a`, `b` and `s` (of type `T`), which may call
    /// the helpers of `shaders/map.wgsl`.
    pub wgsl: &'static str,
    /// The derivative, or `None` when the op is not differentiable.
    pub vjp: Option<MapVjp>,
}

impl Map {
    /// Every built-in op of the family (for tests and kernel generation); registered ones
    /// are not listed.
    pub const ALL: [Map; 31] = [
        Map::Add,
        Map::Sub,
        Map::Mul,
        Map::Scale,
        Map::Square,
        Map::Broadcast,
        Map::Sigmoid,
        Map::Tanh,
        Map::Relu,
        Map::Exp,
        Map::Sqrt,
        Map::ClipValue,
        Map::ClipCoefficient,
        Map::SigmoidGrad,
        Map::TanhGrad,
        Map::ReluGrad,
        Map::Neg,
        Map::Abs,
        Map::Sign,
        Map::Log,
        Map::Div,
        Map::LeakyRelu,
        Map::LeakyReluGrad,
        Map::Softplus,
        Map::GeluTanh,
        Map::GeluTanhGrad,
        Map::StopGradient,
        Map::Pow,
        Map::Gelu,
        Map::GeluGrad,
        Map::Equal,
    ];
}

/// A description, field by field.
pub(crate) fn def(
    name: &'static str,
    arity: usize,
    cpu: fn(f32, f32, f32) -> f32,
    wgsl: &'static str,
    vjp: Option<MapVjp>,
) -> MapDef {
    MapDef { name, arity, cpu, wgsl, vjp }
}

/// The loop of a backend's elementwise kernel, generic over the element function so that
/// the function is compiled into the loop (vectorised) rather than called per element.
pub(crate) trait ElementLoop {
    /// Runs the loop with `f(a, b, s)` as the element function.
    fn run<F: Fn(f32, f32, f32) -> f32 + Copy + Sync>(self, f: F);
}

/// Ops registered from outside the crate ([`crate::custom::register`]), by number.
static REGISTRY: RwLock<Vec<MapDef>> = RwLock::new(Vec::new());

/// Adds `def` to the registry and returns its [`Map`].
///
/// # Errors
///
/// [`Error::InvalidArgument`] when its name is taken by a built-in op or an earlier
/// registration.
pub(crate) fn register_def(def: MapDef) -> Result<Map> {
    let mut registry = REGISTRY.write().unwrap_or_else(|poisoned| poisoned.into_inner());
    let taken = Map::ALL.iter().any(|m| m.def().name == def.name) || registry.iter().any(|c| c.name == def.name);
    if taken {
        let msg = format!("an op named '{}' exists already", def.name);
        return Err(Error::InvalidArgument { op: "register", msg });
    }
    registry.push(def);
    Ok(Map::Custom(registry.len() as u32 - 1))
}

/// Whether `index` names a registered op (a `Map::Custom` built by hand may not).
pub(crate) fn is_registered(index: u32) -> bool {
    (index as usize) < REGISTRY.read().unwrap_or_else(|poisoned| poisoned.into_inner()).len()
}

/// The description of registered op `index`.
pub(crate) fn registered(index: u32) -> MapDef {
    REGISTRY.read().unwrap_or_else(|poisoned| poisoned.into_inner())[index as usize]
}
