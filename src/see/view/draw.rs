//! Drawing a laid-out graph with plotters, to SVG or PNG: boxes coloured by kind, arrows
//! in the direction the data flows, a legend, and the bands labelled.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::layout::{layout, Layout, BOX_HEIGHT, BOX_WIDTH, MARGIN, ROW};
use super::{Kind, View};
use crate::error::{Error, Result};
use crate::graph::NodeId;
use crate::see::plot::{draw_bytes, is_svg, plot_error};

/// The largest PNG drawn: 16,384 pixels a side and 50 million pixels in all.
const MAX_SIDE: u32 = 16_384;
const MAX_PIXELS: u64 = 50_000_000;
/// Characters that fit on one line of a box.
const LINE_CHARS: usize = 24;

type Drawn = std::result::Result<(), String>;

pub(super) fn svg(view: &View) -> Result<String> {
    let layout = layout(view);
    let size = (layout.width, layout.height);
    let bytes = draw_bytes!(true, size, |root: &DrawingArea<_, Shift>| draw(root, view, &layout));
    let bytes = bytes.map_err(|e| Error::Format { path: "graph drawing".into(), msg: e })?;
    String::from_utf8(bytes).map_err(|e| Error::Format { path: "graph drawing".into(), msg: e.to_string() })
}

pub(super) fn write(view: &View, path: &Path) -> Result<()> {
    crate::see::plot::check_chart_path(path)?;
    let layout = layout(view);
    let (w, h) = (layout.width, layout.height);
    let svg = is_svg(path);
    if !svg && (w > MAX_SIDE || h > MAX_SIDE || w as u64 * h as u64 > MAX_PIXELS) {
        return Err(Error::TooLarge {
            what: format!("a PNG drawing of {} nodes", layout.boxes.len()),
            size: format!("{w} × {h} pixels"),
            limit: format!("{MAX_SIDE} pixels a side and {MAX_PIXELS} in all (write .svg, or draw one Part)"),
        });
    }
    let bytes = draw_bytes!(svg, (w, h), |root: &DrawingArea<_, Shift>| draw(root, view, &layout));
    let bytes = bytes.map_err(|e| plot_error(path, e))?;
    crate::output::write_atomically(path, &bytes)
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, view: &View, layout: &Layout) -> Drawn {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    header(root, view, layout)?;
    for &(name, y) in &layout.bands {
        let style = ("sans-serif", 15).into_font().color(&RGBColor(120, 120, 120));
        root.draw(&Text::new(name.to_owned(), (MARGIN, y - 12), style)).map_err(err)?;
    }
    for id in view.nodes() {
        for input in &view.graph().nodes()[id.index()].inputs {
            if layout.boxes.contains_key(input) {
                arrow(root, layout, *input, id, Kind::of(view.graph(), id) == Kind::Gradient)?;
            }
        }
    }
    for id in view.nodes() {
        node_box(root, view, layout, id)?;
    }
    Ok(())
}

/// Title and colour legend.
fn header<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, view: &View, layout: &Layout) -> Drawn {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let title = format!(
        "Computational graph: {} nodes; forward left to right, gradients beneath flowing back",
        layout.boxes.len()
    );
    root.draw(&Text::new(title, (MARGIN, 14), ("sans-serif", 20).into_font())).map_err(err)?;
    let kinds =
        [Kind::Input, Kind::Parameter, Kind::Constant, Kind::Forward, Kind::Gradient, Kind::Update, Kind::State];
    let mut x = MARGIN;
    for kind in kinds.into_iter().filter(|k| view.nodes().iter().any(|&id| Kind::of(view.graph(), id) == *k)) {
        let (r, g, b) = kind.colour();
        root.draw(&Rectangle::new([(x, 46), (x + 18, 62)], RGBColor(r, g, b).filled())).map_err(err)?;
        root.draw(&Rectangle::new([(x, 46), (x + 18, 62)], BLACK.stroke_width(1))).map_err(err)?;
        root.draw(&Text::new(kind.word().to_owned(), (x + 24, 46), ("sans-serif", 15).into_font())).map_err(err)?;
        x += 40 + 9 * kind.word().len() as i32;
    }
    Ok(())
}

