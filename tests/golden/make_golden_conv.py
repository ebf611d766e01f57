"""Writes the PyTorch golden values of the convolutions and poolings (conv.safetensors).

    python3 tests/golden/make_golden_conv.py     # needs torch and safetensors; CI does not

Cases as in make_golden_nd.py (inputs, output, a random cotangent and the gradients of
sum(y * cot), in float64 from float32 inputs): conv2d at odd shapes (non-square images
and kernels, stride 2, padding 1 and 2, dilation 2, groups 2 and depthwise, channel
counts that are not multiples of any tile, batch 1), max pooling with padding and ties,
average pooling with padding, the adaptive average to 1x1, batch norm in both modes and
its running estimates, and five Adam steps of the cnn example's network.
"""

import os

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from make_golden_nd import CASES, HERE, case, f32


def ties(*shape):
    """Values on a coarse grid, so windows hold equal largest values."""
    return (torch.randint(-2, 3, shape).to(torch.float64) / 2.0)


def ops():
    conv = lambda **kw: (lambda x, w, b: F.conv2d(x, w, b, **kw))
    case("conv_plain", conv(), [f32(2, 3, 7, 5), f32(4, 3, 3, 2), f32(4)])
    case("conv_stride2_pad1", conv(stride=2, padding=1), [f32(1, 3, 9, 8), f32(5, 3, 3, 3), f32(5)])
    case("conv_groups2_dil2_pad2", conv(padding=2, dilation=2, groups=2), [f32(2, 4, 8, 7), f32(6, 2, 3, 3), f32(6)])
    case("conv_depthwise", conv(padding=1, groups=3), [f32(2, 3, 6, 6), f32(3, 1, 3, 3), f32(3)])
    case("conv_1x1_odd_channels", conv(), [f32(1, 5, 5, 5), f32(7, 5, 1, 1), f32(7)])
    case("conv_no_bias_rect", lambda x, w: F.conv2d(x, w, stride=(2, 1), padding=(1, 2)), [f32(2, 2, 6, 9), f32(3, 2, 2, 4)])
    case("max_pool_pad_ties", lambda x: F.max_pool2d(x, 3, stride=2, padding=1), [ties(2, 3, 7, 6)])
    case("max_pool_2x2", lambda x: F.max_pool2d(x, 2), [ties(2, 2, 6, 4)])
    case("avg_pool_pad", lambda x: F.avg_pool2d(x, 2, stride=2, padding=1), [f32(2, 2, 6, 7)])
    case("adaptive_avg_1x1", lambda x: F.adaptive_avg_pool2d(x, 1), [f32(2, 3, 5, 4)])
    bn_train = lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True, eps=1e-5)
    case("batch_norm_train_4d", bn_train, [f32(3, 4, 5, 2, low=-2.0, high=3.0), f32(4), f32(4)])
    case("batch_norm_train_2d", bn_train, [f32(6, 5, low=-1.0, high=2.0), f32(5), f32(5)])
    bn_eval = lambda x, w, b, m, v: F.batch_norm(x, m, v, w, b, training=False, eps=1e-5)
    stats = [f32(3), f32(3, low=0.5, high=2.0)]
    case("batch_norm_eval_4d", bn_eval, [f32(2, 3, 4, 3), f32(3), f32(3)] + stats, data=(3, 4))
    running_estimates()


def running_estimates():
    """nn.BatchNorm2d(3)'s buffers after three training steps on three batches."""
    bn = torch.nn.BatchNorm2d(3).double()
    for i in range(3):
        x = f32(2, 3, 4, 4, low=-1.0 + i, high=2.0 + i)
        CASES[f"bn_running.x{i}"] = x.to(torch.float32)
        bn(x)
    CASES["bn_running.running_mean"] = bn.running_mean.to(torch.float32)
    CASES["bn_running.running_var"] = bn.running_var.to(torch.float32)
    CASES["bn_running.num_batches_tracked"] = bn.num_batches_tracked.to(torch.float32)


def five_adam_steps():
    """The cnn example's network (without its dropout) from fixed weights: five Adam steps
    on one batch of 4 images; the initial and final parameters and each step's loss."""
    torch.manual_seed(7)
    net = torch.nn.Sequential(
        torch.nn.Unflatten(1, (1, 28, 28)),
        torch.nn.Conv2d(1, 32, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(64 * 7 * 7, 128),
        torch.nn.ReLU(),
        torch.nn.Linear(128, 10),
    )
    for p in net.parameters():
        p.data = p.data.to(torch.float32).to(torch.float64)
    net = net.double()
    out = {f"cnn_adam.init.{k}": v.clone() for k, v in net.state_dict().items()}
    x = f32(4, 784, low=0.0, high=1.0)
    y = torch.tensor([3, 7, 0, 9])
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = F.cross_entropy(net(x), y)
        losses.append(loss.item())
        loss.backward()
        opt.step()
    out.update({f"cnn_adam.final.{k}": v.clone() for k, v in net.state_dict().items()})
    out["cnn_adam.images"] = x
    out["cnn_adam.targets"] = F.one_hot(y, 10).to(torch.float64)
    out["cnn_adam.losses"] = torch.tensor(losses, dtype=torch.float64)
    CASES.update({k: v.to(torch.float32).contiguous() for k, v in out.items()})


if __name__ == "__main__":
    torch.manual_seed(20261203)
    ops()
    five_adam_steps()
    save_file(CASES, os.path.join(HERE, "conv.safetensors"))
    print(f"{len([k for k in CASES if k.endswith('.y')])} cases")
