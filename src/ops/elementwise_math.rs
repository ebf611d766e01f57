//! The elementwise family, continued (see [`crate::ops::elementwise`]): the ops users reach for beyond
//! the activations of an MLP, each with its derivative.

use crate::ops::elementwise::{def, Map, MapDef};

/// √(2/π) and the cubic coefficient of PyTorch's tanh-approximated GELU.
const GELU_K: f32 = 0.797_884_6;
const GELU_C: f32 = 0.044_715;

/// The descriptions of the ops [`Map::def`] does not hold itself.
pub(crate) fn def_more(map: Map) -> MapDef {
    match map {
        // d(−a) = −da.
        Map::Neg => def("neg", 1, |a, _, _| -a, "-a", Some(|g, _, _, dy, _| Ok(vec![Some(g.scale(dy, -1.0)?)]))),
        // |a|' = sign a (0 at 0, as PyTorch).
        Map::Abs => def(
            "abs",
            1,
            |a, _, _| a.abs(),
            "abs(a)",
            Some(|g, _, x, dy, _| {
                let sign = g.sign(x[0])?;
                Ok(vec![Some(g.mul(dy, sign)?)])
            }),
        ),
        Map::Sign => def("sign", 1, sign, "select(sign(a), a, is_nan(a))", None),
        // (ln a)' = 1/a.
        Map::Log => def("log", 1, |a, _, _| a.ln(), "log(a)", Some(|g, _, x, dy, _| Ok(vec![Some(g.div(dy, x[0])?)]))),
        // d(a/b) = da/b − (a/b)·db/b.
        Map::Div => def(
            "div",
            2,
            |a, b, _| a / b,
            "a / b",
            Some(|g, y, x, dy, _| {
                let over_b = g.div(dy, x[1])?;
                let db = g.mul(over_b, y)?;
                Ok(vec![Some(over_b), Some(g.neg(db)?)])
            }),
        ),
        Map::LeakyRelu => def(
            "leaky_relu",
            1,
            |a, _, s| if a > 0.0 || a.is_nan() { a } else { s * a },
            "select(s * a, a, a > 0.0 || is_nan(a))",
            Some(|g, _, x, dy, s| Ok(vec![Some(g.map(Map::LeakyReluGrad, s, &[x[0], dy])?)])),
        ),
        Map::LeakyReluGrad => {
            def("leaky_relu_grad", 2, |x, dy, s| if x > 0.0 { dy } else { s * dy }, "select(s * b, b, a > 0.0)", None)
        }
        // softplus' = sigmoid.
        Map::Softplus => def(
            "softplus",
            1,
            |a, _, _| if a > 20.0 { a } else { a.exp().ln_1p() },
            "softplus_stable(a)",
            Some(|g, _, x, dy, _| {
                let slope = g.sigmoid(x[0])?;
                Ok(vec![Some(g.mul(dy, slope)?)])
            }),
        ),
        Map::GeluTanh => def(
            "gelu_tanh",
            1,
            |a, _, _| 0.5 * a * (1.0 + (GELU_K * (a + GELU_C * a * a * a)).tanh()),
            "0.5 * a * (1.0 + tanh_accurate(0.7978846 * (a + 0.044715 * a * a * a)))",
            Some(|g, _, x, dy, _| Ok(vec![Some(g.map(Map::GeluTanhGrad, 0.0, &[x[0], dy])?)])),
        ),
        Map::GeluTanhGrad => def("gelu_tanh_grad", 2, gelu_tanh_grad, "gelu_tanh_grad(a, b)", None),
        // Recorded as not requiring a gradient, so backward never asks for one.
        Map::StopGradient => def("stop_gradient", 1, |a, _, _| a, "a", None),
        // (aˢ)' = s·aˢ⁻¹, and 0 for s = 0 (PyTorch's pow_backward).
        Map::Pow => def(
            "pow",
            1,
            |a, _, s| a.powf(s),
            "pow_const(a, s)",
            Some(|g, _, x, dy, s| {
                if s == 0.0 {
                    return Ok(vec![Some(g.scale(dy, 0.0)?)]);
                }
                let lower = g.pow(x[0], s - 1.0)?;
                let slope = g.scale(lower, s)?;
                Ok(vec![Some(g.mul(dy, slope)?)])
            }),
        ),
        Map::Gelu => def(
            "gelu",
            1,
            |a, _, _| 0.5 * a * (1.0 + erf(a * std::f32::consts::FRAC_1_SQRT_2)),
            "0.5 * a * (1.0 + erf_approx(a * 0.70710677))",
            Some(|g, _, x, dy, _| Ok(vec![Some(g.map(Map::GeluGrad, 0.0, &[x[0], dy])?)])),
        ),
        Map::GeluGrad => def("gelu_grad", 2, gelu_grad, "gelu_grad(a, b)", None),
        Map::Equal => def("equal", 2, |a, b, _| if a == b { 1.0 } else { 0.0 }, "select(0.0, 1.0, a == b)", None),
        other => unreachable!("{other:?} is described in map.rs"),
    }
}

/// −1, 0 or 1; NaN stays NaN.
fn sign(a: f32, _: f32, _: f32) -> f32 {
    if a > 0.0 {
        1.0
    } else if a < 0.0 {
        -1.0
    } else {
        a * 0.0 // 0 for ±0, NaN for NaN
    }
}

/// `dy · d/dx gelu_tanh(x)`, in PyTorch's arrangement of the terms.
fn gelu_tanh_grad(x: f32, dy: f32, _: f32) -> f32 {
    let t = (GELU_K * (x + GELU_C * x * x * x)).tanh();
    let left = 0.5 * (1.0 + t);
    let right = 0.5 * x * (1.0 - t * t) * GELU_K * (1.0 + 3.0 * GELU_C * x * x);
    dy * (left + right)
}

/// erf by Abramowitz and Stegun 7.1.26 (absolute error under 1.5e-7), the formula of
/// `erf_approx` in `map_helpers.wgsl`.
fn erf(x: f32) -> f32 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let poly = t * (0.254_829_6 + t * (-0.284_496_72 + t * (1.421_413_8 + t * (-1.453_152_1 + t * 1.061_405_4))));
    let y = 1.0 - poly * (-x * x).exp();
    if x < 0.0 {
        -y
    } else {
        y
    }
}

/// `dy · (Φ(x) + x·φ(x))`: the derivative of the exact GELU.
fn gelu_grad(x: f32, dy: f32, _: f32) -> f32 {
    let cdf = 0.5 * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2));
    let pdf = (-0.5 * x * x).exp() * 0.398_942_3;
    dy * (cdf + x * pdf)
}