/// The path of an edge from `from`'s box to `to`'s: sideways between columns (so the
/// backward band's arrows point left), straight down or up to a neighbour in the same
/// column, and around the right side of the boxes between for a farther one.
fn route(layout: &Layout, from: NodeId, to: NodeId) -> Vec<(i32, i32)> {
    let ((fx, fy), (tx, ty)) = (layout.boxes[&from], layout.boxes[&to]);
    let (fc, tc) = (layout.columns[&from], layout.columns[&to]);
    let (fmid, tmid) = (fy + BOX_HEIGHT / 2, ty + BOX_HEIGHT / 2);
    let centre = fx + BOX_WIDTH / 2;
    if tc > fc {
        vec![(fx + BOX_WIDTH, fmid), (tx, tmid)]
    } else if tc < fc {
        vec![(fx, fmid), (tx + BOX_WIDTH, tmid)]
    } else if (ty - fy).abs() > ROW {
        // Below the middle, where the arrows from other columns do not arrive.
        let (side, from_y, to_y) = (fx + BOX_WIDTH + 10, fmid + 12, tmid + 12);
        vec![(fx + BOX_WIDTH, from_y), (side, from_y), (side, to_y), (tx + BOX_WIDTH, to_y)]
    } else if ty > fy {
        vec![(centre, fy + BOX_HEIGHT), (centre, ty)]
    } else {
        vec![(centre, fy), (centre, ty + BOX_HEIGHT)]
    }
}

fn arrow<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    layout: &Layout,
    from: NodeId,
    to: NodeId,
    back: bool,
) -> Drawn {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let colour = if back { RGBColor(230, 81, 0) } else { RGBColor(90, 90, 90) };
    let path = route(layout, from, to);
    root.draw(&PathElement::new(path.clone(), colour.stroke_width(1))).map_err(err)?;
    let ((x0, y0), (x1, y1)) = (path[path.len() - 2], path[path.len() - 1]);
    let (dx, dy) = ((x1 - x0) as f64, (y1 - y0) as f64);
    let len = (dx * dx + dy * dy).sqrt().max(1.0);
    let (ux, uy) = (dx / len, dy / len);
    let point = |along: f64, across: f64| {
        ((x1 as f64 - ux * along - uy * across) as i32, (y1 as f64 - uy * along + ux * across) as i32)
    };
    let head = vec![(x1, y1), point(10.0, 4.5), point(10.0, -4.5)];
    root.draw(&Polygon::new(head, colour.filled())).map_err(err)
}

fn node_box<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, view: &View, layout: &Layout, id: NodeId) -> Drawn {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let (x, y) = layout.boxes[&id];
    let (r, g, b) = Kind::of(view.graph(), id).colour();
    let corners = [(x, y), (x + BOX_WIDTH, y + BOX_HEIGHT)];
    root.draw(&Rectangle::new(corners, RGBColor(r, g, b).filled())).map_err(err)?;
    root.draw(&Rectangle::new(corners, RGBColor(60, 60, 60).stroke_width(1))).map_err(err)?;
    let lines = view.label(id);
    let step = BOX_HEIGHT / (lines.len() as i32 + 1);
    for (i, line) in lines.iter().enumerate() {
        let size = if i == 0 { 15 } else { 13 };
        let style = ("sans-serif", size).into_font().into_text_style(root).pos(Pos::new(HPos::Center, VPos::Center));
        let at = (x + BOX_WIDTH / 2, y + step * (i as i32 + 1));
        root.draw(&Text::new(shorten(line), at, style)).map_err(err)?;
    }
    Ok(())
}

/// A line cut to fit its box.
fn shorten(line: &str) -> String {
    if line.chars().count() <= LINE_CHARS {
        return line.to_owned();
    }
    let kept: String = line.chars().take(LINE_CHARS - 1).collect();
    format!("{kept}…")
}
