"""The cnn example's network and recipe in PyTorch: two blocks of a 3x3 convolution
(padding 1), ReLU and 2x2 max pooling (32 and 64 channels), Linear(3136, 128), ReLU,
dropout 0.3, Linear(128, 10); Adam, a cosine learning rate stepped after every batch,
batch 64, on Fashion-MNIST from Debian's dataset-fashion-mnist (or --data DIR).

    python3 benches/cnn_torch.py [--epochs 10] [--threads 2]     # train, test accuracy per epoch
    python3 benches/cnn_torch.py --load cnn.safetensors          # evaluate our checkpoint
    python3 benches/cnn_torch.py --bench --batch 64 --limit 6400 # samples/s of a second epoch

--load reads a checkpoint written by `cargo run --release --example cnn -- --save FILE`
into this network with load_state_dict(strict=True) and prints its test accuracy; it
exits with status 1 when the checkpoint does not load.
"""

import argparse
import gzip
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

DEBIAN = "/usr/share/datasets/fashion-mnist"


def network():
    return nn.Sequential(
        nn.Unflatten(1, (1, 28, 28)),
        nn.Conv2d(1, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 7 * 7, 128),
        nn.ReLU(),
        nn.Dropout(0.3),
        nn.Linear(128, 10),
    )


def idx(path, offset):
    with gzip.open(path) as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def split(directory, kind):
    x = idx(os.path.join(directory, f"{kind}-images-idx3-ubyte.gz"), 16).reshape(-1, 784)
    y = idx(os.path.join(directory, f"{kind}-labels-idx1-ubyte.gz"), 8)
    return torch.tensor(x / 255.0, dtype=torch.float32), torch.tensor(y, dtype=torch.int64)


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        right = sum((model(x[i : i + 1000]).argmax(1) == y[i : i + 1000]).sum().item() for i in range(0, len(x), 1000))
    model.train()
    return right / len(x)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=DEBIAN)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--load")
    parser.add_argument(
        "--bench", action="store_true", help="two epochs of --limit samples at --batch: the second's samples/s"
    )
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--limit", type=int)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    test_x, test_y = split(args.data, "t10k")
    model = network()
    if args.load:
        from safetensors.torch import load_file

        try:
            model.load_state_dict(load_file(args.load), strict=True)
        except RuntimeError as e:
            print(f"{args.load} does not load: {e}")
            sys.exit(1)
        print(f"{args.load}: test accuracy {100 * accuracy(model, test_x, test_y):.2f}%")
        return
    torch.manual_seed(0)
    model = network()
    train_x, train_y = split(args.data, "train")
    if args.limit:
        train_x, train_y = train_x[: args.limit], train_y[: args.limit]
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(train_x, train_y), batch_size=args.batch, shuffle=True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs * len(loader))
    for epoch in range(1, (2 if args.bench else args.epochs) + 1):
        start = time.time()
        for x, y in loader:
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
            scheduler.step()
        rate = len(train_x) / (time.time() - start)
        if args.bench:
            if epoch == 2:  # the first warms up (allocator, thread pool)
                print(f"samples/s: {rate:.1f}")
            continue
        print(f"epoch {epoch}/{args.epochs}: test accuracy {100 * accuracy(model, test_x, test_y):.2f}% ({rate:.0f} samples/s)")


if __name__ == "__main__":
    main()
