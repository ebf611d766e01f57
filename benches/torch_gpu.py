"""PyTorch's side of `cargo bench --bench matmul`, `--bench step` and the GPU part of
`--bench mlp`: the same workloads, eager and, on CUDA, with the whole training step
captured in a CUDA graph (torch.cuda.graphs). fp32 with TF32 off. Runs on the CPU when
there is no CUDA. Prints one `key: value` line per figure, which the Rust benches read.

python3 benches/torch_gpu.py matmul --shapes 4096x4096x4096nn,64x784x128nt
python3 benches/torch_gpu.py step --batches 64,256,4096
python3 benches/torch_gpu.py train --data DIR --epochs 10 --batch 64
python3 benches/torch_gpu.py cnn --batches 64,256    (the `cnn` example's network, `--bench cnn`)
"""
import argparse
import os
import sys
import time

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cnn_torch import network as cnn_network  # noqa: E402
from mlp_torch import accuracy, load, model  # noqa: E402

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False


def devices():
    return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def per_call_us(device, fn, seconds=0.2, max_calls=5000):
    """Microseconds per call of fn, calls back to back, after a warm-up."""
    for _ in range(3):
        fn()
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    once = max(time.perf_counter() - start, 1e-6)
    calls = int(min(max_calls, max(5, seconds / once)))
    sync(device)
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    sync(device)
    return (time.perf_counter() - start) * 1e6 / calls


def matmul(args):
    for device in devices():
        if device == "cpu" and torch.cuda.is_available():
            continue
        for spec in args.shapes.split(","):
            dims, flags = spec[:-2], spec[-2:]
            m, k, n = (int(v) for v in dims.split("x"))
            ta, tb = flags[0] == "t", flags[1] == "t"
            a = torch.randn((k, m) if ta else (m, k), device=device)
            b = torch.randn((n, k) if tb else (k, n), device=device)
            a_op, b_op = (a.t() if ta else a), (b.t() if tb else b)
            out = torch.empty((m, n), device=device)
            us = per_call_us(device, lambda: torch.mm(a_op, b_op, out=out))
            print(f"matmul {device} {spec}: {2 * m * n * k / us / 1e3:.1f}", flush=True)


def step_fn(device, batch, x, y, network=model):
    net = network().to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, capturable=device == "cuda")
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        return loss

    return net, opt, step


def captured(device, step):
    """The whole step captured in a CUDA graph, after warm-up on a side stream."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        loss = step()
    return graph, loss


def timed_steps(batches, name, network):
    """µs per training step of `network` (Adam, in training mode) at each batch, eager and,
    on CUDA, captured in a CUDA graph, with the batch already on the device: one
    `NAME DEVICE eager|graph BATCH: µs` line each."""
    for device in devices():
        for batch in (int(b) for b in batches.split(",")):
            torch.manual_seed(0)
            x = torch.rand(batch, 784, device=device)
            y = torch.randint(0, 10, (batch,), device=device)
            _, _, fn = step_fn(device, batch, x, y, network)
            print(f"{name} {device} eager {batch}: {per_call_us(device, fn):.1f}", flush=True)
            if device == "cuda":
                _, _, fn = step_fn(device, batch, x, y, network)
                graph, _ = captured(device, fn)
                print(f"{name} {device} graph {batch}: {per_call_us(device, graph.replay):.1f}", flush=True)


def step(args):
    timed_steps(args.batches, "step", model)


def cnn(args):
    """The `cnn` example's network (dropout in training mode)."""
    timed_steps(args.batches, "cnn", cnn_network)


def train(args):
    """10 epochs (or --epochs) of Fashion-MNIST with the data on the device and an
    evaluation after each epoch; wall time of the whole loop, eager and graph-captured.
    The captured step has static shapes: the last partial batch of each epoch is left
    out (drop_last)."""
    for device in devices():
        if device == "cpu" and torch.cuda.is_available():
            continue
        x_train, y_train = load(args.data, "train", device)
        x_test, y_test = load(args.data, "t10k", device)
        for mode in (["eager", "graph"] if device == "cuda" else ["eager"]):
            torch.manual_seed(0)
            xb = torch.zeros(args.batch, 784, device=device)
            yb = torch.zeros(args.batch, dtype=torch.long, device=device)
            net, _, fn = step_fn(device, args.batch, xb, yb)
            replay = fn
            if mode == "graph":
                graph, _ = captured(device, fn)
                replay = graph.replay
            sync(device)
            start = time.perf_counter()
            for _ in range(args.epochs):
                order = torch.randperm(len(x_train), device=device)
                for i in range(0, len(order) - args.batch + 1, args.batch):
                    idx = order[i : i + args.batch]
                    xb.copy_(x_train[idx])
                    yb.copy_(y_train[idx])
                    replay()
                acc = accuracy(net, x_test, y_test)
            sync(device)
            seconds = time.perf_counter() - start
            print(f"train {device} {mode} {args.batch}: {seconds:.3f}", flush=True)
            print(f"accuracy {device} {mode} {args.batch}: {acc:.4f}", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["matmul", "step", "train", "cnn"])
    parser.add_argument("--shapes", default="1024x1024x1024nn")
    parser.add_argument("--batches", default="64,256,4096")
    parser.add_argument("--data")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    {"matmul": matmul, "step": step, "train": train, "cnn": cnn}[args.what](args)


if __name__ == "__main__":
    main()
