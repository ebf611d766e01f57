//! The playground's data sets: points in the plane [−6, 6]² with a label 0 or 1, drawn
//! from a seed, as in TensorFlow Playground (XOR, circle, two gaussians, spiral) plus
//! scikit-learn's two moons, scaled to the same plane.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};

/// Half the side of the square the points lie in.
pub const EXTENT: f32 = 6.0;

/// Which points to draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dataset {
    /// Label 1 where x·y > 0 (opposite quadrants share a class).
    Xor,
    /// Label 1 inside radius 2, 0 on a ring from 3.5 to 5.
    Circle,
    /// Two gaussian clouds around (2, 2) (label 1) and (−2, −2) (label 0).
    Gaussians,
    /// Two interleaved spiral arms.
    Spiral,
    /// Two interleaving half circles.
    Moons,
}

impl Dataset {
    /// The data set a page names (`xor`, `circle`, `gaussians`, `spiral`, `moons`).
    pub fn from_name(name: &str) -> Option<Dataset> {
        Some(match name {
            "xor" => Dataset::Xor,
            "circle" => Dataset::Circle,
            "gaussians" => Dataset::Gaussians,
            "spiral" => Dataset::Spiral,
            "moons" => Dataset::Moons,
            _ => return None,
        })
    }
}

/// Labelled points: `xy[2i], xy[2i + 1]` is point `i`, `label[i]` its class.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Points {
    /// Coordinates, two per point.
    pub xy: Vec<f32>,
    /// 0 or 1 per point.
    pub label: Vec<f32>,
}

impl Points {
    /// How many points.
    pub fn len(&self) -> usize {
        self.label.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.label.is_empty()
    }

    fn push(&mut self, x: f32, y: f32, label: f32) {
        self.xy.extend([x.clamp(-EXTENT, EXTENT), y.clamp(-EXTENT, EXTENT)]);
        self.label.push(label);
    }
}

/// `count` points of `dataset` with `noise` (0 to 0.5: the deviation of the added
/// gaussian noise relative to each set's scale), in shuffled order, from `seed`.
pub fn generate(dataset: Dataset, count: usize, noise: f32, seed: u64) -> Points {
    let mut rng = StdRng::seed_from_u64(seed);
    let noise = noise.clamp(0.0, 0.5);
    let mut points = Points::default();
    let half = count / 2;
    for i in 0..count {
        let class = if i < half { 0.0 } else { 1.0 };
        let k = if i < half { i } else { i - half } as f32 / half.max(1) as f32;
        let (x, y, label) = match dataset {
            Dataset::Xor => xor(&mut rng, noise),
            Dataset::Circle => circle(&mut rng, class, noise),
            Dataset::Gaussians => gaussians(&mut rng, class, noise),
            Dataset::Spiral => spiral(&mut rng, k, class, noise),
            Dataset::Moons => moons(&mut rng, k, class, noise),
        };
        points.push(x, y, label);
    }
    shuffle(&mut points, &mut rng);
    points
}

fn gauss(rng: &mut StdRng, deviation: f32) -> f32 {
    Normal::new(0.0, deviation.max(0.0)).map_or(0.0, |n| n.sample(rng))
}

fn xor(rng: &mut StdRng, noise: f32) -> (f32, f32, f32) {
    // Points keep a margin from the axes, as in TensorFlow Playground.
    let coordinate = |rng: &mut StdRng| {
        let v: f32 = rng.random_range(-5.0..5.0);
        v + if v > 0.0 { 0.3 } else { -0.3 }
    };
    let (x, y) = (coordinate(rng), coordinate(rng));
    let label = if x * y > 0.0 { 1.0 } else { 0.0 };
    (x + gauss(rng, 5.0 * noise), y + gauss(rng, 5.0 * noise), label)
}

