//! Gradient statistics, clipping and non-finite detection: GPU against CPU, and both
//! against finite-difference gradients.

use backprop::diagnostics::GradStat;
use backprop::{Device, Error, Graph, NodeId, Session};

use crate::common::{assert_close, rng, Tolerance, REDUCTION};

/// Finite differences are good to about 1e-3 here (see gradcheck.rs).
const FD: Tolerance = Tolerance { atol: 2e-3, rtol: 2e-2 };

/// A 3-layer tanh network on fixed data; returns the graph, its loss and parameters.
fn network() -> (Graph, NodeId, Vec<NodeId>) {
    let mut rng = rng(11);
    let mut g = Graph::new();
    let x = g.constant([4, 3], crate::common::away_from_zero(&mut rng, [4, 3].into())).unwrap();
    let y = g.constant([4, 2], crate::common::away_from_zero(&mut rng, [4, 2].into())).unwrap();
    let shapes: [[usize; 2]; 4] = [[3, 5], [1, 5], [5, 2], [1, 2]];
    let names = ["w1", "b1", "w2", "b2"];
    let params: Vec<NodeId> = shapes
        .iter()
        .zip(names)
        .map(|(&s, n)| g.parameter(n, s, crate::common::away_from_zero(&mut rng, s.into())).unwrap())
        .collect();
    let h = g.matmul(x, params[0]).unwrap();
    let h = g.add(h, params[1]).unwrap();
    let h = g.tanh(h).unwrap();
    let out = g.matmul(h, params[2]).unwrap();
    let out = g.add(out, params[3]).unwrap();
    let scaled = g.scale(out, 4.0).unwrap(); // large enough that clipping at 1.0 bites
    let loss = g.mse_loss(scaled, y).unwrap();
    (g, loss, params)
}

/// Central differences of the loss for every parameter element, in f64.
fn finite_difference_grads(g: &Graph, loss: NodeId, params: &[NodeId]) -> Vec<Vec<f32>> {
    let mut session = Device::Cpu.compile_inference(g, &[loss]).unwrap();
    let h = 1e-2f32;
    let eval = |s: &mut Box<dyn Session>| s.run_and_read(&[loss]).unwrap()[0][0] as f64;
    params
        .iter()
        .map(|&p| {
            let mut values = g.node(p).unwrap().init.clone().unwrap();
            (0..values.len())
                .map(|j| {
                    let original = values[j];
                    values[j] = original + h;
                    session.write(p, &values).unwrap();
                    let up = eval(&mut session);
                    values[j] = original - h;
                    session.write(p, &values).unwrap();
                    let down = eval(&mut session);
                    values[j] = original;
                    session.write(p, &values).unwrap();
                    ((up - down) / (2.0 * h as f64)) as f32
                })
                .collect()
        })
        .collect()
}

fn stats_of(name: &str, g: &[f32]) -> GradStat {
    let mean_abs = g.iter().map(|v| v.abs()).sum::<f32>() / g.len() as f32;
    let max_abs = g.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let norm = g.iter().map(|v| v * v).sum::<f32>().sqrt();
    GradStat { name: name.into(), mean_abs, max_abs, norm }
}

fn assert_stats(what: &str, actual: &[GradStat], expected: &[GradStat], tol: Tolerance) {
    for (a, e) in actual.iter().zip(expected) {
        assert_eq!(a.name, e.name);
        let flat = |s: &GradStat| [s.mean_abs, s.max_abs, s.norm];
        assert_close(&format!("{what} {}", a.name), &flat(a), &flat(e), tol);
    }
}

/// Gradient statistics and clipped gradients (max norm 1.0) from one run on `device`.
fn watched(device: &Device) -> (Vec<GradStat>, f32, Vec<Vec<f32>>) {
    let (mut g, loss, params) = network();
    let grads = g.backward(loss).unwrap();
    let watch = g.watch_gradients(&grads).unwrap();
    let clipped = g.clip_grad_norm(&grads, 1.0).unwrap();
    let clipped_ids: Vec<NodeId> = params.iter().map(|&p| clipped.grads.get(p).unwrap()).collect();
    let mut keep = watch.nodes().to_vec();
    keep.push(clipped.norm);
    keep.extend(&clipped_ids);
    let mut session = device.compile_inference(&g, &keep).unwrap();
    session.run().unwrap();
    let stats = watch.read(session.as_mut()).unwrap();
    let norm = session.read(clipped.norm).unwrap()[0];
    (stats, norm, session.read_many(&clipped_ids).unwrap())
}

