//! The checks the crate tests its own ops with, for users who add ops
//! ([`crate::ops::custom`]) or compose them: central differences against autodiff, and one
//! backend against the CPU reference.

use rand::Rng;

use crate::backend::{Device, Session};
use crate::error::Result;
use crate::graph::shape::Shape;
use crate::graph::{Graph, NodeId};

/// Step of the central differences. In f32 its rounding costs about 1e-5 of the result
/// and its truncation `H²·f'''/6` under 1e-4 for smooth ops of values near ±1, while a
/// wrong rule (a missing factor, a sign, a dropped term) is off by far more.
pub const H: f32 = 1e-2;

/// One derivative where autodiff and central differences disagree.
#[derive(Clone, Debug, PartialEq)]
pub struct GradientMismatch {
    /// Which input (in the order of the shapes).
    pub input: usize,
    /// Which element of it.
    pub index: usize,
    /// What autodiff recorded.
    pub autodiff: f64,
    /// What central differences give.
    pub numeric: f64,
}

/// Values in ±[0.05, 1), from `rng`: away from the kinks of relu, abs and clamp at 0.
pub fn away_from_zero(rng: &mut impl Rng, shape: Shape) -> Vec<f32> {
    (0..shape.len())
        .map(|_| {
            let v: f32 = rng.random_range(0.05..1.0);
            if rng.random_bool(0.5) {
                v
            } else {
                -v
            }
        })
        .collect()
}

/// Checks every derivative of `build` with respect to inputs of `shapes` (random values
/// from `seed`, see [`away_from_zero`]) on the CPU backend: autodiff's vector-Jacobian
/// product for a random cotangent `c` (so a rule that ignores its incoming gradient
/// fails) against central differences of `Σ c·y` (summed in f64) with step [`H`]. Returns
/// the derivatives outside `1e-3 + 1e-2·|autodiff|`: none when the rules are right.
///
/// # Errors
///
/// The errors of recording `build` and of differentiating it, e.g.
/// [`crate::Error::NotDifferentiable`].
pub fn check_gradients(
    shapes: &[Shape],
    seed: u64,
    build: impl Fn(&mut Graph, &[NodeId]) -> Result<NodeId>,
) -> Result<Vec<GradientMismatch>> {
    let mut rng = crate::train::init::rng(seed);
    let mut g = Graph::new();
    let inputs: Vec<NodeId> = shapes
        .iter()
        .enumerate()
        .map(|(i, &s)| g.parameter(&format!("p{i}"), s, away_from_zero(&mut rng, s)))
        .collect::<Result<_>>()?;
    let out = build(&mut g, &inputs)?;
    let cotangent = away_from_zero(&mut rng, g.shape(out)?);
    let seed_node = g.constant(g.shape(out)?, cotangent.clone())?;
    let grads = g.backward_from(out, seed_node)?;
    let grad_ids: Vec<Option<NodeId>> = inputs.iter().map(|&p| grads.get(p)).collect();
    let mut keep = vec![out];
    keep.extend(grad_ids.iter().flatten());
    let mut session = Device::Cpu.compile_inference(&g, &keep)?;
    session.run()?;
    let mut mismatches = Vec::new();
    for (i, &p) in inputs.iter().enumerate() {
        // An input the output does not depend on has no gradient: all zeros.
        let analytic = match grad_ids[i] {
            Some(id) => session.read(id)?,
            None => vec![0.0; shapes[i].len()],
        };
        let mut values = g.node(p)?.init.clone().unwrap_or_default();
        for j in 0..values.len() {
            let original = values[j];
            let mut at = |v: f32, session: &mut dyn Session| -> Result<f64> {
                values[j] = v;
                session.write(p, &values)?;
                let y = session.run_and_read(&[out])?.remove(0);
                Ok(y.iter().zip(&cotangent).map(|(&y, &c)| y as f64 * c as f64).sum())
            };
            let numeric =
                (at(original + H, session.as_mut())? - at(original - H, session.as_mut())?) / (2.0 * H as f64);
            at(original, session.as_mut())?;
            let autodiff = analytic[j] as f64;
            if (numeric - autodiff).abs() > 1e-3 + 1e-2 * autodiff.abs() || numeric.is_nan() != autodiff.is_nan() {
                mismatches.push(GradientMismatch { input: i, index: j, autodiff, numeric });
            }
        }
    }
    Ok(mismatches)
}

/// The output of `build` on inputs of `shapes` (values in ±[0.15, 3), from `seed`)
/// computed by `device` and by the CPU reference: `(device's, reference's)`, to compare
/// with a tolerance suited to the op.
///
/// # Errors
///
/// The errors of recording `build` and of compiling or running it on either backend.
pub fn compare_backends(
    device: &Device,
    shapes: &[Shape],
    seed: u64,
    build: impl Fn(&mut Graph, &[NodeId]) -> Result<NodeId>,
) -> Result<(Vec<f32>, Vec<f32>)> {
    let mut rng = crate::train::init::rng(seed);
    let mut g = Graph::new();
    let inputs: Vec<NodeId> = shapes
        .iter()
        .map(|&s| g.constant(s, away_from_zero(&mut rng, s).iter().map(|v| v * 3.0).collect()))
        .collect::<Result<_>>()?;
    let out = build(&mut g, &inputs)?;
    let expected = Device::Cpu.compile(&g, &[out])?.run_and_read(&[out])?.remove(0);
    let actual = device.compile(&g, &[out])?.run_and_read(&[out])?.remove(0);
    Ok((actual, expected))
}