fn circle(rng: &mut StdRng, class: f32, noise: f32) -> (f32, f32, f32) {
    let radius = if class == 1.0 { rng.random_range(0.0..2.0) } else { rng.random_range(3.5..5.0) };
    let angle: f32 = rng.random_range(0.0..std::f32::consts::TAU);
    let (x, y) = (radius * angle.sin(), radius * angle.cos());
    (x + gauss(rng, 5.0 * noise), y + gauss(rng, 5.0 * noise), class)
}

fn gaussians(rng: &mut StdRng, class: f32, noise: f32) -> (f32, f32, f32) {
    let centre = if class == 1.0 { 2.0 } else { -2.0 };
    let spread = 0.5 + 4.0 * noise;
    (centre + gauss(rng, spread), centre + gauss(rng, spread), class)
}

fn spiral(rng: &mut StdRng, k: f32, class: f32, noise: f32) -> (f32, f32, f32) {
    let radius = 5.0 * k;
    let angle = 1.75 * k * std::f32::consts::TAU + class * std::f32::consts::PI;
    let (x, y) = (radius * angle.sin(), radius * angle.cos());
    (x + gauss(rng, 2.0 * noise), y + gauss(rng, 2.0 * noise), class)
}

fn moons(rng: &mut StdRng, k: f32, class: f32, noise: f32) -> (f32, f32, f32) {
    let angle = std::f32::consts::PI * k;
    let (x, y) = if class == 0.0 { (angle.cos(), angle.sin()) } else { (1.0 - angle.cos(), 0.5 - angle.sin()) };
    // make_moons spans [−1, 2] × [−0.5, 1]: centred and scaled by 3 to fill the plane.
    let (x, y) = (3.0 * (x - 0.5), 3.0 * (y - 0.25));
    (x + gauss(rng, 3.0 * noise), y + gauss(rng, 3.0 * noise), class)
}

fn shuffle(points: &mut Points, rng: &mut StdRng) {
    for i in (1..points.len()).rev() {
        let j = rng.random_range(0..=i);
        points.label.swap(i, j);
        points.xy.swap(2 * i, 2 * j);
        points.xy.swap(2 * i + 1, 2 * j + 1);
    }
}

/// An input the network sees, computed from a point (TensorFlow Playground's set).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feature {
    /// x
    X,
    /// y
    Y,
    /// x²
    XSquared,
    /// y²
    YSquared,
    /// x·y
    XTimesY,
    /// sin x
    SinX,
    /// sin y
    SinY,
}

impl Feature {
    /// The feature a page names (`x`, `y`, `x2`, `y2`, `xy`, `sinx`, `siny`).
    pub fn from_name(name: &str) -> Option<Feature> {
        Some(match name {
            "x" => Feature::X,
            "y" => Feature::Y,
            "x2" => Feature::XSquared,
            "y2" => Feature::YSquared,
            "xy" => Feature::XTimesY,
            "sinx" => Feature::SinX,
            "siny" => Feature::SinY,
            _ => return None,
        })
    }

    fn of(self, x: f32, y: f32) -> f32 {
        match self {
            Feature::X => x,
            Feature::Y => y,
            Feature::XSquared => x * x,
            Feature::YSquared => y * y,
            Feature::XTimesY => x * y,
            Feature::SinX => x.sin(),
            Feature::SinY => y.sin(),
        }
    }
}

/// The rows `[point, feature]` the network reads for the points `xy`.
pub fn features(xy: &[f32], features: &[Feature]) -> Vec<f32> {
    xy.chunks_exact(2).flat_map(|p| features.iter().map(move |f| f.of(p[0], p[1]))).collect()
}

/// The centres of a `resolution`² grid over the plane, row by row from the top (y = 6)
/// down, each row from x = −6 rightwards: the order a canvas draws pixels in.
pub fn grid(resolution: usize) -> Vec<f32> {
    let step = 2.0 * EXTENT / resolution as f32;
    let centre = |i: usize| -EXTENT + (i as f32 + 0.5) * step;
    (0..resolution).flat_map(|row| (0..resolution).flat_map(move |col| [centre(col), -centre(row)])).collect()
}
