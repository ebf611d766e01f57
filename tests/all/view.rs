//! Drawing graphs: exact DOT text, valid pictures, large graphs in seconds, and decision
//! regions.

use std::time::{Duration, Instant};

use backprop::plot::{decision_regions, grid, Regions};
use backprop::view::{Kind, Part, View};
use backprop::{Device, Error, Graph};

/// y = x² at x = 3, differentiated.
fn square() -> (Graph, backprop::NodeId, backprop::NodeId, backprop::NodeId) {
    let mut g = Graph::new();
    let x = g.parameter("x", [1, 1], vec![3.0]).unwrap();
    let y = g.square(x).unwrap();
    g.set_name(y, "y").unwrap();
    let dx = g.backward(y).unwrap().get(x).unwrap();
    (g, x, y, dx)
}

pub fn dot_text_of_a_small_graph_is_exact() {
    let (g, ..) = square();
    let expected = "digraph backprop {
  rankdir=LR;
  node [shape=box, style=\"rounded,filled\"];
  n0 [label=\"x\\nparameter [1, 1]\", fillcolor=\"#ffe082\"];
  n1 [label=\"y\\nsquare [1, 1]\", fillcolor=\"#bbdefb\"];
  n2 [label=\"∂y/∂y\\nconstant [1, 1]\\n= 1\", fillcolor=\"#ffccbc\"];
  n3 [label=\"mul\\n[1, 1]\", fillcolor=\"#ffccbc\"];
  n4 [label=\"∂y/∂x\\nscale [1, 1]\", fillcolor=\"#ffccbc\"];
  n0 -> n1;
  n2 -> n3;
  n0 -> n3;
  n3 -> n4;
}
";
    assert_eq!(g.to_dot(), expected);
}

pub fn values_parts_and_kinds(device: &Device) {
    let (mut g, x, y, dx) = square();
    let grads = g.backward(y).unwrap();
    let updates = g.sgd(&grads, 0.1).unwrap();
    assert_eq!(Kind::of(&g, updates[0]), Kind::Update);
    assert_eq!((Kind::of(&g, x), Kind::of(&g, y), Kind::of(&g, dx)), (Kind::Parameter, Kind::Forward, Kind::Gradient));
    let mut session = device.compile(&g, &[y, dx]).unwrap();
    session.run().unwrap();
    let dot = View::new(&g).with_values(session.as_mut(), &[y, dx]).unwrap().to_dot();
    assert!(dot.contains("y\\nsquare [1, 1]\\n= 9\"") && dot.contains("∂y/∂x\\nscale [1, 1]\\n= 6\""), "{dot}");
    assert!(dot.contains("x ← sgd_update"), "{dot}");
    let forward = View::new(&g).part(Part::Forward).to_dot();
    assert!(!forward.contains("∂y") && forward.contains("n0 -> n1;"), "{forward}");
    let backward = View::new(&g).part(Part::Backward).to_dot();
    assert!(backward.contains("∂y/∂x") && !backward.contains("n1 [label"), "y is read by no gradient: {backward}");
    let other = Graph::new();
    assert!(matches!(View::new(&other).with_values(session.as_mut(), &[y]), Err(Error::ForeignNode { .. })));
}

pub fn drawings_are_valid_svg_and_png() {
    let (g, ..) = square();
    let dir = crate::files::temp_dir("view");
    let svg = View::new(&g).to_svg().unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>") && svg.contains("∂y/∂x"));
    View::new(&g).write(&dir.join("g.png")).unwrap();
    let png = std::fs::read(dir.join("g.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 5_000, "{} bytes", png.len());
    let (width, height) =
        (u32::from_be_bytes(png[16..20].try_into().unwrap()), u32::from_be_bytes(png[20..24].try_into().unwrap()));
    assert!((600..3000).contains(&width) && (300..2000).contains(&height), "{width} × {height}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// 10,000 nodes: a deep chain of forward ops and its backward pass, drawn in seconds. The
/// PNG would be too large and is refused with the size and the limit.
pub fn a_graph_of_10000_nodes_draws_in_seconds() {
    let mut g = Graph::new();
    let mut h = g.parameter("x", [2, 2], vec![0.1; 4]).unwrap();
    while g.len() < 5_000 {
        h = g.tanh(h).unwrap();
    }
    let loss = g.sum(h).unwrap();
    g.backward(loss).unwrap();
    assert!(g.len() >= 10_000, "{} nodes", g.len());
    let start = Instant::now();
    let svg = View::new(&g).to_svg().unwrap();
    assert!(start.elapsed() < Duration::from_secs(20), "took {:?}", start.elapsed());
    assert!(svg.len() > 1_000_000 && svg.contains("tanh_grad"));
    let dir = crate::files::temp_dir("view-large");
    let err = View::new(&g).write(&dir.join("big.png")).unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }) && err.to_string().contains("write .svg"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

pub fn decision_regions_draw_and_check_their_grid() {
    let dir = crate::files::temp_dir("regions");
    let points = grid((-1.0, 1.0), 3);
    assert_eq!(&points[..6], &[-1.0, -1.0, 0.0, -1.0, 1.0, -1.0], "x fastest, from the bottom-left");
    let probabilities: Vec<f32> = points.chunks(2).map(|p| if p[0] * p[1] > 0.0 { 0.9 } else { 0.1 }).collect();
    let marked = [([0.5, 0.5], 1.0), ([-0.5, 0.5], 0.0)];
    let regions = Regions { range: (-1.0, 1.0), resolution: 3, probabilities: &probabilities, points: &marked };
    decision_regions(&dir.join("r.png"), "t", &regions).unwrap();
    assert!(std::fs::read(dir.join("r.png")).unwrap().starts_with(b"\x89PNG"));
    let short = Regions { probabilities: &probabilities[1..], ..regions };
    assert!(decision_regions(&dir.join("s.png"), "t", &short).is_err());
    std::fs::remove_dir_all(dir).unwrap();
}
