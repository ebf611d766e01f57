//! Charts written with `plotters`, PNG or SVG by the file's extension. Text uses an
//! embedded DejaVu Sans, so no system font library is needed.

mod heatmap;
mod regions;

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{Error, Result};

#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn register_font() {
    const FONT: &[u8] = include_bytes!("../../../assets/DejaVuSans.ttf");
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // The bytes are the TrueType font shipped in assets/; it always parses.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// In a web page the browser's own fonts lay out the text.
#[cfg(target_arch = "wasm32")]
pub(crate) fn register_font() {}

pub(crate) fn plot_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Format { path: path.display().to_string(), msg: format!("could not draw the chart: {e}") }
}

pub(crate) fn is_svg(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("svg"))
}

/// Checks, before any work, that a chart or drawing can be written to `path`: its name
/// ends in `.png` or `.svg` (the two formats drawn) and [`crate::output::check_writable`]
/// holds.
///
/// # Errors
///
/// [`Error::Format`] for another extension, and the errors of
/// [`crate::output::check_writable`].
pub fn check_chart_path(path: &Path) -> Result<()> {
    let known = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("png") || e.eq_ignore_ascii_case("svg"));
    if !known {
        return Err(plot_error(path, "charts are written as .png or .svg: name the file so"));
    }
    crate::output::check_writable(path)
}

/// The PNG file of an RGB8 image.
pub(crate) fn encode_png(rgb: &[u8], (width, height): (u32, u32)) -> std::result::Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(rgb).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

/// Draws `$draw(&root)` (a closure generic in use over the backend) in memory, as SVG
/// when `$svg` is true and PNG otherwise, and returns the file's bytes or plotters' error
/// text. A macro because the closure is instantiated once per backend type. Drawing in
/// memory keeps the file system out of plotters, whose errors would otherwise reach the
/// user as debug dumps.
macro_rules! draw_bytes {
    ($svg:expr, $size:expr, $draw:expr) => {{
        $crate::see::plot::register_font();
        let size: (u32, u32) = $size;
        let bytes: std::result::Result<Vec<u8>, String> = if $svg {
            let mut svg = String::new();
            let drawn = {
                let root = plotters::prelude::SVGBackend::with_string(&mut svg, size).into_drawing_area();
                $draw(&root).and_then(|_| root.present().map_err(|e| e.to_string()))
            };
            drawn.map(|_| svg.into_bytes())
        } else {
            let mut rgb = vec![0u8; size.0 as usize * size.1 as usize * 3];
            let drawn = {
                let root = plotters::prelude::BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
                $draw(&root).and_then(|_| root.present().map_err(|e| e.to_string()))
            };
            drawn.and_then(|_| $crate::see::plot::encode_png(&rgb, size))
        };
        bytes
    }};
}
pub(crate) use draw_bytes;
pub use heatmap::{heatmap, Heatmap};
pub use regions::{decision_regions, grid, Regions};

/// Draws `$draw(&root)` into `$path` (SVG by the extension, else PNG) and writes the file
/// whole (see [`crate::output::write_atomically`]), after checking the path first.
macro_rules! render {
    ($path:expr, $size:expr, $draw:expr) => {{
        let path: &std::path::Path = $path;
        $crate::see::plot::check_chart_path(path)?;
        let bytes = $crate::see::plot::draw_bytes!($crate::see::plot::is_svg(path), $size, $draw);
        let bytes = bytes.map_err(|e| $crate::see::plot::plot_error(path, e))?;
        $crate::output::write_atomically(path, &bytes)
    }};
}
#[allow(unused_imports)]
pub(crate) use render;

/// The points whose coordinates are finite, and how many were not. Charts skip NaN and
/// ±Inf (plotters cannot place them, and loops forever choosing axis ticks for them) and
/// say in their caption how many they left out.
fn finite_points(points: &[(f64, f64)]) -> (Vec<(f64, f64)>, usize) {
    let finite: Vec<(f64, f64)> = points.iter().copied().filter(|p| p.0.is_finite() && p.1.is_finite()).collect();
    let skipped = points.len() - finite.len();
    (finite, skipped)
}

/// `title`, with a note of the values a log scale cannot place.
fn log_caption(title: &str, non_finite: usize, not_positive: usize) -> String {
    match not_positive {
        0 => caption(title, non_finite),
        n => format!("{} ({n} values ≤ 0 not drawn)", caption(title, non_finite)),
    }
}

/// `title`, with a note of how many non-finite values were left out.
fn caption(title: &str, skipped: usize) -> String {
    match skipped {
        0 => title.to_owned(),
        1 => format!("{title} (1 NaN/Inf value not drawn)"),
        n => format!("{title} ({n} NaN/Inf values not drawn)"),
    }
}

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

