"""The textbook XOR loop (2-4-1 sigmoid, MSE, SGD lr 0.1, 10,000 epochs) as a baseline.

python3 benches/xor_reference.py numpy|torch-cpu|torch-cuda [EPOCHS]
Prints one line: `<impl> <seconds>` for the training loop alone.
"""
import sys
import time


def numpy_loop(epochs):
    import numpy as np

    def sigmoid(x):
        return 1 / (1 + np.exp(-x))

    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    y = np.array([[0], [1], [1], [0]], dtype=np.float64)
    rng = np.random.default_rng(42)
    W1, b1 = rng.standard_normal((2, 4)), np.zeros((1, 4))
    W2, b2 = rng.standard_normal((4, 1)), np.zeros((1, 1))
    start = time.perf_counter()
    for _ in range(epochs):
        a1 = sigmoid(X @ W1 + b1)
        a2 = sigmoid(a1 @ W2 + b2)
        d2 = -2 * (y - a2) / len(X) * a2 * (1 - a2)
        d1 = d2 @ W2.T * a1 * (1 - a1)
        W2 -= 0.1 * a1.T @ d2
        b2 -= 0.1 * d2.sum(axis=0, keepdims=True)
        W1 -= 0.1 * X.T @ d1
        b1 -= 0.1 * d1.sum(axis=0, keepdims=True)
    return time.perf_counter() - start


def torch_loop(epochs, device):
    import torch

    torch.manual_seed(42)
    X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], device=device)
    y = torch.tensor([[0.0], [1.0], [1.0], [0.0]], device=device)
    model = torch.nn.Sequential(
        torch.nn.Linear(2, 4), torch.nn.Sigmoid(), torch.nn.Linear(4, 1), torch.nn.Sigmoid()
    ).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = torch.nn.MSELoss()
    for _ in range(10):  # warm-up: kernel loading and caching allocator
        opt.zero_grad()
        loss_fn(model(X), y).backward()
        opt.step()
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(epochs):
        opt.zero_grad()
        loss_fn(model(X), y).backward()
        opt.step()
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main():
    impl = sys.argv[1]
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    if impl == "numpy":
        seconds = numpy_loop(epochs)
    elif impl == "torch-cpu":
        seconds = torch_loop(epochs, "cpu")
    elif impl == "torch-cuda":
        seconds = torch_loop(epochs, "cuda")
    else:
        sys.exit(f"unknown implementation {impl}")
    print(f"{impl} {seconds:.4f}")


if __name__ == "__main__":
    main()
