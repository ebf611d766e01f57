"""Checkpoint interchange with PyTorch.

python3 benches/torch_checkpoint.py check FILE DATA_DIR   load our safetensors file with
    load_state_dict(strict=True) into nn.Sequential(Linear(784,128), ReLU, Linear(128,64),
    ReLU, Linear(64,10)) and print its test accuracy
python3 benches/torch_checkpoint.py write FILE            save a freshly initialised
    PyTorch model (seed 0) with safetensors.torch.save_file, for loading with --load
"""
import json
import struct
import sys

import torch

try:
    from safetensors.torch import load_file, save_file
except ImportError:  # the format is small enough to read and write with the standard library

    def load_file(path):
        with open(path, "rb") as f:
            data = f.read()
        (size,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8 : 8 + size])
        body = data[8 + size :]
        tensors = {}
        for name, info in header.items():
            if name == "__metadata__":
                continue
            assert info["dtype"] == "F32", info
            start, end = info["data_offsets"]
            values = torch.frombuffer(bytearray(body[start:end]), dtype=torch.float32)
            tensors[name] = values.reshape(info["shape"])
        return tensors

    def save_file(tensors, path):
        header, chunks, offset = {}, [], 0
        for name in sorted(tensors):
            raw = tensors[name].detach().to(torch.float32).contiguous().numpy().tobytes()
            header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(raw)]}
            chunks.append(raw)
            offset += len(raw)
        encoded = json.dumps(header).encode()
        encoded += b" " * (-len(encoded) % 8)
        with open(path, "wb") as f:
            f.write(struct.pack("<Q", len(encoded)) + encoded + b"".join(chunks))

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from mlp_torch import accuracy, load, model  # noqa: E402


def main():
    command, path = sys.argv[1], sys.argv[2]
    net = model()
    if command == "check":
        net.load_state_dict(load_file(path), strict=True)
        x, y = load(sys.argv[3], "t10k", "cpu")
        print(f"pytorch load_state_dict(strict=True): ok; test accuracy {accuracy(net, x, y):.4f}")
    elif command == "write":
        torch.manual_seed(0)
        net = model()
        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, path)
        x, y = load(sys.argv[3], "t10k", "cpu") if len(sys.argv) > 3 else (None, None)
        if x is not None:
            print(f"pytorch model written; its test accuracy {accuracy(net, x, y):.4f}")
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main()
