//! The descriptions of the elementwise ops an MLP trains with (see
//! [`crate::ops::elementwise`]): each one's name, CPU function, WGSL expression and
//! derivative in [`Map::def`], and the CPU loops those functions are compiled into.

use crate::ops::elementwise::{def, registered, ElementLoop, Map, MapDef};

impl Map {
    /// The op's one description.
    pub(crate) fn def(self) -> MapDef {
        match self {
            // d(a+b) = da + db.
            Map::Add => def("add", 2, add, "a + b", Some(|_, _, _, dy, _| Ok(vec![Some(dy), Some(dy)]))),
            // d(a−b) = da − db.
            Map::Sub => {
                def("sub", 2, sub, "a - b", Some(|g, _, _, dy, _| Ok(vec![Some(dy), Some(g.scale(dy, -1.0)?)])))
            }
            // d(a·b) = b·da + a·db.
            Map::Mul => def(
                "mul",
                2,
                mul,
                "a * b",
                Some(|g, _, x, dy, _| Ok(vec![Some(g.mul(dy, x[1])?), Some(g.mul(dy, x[0])?)])),
            ),
            // d(s·a) = s·da.
            Map::Scale => def("scale", 1, scale, "s * a", Some(|g, _, _, dy, s| Ok(vec![Some(g.scale(dy, s)?)]))),
            // d(a²) = 2a·da.
            Map::Square => def(
                "square",
                1,
                |a, _, _| a * a,
                "a * a",
                Some(|g, _, x, dy, _| {
                    let dx = g.mul(dy, x[0])?;
                    Ok(vec![Some(g.scale(dx, 2.0)?)])
                }),
            ),
            // Repeating a value sums the gradients of its copies (reduced centrally).
            Map::Broadcast => def("broadcast", 1, |a, _, _| a, "a", Some(|_, _, _, dy, _| Ok(vec![Some(dy)]))),
            // σ' = σ(1 − σ), written in terms of the output y.
            Map::Sigmoid => def(
                "sigmoid",
                1,
                sigmoid,
                "1.0 / (1.0 + exp(-a))",
                Some(|g, y, _, dy, _| Ok(vec![Some(g.sigmoid_grad(y, dy)?)])),
            ),
            // tanh' = 1 − tanh², in terms of the output y.
            Map::Tanh => {
                def("tanh", 1, tanh, "tanh_accurate(a)", Some(|g, y, _, dy, _| Ok(vec![Some(g.tanh_grad(y, dy)?)])))
            }
            // relu' = 1 where x > 0, else 0; y > 0 exactly where x > 0, so the rule reads
            // the output, as PyTorch's does, and the input need not be kept for backward
            // (which lets a fused forward launch skip writing it).
            Map::Relu => def(
                "relu",
                1,
                relu,
                "select(0.0, a, a > 0.0 || is_nan(a))",
                Some(|g, y, _, dy, _| Ok(vec![Some(g.relu_grad(y, dy)?)])),
            ),
            // (eᵃ)' = eᵃ: dy times the output.
            Map::Exp => {
                def("exp", 1, |a, _, _| a.exp(), "exp(a)", Some(|g, y, _, dy, _| Ok(vec![Some(g.mul(dy, y)?)])))
            }
            // (√a)' = 1/(2√a): dy / (2y), as PyTorch computes it.
            Map::Sqrt => def(
                "sqrt",
                1,
                |a, _, _| a.sqrt(),
                "sqrt(a)",
                Some(|g, y, _, dy, _| {
                    let twice = g.scale(y, 2.0)?;
                    Ok(vec![Some(g.div(dy, twice)?)])
                }),
            ),
            Map::ClipValue => {
                def("clip_value", 1, |a, _, s| a.clamp(-s, s), "select(clamp(a, -s, s), a, is_nan(a))", None)
            }
            Map::ClipCoefficient => def("clip_coefficient", 1, clip_coefficient, "clip_factor(s / (a + 1e-6))", None),
            Map::SigmoidGrad => def("sigmoid_grad", 2, sigmoid_grad, "b * a * (1.0 - a)", None),
            Map::TanhGrad => def("tanh_grad", 2, tanh_grad, "b * (1.0 - a * a)", None),
            Map::ReluGrad => def("relu_grad", 2, relu_grad, "select(0.0, b, a > 0.0 || is_nan(a))", None),
            Map::Custom(index) => registered(index),
            _ => crate::ops::elementwise_math::def_more(self),
        }
    }
}

