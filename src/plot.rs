//! Charts written with `plotters`, PNG or SVG by the file's extension. Text uses an
//! embedded DejaVu Sans, so no system font library is needed.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{Error, Result};

const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

pub(crate) fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are the TrueType font shipped in assets/; it always parses.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

pub(crate) fn plot_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Format { path: path.display().to_string(), msg: format!("could not draw the chart: {e}") }
}

pub(crate) fn is_svg(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("svg"))
}

/// Draws `$draw(&root)` (a closure generic in use over the backend) into `$path` as SVG
/// or PNG. A macro because the closure is instantiated once per backend type.
macro_rules! render {
    ($path:expr, $size:expr, $draw:expr) => {{
        $crate::plot::register_font();
        let path: &std::path::Path = $path;
        let result: std::result::Result<(), String> = if $crate::plot::is_svg(path) {
            let root = plotters::prelude::SVGBackend::new(path, $size).into_drawing_area();
            $draw(&root).and_then(|_| root.present().map_err(|e| e.to_string()))
        } else {
            let root = plotters::prelude::BitMapBackend::new(path, $size).into_drawing_area();
            $draw(&root).and_then(|_| root.present().map_err(|e| e.to_string()))
        };
        result.map_err(|e| $crate::plot::plot_error(path, e))
    }};
}
#[allow(unused_imports)]
pub(crate) use render;

/// One epoch of a training run, as the curves chart shows it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss of the epoch.
    pub train_loss: f32,
    /// Test accuracy after the epoch, in [0, 1].
    pub test_accuracy: f32,
}

/// Writes the training loss and test accuracy per epoch, side by side, to `path`.
pub fn training_curves(path: &Path, records: &[EpochRecord]) -> Result<()> {
    if records.is_empty() {
        return Err(plot_error(path, "no epochs to plot"));
    }
    render!(path, (1200, 500), |root: &DrawingArea<_, Shift>| draw_curves(root, records))
}

fn draw_curves<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    records: &[EpochRecord],
) -> std::result::Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (left, right) = root.split_horizontally(600);
    let loss: Vec<(f64, f64)> = records.iter().map(|r| (r.epoch as f64, r.train_loss as f64)).collect();
    let accuracy: Vec<(f64, f64)> = records.iter().map(|r| (r.epoch as f64, 100.0 * r.test_accuracy as f64)).collect();
    line_panel(&left, "Training loss per epoch", "mean cross-entropy", &loss, &BLUE)?;
    line_panel(&right, "Test accuracy per epoch", "accuracy (%)", &accuracy, &RED)
}

/// One titled line chart with labelled axes, the y range padded around the data.
fn line_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    y_label: &str,
    points: &[(f64, f64)],
    color: &RGBColor,
) -> std::result::Result<(), String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let x_max = points.iter().map(|p| p.0).fold(1.0, f64::max);
    let (lo, hi) = points.iter().fold((f64::MAX, f64::MIN), |(lo, hi), p| (lo.min(p.1), hi.max(p.1)));
    let pad = ((hi - lo) * 0.1).max(1e-3);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 24))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(0.5..x_max + 0.5, (lo - pad)..(hi + pad))
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(y_label)
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .draw()
        .map_err(|e| err(&e))?;
    chart.draw_series(LineSeries::new(points.iter().copied(), color.stroke_width(2))).map_err(|e| err(&e))?;
    chart.draw_series(points.iter().map(|&p| Circle::new(p, 4, color.filled()))).map_err(|e| err(&e))?;
    Ok(())
}
