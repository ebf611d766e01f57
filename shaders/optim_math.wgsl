// The optimizers' arithmetic per element, shared by the entry points of optim.wgsl and
// the generated launches that update every parameter at once (`generate.rs`), so the two
// compute the same values. Each reads the hyper-parameters from `params` (the same field
// names in both modules).

// 1 − βᵗ from its two forms, the complement `c` and the power `power` (see
// adam_corrections in cpu_ops.rs): the accurate one for its size.
fn bias_correction_of(c: f32, power: f32) -> f32 {
    return select(1.0 - power, c, c < 0.5);
}

// g + weight_decay · p (PyTorch's L2 term), only when the decay is not 0 (0 · ∞ is NaN).
fn decayed(g: f32, p: f32, weight_decay: f32) -> f32 {
    return select(g, g + weight_decay * p, weight_decay != 0.0);
}

// PyTorch's SGD with learning rate lr: the new parameter.
fn sgd_element(p: f32, g: f32, lr: f32) -> f32 {
    return p - lr * decayed(g, p, params.weight_decay);
}

// PyTorch's SGD with momentum (no dampening; Nesterov when flags bit 0 is set):
// (new parameter, new velocity).
fn momentum_element(p: f32, g: f32, velocity: f32, lr: f32) -> vec2<f32> {
    let d = decayed(g, p, params.weight_decay);
    let v = params.momentum * velocity + d;
    let step = select(v, d + params.momentum * v, (params.flags & 1u) != 0u);
    return vec2<f32>(p - lr * step, v);
}

// PyTorch's Adam, or AdamW when flags bit 1 is set (decoupled weight decay):
// (new parameter, m, v), given lr, 1 − β₁ᵗ and sqrt(1 − β₂ᵗ).
fn adam_element(p0: f32, g0: f32, m0: f32, v0: f32, lr: f32, bias1: f32, bias2_sqrt: f32) -> vec3<f32> {
    let decoupled = (params.flags & 2u) != 0u;
    let g = decayed(g0, p0, select(params.weight_decay, 0.0, decoupled));
    let shrink = select(0.0, params.weight_decay, decoupled);
    let p = select(p0, p0 * (1.0 - lr * shrink), shrink != 0.0);
    let m = params.beta1 * m0 + params.one_minus_beta1 * g;
    let v = params.beta2 * v0 + params.one_minus_beta2 * g * g;
    let step_size = lr / bias1;
    return vec3<f32>(p - step_size * m / (sqrt(v) / bias2_sqrt + params.eps), m, v);
}