/// Writes the training loss and test accuracy per epoch, side by side, to `path` (SVG by
/// the extension, else PNG). NaN and infinite values are left out; the captions count
/// them.
///
/// # Errors
///
/// [`Error::Format`] for no records, and the errors of
/// [`crate::output::write_atomically`].
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
    let (points, skipped) = finite_points(points);
    let x_max = points.iter().map(|p| p.0).fold(1.0, f64::max);
    let (lo, hi) = points.iter().fold((f64::MAX, f64::MIN), |(lo, hi), p| (lo.min(p.1), hi.max(p.1)));
    let (lo, hi) = if points.is_empty() { (0.0, 1.0) } else { (lo, hi) };
    let pad = ((hi - lo) * 0.1).max(1e-3);
    let mut chart = ChartBuilder::on(area)
        .caption(caption(title, skipped), ("sans-serif", 24))
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

/// Most parameters one gradient-flow chart draws (each gets a column).
pub const MAX_FLOW_PARAMETERS: usize = 200;

/// The classic gradient-flow chart: for each parameter (in layer order) a bar of the max
/// and a bar of the mean |gradient|, on a log scale so that vanishing layers stay visible.
/// NaN and infinite statistics draw no bar; the caption counts them.
///
/// # Errors
///
/// [`Error::Format`] for no statistics or more than [`MAX_FLOW_PARAMETERS`], and the
/// errors of [`crate::output::write_atomically`].
pub fn gradient_flow(path: &Path, title: &str, stats: &[crate::train::diagnostics::GradStat]) -> Result<()> {
    if stats.is_empty() || stats.len() > MAX_FLOW_PARAMETERS {
        let msg = format!("{} parameters: a chart draws 1 to {MAX_FLOW_PARAMETERS}", stats.len());
        return Err(plot_error(path, msg));
    }
    let width = (140 + 70 * stats.len() as u32).max(700);
    render!(path, (width, 560), |root: &DrawingArea<_, Shift>| draw_flow(root, title, stats))
}

fn draw_flow<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    stats: &[crate::train::diagnostics::GradStat],
) -> std::result::Result<(), String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let positive = |v: f32| (v as f64).max(1e-30);
    let values = stats.iter().flat_map(|s| [s.mean_abs, s.max_abs]);
    let skipped = values.clone().filter(|v| !v.is_finite()).count();
    let finite: Vec<f64> = values.filter(|v| v.is_finite()).map(positive).collect();
    let (lo, hi) = match finite.is_empty() {
        true => (1e-8, 1.0),
        false => (finite.iter().copied().fold(f64::MAX, f64::min), finite.iter().copied().fold(0.0, f64::max)),
    };
    let (lo, hi) = (lo / 3.0, hi.max(lo * 10.0) * 3.0);
    let n = stats.len();
    let mut chart = ChartBuilder::on(root)
        .caption(caption(title, skipped), ("sans-serif", 24))
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
    let bars = |offset: f64, value: fn(&crate::train::diagnostics::GradStat) -> f32, color: RGBColor| {
        stats.iter().enumerate().filter(move |(_, s)| value(s).is_finite()).map(move |(i, s)| {
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
    legend(&mut chart, SeriesLabelPosition::UpperLeft)
}

/// The series legend at `position`, boxed on translucent white.
fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> std::result::Result<(), String> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(|e| e.to_string())
}

/// Several named curves over layers 1..n on a log-scale y axis, e.g. gradient norms per
/// layer for different architectures. Values that are NaN, infinite or not positive have
/// no place on a log scale and are left out; the caption counts them.
///
/// # Errors
///
/// [`Error::Format`] when there is nothing to plot, and the errors of
/// [`crate::output::write_atomically`].
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
    let drawable = |v: &f32| v.is_finite() && *v > 0.0;
    let values: Vec<f64> = series.iter().flat_map(|s| s.1.iter().filter(|v| drawable(v)).map(|&v| v as f64)).collect();
    let all = series.iter().flat_map(|s| s.1.iter());
    let non_finite = all.clone().filter(|v| !v.is_finite()).count();
    let not_positive = all.filter(|v| v.is_finite() && **v <= 0.0).count();
    let (lo, hi) = match values.is_empty() {
        true => (0.1, 1.0),
        false => (values.iter().copied().fold(f64::MAX, f64::min), values.iter().copied().fold(0.0, f64::max)),
    };
    let hi = hi.max(lo * 10.0);
    let mut chart = ChartBuilder::on(root)
        .caption(log_caption(title, non_finite, not_positive), ("sans-serif", 24))
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
            values.iter().enumerate().filter(|(_, v)| drawable(v)).map(|(l, &v)| (l as f64 + 1.0, v as f64)).collect();
        chart
            .draw_series(LineSeries::new(points.iter().copied(), color.stroke_width(2)))
            .map_err(|e| err(&e))?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2)));
        chart.draw_series(points.iter().map(|&p| Circle::new(p, 4, color.filled()))).map_err(|e| err(&e))?;
    }
    legend(&mut chart, SeriesLabelPosition::LowerRight)
}
