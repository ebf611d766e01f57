//! A layered layout in the textbook's arrangement: forward values in columns left to right
//! by their distance from the inputs (each leaf just before its first reader); the
//! gradient nodes in a band beneath, each under the forward node whose backward rule
//! recorded it, so the backward pass reads right to left; updates and optimizer state in
//! a band at the bottom, under the parameters they change. Nodes sharing a column and
//! band stack downwards in recording order.

use std::collections::{BTreeMap, HashMap};

use super::{Kind, View};
use crate::graph::NodeId;

/// Horizontal distance between columns, and a box's width.
pub(crate) const COLUMN: i32 = 200;
pub(crate) const BOX_WIDTH: i32 = 172;
/// Vertical distance between stacked boxes, and a box's height.
pub(crate) const ROW: i32 = 74;
pub(crate) const BOX_HEIGHT: i32 = 58;
/// Room above the drawing for the title and legend, and around it.
pub(crate) const HEADER: i32 = 86;
pub(crate) const MARGIN: i32 = 30;
/// Room between bands for their label.
const BAND_GAP: i32 = 36;

/// Where each drawn node's box is (top-left corner), and the canvas size.
pub(crate) struct Layout {
    pub(crate) boxes: HashMap<NodeId, (i32, i32)>,
    pub(crate) columns: HashMap<NodeId, i32>,
    /// `(label, y)` of each band that holds nodes.
    pub(crate) bands: Vec<(&'static str, i32)>,
    pub(crate) width: u32,
    pub(crate) height: u32,
}

fn band(kind: Kind) -> usize {
    match kind {
        Kind::Gradient => 1,
        Kind::Update | Kind::State => 2,
        _ => 0,
    }
}

const BAND_NAMES: [&str; 3] = ["forward", "backward: gradients", "updates and optimizer state"];

/// Columns for every node of the graph (drawn or not, so that a half keeps its places).
fn columns(view: &View) -> Vec<i32> {
    let graph = view.graph();
    let n = graph.len();
    let mut col: Vec<Option<i32>> = vec![None; n];
    for i in 0..n {
        let id = graph.id_at(i);
        let node = &graph.nodes()[i];
        col[i] = match Kind::of(graph, id) {
            Kind::Gradient => graph.gradient_owner(id).and_then(|o| col[o.index()]).or(Some(1)),
            Kind::Forward => Some(1 + node.inputs.iter().filter_map(|x| col[x.index()]).max().unwrap_or(0)),
            _ => None,
        };
    }
    let mut readers: Vec<Vec<usize>> = vec![vec![]; n];
    for (i, node) in graph.nodes().iter().enumerate() {
        node.inputs.iter().for_each(|x| readers[x.index()].push(i));
    }
    for i in 0..n {
        if graph.nodes()[i].op.is_leaf() && col[i].is_none() {
            let first = readers[i].iter().filter_map(|&r| col[r]).min();
            col[i] = Some(first.map_or(0, |c| (c - 1).max(0)));
        }
    }
    for i in 0..n {
        if col[i].is_none() {
            // An update sits under the leaf it changes.
            let target = graph.nodes()[i].inputs.first().map(|t| t.index());
            col[i] = target.and_then(|t| col[t]).or(Some(0));
        }
    }
    col.into_iter().map(|c| c.unwrap_or(0)).collect()
}

/// Lays out the nodes `view` draws.
pub(crate) fn layout(view: &View) -> Layout {
    let graph = view.graph();
    let all_columns = columns(view);
    let drawn = view.nodes();
    // Columns that hold a drawn node, renumbered without gaps.
    let used: BTreeMap<i32, i32> = {
        let mut set: Vec<i32> = drawn.iter().map(|id| all_columns[id.index()]).collect();
        set.sort_unstable();
        set.dedup();
        set.into_iter().enumerate().map(|(i, c)| (c, i as i32)).collect()
    };
    let mut stacks: BTreeMap<(usize, i32), Vec<NodeId>> = BTreeMap::new();
    for &id in &drawn {
        let column = used[&all_columns[id.index()]];
        stacks.entry((band(Kind::of(graph, id)), column)).or_default().push(id);
    }
    let mut depth = [0i32; 3];
    for ((b, _), stack) in &stacks {
        depth[*b] = depth[*b].max(stack.len() as i32);
    }
    let mut band_top = [0i32; 3];
    let mut bands = Vec::new();
    let mut y = HEADER;
    for b in 0..3 {
        if depth[b] > 0 {
            y += BAND_GAP;
            bands.push((BAND_NAMES[b], y - 8));
            band_top[b] = y;
            y += depth[b] * ROW;
        }
    }
    let mut boxes = HashMap::new();
    let mut columns = HashMap::new();
    for ((b, column), stack) in &stacks {
        for (row, &id) in stack.iter().enumerate() {
            boxes.insert(id, (MARGIN + column * COLUMN, band_top[*b] + row as i32 * ROW));
            columns.insert(id, *column);
        }
    }
    let width = (2 * MARGIN + used.len().max(4) as i32 * COLUMN) as u32;
    let height = (y + MARGIN) as u32;
    Layout { boxes, columns, bands, width, height }
}
