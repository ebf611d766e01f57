"""Writes the PyTorch golden values the Rust tests compare both backends against.

    python3 tests/golden/make_golden.py     # needs torch and safetensors; CI does not

ops.safetensors: for each case, its inputs `CASE.x0`, `CASE.x1`, ..., the output
`CASE.y`, and, for differentiable cases, a random cotangent `CASE.cot` and the gradients
`CASE.g0`, ... of sum(y * cot) with respect to each differentiable input (an input
without one, such as a loss's targets, is data). Computed in float64 from the
float32 inputs, so the values are the exact answers the float32 engine must approach.
Edge values: logits of ±80, tanh at 1e-7 and ±100, padding rows, NaN and ±Inf.

adam.safetensors: an MLP 4-5-3 (ReLU) trained five Adam steps (lr 0.01, PyTorch's
defaults otherwise) with cross-entropy on one fixed batch, in float32 as a user runs it:
the initial parameters `init.0.weight`, ..., the batch `x` and one-hot `y`, each step's
loss `loss`, and the parameters after the five steps `final.0.weight`, ...

optimizers.safetensors: the same model, batch and five steps for other optimizers, each
under its case's prefix (`CASE.init.*`, `CASE.loss`, `CASE.final.*`; the batch `x`, `y`
once): Adam with L2 weight decay, AdamW, SGD with weight decay, SGD with Nesterov
momentum and weight decay, and AdamW following a cosine schedule; and the learning rates
of PyTorch's schedulers over 12 steps (`schedule.step`, `schedule.warmup_cosine`).
"""

import os

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(20261130)


def f32(*shape, low=-1.0, high=1.0):
    """Uniform float32 values, then float64 for the exact computation."""
    return (torch.rand(*shape) * (high - low) + low).to(torch.float32).to(torch.float64)


def away_from_zero(*shape):
    """Values in ±[0.1, 1]: no kinks of relu or clamp nearby."""
    sign = torch.where(torch.rand(*shape) < 0.5, -1.0, 1.0)
    return (sign * (0.1 + 0.9 * torch.rand(*shape))).to(torch.float32).to(torch.float64)


CASES = {}


def case(name, fn, inputs, differentiable=True, data=()):
    """`data`: indices of inputs that take no gradient (class weights)."""
    xs = [x.clone().requires_grad_(differentiable and i not in data) for i, x in enumerate(inputs)]
    y = fn(*xs)
    out = {f"{name}.x{i}": x for i, x in enumerate(inputs)}
    out[f"{name}.y"] = y.detach()
    if differentiable:
        cot = f32(*y.shape)
        (y * cot).sum().backward()
        out[f"{name}.cot"] = cot
        for i, x in enumerate(xs):
            if x.grad is not None:  # targets of a loss take no gradient
                out[f"{name}.g{i}"] = x.grad
    CASES.update({k: v.to(torch.float32).contiguous() for k, v in out.items()})


def cross_entropy_with_padding(logits, targets):
    """Mean cross-entropy over the rows whose targets are not all zero."""
    counted = targets.abs().sum(dim=1) > 0
    return F.cross_entropy(logits[counted], targets[counted].argmax(dim=1)).reshape(1, 1)


