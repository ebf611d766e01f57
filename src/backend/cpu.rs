//! The CPU reference backend: runs a [`Plan`] with the loops of `cpu_ops`. It is the
//! executable specification that every GPU result is checked against.

use super::cpu_ops as k;
use super::Session;
use crate::error::{Error, Result};
use crate::graph::{check_len, Graph, NodeId};
use crate::op::Op;
use crate::plan::Plan;

/// A graph compiled for the CPU: one value vector per node that runs.
pub struct CpuSession {
    graph: Graph,
    plan: Plan,
    values: Vec<Vec<f32>>,
}

impl CpuSession {
    /// Plans `graph` (see [`Plan::new`]) and loads the initial values of leaves.
    pub fn new(graph: &Graph, keep: &[NodeId], updates: bool) -> Result<Self> {
        let plan = Plan::new(graph, keep, updates)?;
        let values = graph
            .nodes()
            .iter()
            .map(|n| if n.op.is_leaf() { n.init.clone().unwrap_or_else(|| vec![0.0; n.shape.len()]) } else { vec![] })
            .collect();
        Ok(CpuSession { graph: graph.clone(), plan, values })
    }

    fn eval(&self, id: NodeId) -> Vec<f32> {
        let node = &self.graph.nodes()[id.index()];
        let arg = |i: usize| self.values[node.inputs[i].index()].as_slice();
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
            Op::SgdUpdate { lr } => binary(&|p, g| p - lr * g),
            Op::Input | Op::Parameter | Op::Constant | Op::State => unreachable!("leaves are not evaluated"),
        }
    }

    fn readable(&self, id: NodeId) -> Result<&Vec<f32>> {
        let known = self.plan.slot_of(id).is_some() || self.graph.node(id).is_ok_and(|n| n.op.is_leaf());
        if !known || !(self.plan.kept.contains(&id) || self.graph.nodes()[id.index()].op.is_leaf()) {
            return Err(Error::UnknownNode(id.0));
        }
        Ok(&self.values[id.index()])
    }
}

impl Session for CpuSession {
    fn backend_name(&self) -> String {
        "cpu (reference)".into()
    }

    fn write(&mut self, id: NodeId, data: &[f32]) -> Result<()> {
        let node = self.graph.node(id)?;
        if !node.op.is_leaf() {
            return Err(Error::InvalidArgument {
                op: "write",
                msg: format!("{} is computed, not written", self.graph.label(id)),
            });
        }
        check_len(&self.graph.label(id), node.shape, data.len())?;
        self.values[id.index()] = data.to_vec();
        Ok(())
    }

    fn run(&mut self) -> Result<()> {
        for i in 0..self.plan.order.len() {
            let id = self.plan.order[i];
            let value = self.eval(id);
            let node = &self.graph.nodes()[id.index()];
            // In-place updates write through to the value they alias.
            if let Some(&target) = node.op.updated_inputs().first() {
                self.values[node.inputs[target].index()] = value.clone();
            }
            self.values[id.index()] = value;
        }
        Ok(())
    }

    fn read(&mut self, id: NodeId) -> Result<Vec<f32>> {
        self.readable(id).cloned()
    }
}
