//! The CPU reference backend: runs a [`Plan`] with the loops of `cpu_ops`. It is the
//! executable specification that every GPU result is checked against.

use super::cpu_ops as k;
use super::Session;
use crate::error::{Error, Result};
use crate::graph::{Graph, NodeId};
use crate::op::Op;
use crate::plan::Plan;

/// A graph compiled for the CPU: one value vector per node that runs.
pub struct CpuSession {
    graph: Graph,
    plan: Plan,
    values: Vec<Vec<f32>>,
    has_run: bool,
}

impl CpuSession {
    /// Plans `graph` (see [`Plan::new`]) and loads the initial values of leaves.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignNode`] for a kept id of another graph, [`Error::TooLarge`] when the
    /// values would not fit in memory.
    pub fn new(graph: &Graph, keep: &[NodeId], updates: bool) -> Result<Self> {
        let plan = Plan::new(graph, keep, updates)?;
        check_memory(graph, &plan)?;
        let values = graph
            .nodes()
            .iter()
            .map(|n| if n.op.is_leaf() { n.init.clone().unwrap_or_else(|| vec![0.0; n.shape.len()]) } else { vec![] })
            .collect();
        Ok(CpuSession { graph: graph.clone(), plan, values, has_run: false })
    }

    /// Where a node's value lives: an in-place update shares its target's.
    fn storage(&self, id: NodeId) -> usize {
        let node = &self.graph.nodes()[id.index()];
        match node.op.updated_inputs().first() {
            Some(&target) => self.storage(node.inputs[target]),
            None => id.index(),
        }
    }

    fn eval(&self, id: NodeId) -> Vec<f32> {
        let node = &self.graph.nodes()[id.index()];
        let arg = |i: usize| self.values[self.storage(node.inputs[i])].as_slice();
        let shape = |i: usize| self.graph.nodes()[node.inputs[i].index()].shape;
        let binary = |f: &dyn Fn(f32, f32) -> f32| k::binary(arg(0), shape(0), arg(1), shape(1), node.shape, f);
        match node.op {
            Op::MatMul { trans_a, trans_b } => k::matmul(arg(0), shape(0), arg(1), shape(1), trans_a, trans_b),
            Op::Add => binary(&|a, b| a + b),
            Op::Sub => binary(&|a, b| a - b),
            Op::Mul => binary(&|a, b| a * b),
            Op::Scale(s) => k::unary(arg(0), |x| s * x),
            Op::Square => k::unary(arg(0), |x| x * x),
            Op::Broadcast => k::broadcast(arg(0), shape(0), node.shape),
            Op::Sigmoid => k::unary(arg(0), k::sigmoid),
            Op::Tanh => k::unary(arg(0), f32::tanh),
            Op::Relu => k::unary(arg(0), k::relu),
            Op::SigmoidGrad => binary(&|y, dy| dy * y * (1.0 - y)),
            Op::TanhGrad => binary(&|y, dy| dy * (1.0 - y * y)),
            Op::ReluGrad => binary(&|x, dy| if x > 0.0 { dy } else { 0.0 }),
            Op::SumAll => vec![k::sum_all(arg(0))],
            Op::SumRows => k::sum_rows(arg(0), shape(0)),
            Op::Mean => vec![k::sum_all(arg(0)) / shape(0).len() as f32],
            Op::MseLoss => vec![k::mse(arg(0), arg(1))],
            Op::SoftmaxCrossEntropy => vec![k::softmax_cross_entropy(arg(0), arg(1), shape(0))],
            Op::SoftmaxCrossEntropyGrad => k::softmax_cross_entropy_grad(arg(0), arg(1), arg(2)[0], shape(0)),
            Op::CountCorrect => vec![k::count_correct(arg(0), arg(1), shape(0))],
            Op::SumSquares => vec![k::sum_squares(arg(0))],
            Op::Sqrt => k::unary(arg(0), f32::sqrt),
            Op::ClipCoefficient { max_norm } => k::unary(arg(0), |norm| k::clip_coefficient(norm, max_norm)),
            Op::ClipValue(limit) => k::unary(arg(0), |v| v.clamp(-limit, limit)),
            Op::GradStats => k::grad_stats(arg(0)).to_vec(),
            Op::Input | Op::Parameter | Op::Constant | Op::State => unreachable!("leaves are not evaluated"),
            Op::SgdUpdate { .. }
            | Op::SgdMomentum { .. }
            | Op::Adam(_)
            | Op::Increment
            | Op::AdamCorrections(_)
            | Op::Accumulate
            | Op::FirstNonFinite { .. } => {
                unreachable!("updates are applied in place")
            }
        }
    }

