//! Convolutions and poolings on both backends against PyTorch: every case of
//! `tests/golden/make_golden_conv.py` (odd shapes, stride, padding, dilation, groups,
//! depthwise, batch 1, pooling with padding and ties), outputs and gradients.

use backprop::conv::{Conv2d, Pool2d};
use backprop::{Device, Graph, NodeId, Result};

use crate::golden_nd::{check_case, golden};

fn apply(name: &str, g: &mut Graph, x: &[NodeId]) -> Result<NodeId> {
    let conv = |g: &mut Graph, o: Conv2d| g.conv2d(x[0], x[1], x.get(2).copied(), o);
    let d = Conv2d::default();
    match name {
        "conv_plain" | "conv_1x1_odd_channels" => conv(g, d),
        "conv_stride2_pad1" => conv(g, Conv2d { stride: [2, 2], padding: [1, 1], ..d }),
        "conv_groups2_dil2_pad2" => conv(g, Conv2d { padding: [2, 2], dilation: [2, 2], groups: 2, ..d }),
        "conv_depthwise" => conv(g, Conv2d { padding: [1, 1], groups: 3, ..d }),
        "conv_no_bias_rect" => conv(g, Conv2d { stride: [2, 1], padding: [1, 2], ..d }),
        "max_pool_pad_ties" => g.max_pool2d(x[0], Pool2d { kernel: [3, 3], stride: [2, 2], padding: [1, 1] }),
        "max_pool_2x2" => g.max_pool2d(x[0], Pool2d::square(2)),
        "avg_pool_pad" => g.avg_pool2d(x[0], Pool2d { kernel: [2, 2], stride: [2, 2], padding: [1, 1] }),
        "adaptive_avg_1x1" => g.adaptive_avg_pool2d(x[0]),
        other => panic!("golden case {other} has no op here"),
    }
}

pub fn convolutions_and_poolings_match_pytorch(device: &Device) {
    let golden = golden("conv.safetensors");
    let mut names: Vec<&str> = golden.keys().filter_map(|k| k.strip_suffix(".y")).collect();
    names.sort_unstable();
    assert_eq!(names.len(), 10, "every case of make_golden_conv.py has an op here");
    for name in names {
        check_case(device, name, &golden, apply);
    }
}
