"""The six tasks of tests/all/tasks.rs in PyTorch, as a PyTorch user writes them (the same
data: the split shipped in data/, 8,000 samples to train and 2,000 to test). Line counts
(code only) are compared by the test `tasks::the_tasks_are_no_longer_than_pytorchs`.

python3 benches/tasks_torch.py
"""

import gzip
import os
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")


def data():
    with gzip.open(os.path.join(ROOT, "t10k-images-idx3-ubyte.gz")) as f:
        x = torch.tensor(np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784) / 255.0, dtype=torch.float32)
    with gzip.open(os.path.join(ROOT, "t10k-labels-idx1-ubyte.gz")) as f:
        y = torch.tensor(np.frombuffer(f.read(), np.uint8, offset=8), dtype=torch.int64)
    return x[:8000], y[:8000], x[8000:], y[8000:]


# task: mlp
def mlp():
    xtr, ytr, xte, yte = data()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(TensorDataset(xtr, ytr), batch_size=64, shuffle=True)
    for epoch in range(2):
        for x, y in loader:
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
    with torch.no_grad():
        return (model(xte).argmax(1) == yte).float().mean().item()


# task: custom_loss
def custom_loss():
    xtr, ytr, xte, yte = data()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(TensorDataset(xtr, ytr), batch_size=64, shuffle=True)
    for epoch in range(2):
        for x, y in loader:
            opt.zero_grad()
            penalty = sum(p.pow(2).sum() for p in model.parameters())
            loss = F.cross_entropy(model(x), y) + 1e-4 * penalty
            loss.backward()
            opt.step()
    with torch.no_grad():
        return (model(xte).argmax(1) == yte).float().mean().item()


# task: cosine_schedule
def cosine_schedule():
    xtr, ytr, xte, yte = data()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(TensorDataset(xtr, ytr), batch_size=64, shuffle=True)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=2 * len(loader))
    for epoch in range(2):
        for x, y in loader:
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            scheduler.step()
    with torch.no_grad():
        return (model(xte).argmax(1) == yte).float().mean().item()


# task: one_step_gradient
def one_step_gradient():
    xtr, ytr, _, _ = data()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loader = DataLoader(TensorDataset(xtr, ytr), batch_size=64, shuffle=True)
    x, y = next(iter(loader))
    opt.zero_grad()
    F.cross_entropy(model(x), y).backward()
    opt.step()
    return model[0].weight.grad


# task: custom_activation
class Swish(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(x)


def custom_activation():
    xtr, ytr, xte, yte = data()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 128), Swish(), nn.Linear(128, 64), Swish(), nn.Linear(64, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(TensorDataset(xtr, ytr), batch_size=64, shuffle=True)
    for epoch in range(2):
        for x, y in loader:
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
    with torch.no_grad():
        return (model(xte).argmax(1) == yte).float().mean().item()


# task: save_and_resume
def save_and_resume(path):
    xtr, ytr, xte, yte = data()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(TensorDataset(xtr, ytr), batch_size=64, shuffle=True)
    for x, y in loader:
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "epoch": 1}, path)
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    checkpoint = torch.load(path)
    model.load_state_dict(checkpoint["model"])
    opt.load_state_dict(checkpoint["opt"])
    for x, y in loader:
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    with torch.no_grad():
        return (model(xte).argmax(1) == yte).float().mean().item()
# end of tasks


if __name__ == "__main__":
    torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else torch.get_num_threads())
    for task in (mlp, custom_loss, cosine_schedule, custom_activation):
        print(f"{task.__name__}: test accuracy {task():.4f}")
    print(f"one_step_gradient: {tuple(one_step_gradient().shape)}")
    with tempfile.TemporaryDirectory() as d:
        print(f"save_and_resume: test accuracy {save_and_resume(os.path.join(d, 'ckpt.pt')):.4f}")
