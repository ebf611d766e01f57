//! Learning-rate schedules, as PyTorch's `lr_scheduler`: the rate for step (or epoch) `t`
//! from the optimizer's initial rate. The rate lives on the device in a `[1, 1]` node
//! ([`crate::OptimizerNodes::learning_rate`]), so following a schedule is a four-byte write
//! between steps ([`crate::train::classifier::Classifier::set_learning_rate`], or [`crate::Session::write`]), not a recompile.

use std::f64::consts::PI;

use crate::error::{Error, Result};

/// How the learning rate changes with the step count `t` (0 for the first step).
#[derive(Clone, Debug, PartialEq)]
pub enum Schedule {
    /// The initial rate throughout.
    Constant,
    /// PyTorch's `StepLR`: the rate times `gamma` every `every` steps.
    Step {
        /// Steps between two decays (at least 1).
        every: usize,
        /// Factor of each decay.
        gamma: f32,
    },
    /// PyTorch's `CosineAnnealingLR` (closed form): from the initial rate down to
    /// `min_lr` along half a cosine over `steps` steps; past them, as in PyTorch, the
    /// cosine goes on and the rate rises again (period `2 · steps`).
    Cosine {
        /// Length of the descent (at least 1).
        steps: usize,
        /// The rate at its end.
        min_lr: f32,
    },
    /// PyTorch's `LinearLR` as a warm-up: the rate times a factor rising linearly from
    /// `start_factor` to 1 over `steps` steps, then `then` counted from the warm-up's
    /// end (PyTorch's `SequentialLR`).
    Warmup {
        /// Length of the warm-up.
        steps: usize,
        /// The factor at step 0.
        start_factor: f32,
        /// The schedule after the warm-up.
        then: Box<Schedule>,
    },
}

impl Schedule {
    /// The learning rate at step `t` for initial rate `base`, computed in f64.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a schedule of zero length (`Step { every: 0 }`,
    /// `Cosine { steps: 0 }`) or a factor or rate that is not finite.
    pub fn lr(&self, base: f32, t: usize) -> Result<f32> {
        self.validate()?;
        Ok(self.rate(base as f64, t) as f32)
    }

    /// `Err` naming what makes this schedule unusable.
    ///
    /// # Errors
    ///
    /// As [`Schedule::lr`].
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::InvalidArgument { op: "schedule", msg });
        match self {
            Schedule::Constant => Ok(()),
            Schedule::Step { every: 0, .. } => bad("Step { every: 0 } never steps: give every >= 1".into()),
            Schedule::Cosine { steps: 0, .. } => bad("Cosine { steps: 0 } has no descent: give steps >= 1".into()),
            Schedule::Step { gamma: v, .. } | Schedule::Cosine { min_lr: v, .. } if !v.is_finite() => {
                bad(format!("{self:?}: {v} is not finite"))
            }
            Schedule::Warmup { start_factor, .. } if !start_factor.is_finite() => {
                bad(format!("Warmup start_factor {start_factor} is not finite"))
            }
            Schedule::Warmup { then, .. } => then.validate(),
            _ => Ok(()),
        }
    }

    fn rate(&self, base: f64, t: usize) -> f64 {
        match self {
            Schedule::Constant => base,
            Schedule::Step { every, gamma } => base * (*gamma as f64).powi((t / every) as i32),
            Schedule::Cosine { steps, min_lr } => {
                let min = *min_lr as f64;
                let progress = t as f64 / *steps as f64;
                min + (base - min) * (1.0 + (PI * progress).cos()) / 2.0
            }
            Schedule::Warmup { steps, start_factor, then } => {
                if t >= *steps {
                    return then.rate(base, t - steps);
                }
                let start = *start_factor as f64;
                base * (start + (1.0 - start) * t as f64 / *steps as f64)
            }
        }
    }
}