    /// Applies an in-place update to the values it overwrites.
    fn update(&mut self, id: NodeId) {
        let node = &self.graph.nodes()[id.index()];
        let at: Vec<usize> = node.inputs.iter().map(|&i| self.storage(i)).collect();
        let mut take = |i: usize| std::mem::take(&mut self.values[at[i]]);
        let (mut p, g) = (take(0), take(1));
        match node.op {
            Op::SgdUpdate { lr } => p.iter_mut().zip(&g).for_each(|(p, g)| *p -= lr * g),
            Op::Accumulate => p.iter_mut().zip(&g).for_each(|(p, g)| *p += g),
            Op::FirstNonFinite { tag } => {
                let step = take(2);
                if p == [0.0, 0.0] && g.iter().any(|v| !v.is_finite()) {
                    p = vec![step[0], tag as f32];
                }
                self.values[at[2]] = step;
            }
            Op::SgdMomentum { lr, momentum } => {
                let mut v = take(2);
                k::sgd_momentum(&mut p, &g, &mut v, lr, momentum);
                self.values[at[2]] = v;
            }
            Op::Adam(config) => {
                let (mut m, mut v, t) = (take(2), take(3), take(4));
                k::adam(&mut p, &g, &mut m, &mut v, &t, &config);
                (self.values[at[2]], self.values[at[3]], self.values[at[4]]) = (m, v, t);
            }
            _ => unreachable!("{} is not an update", node.op.name()),
        }
        (self.values[at[0]], self.values[at[1]]) = (p, g);
    }

    fn readable(&self, id: NodeId) -> Result<&Vec<f32>> {
        super::check_readable(&self.graph, &self.plan, id, self.has_run)?;
        Ok(&self.values[self.storage(id)])
    }
}

impl Session for CpuSession {
    fn backend_name(&self) -> String {
        "cpu (reference)".into()
    }

    fn write(&mut self, id: NodeId, data: &[f32]) -> Result<()> {
        self.graph.check_write(id, data.len())?;
        self.values[id.index()] = data.to_vec();
        Ok(())
    }

    fn run(&mut self) -> Result<()> {
        for i in 0..self.plan.order.len() {
            let id = self.plan.order[i];
            match self.graph.nodes()[id.index()].op {
                Op::Increment => {
                    let counter = self.storage(id);
                    self.values[counter][0] += 1.0;
                }
                Op::AdamCorrections(config) => {
                    let corrections = self.storage(id);
                    k::adam_corrections(&mut self.values[corrections], &config);
                }
                op if !op.updated_inputs().is_empty() => self.update(id),
                _ => self.values[id.index()] = self.eval(id),
            }
        }
        self.has_run = true;
        Ok(())
    }

    fn read(&mut self, id: NodeId) -> Result<Vec<f32>> {
        self.readable(id).cloned()
    }
}

/// `Err` before anything is allocated when the values the session keeps (one vector per
/// live node) could not be: the whole amount is reserved once and released, so an absurd
/// batch size is an error naming the size, not an allocation abort.
fn check_memory(graph: &Graph, plan: &Plan) -> Result<()> {
    let live = graph.nodes().iter().enumerate().filter(|(i, n)| n.op.is_leaf() || plan.slot[*i].is_some());
    let elements: u128 = live.map(|(_, n)| n.shape.len() as u128).sum();
    let bytes = elements * 4;
    let too_large = || Error::TooLarge {
        what: "the CPU session".into(),
        size: format!("{bytes} bytes for its values"),
        limit: "what this machine can allocate".into(),
    };
    let bytes = usize::try_from(bytes).map_err(|_| too_large())?;
    let mut probe: Vec<u8> = Vec::new();
    probe.try_reserve_exact(bytes).map_err(|_| too_large())
}
