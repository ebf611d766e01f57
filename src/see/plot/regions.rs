//! Decision regions of a classifier with two inputs: its probability over a grid of
//! points, shaded, with the 0.5 boundary drawn and the training points marked.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::plot_error;
use crate::error::Result;

/// The most points drawn large with their coordinates written beside them.
const MAX_LABELLED: usize = 16;

/// A classifier's output over a square grid, and the points to mark on it (more than 16
/// are drawn as small dots without labels).
pub struct Regions<'a> {
    /// `(low, high)` of both axes.
    pub range: (f32, f32),
    /// Points per axis.
    pub resolution: usize,
    /// `resolution²` probabilities of class 1, in the order of [`grid`].
    pub probabilities: &'a [f32],
    /// `([x, y], target)` of the points to mark.
    pub points: &'a [([f32; 2], f32)],
}

/// `resolution²` points `[x, y]`, row-major from the bottom-left corner (x fastest), over
/// `range` on both axes: the batch to evaluate for [`decision_regions`].
pub fn grid(range: (f32, f32), resolution: usize) -> Vec<f32> {
    let at = |i: usize| range.0 + (range.1 - range.0) * i as f32 / (resolution.max(2) - 1) as f32;
    (0..resolution * resolution).flat_map(|k| [at(k % resolution), at(k / resolution)]).collect()
}

/// Draws `regions` to `path` (SVG by the extension, else PNG): probability shaded from
/// blue (0) to red (1), the 0.5 boundary in black, points coloured by their target.
///
/// # Errors
///
/// [`crate::Error::Format`] when the probabilities do not fill the grid (NaN or infinite
/// ones are drawn grey), and the errors of [`crate::output::write_atomically`].
pub fn decision_regions(path: &Path, title: &str, regions: &Regions) -> Result<()> {
    let cells = regions.resolution * regions.resolution;
    let (lo, hi) = regions.range;
    let ordered = lo.is_finite() && hi.is_finite() && lo < hi;
    if regions.resolution < 2 || regions.probabilities.len() != cells || !ordered {
        let msg =
            format!("{} probabilities for a grid of {} points a side", regions.probabilities.len(), regions.resolution);
        return Err(plot_error(path, msg));
    }
    super::render!(path, (760, 720), |root: &DrawingArea<_, Shift>| draw(root, title, regions))
}

fn shade(p: f32) -> RGBColor {
    if !p.is_finite() {
        return RGBColor(160, 160, 160);
    }
    let p = p.clamp(0.0, 1.0);
    let mix = |a: f32, b: f32| (a + (b - a) * p) as u8;
    RGBColor(mix(120.0, 239.0), mix(160.0, 130.0), mix(235.0, 120.0))
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    r: &Regions,
) -> std::result::Result<(), String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let (lo, hi) = (r.range.0 as f64, r.range.1 as f64);
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 22))
        .margin(20)
        .x_label_area_size(45)
        .y_label_area_size(55)
        .build_cartesian_2d(lo..hi, lo..hi)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("x₁")
        .y_desc("x₂")
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| err(&e))?;
    let n = r.resolution;
    let step = (hi - lo) / (n - 1) as f64;
    let p = |i: usize, j: usize| r.probabilities[j * n + i];
    let centre = |i: usize| lo + i as f64 * step;
    let cells = (0..n * n).map(|k| {
        let (i, j) = (k % n, k / n);
        let (x, y) = (centre(i), centre(j));
        Rectangle::new([(x - step / 2.0, y - step / 2.0), (x + step / 2.0, y + step / 2.0)], shade(p(i, j)).filled())
    });
    chart.draw_series(cells).map_err(|e| err(&e))?;
    // The boundary: an edge between two cells on either side of 0.5.
    let mut edges = Vec::new();
    for j in 0..n {
        for i in 0..n {
            let side = |a: f32| a >= 0.5;
            let (x, y) = (centre(i) + step / 2.0, centre(j) + step / 2.0);
            if i + 1 < n && side(p(i, j)) != side(p(i + 1, j)) {
                edges.push(vec![(x, y - step), (x, y)]);
            }
            if j + 1 < n && side(p(i, j)) != side(p(i, j + 1)) {
                edges.push(vec![(x - step, y), (x, y)]);
            }
        }
    }
    chart.draw_series(edges.into_iter().map(|e| PathElement::new(e, BLACK.stroke_width(2)))).map_err(|e| err(&e))?;
    // A few points (XOR's four) are drawn large and labelled; a data set, small and plain.
    let few = r.points.len() <= MAX_LABELLED;
    let (radius, outline) = if few { (9, 2) } else { (3, 1) };
    for &([x, y], target) in r.points {
        let fill = if target >= 0.5 { RGBColor(200, 30, 30) } else { RGBColor(30, 60, 200) };
        let at = (x as f64, y as f64);
        chart
            .draw_series([Circle::new(at, radius, fill.filled()), Circle::new(at, radius, BLACK.stroke_width(outline))])
            .map_err(|e| err(&e))?;
        if few {
            let text = format!("({x}, {y}) → {target}");
            let label = Text::new(text, (at.0 + 0.05, at.1 + 0.06), ("sans-serif", 15));
            chart.draw_series([label]).map_err(|e| err(&e))?;
        }
    }
    Ok(())
}
