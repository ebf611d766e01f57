"""PyTorch baseline of examples/mlp.rs: MLP 784-128-64-10 (ReLU), Adam lr 1e-3, batch 64,
shuffled each epoch, pixels scaled to [0, 1], on MNIST-format IDX files.

python3 benches/mlp_torch.py --data DIR [--device cpu|cuda] [--epochs 10] [--limit N]
                             [--seed 0] [--threads N]
Prints one line per epoch (train loss, test accuracy, training samples per second) and
ends with `test accuracy: 0.XXXX`.
"""
import argparse
import gzip
import os
import time

import numpy as np
import torch
from torch import nn


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndims = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndims).reshape(dims)


def find(directory, stem):
    for name in (stem + ".gz", stem):
        path = os.path.join(directory, name)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(os.path.join(directory, stem))


def load(directory, prefix, device):
    images = read_idx(find(directory, f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(find(directory, f"{prefix}-labels-idx1-ubyte"))
    x = torch.tensor(images.reshape(len(images), -1), dtype=torch.float32, device=device) / 255.0
    return x, torch.tensor(labels, dtype=torch.long, device=device)


def model():
    return nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))


def accuracy(net, x, y):
    with torch.no_grad():
        return (net(x).argmax(dim=1) == y).float().mean().item()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    x_train, y_train = load(args.data, "train", args.device)
    x_test, y_test = load(args.data, "t10k", args.device)
    if args.limit:
        x_train, y_train = x_train[: args.limit], y_train[: args.limit]
    net = model().to(args.device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    acc = accuracy(net, x_test, y_test)
    for epoch in range(1, args.epochs + 1):
        order = torch.randperm(len(x_train), device=args.device)
        start = time.perf_counter()
        total, batches = torch.zeros((), device=args.device), 0
        for i in range(0, len(order), args.batch):
            idx = order[i : i + args.batch]
            opt.zero_grad()
            loss = loss_fn(net(x_train[idx]), y_train[idx])
            loss.backward()
            opt.step()
            total += loss.detach()
            batches += 1
        mean_loss = total.item() / batches
        seconds = time.perf_counter() - start
        acc = accuracy(net, x_test, y_test)
        print(f"epoch {epoch:2}/{args.epochs}: train loss {mean_loss:.4f}, test accuracy {acc:.4f}, "
              f"{len(x_train) / seconds:.0f} samples/s", flush=True)
    print(f"test accuracy: {acc:.4f}")


if __name__ == "__main__":
    main()
