"""The attention example's model in PyTorch: loads a checkpoint written by
`cargo run --release --example attention -- --save FILE` with `strict=True` and measures
its per-token accuracy on held-out sequences drawn here (not the ones the example drew).

    python3 benches/attention_torch.py FILE [--width 64] [--heads 2] [--held-out 1000]

Prints the accuracy; exits with status 1 when the checkpoint does not load.
"""

import argparse
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file

VOCAB, SEP, DIGITS = 11, 10, 8
T = 2 * DIGITS


class Attention(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.register_buffer("future", torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1), persistent=False)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=-1)
        q, k, v = (z.reshape(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
        scores = q @ k.transpose(-2, -1) / math.sqrt(d // self.heads)
        weights = scores.masked_fill(self.future, float("-inf")).softmax(dim=-1)
        return self.proj((weights @ v).transpose(1, 2).reshape(b, t, d))


class Mlp(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc = nn.Linear(width, 4 * width)
        self.proj = nn.Linear(4 * width, width)

    def forward(self, x):
        return self.proj(F.gelu(self.fc(x)))


class Reverser(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.tok_emb = nn.Embedding(VOCAB, width)
        self.pos_emb = nn.Embedding(T, width)
        self.ln1 = nn.LayerNorm(width)
        self.attn = Attention(width, heads)
        self.ln2 = nn.LayerNorm(width)
        self.mlp = Mlp(width)
        self.ln_f = nn.LayerNorm(width)
        self.head = nn.Linear(width, VOCAB)

    def forward(self, tokens):
        x = self.tok_emb(tokens) + self.pos_emb.weight
        x = x + self.attn(self.ln1(x))
        x = x + self.mlp(self.ln2(x))
        return self.head(self.ln_f(x))


def sequences(n, generator):
    digits = torch.randint(0, 10, (n, DIGITS), generator=generator)
    reversed_digits = digits.flip(1)
    sep = torch.full((n, 1), SEP)
    tokens = torch.cat([digits, sep, reversed_digits[:, :-1]], dim=1)
    return tokens, reversed_digits


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint")
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--heads", type=int, default=2)
    parser.add_argument("--held-out", type=int, default=1000)
    args = parser.parse_args()
    model = Reverser(args.width, args.heads)
    model.load_state_dict(load_file(args.checkpoint), strict=True)
    tokens, targets = sequences(args.held_out, torch.Generator().manual_seed(12345))
    with torch.no_grad():
        predicted = model(tokens)[:, DIGITS:].argmax(dim=-1)
    accuracy = (predicted == targets).float().mean().item()
    print(f"PyTorch {torch.__version__}: loaded {args.checkpoint} with strict=True")
    print(f"held-out per-token accuracy: {100 * accuracy:.2f}% of {targets.numel()} reversed digits")


if __name__ == "__main__":
    main()