impl Map {
    /// Runs `body` with this op's CPU function ([`MapDef::cpu`]): the ops training spends
    /// its elementwise time in as their own function items, which the loop inlines; the
    /// rest through the pointer (`tests::inlined_ops_are_their_definitions` checks that
    /// each arm computes what its definition does, bit for bit, on 81 pairs of awkward
    /// operands).
    pub(crate) fn with_cpu(self, body: impl ElementLoop) {
        match self {
            Map::Add => body.run(add),
            Map::Sub => body.run(sub),
            Map::Mul => body.run(mul),
            Map::Scale => body.run(scale),
            Map::Sigmoid => body.run(sigmoid),
            Map::Tanh => body.run(tanh),
            Map::Relu => body.run(relu),
            Map::SigmoidGrad => body.run(sigmoid_grad),
            Map::TanhGrad => body.run(tanh_grad),
            Map::ReluGrad => body.run(relu_grad),
            _ => body.run(self.def().cpu),
        }
    }
}

fn add(a: f32, b: f32, _: f32) -> f32 {
    a + b
}

fn sub(a: f32, b: f32, _: f32) -> f32 {
    a - b
}

fn mul(a: f32, b: f32, _: f32) -> f32 {
    a * b
}

fn scale(a: f32, _: f32, s: f32) -> f32 {
    s * a
}

fn sigmoid(a: f32, _: f32, _: f32) -> f32 {
    1.0 / (1.0 + (-a).exp())
}

fn tanh(a: f32, _: f32, _: f32) -> f32 {
    a.tanh()
}

/// `dy · y(1 − y)` for the output `y` of a sigmoid.
fn sigmoid_grad(y: f32, dy: f32, _: f32) -> f32 {
    dy * y * (1.0 - y)
}

/// `dy · (1 − y²)` for the output `y` of a tanh.
fn tanh_grad(y: f32, dy: f32, _: f32) -> f32 {
    dy * (1.0 - y * y)
}

/// `dy` except where `x ≤ 0` (NaN passes `dy`, as PyTorch's `threshold_backward` zeroes
/// only where `x <= 0`).
fn relu_grad(x: f32, dy: f32, _: f32) -> f32 {
    if x <= 0.0 {
        0.0
    } else {
        dy
    }
}

/// `max(a, 0)`; NaN stays NaN, as in PyTorch (`f32::max` would return 0).
fn relu(a: f32, _: f32, _: f32) -> f32 {
    if a > 0.0 || a.is_nan() {
        a
    } else {
        0.0
    }
}

/// PyTorch's `clip_grad_norm_` factor `min(1, max_norm / (norm + 1e-6))`; NaN for a NaN
/// norm (`f32::min` would return 1).
fn clip_coefficient(norm: f32, _: f32, max_norm: f32) -> f32 {
    let factor = max_norm / (norm + 1e-6);
    if factor.is_nan() {
        factor
    } else {
        factor.min(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::{ElementLoop, Map};

    /// Collects what the element function gives for a set of awkward operands.
    struct Sample<'a>(&'a mut Vec<u32>);

    const VALUES: [f32; 9] = [0.0, -0.0, 1.5, -2.25, 1e-30, 88.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN];

    impl ElementLoop for Sample<'_> {
        fn run<F: Fn(f32, f32, f32) -> f32 + Copy + Sync>(self, f: F) {
            for a in VALUES {
                for b in VALUES {
                    self.0.push(f(a, b, 0.75).to_bits());
                }
            }
        }
    }

    #[test]
    fn inlined_ops_are_their_definitions() {
        for map in Map::ALL {
            let (mut inlined, mut defined) = (Vec::new(), Vec::new());
            map.with_cpu(Sample(&mut inlined));
            Sample(&mut defined).run(map.def().cpu);
            assert_eq!(inlined, defined, "{map:?}");
        }
    }
}
