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
        .x_labels(points.len().min(20))
        .x_label_formatter(&|x| if (x - x.round()).abs() < 1e-6 { format!("{x:.0}") } else { String::new() })
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

/// The classic gradient-flow chart: for each parameter (in layer order) a bar of the max
/// and a bar of the mean |gradient|, on a log scale so that vanishing layers stay visible.
pub fn gradient_flow(path: &Path, title: &str, stats: &[crate::diagnostics::GradStat]) -> Result<()> {
    if stats.is_empty() {
        return Err(plot_error(path, "no gradients to plot"));
    }
    let width = (140 + 70 * stats.len() as u32).max(700);
    render!(path, (width, 560), |root: &DrawingArea<_, Shift>| draw_flow(root, title, stats))
}

fn draw_flow<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    stats: &[crate::diagnostics::GradStat],
) -> std::result::Result<(), String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let positive = |v: f32| (v as f64).max(1e-30);
    let lo = stats.iter().map(|s| positive(s.mean_abs)).fold(f64::MAX, f64::min) / 3.0;
    let hi = stats.iter().map(|s| positive(s.max_abs)).fold(0.0, f64::max) * 3.0;
    let n = stats.len();
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 24))
        .margin(20)
        .x_label_area_size(60)
        .y_label_area_size(80)
        .build_cartesian_2d(-0.5..n as f64 - 0.5, (lo..hi).log_scale())
        .map_err(|e| err(&e))?;
    let label = |x: &f64| {
        let i = x.round();
        let on_tick = (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < n;
        if on_tick {
            stats[i as usize].name.clone()
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .x_labels(n)
        .x_label_formatter(&label)
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .x_desc("parameter (input → output)")
        .y_desc("|gradient| (log scale)")
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 16))
        .disable_x_mesh()
        .draw()
        .map_err(|e| err(&e))?;
    let bars = |offset: f64, value: fn(&crate::diagnostics::GradStat) -> f32, color: RGBColor| {
        stats.iter().enumerate().map(move |(i, s)| {
            let x = i as f64 + offset;
            Rectangle::new([(x, lo), (x + 0.38, positive(value(s)))], color.filled())
        })
    };
    let cyan = RGBColor(0, 170, 200);
    chart
        .draw_series(bars(-0.4, |s| s.max_abs, cyan))
        .map_err(|e| err(&e))?
        .label("max |gradient|")
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], cyan.filled()));
    chart
        .draw_series(bars(0.02, |s| s.mean_abs, BLUE))
        .map_err(|e| err(&e))?
        .label("mean |gradient|")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], BLUE.filled()));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(|e| err(&e))
}

/// Several named curves over layers 1..n on a log-scale y axis, e.g. gradient norms per
/// layer for different architectures.
pub fn log_curves(path: &Path, title: &str, y_label: &str, series: &[(String, Vec<f32>)]) -> Result<()> {
    let n = series.iter().map(|s| s.1.len()).max().unwrap_or(0);
    if n == 0 {
        return Err(plot_error(path, "no values to plot"));
    }
    render!(path, (900, 560), |root: &DrawingArea<_, Shift>| draw_log_curves(root, title, y_label, series, n))
}

fn draw_log_curves<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    y_label: &str,
    series: &[(String, Vec<f32>)],
    n: usize,
) -> std::result::Result<(), String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let values = series.iter().flat_map(|s| s.1.iter().map(|&v| (v as f64).max(1e-30)));
    let (lo, hi) = values.fold((f64::MAX, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 24))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(0.5..n as f64 + 0.5, (lo / 3.0..hi * 3.0).log_scale())
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_labels(n)
        .x_label_formatter(&|x| if (x - x.round()).abs() < 1e-6 { format!("{}", x.round()) } else { String::new() })
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .x_desc("layer (input → output)")
        .y_desc(y_label)
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .draw()
        .map_err(|e| err(&e))?;
    let colors = [RED, BLUE, RGBColor(0, 150, 0), MAGENTA, BLACK];
    for (i, (name, values)) in series.iter().enumerate() {
        let color = colors[i % colors.len()];
        let points: Vec<(f64, f64)> =
            values.iter().enumerate().map(|(l, &v)| (l as f64 + 1.0, (v as f64).max(1e-30))).collect();
        chart
            .draw_series(LineSeries::new(points.iter().copied(), color.stroke_width(2)))
            .map_err(|e| err(&e))?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2)));
        chart.draw_series(points.iter().map(|&p| Circle::new(p, 4, color.filled()))).map_err(|e| err(&e))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(|e| err(&e))
}