def ops():
    case("matmul_nn", lambda a, b: a @ b, [f32(5, 7), f32(7, 3)])
    case("matmul_nt", lambda a, b: a @ b.T, [f32(5, 7), f32(3, 7)])
    case("matmul_tn", lambda a, b: a.T @ b, [f32(7, 5), f32(7, 3)])
    case("matmul_tt", lambda a, b: a.T @ b.T, [f32(7, 5), f32(3, 7)])
    case("matmul_long_k", lambda a, b: a @ b, [f32(3, 300), f32(300, 65)])
    case("add_row", lambda a, b: a + b, [f32(5, 7), f32(1, 7)])
    case("sub_scalar", lambda a, b: a - b, [f32(5, 7), f32(1, 1)])
    case("mul", lambda a, b: a * b, [f32(33, 65), f32(33, 65)])
    case("scale", lambda x: 2.5 * x, [f32(5, 7)])
    case("square", lambda x: x * x, [f32(5, 7)])
    edges = torch.tensor([[-80.0, -20.0, -1.0, 0.0, 1e-7, 0.3, 1.0, 20.0, 80.0]], dtype=torch.float64)
    case("sigmoid", torch.sigmoid, [edges])
    tanh_edges = torch.tensor([[-100.0, -3.0, -0.3, -1e-7, 0.0, 1e-7, 0.2, 0.3, 3.0, 100.0]], dtype=torch.float64)
    case("tanh", torch.tanh, [tanh_edges])
    case("relu", torch.relu, [away_from_zero(5, 7)])
    case("exp", torch.exp, [f32(5, 7, low=-5.0, high=5.0)])
    case("neg", torch.neg, [f32(5, 7)])
    case("abs", torch.abs, [away_from_zero(5, 7)])
    case("log", torch.log, [f32(5, 7, low=0.01, high=10.0)])
    case("div_row", lambda a, b: a / b, [f32(5, 7), away_from_zero(1, 7)])
    case("leaky_relu", lambda x: F.leaky_relu(x, 0.01), [away_from_zero(5, 7)])
    softplus_edges = torch.tensor([[-30.0, -15.0, -1.0, 0.0, 0.5, 15.0, 19.9, 20.5, 30.0]], dtype=torch.float64)
    case("softplus", F.softplus, [softplus_edges])
    case("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), [f32(5, 7, low=-4.0, high=4.0)])
    case("stop_gradient", lambda x: x * x.detach(), [f32(5, 7)])
    layer_norm = lambda x, w, b: F.layer_norm(x, (7,), w.reshape(7), b.reshape(7), 1e-5)
    case("layer_norm", layer_norm, [f32(5, 7, low=-3.0, high=3.0), f32(1, 7), f32(1, 7)])
    case("gelu", F.gelu, [f32(5, 7, low=-4.0, high=4.0)])
    case("mean_rows", lambda x: x.mean(dim=0, keepdim=True), [f32(33, 65)])
    case("mean_cols", lambda x: x.mean(dim=1, keepdim=True), [f32(33, 65)])
    huber = lambda p, t: F.huber_loss(p, t, delta=0.5).reshape(1, 1)
    case("huber", huber, [f32(5, 7, low=-2.0, high=2.0), f32(5, 7)])
    labels = torch.tensor([3, 0, 6, 2, 6])
    one_hot = F.one_hot(labels, 7).to(torch.float64)
    one_hot[4] = 0.0  # a padding row
    smoothed = lambda z, t: F.cross_entropy(z[:4], labels[:4], label_smoothing=0.1).reshape(1, 1)
    case("xent_smoothed", smoothed, [f32(5, 7, low=-3.0, high=3.0), one_hot], data=(1,))
    class_weights = f32(1, 7, low=0.2, high=2.0)
    weighted = lambda z, t, w: F.cross_entropy(z[:4], labels[:4], weight=w.reshape(7)).reshape(1, 1)
    case("xent_weighted", weighted, [f32(5, 7, low=-3.0, high=3.0), one_hot, class_weights], data=(1, 2))
    case("transpose", lambda x: x.T, [f32(5, 7)])
    case("slice_cols", lambda x: x[:, 2:5], [f32(5, 7)])
    case("pad_cols", lambda x: F.pad(x, (2, 4)), [f32(5, 3)])
    case("concat_cols", lambda a, b: torch.cat([a, b], dim=1), [f32(5, 3), f32(5, 4)])
    case("max_cols", lambda x: x.amax(dim=1, keepdim=True), [f32(5, 7)])
    case("max_rows", lambda x: x.amax(dim=0, keepdim=True), [f32(5, 7)])
    ties = torch.tensor([[1.0, 3.0, 3.0, -2.0], [0.5, 0.5, 0.5, 0.5]], dtype=torch.float64)
    case("max_cols_ties", lambda x: x.amax(dim=1, keepdim=True), [ties])
    case("pow_cube", lambda x: x**3, [f32(5, 7)])
    case("pow_half", lambda x: x**0.5, [f32(5, 7, low=0.01, high=4.0)])
    case("pow_minus_two", lambda x: x**-2.0, [away_from_zero(5, 7)])
    pow_edges = torch.tensor([[-8.0, -2.0, -1e-3, 0.0, 1e-7, 2.0, 9.0, float("nan"), float("inf")]], dtype=torch.float64)
    case("pow_edges_half", lambda x: x**0.5, [pow_edges], differentiable=False)
    case("pow_edges_cube", lambda x: x**3, [pow_edges], differentiable=False)
    case("pow_edges_zero", lambda x: x**0, [pow_edges], differentiable=False)
    case("add_col", lambda a, b: a + b, [f32(5, 7), f32(5, 1)])
    case("sum_cols", lambda x: x.sum(dim=1, keepdim=True), [f32(33, 65)])
    wide = f32(4, 30, low=-5.0, high=5.0)
    wide[0, 3], wide[1, 0] = 80.0, -80.0
    case("softmax", lambda x: torch.softmax(x, dim=1), [wide])
    case("log_softmax", lambda x: torch.log_softmax(x, dim=1), [wide])
    case("l1_loss", lambda p, t: F.l1_loss(p, t).reshape(1, 1), [f32(5, 7), f32(5, 7)])
    bce_logits = f32(5, 7, low=-4.0, high=4.0)
    bce_logits[0, 0], bce_logits[1, 1] = 30.0, -30.0
    bce = lambda z, t: F.binary_cross_entropy_with_logits(z, t).reshape(1, 1)
    case("bce_with_logits", bce, [bce_logits, f32(5, 7, low=0.0, high=1.0)], differentiable=True)
    case("sum", lambda x: x.sum().reshape(1, 1), [f32(33, 65)])
    case("sum_rows", lambda x: x.sum(dim=0, keepdim=True), [f32(33, 65)])
    case("mean", lambda x: x.mean().reshape(1, 1), [f32(33, 65)])
    case("sum_squares", lambda x: (x * x).sum().reshape(1, 1), [f32(33, 65)])
    case("mse", lambda p, t: ((p - t) ** 2).mean().reshape(1, 1), [f32(5, 7), f32(5, 7)])
    logits = f32(6, 10, low=-3.0, high=3.0)
    logits[0, 3], logits[1, 7], logits[2, 0] = 80.0, -80.0, 80.0
    targets = torch.zeros(6, 10, dtype=torch.float64)
    for row, label in [(0, 3), (1, 7), (2, 5), (4, 9)]:
        targets[row, label] = 1.0  # rows 3 and 5 are padding
    case("softmax_xent", cross_entropy_with_padding, [logits, targets])
    case("sqrt", torch.sqrt, [f32(5, 7, low=0.01, high=4.0)])
    nan, inf = float("nan"), float("inf")
    special = torch.tensor([[nan, -inf, inf, -2.0, -0.5, 0.0, 0.5, 2.0]], dtype=torch.float64)
    case("relu_special", torch.relu, [special], differentiable=False)
    case("clip_special", lambda x: x.clamp(-1.0, 1.0), [special], differentiable=False)
    stats = lambda g: torch.stack([g.abs().mean(), g.abs().max(), g.norm()]).reshape(1, 3)
    case("grad_stats", stats, [f32(33, 65)], differentiable=False)
    save_file(CASES, os.path.join(HERE, "ops.safetensors"))


def mlp():
    """The 4-5-3 ReLU MLP every optimizer case starts from (seed 7)."""
    torch.manual_seed(7)
    return torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))


