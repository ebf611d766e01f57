"""Writes the PyTorch golden values of the convolutions and poolings (conv.safetensors).

    python3 tests/golden/make_golden_conv.py     # needs torch and safetensors; CI does not

Cases as in make_golden_nd.py (inputs, output, a random cotangent and the gradients of
sum(y * cot), in float64 from float32 inputs): conv2d at odd shapes (non-square images
and kernels, stride 2, padding 1 and 2, dilation 2, groups 2 and depthwise, channel
counts that are not multiples of any tile, batch 1), max pooling with padding and ties,
average pooling with padding, and the adaptive average to 1x1.
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


if __name__ == "__main__":
    torch.manual_seed(20261203)
    ops()
    save_file(CASES, os.path.join(HERE, "conv.safetensors"))
    print(f"{len([k for k in CASES if k.endswith('.y')])} cases")
