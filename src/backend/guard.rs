//! Misuse a run can see on the host, checked the same way by both backends before each
//! run: an input that was never written (a device-batch graph run before
//! [`crate::train::resident::DeviceBatches::upload`] or before
//! [`crate::train::resident::DeviceBatches::start_epoch`]), and a run past the end of an
//! epoch of device batches (which would otherwise gather the epoch's first batch again).

use crate::compile::plan::Plan;
use crate::error::{Error, Result};
use crate::graph::op::Op;
use crate::graph::{Graph, NodeId};

/// The inputs still unwritten and the steps left in each epoch of device batches.
#[derive(Clone, Debug)]
pub(crate) struct RunGuard {
    unwritten: Vec<NodeId>,
    /// `(counter, steps per epoch, steps left)` of each [`Graph::device_batches`].
    epochs: Vec<(NodeId, usize, usize)>,
}

impl RunGuard {
    /// Every input the plan stores starts unwritten; every epoch starts whole (its
    /// counter starts at 0).
    pub fn new(graph: &Graph, plan: &Plan) -> Self {
        let unwritten = (0..graph.nodes().len())
            .map(|i| graph.id_at(i))
            .filter(|&id| graph.nodes()[id.index()].op == Op::Input && plan.slot_of(id).is_some())
            .collect();
        let epochs = graph.epoch_counters().iter().map(|&(counter, steps)| (counter, steps, steps)).collect();
        RunGuard { unwritten, epochs }
    }

    /// Notes that `id` now holds `data` (a write, or a copy from another session).
    pub fn written(&mut self, id: NodeId, data: Option<&[f32]>) {
        self.unwritten.retain(|&u| u != id);
        for (counter, steps, left) in &mut self.epochs {
            if *counter == id {
                // The counter is `[low, high]`, the count `high · 65536 + low`; a copied
                // counter (no data here) is taken as a fresh epoch's.
                let count = data.map_or(0, |d| d[0] as usize + d[1] as usize * 65_536);
                *left = *steps - count % *steps;
            }
        }
    }

    /// `Err` unless `steps` runs may follow: every input written, each epoch of device
    /// batches with `steps` steps left (which the runs then use up).
    pub fn before_runs(&mut self, graph: &Graph, steps: usize) -> Result<()> {
        if let Some(&id) = self.unwritten.first() {
            return Err(Error::InvalidArgument { op: "run", msg: unwritten_message(&graph.label(id)) });
        }
        if let Some(&(_, per_epoch, left)) = self.epochs.iter().find(|(_, _, left)| *left < steps) {
            let done = if left == 0 {
                format!("all {per_epoch} steps of this epoch have run")
            } else {
                format!("{steps} steps asked for, but only {left} of this epoch's {per_epoch} are left")
            };
            let msg = format!("{done}: call DeviceBatches::start_epoch with the next epoch's order first");
            return Err(Error::InvalidArgument { op: "run", msg });
        }
        for (_, _, left) in &mut self.epochs {
            *left -= steps;
        }
        Ok(())
    }
}

/// What to call for an input never written: the data-set nodes of device batches name
/// the call that writes them.
fn unwritten_message(name: &str) -> String {
    let call = match name {
        "data.images" | "data.palette" | "data.labels" => "DeviceBatches::upload".to_owned(),
        "data.order" => "DeviceBatches::start_epoch".to_owned(),
        _ => format!("Session::write for '{name}'"),
    };
    format!("input '{name}' has not been written: call {call} before running")
}