def five_steps(prefix, model, optimizer, scheduler, x, labels, out):
    """Five cross-entropy steps; `prefix`ed initial and final parameters and losses."""
    out.update({f"{prefix}init.{k}": v.detach().clone() for k, v in model.state_dict().items()})
    losses = []
    for _ in range(5):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), labels)
        loss.backward()
        optimizer.step()
        if scheduler:
            scheduler.step()
        losses.append(loss.item())
    out.update({f"{prefix}final.{k}": v.detach().clone() for k, v in model.state_dict().items()})
    out[f"{prefix}loss"] = torch.tensor(losses).reshape(1, 5)


def adam():
    model = mlp()
    x = torch.randn(8, 4)
    labels = torch.randint(0, 3, (8,))
    out = {"x": x, "y": F.one_hot(labels, 3).to(torch.float32)}
    five_steps("", model, torch.optim.Adam(model.parameters(), lr=0.01), None, x, labels, out)
    save_file({k: v.contiguous() for k, v in out.items()}, os.path.join(HERE, "adam.safetensors"))


def train(name, make_optimizer, make_scheduler, x, labels, out):
    model = mlp()
    optimizer = make_optimizer(model.parameters())
    scheduler = make_scheduler(optimizer) if make_scheduler else None
    five_steps(f"{name}.", model, optimizer, scheduler, x, labels, out)


def schedule_lrs(make_scheduler, steps=12):
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    scheduler = make_scheduler(optimizer)
    lrs = []
    for _ in range(steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return torch.tensor(lrs, dtype=torch.float32).reshape(1, steps)


def optimizers():
    torch.manual_seed(8)
    x = torch.randn(8, 4)
    labels = torch.randint(0, 3, (8,))
    out = {"x": x, "y": F.one_hot(labels, 3).to(torch.float32)}
    optim = torch.optim
    train("adam_l2", lambda p: optim.Adam(p, lr=0.01, weight_decay=0.1), None, x, labels, out)
    train("adamw", lambda p: optim.AdamW(p, lr=0.01, weight_decay=0.1), None, x, labels, out)
    train("sgd_wd", lambda p: optim.SGD(p, lr=0.1, weight_decay=0.05), None, x, labels, out)
    nesterov = lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.05)
    train("sgd_nesterov", nesterov, None, x, labels, out)
    cosine = lambda o: optim.lr_scheduler.CosineAnnealingLR(o, T_max=5, eta_min=0.001)
    train("adamw_cosine", lambda p: optim.AdamW(p, lr=0.01), cosine, x, labels, out)
    out["schedule.step"] = schedule_lrs(lambda o: optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5))
    warmup = lambda o: optim.lr_scheduler.LinearLR(o, start_factor=0.1, total_iters=3)
    cos = lambda o: optim.lr_scheduler.CosineAnnealingLR(o, T_max=7, eta_min=0.001)
    sequential = lambda o: optim.lr_scheduler.SequentialLR(o, [warmup(o), cos(o)], milestones=[3])
    out["schedule.warmup_cosine"] = schedule_lrs(sequential)
    save_file({k: v.contiguous() for k, v in out.items()}, os.path.join(HERE, "optimizers.safetensors"))


if __name__ == "__main__":
    ops()
    adam()
    optimizers()