pub fn statistics_and_clipping_match_finite_differences() {
    let (g, loss, params) = network();
    let fd = finite_difference_grads(&g, loss, &params);
    let names = ["w1", "b1", "w2", "b2"];
    let expected_stats: Vec<GradStat> = names.iter().zip(&fd).map(|(n, g)| stats_of(n, g)).collect();
    let global: f32 = fd.iter().flatten().map(|v| v * v).sum::<f32>().sqrt();
    assert!(global > 1.5, "the test needs clipping to bite; norm {global}");
    let factor = (1.0 / (global + 1e-6)).min(1.0);
    let (stats, norm, clipped) = watched(&Device::Cpu);
    assert_stats("cpu vs finite differences", &stats, &expected_stats, FD);
    assert_close("global norm", &[norm], &[global], FD);
    for (i, (c, f)) in clipped.iter().zip(&fd).enumerate() {
        let expected: Vec<f32> = f.iter().map(|v| v * factor).collect();
        assert_close(&format!("clipped {}", names[i]), c, &expected, FD);
    }
    let clipped_norm: f32 = clipped.iter().flatten().map(|v| v * v).sum::<f32>().sqrt();
    assert!((clipped_norm - 1.0).abs() < 1e-4, "clipped global norm {clipped_norm}");
}

pub fn statistics_and_clipping_gpu_matches_cpu(device: &Device) {
    let (cpu_stats, cpu_norm, cpu_clipped) = watched(&Device::Cpu);
    let (gpu_stats, gpu_norm, gpu_clipped) = watched(device);
    assert_stats("gpu vs cpu", &gpu_stats, &cpu_stats, REDUCTION);
    assert_close("global norm", &[gpu_norm], &[cpu_norm], REDUCTION);
    for (g, c) in gpu_clipped.iter().zip(&cpu_clipped) {
        assert_close("clipped gradient", g, c, REDUCTION);
    }
}

pub fn clipping_leaves_small_gradients_alone_and_clips_by_value(device: &Device) {
    let (mut g, loss, params) = network();
    let grads = g.backward(loss).unwrap();
    let loose = g.clip_grad_norm(&grads, 1e6).unwrap();
    let by_value = g.clip_grad_value(&grads, 0.05).unwrap();
    let raw: Vec<NodeId> = params.iter().map(|&p| grads.get(p).unwrap()).collect();
    let unclipped: Vec<NodeId> = params.iter().map(|&p| loose.grads.get(p).unwrap()).collect();
    let clamped: Vec<NodeId> = params.iter().map(|&p| by_value.get(p).unwrap()).collect();
    let keep: Vec<NodeId> = raw.iter().chain(&unclipped).chain(&clamped).copied().collect();
    let mut session = device.compile_inference(&g, &keep).unwrap();
    session.run().unwrap();
    for i in 0..params.len() {
        let r = session.read(raw[i]).unwrap();
        let same = Tolerance { atol: 1e-6, rtol: 1e-5 };
        assert_close("under max_norm", &session.read(unclipped[i]).unwrap(), &r, same);
        let expected: Vec<f32> = r.iter().map(|v| v.clamp(-0.05, 0.05)).collect();
        assert_eq!(session.read(clamped[i]).unwrap(), expected, "clip by value on {}", device.name());
    }
}

/// Trains `loss = sum(x·w)` for 5 steps with `x` written per step; returns the guard's verdict.
fn guarded_run(device: &Device, x_per_step: impl Fn(usize) -> [f32; 2]) -> backprop::Result<()> {
    let mut g = Graph::new();
    let x = g.input("x", [2, 1]).unwrap();
    let w = g.parameter("w", [1, 1], vec![0.0]).unwrap();
    let xw = g.matmul(x, w).unwrap();
    let loss = g.sum(xw).unwrap();
    let grads = g.backward(loss).unwrap();
    let guard = g.guard_non_finite(loss, &grads).unwrap();
    g.sgd(&grads, 0.0).unwrap();
    let mut session = device.compile(&g, &[guard.node()]).unwrap();
    for step in 0..5 {
        session.write(x, &x_per_step(step)).unwrap();
        session.run().unwrap();
    }
    guard.check(session.as_mut())
}

pub fn non_finite_values_are_reported_with_step_and_source(device: &Device) {
    assert!(guarded_run(device, |_| [1.0, 2.0]).is_ok());
    // A NaN input at step 3 (1-based) makes the loss NaN.
    let nan = guarded_run(device, |s| if s == 2 { [f32::NAN, 1.0] } else { [1.0, 2.0] });
    assert!(matches!(&nan, Err(Error::NonFinite { step: 3, what }) if what == "the loss"), "{nan:?}");
    // With w = 0 the loss x·w stays 0, but dL/dw = Σx overflows to +Inf from step 2.
    let inf = guarded_run(device, |s| if s >= 1 { [3e38, 3e38] } else { [1.0, 2.0] });
    let expected = "the gradient of w";
    assert!(matches!(&inf, Err(Error::NonFinite { step: 2, what }) if what == expected), "{inf:?}");
}
