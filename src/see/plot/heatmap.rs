//! A heatmap of a matrix of values in [0, 1], e.g. attention weights: what each row (an
//! output position) looks at along the columns (the positions it reads).

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::plot_error;
use crate::error::Result;

/// A matrix to draw, row-major, with a label per row and per column.
pub struct Heatmap<'a> {
    /// The caption.
    pub title: &'a str,
    /// `rows × cols` values, drawn from white (0) to dark blue (1); others are clamped.
    pub values: &'a [f32],
    /// One label per row, top to bottom.
    pub row_labels: &'a [String],
    /// One label per column, left to right.
    pub col_labels: &'a [String],
    /// What the rows are.
    pub row_desc: &'a str,
    /// What the columns are.
    pub col_desc: &'a str,
}

/// Draws `map` to `path` (SVG by the extension, else PNG), each value a shaded cell with
/// its value written in it when the matrix is small enough to read.
///
/// # Errors
///
/// [`crate::Error::Format`] when the values do not fill the labelled matrix or one is not
/// finite, and the errors of [`crate::output::write_atomically`].
pub fn heatmap(path: &Path, map: &Heatmap) -> Result<()> {
    let (rows, cols) = (map.row_labels.len(), map.col_labels.len());
    if rows == 0 || cols == 0 || map.values.len() != rows * cols {
        let msg = format!("{} values for {rows} rows and {cols} columns", map.values.len());
        return Err(plot_error(path, msg));
    }
    if let Some(bad) = map.values.iter().find(|v| !v.is_finite()) {
        return Err(plot_error(path, format!("the value {bad} cannot be shaded")));
    }
    let side = (36 * cols.max(rows) as u32).clamp(360, 900);
    super::render!(path, (side + 140, side + 120), |root: &DrawingArea<_, Shift>| draw(root, map))
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, map: &Heatmap) -> std::result::Result<(), String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let (rows, cols) = (map.row_labels.len(), map.col_labels.len());
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(root)
        .caption(map.title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(60)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..cols as f64, 0.0..rows as f64)
        .map_err(|e| err(&e))?;
    let label = |labels: &[String], v: f64| {
        let i = v.floor() as usize;
        if (v - i as f64 - 0.5).abs() < 1e-6 {
            labels.get(i).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    let flip = |v: f64| rows as f64 - v;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(cols * 2 + 1)
        .y_labels(rows * 2 + 1)
        .x_label_formatter(&|x| label(map.col_labels, *x))
        .y_label_formatter(&|y| label(map.row_labels, flip(*y)))
        .x_desc(map.col_desc)
        .y_desc(map.row_desc)
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 15))
        .draw()
        .map_err(|e| err(&e))?;
    let shade = |v: f32| {
        let t = v.clamp(0.0, 1.0) as f64;
        let mix = |from: f64, to: f64| (from + (to - from) * t) as u8;
        RGBColor(mix(255.0, 8.0), mix(255.0, 48.0), mix(255.0, 107.0))
    };
    let cells = (0..rows * cols).map(|i| {
        let (r, c) = (i / cols, i % cols);
        let top = flip(r as f64);
        Rectangle::new([(c as f64, top), (c as f64 + 1.0, top - 1.0)], shade(map.values[i]).filled())
    });
    chart.draw_series(cells).map_err(|e| err(&e))?;
    if rows * cols <= 400 {
        let text = (0..rows * cols).map(|i| {
            let (r, c, v) = (i / cols, i % cols, map.values[i]);
            let color = if v > 0.5 { WHITE } else { BLACK };
            let style = ("sans-serif", 10).into_font().color(&color);
            Text::new(format!("{:.2}", v), (c as f64 + 0.18, flip(r as f64) - 0.38), style)
        });
        chart.draw_series(text).map_err(|e| err(&e))?;
    }
    Ok(())
}
