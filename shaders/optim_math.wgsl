// The optimizers' arithmetic per element, shared by the entry points of optim.wgsl and
// the generated launches that update every parameter at once (`generate.rs`), so the two
// compute the same values. Each reads the hyper-parameters from `params` (the same field
// names in both modules).

// 1 − βᵗ from its two forms, the complement `c` and the power `power` (see
// adam_corrections in cpu_ops.rs): the accurate one for its size.
fn bias_correction_of(c: f32, power: f32) -> f32 {
    return select(1.0 - power, c, c < 0.5);
}

// PyTorch's SGD: the new parameter.
fn sgd_element(p: f32, g: f32) -> f32 {
    return p - params.lr * g;
}

// PyTorch's SGD with momentum (no dampening): (new parameter, new velocity).
fn momentum_element(p: f32, g: f32, velocity: f32) -> vec2<f32> {
    let v = params.momentum * velocity + g;
    return vec2<f32>(p - params.lr * v, v);
}

// PyTorch's Adam: (new parameter, m, v), given lr / (1 − β₁ᵗ) and sqrt(1 − β₂ᵗ).
fn adam_element(p: f32, g: f32, m0: f32, v0: f32, step_size: f32, bias2_sqrt: f32) -> vec3<f32> {
    let m = params.beta1 * m0 + params.one_minus_beta1 * g;
    let v = params.beta2 * v0 + params.one_minus_beta2 * g * g;
    return vec3<f32>(p - step_size * m / (sqrt(v) / bias2_sqrt + params.eps), m, v);
}
