// Helpers the elementwise expressions of `src/map.rs` call: inserted into the elementwise
// family's module and into every generated matmul epilogue. `T` is the element type.

// tanh accurate near 0: (1 − e)/(1 + e) would lose every digit to cancellation there, so
// the Taylor series to x¹¹ (next term below 1e-10 relative at |x| = 0.25). Beyond,
// e = exp(−2|x|) <= 0.61, so 1 − e keeps its digits, and no inf / inf makes NaN.
fn tanh_accurate(x: T) -> T {
    let ax = abs(x);
    if (ax < 0.25) {
        let x2 = x * x;
        let series = fma(x2, fma(x2, fma(x2, fma(x2, fma(x2, -0.0088632356, 0.021869488), -0.053968254), 0.13333334), -0.33333334), 1.0);
        return x * series;
    }
    let e = exp(-2.0 * ax);
    return select(1.0, -1.0, x < 0.0) * (1.0 - e) / (1.0 + e);
}

// ln(1 + eˣ) as PyTorch's softplus: x itself above 20; ln(1 + e) computed as
// ln(u)·e/(u − 1) with u = 1 + e, which keeps the digits of a tiny e that 1 + e loses.
fn softplus_stable(x: T) -> T {
    if (x > 20.0) {
        return x;
    }
    let e = exp(x);
    let u = 1.0 + e;
    return select(log(u) * e / (u - 1.0), e, u == 1.0);
}

// dy · d/dx of PyTorch's tanh-approximated GELU, in PyTorch's arrangement of the terms.
fn gelu_tanh_grad(x: T, dy: T) -> T {
    let k = 0.7978846;
    let c = 0.044715;
    let t = tanh_accurate(k * (x + c * x * x * x));
    let left = 0.5 * (1.0 + t);
    let right = 0.5 * x * (1.0 - t * t) * k * (1.0 + 3.0 * c * x * x);
    return dy * (left + right);
}

// min(1, factor), NaN staying NaN as in PyTorch (min's result for NaN is not defined).
fn clip_factor(factor: T) -> T {
    return select(min(1.0, factor), factor, is_nan(factor));
}

// aˢ as C's pow (and PyTorch's): WGSL's pow is undefined for a negative base, so the
// magnitude comes from |a| and the sign from s: odd integers keep a's sign, other
// integers drop it, and a fraction of a negative number is NaN.
// A private variable, not a constant: WGSL refuses a constant expression that evaluates
// to NaN or infinity (browsers enforce it), but a value read at run time may be one.
var<private> quiet_nan_bits: u32 = 0x7fc00000u;

fn pow_const(a: T, s: T) -> T {
    if (s == 0.0) {
        return 1.0;
    }
    let magnitude = pow(abs(a), s);
    if (a >= 0.0 || is_nan(a)) {
        return select(magnitude, a, is_nan(a));
    }
    if (floor(s) != s) {
        return bitcast<T>(quiet_nan_bits);
    }
    let odd = abs(s) % 2.0 == 1.0;
    return select(magnitude, -magnitude, odd);
}

// erf by Abramowitz and Stegun 7.1.26 (absolute error under 1.5e-7), as erf in
// map_more.rs; WGSL has no erf.
fn erf_approx(x: T) -> T {
    let t = 1.0 / (1.0 + 0.3275911 * abs(x));
    let poly = t * (0.2548296 + t * (-0.28449672 + t * (1.4214138 + t * (-1.4531521 + t * 1.0614054))));
    let y = 1.0 - poly * exp(-x * x);
    return select(y, -y, x < 0.0);
}

// dy · (Φ(x) + x·φ(x)), the derivative of the exact GELU.
fn gelu_grad(x: T, dy: T) -> T {
    let cdf = 0.5 * (1.0 + erf_approx(x * 0.70710677));
    let pdf = exp(-0.5 * x * x) * 0.3989423;
    return dy * (cdf + x * pdf);
}
