"""Writes the PyTorch golden values of the N-d ops (tensor.safetensors).

    python3 tests/golden/make_golden_nd.py     # needs torch and safetensors; CI does not

Each case as in make_golden.py: its inputs `CASE.x0`, `CASE.x1`, ..., the output
`CASE.y`, a random cotangent `CASE.cot` and the gradients `CASE.g0`, ... of sum(y * cot)
in float64 from float32 inputs, every tensor with its own N-d shape. Index inputs are
data (no gradient). Cases cover ranks 0, 1, 3, 4 and 5, size-1 dims, broadcasting both
ways, negative dims, and inputs made non-contiguous by a permute.
"""

import os

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(20261202)
CASES = {}


def f32(*shape, low=-1.0, high=1.0):
    return (torch.rand(shape) * (high - low) + low).to(torch.float32).to(torch.float64)


def distinct(*shape):
    """Values without ties (so max and argmax have one answer), shuffled."""
    n = 1
    for d in shape:
        n *= d
    return (torch.randperm(n).to(torch.float64) / n - 0.5).reshape(*shape).to(torch.float32).to(torch.float64)


def indices(values):
    return torch.tensor(values, dtype=torch.float64)


def case(name, fn, inputs, data=()):
    """`data`: positions of inputs that take no gradient (indices)."""
    xs = [x.clone().requires_grad_(i not in data) for i, x in enumerate(inputs)]
    y = fn(*xs)
    out = {f"{name}.x{i}": x for i, x in enumerate(inputs)}
    out[f"{name}.y"] = y.detach()
    if y.requires_grad:
        cot = f32(*y.shape)
        (y * cot).sum().backward()
        out[f"{name}.cot"] = cot
        for i, x in enumerate(xs):
            if x.grad is not None:
                out[f"{name}.g{i}"] = x.grad
    CASES.update({k: v.to(torch.float32).contiguous() for k, v in out.items()})


def ops():
    # Broadcasting by PyTorch's rules, both ways, where the rows alone cannot read it.
    case("add_bcast_both", lambda a, b: a + b, [f32(2, 1, 4), f32(3, 1)])
    case("mul_bcast_mid", lambda a, b: a * b, [f32(2, 3, 4), f32(2, 1, 4)])
    case("sub_rank0", lambda a, b: a - b, [f32(3, 4), f32()])
    case("div_rank5", lambda a, b: a / b, [f32(2, 1, 3, 1, 2), f32(1, 2, 1, 3, 1, low=0.5, high=2.0)])
    case("add_rank1", lambda a, b: a + b, [f32(5), f32(4, 1)])
    # Reductions along dims, keepdim or not, negative dims.
    case("sum_dim0", lambda x: x.sum(dim=0), [f32(3, 4, 5)])
    case("sum_dims_keep", lambda x: x.sum(dim=(0, 2), keepdim=True), [f32(3, 4, 5)])
    case("sum_all_dims", lambda x: x.sum(), [f32(2, 3, 2, 2)])
    case("mean_neg2", lambda x: x.mean(dim=-2), [f32(2, 3, 4, 5)])
    case("amax_mid", lambda x: x.amax(dim=1, keepdim=True), [distinct(3, 4, 5)])
    case("amin_first", lambda x: x.amin(dim=0), [distinct(4, 3)])
    case("amax_ties", lambda x: x.amax(dim=0), [torch.tensor([[1.0, 2.0], [1.0, -1.0], [0.5, 2.0]], dtype=torch.float64)])
    case("argmax_mid", lambda x: x.argmax(dim=1).to(torch.float64), [distinct(3, 4, 5)])
    case("logsumexp_mid", lambda x: torch.logsumexp(x, dim=1), [f32(3, 4, 5, low=-5.0, high=5.0)])
    case("var_dims", lambda x: x.var(dim=(0, 2)), [f32(3, 4, 5)])
    case("var_biased_keep", lambda x: x.var(dim=-1, correction=0, keepdim=True), [f32(3, 4, 5)])
    case("softmax_dim1", lambda x: torch.softmax(x, dim=1), [f32(2, 3, 4, low=-3.0, high=3.0)])
    case("log_softmax_dim0", lambda x: torch.log_softmax(x, dim=0), [f32(3, 2, 4, low=-3.0, high=3.0)])
    case("softmax_last_rank4", lambda x: torch.softmax(x, dim=-1), [f32(2, 2, 3, 5, low=-3.0, high=3.0)])
    ln = lambda x, w, b: F.layer_norm(x, (6,), w, b, 1e-5)
    case("layer_norm_rank3", ln, [f32(2, 3, 6, low=-3.0, high=3.0), f32(6), f32(6)])
    # Layout ops.
    case("reshape", lambda x: x.reshape(4, 6), [f32(2, 3, 4)])
    case("flatten_mid", lambda x: x.flatten(1, 2), [f32(2, 3, 4, 5)])
    case("unsqueeze_squeeze", lambda x: x.unsqueeze(1).squeeze(-1), [f32(3, 4, 1)])
    case("permute", lambda x: x.permute(2, 0, 3, 1), [f32(2, 3, 4, 5)])
    case("transpose_dims", lambda x: x.transpose(0, 2), [f32(2, 3, 4)])
    case("permute_then_add", lambda x, b: x.permute(1, 0, 2) + b, [f32(2, 3, 4), f32(4)])
    case("expand", lambda x: x.expand(2, 3, 4), [f32(3, 1)])
    case("narrow", lambda x: x.narrow(1, 1, 2), [f32(2, 4, 3)])
    case("narrow_neg", lambda x: x.narrow(-1, 2, 3), [f32(2, 3, 6)])
    case("pad", lambda x: F.pad(x, (0, 0, 1, 2), value=0.5), [f32(2, 3, 4)])
    case("cat_dim1", lambda a, b: torch.cat([a, b], dim=1), [f32(2, 3, 4), f32(2, 1, 4)])
    case("stack_neg", lambda a, b, c: torch.stack([a, b, c], dim=-1), [f32(2, 3), f32(2, 3), f32(2, 3)])
    case("index_select", lambda x, i: x.index_select(1, i.long()), [f32(2, 5, 3), indices([4, 0, 4, 2])], data=(1,))
    emb = lambda w, i: F.embedding(i.long(), w)
    case("embedding", emb, [f32(7, 4), indices([[1, 6, 1], [0, 1, 3]])], data=(1,))
    # Products by PyTorch's matmul rules.
    case("matmul_batched", lambda a, b: a @ b, [f32(3, 4, 5), f32(3, 5, 2)])
    case("matmul_bcast_batch", lambda a, b: a @ b, [f32(2, 1, 4, 5), f32(3, 5, 2)])
    case("matmul_rows_times_matrix", lambda a, b: a @ b, [f32(2, 3, 5), f32(5, 4)])
    case("matmul_vec_vec", lambda a, b: a @ b, [f32(5), f32(5)])
    case("matmul_mat_vec", lambda a, b: a @ b, [f32(2, 3, 5), f32(5)])
    case("matmul_vec_mat", lambda a, b: a @ b, [f32(5), f32(2, 5, 3)])
    case("matmul_bt_folded", lambda a, b: a @ b.transpose(-2, -1), [f32(2, 3, 5), f32(2, 4, 5)])
    case("matmul_permuted", lambda a, b: a.permute(0, 2, 1) @ b, [f32(2, 5, 3), f32(2, 5, 4)])


if __name__ == "__main__":
    ops()
    save_file(CASES, os.path.join(HERE, "tensor.safetensors"))
    print(f"{len([k for k in CASES if k.endswith('.y')])} cases")
