//! What the network learned, drawn: the first convolution's kernels, a confusion matrix
//! of the test set, and saliency maps (the gradient of the predicted class's score with
//! respect to the input pixels: backpropagation to the input).

use std::path::Path;

use backprop::data::Dataset;
use backprop::nn::Sequential;
use backprop::plot::{heatmap, Heatmap};
use backprop::{Device, Graph};

const CLASSES: [&str; 10] =
    ["T-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"];

/// Values scaled to [0, 1] (a constant block to 0.5).
fn normalised(values: &[f32]) -> Vec<f32> {
    let (lo, hi) = values.iter().fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    values.iter().map(|&v| if hi > lo { (v - lo) / (hi - lo) } else { 0.5 }).collect()
}

/// Tiles of `size = [h, w]`, `per_row` to a row with a blank cell between, as one matrix.
fn tiled(tiles: &[Vec<f32>], [h, w]: [usize; 2], per_row: usize) -> (Vec<f32>, usize, usize) {
    let rows_of_tiles = tiles.len().div_ceil(per_row);
    let (rows, cols) = (rows_of_tiles * (h + 1) - 1, per_row * (w + 1) - 1);
    let mut out = vec![0.0; rows * cols];
    for (t, tile) in tiles.iter().enumerate() {
        let (top, left) = ((t / per_row) * (h + 1), (t % per_row) * (w + 1));
        for y in 0..h {
            out[(top + y) * cols + left..][..w].copy_from_slice(&tile[y * w..][..w]);
        }
    }
    (out, rows, cols)
}

/// `tiles` drawn as one unlabelled heatmap, `per_row` to a row.
fn draw_tiles(
    path: &Path,
    title: &str,
    desc: &str,
    tiles: &[Vec<f32>],
    size: [usize; 2],
    per_row: usize,
) -> anyhow::Result<()> {
    let (values, rows, cols) = tiled(tiles, size, per_row);
    let (row_labels, col_labels) = (vec![String::new(); rows], vec![String::new(); cols]);
    let map = Heatmap {
        title,
        values: &values,
        row_labels: &row_labels,
        col_labels: &col_labels,
        row_desc: "",
        col_desc: desc,
    };
    Ok(heatmap(path, &map)?)
}

/// The first convolution's kernels (`1.weight`, `[out, 1, kh, kw]`), each scaled to its own range.
pub fn filters(path: &Path, model: &Sequential) -> anyhow::Result<()> {
    let weight =
        model.parameters().into_iter().find(|p| p.name == "1.weight").expect("the network's first convolution");
    let [out, _, kh, kw] = [weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3]];
    let tiles: Vec<Vec<f32>> = weight.values.chunks(kh * kw).take(out).map(normalised).collect();
    let title = "first convolution's kernels (each scaled to its range)";
    draw_tiles(path, title, "", &tiles, [kh, kw], 8)
}

/// The logits of every sample of `data`, 1,000 at a time, on `device`.
fn logits(device: &Device, model: &Sequential, data: &Dataset) -> anyhow::Result<Vec<f32>> {
    let chunk = 1000.min(data.len());
    let mut g = Graph::new();
    let x = g.input("x", [chunk, data.pixels()])?;
    let out = model.record_eval(&mut g, x)?.output;
    let mut session = device.compile_inference(&g, &[out])?;
    let (mut xs, mut ys) = (vec![0.0; chunk * data.pixels()], vec![0.0; chunk * data.classes()]);
    let mut all = Vec::new();
    let indices: Vec<usize> = (0..data.len()).collect();
    for part in indices.chunks(chunk) {
        data.fill_batch(part, &mut xs, &mut ys)?;
        session.write(x, &xs)?;
        let values = session.run_and_read(&[out])?.remove(0);
        all.extend_from_slice(&values[..part.len() * data.classes()]);
    }
    Ok(all)
}

fn argmax(row: &[f32]) -> usize {
    (0..row.len()).max_by(|&a, &b| row[a].total_cmp(&row[b]).then(b.cmp(&a))).unwrap_or(0)
}

/// The test set's confusion matrix: each row a true class, the fraction predicted as each.
pub fn confusion(path: &Path, device: &Device, model: &Sequential, test: &Dataset) -> anyhow::Result<()> {
    let k = test.classes();
    let logits = logits(device, model, test)?;
    let mut counts = vec![0.0f32; k * k];
    for (row, &label) in logits.chunks(k).zip(test.labels()) {
        counts[label as usize * k + argmax(row)] += 1.0;
    }
    for row in counts.chunks_mut(k) {
        let total: f32 = row.iter().sum();
        row.iter_mut().for_each(|v| *v /= total.max(1.0));
    }
    let names: Vec<String> = (0..k).map(|c| CLASSES.get(c).map_or(c.to_string(), |s| s.to_string())).collect();
    let map = Heatmap {
        title: "test set: fraction of each class predicted as each",
        values: &counts,
        row_labels: &names,
        col_labels: &names,
        row_desc: "true class",
        col_desc: "predicted class",
    };
    Ok(heatmap(path, &map)?)
}

/// For the first `count` test images, two to a row: each image beside |∂ score of the predicted class /
/// ∂ pixel|, each scaled to its range. The images are a parameter of a graph of the
/// model, so backpropagation reaches them.
pub fn saliency(path: &Path, device: &Device, model: &Sequential, test: &Dataset, count: usize) -> anyhow::Result<()> {
    let (k, pixels, count) = (test.classes(), test.pixels(), count.min(test.len()));
    let (mut xs, mut ys) = (vec![0.0; count * pixels], vec![0.0; count * k]);
    let first: Vec<usize> = (0..count).collect();
    test.fill_batch(&first, &mut xs, &mut ys)?;
    let logits = logits(device, model, test)?;
    let mut picked = vec![0.0; count * k];
    for (i, row) in logits.chunks(k).take(count).enumerate() {
        picked[i * k + argmax(row)] = 1.0;
    }
    let mut g = Graph::new();
    let images = g.parameter("images", [count, pixels], xs.clone())?;
    let out = model.record_eval(&mut g, images)?.output;
    let choice = g.constant([count, k], picked)?;
    let scores = g.mul(out, choice)?;
    let score = g.sum(scores)?;
    let grads = g.backward(score)?;
    let gradient = grads.get(images).expect("the images reach the score");
    let mut session = device.compile_inference(&g, &[gradient])?;
    let gradient = session.run_and_read(&[gradient])?.remove(0);
    let mut tiles = Vec::new();
    for i in 0..count {
        tiles.push(xs[i * pixels..][..pixels].to_vec());
        tiles.push(normalised(&gradient[i * pixels..][..pixels].iter().map(|g| g.abs()).collect::<Vec<_>>()));
    }
    let side = (pixels as f64).sqrt() as usize;
    let title = "test images and |∂ predicted score / ∂ pixel|";
    draw_tiles(path, title, "image, then where the decision is most sensitive", &tiles, [side, side], 4)
}
