#!/usr/bin/env python3
"""The playground tested in a real browser: Debian's Chromium, headless, once with WebGPU
(its software adapter where there is no GPU) and once without it (the CPU backend in
WebAssembly). Each run trains in the page and is checked against native programs:

- XOR trained in the page gives the native `xor` example's predictions to 1e-5, each on
  its target's side of 0.5;
- the spiral reaches at least 95% test accuracy;
- the downloaded safetensors load into PyTorch's nn.Sequential (strict) and predict what
  the page predicted (without PyTorch installed, a plain-Python forward pass over the same
  file, names and layouts checks the same and says so);
- a diverged run and (on WebGPU) a lost device are errors in words, and the page trains
  again after the first.

    python3 web/test/run.py [--screenshot assets/playground.png] [--no-build]
"""

import argparse
import base64
import functools
import http.server
import json
import math
import re
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

from cdp import Browser

ROOT = Path(__file__).resolve().parents[2]
# Enough for every XOR prediction to fall on its target's side of 0.5 (checked); a step costs
# SwiftShader about 2 ms.
XOR_EPOCHS = 6_000
SPIRAL_STEPS = 3000
XOR_TOLERANCE = 1e-5
# f32 forward passes of a 4-8-8-1 network in two engines differ by rounding only.
PREDICTION_TOLERANCE = 2e-5


def serve():
    handler = functools.partial(QuietHandler, directory=str(ROOT / "web"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def native_xor():
    # The test profile's build (what `cargo test` already built): the same arithmetic as release.
    subprocess.run(["cargo", "build", "--quiet", "--example", "xor"], cwd=ROOT, check=True)
    out = subprocess.run([str(ROOT / "target/debug/examples/xor"), "--backend", "cpu", "--epochs", str(XOR_EPOCHS)],
                         cwd=ROOT, check=True, capture_output=True, text=True).stdout
    shown = re.search(r"predictions: \[(.*)\]", out).group(1)
    return [float(v) for v in shown.split(",")]


def read_safetensors(data):
    """name → (shape, values) of an f32 safetensors file."""
    length = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + length])
    body = data[8 + length:]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        assert entry["dtype"] == "F32", f"{name} is {entry['dtype']}"
        start, end = entry["data_offsets"]
        tensors[name] = (entry["shape"], list(struct.unpack(f"<{(end - start) // 4}f", body[start:end])))
    return tensors


def features(x, y):
    # The self-test's spiral setup: the page's default features x, y, sin x, sin y.
    return [x, y, math.sin(x), math.sin(y)]


def predict_with_pytorch(data, points):
    import torch  # noqa: PLC0415 (optional: the plain-Python check runs without it)
    from safetensors.torch import load as load_bytes  # noqa: PLC0415

    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 8), torch.nn.Tanh(),
                              torch.nn.Linear(8, 1))
    net.load_state_dict(load_bytes(data), strict=True)
    x = torch.tensor([features(*p) for p in points], dtype=torch.float32)
    with torch.no_grad():
        return torch.sigmoid(net(x)).flatten().tolist(), f"PyTorch {torch.__version__} (load_state_dict, strict)"


def predict_in_python(data, points):
    tensors = read_safetensors(data)
    want = {"0.weight": [8, 4], "0.bias": [8], "2.weight": [8, 8], "2.bias": [8], "4.weight": [1, 8], "4.bias": [1]}
    got = {name: shape for name, (shape, _) in tensors.items()}
    assert got == want, f"the download holds {got}, PyTorch's nn.Sequential expects {want}"

    def linear(name, v):
        (rows, cols), w = tensors[f"{name}.weight"]
        b = tensors[f"{name}.bias"][1]
        return [b[r] + sum(w[r * cols + c] * v[c] for c in range(cols)) for r in range(rows)]

    out = []
    for p in points:
        h = [math.tanh(v) for v in linear("0", features(*p))]
        h = [math.tanh(v) for v in linear("2", h)]
        out.append(1 / (1 + math.exp(-linear("4", h)[0])))
    return out, "a plain-Python forward pass (PyTorch with safetensors is not installed here)"


def check_download(spiral):
    data = base64.b64decode(spiral["safetensors"])
    xy = spiral["test"]["xy"]
    points = list(zip(xy[0::2], xy[1::2]))
    try:
        predicted, how = predict_with_pytorch(data, points)
    except ImportError:
        predicted, how = predict_in_python(data, points)
    worst = max(abs(a - b) for a, b in zip(predicted, spiral["test"]["probabilities"]))
    assert worst <= PREDICTION_TOLERANCE, f"the download predicts up to {worst:.2e} away from the page"
    return f"the download, loaded by {how}, predicts the page's {len(points)} test probabilities to {worst:.1e}"


def self_test(url, webgpu, native):
    browser = Browser(webgpu=webgpu)
    try:
        start = time.time()
        browser.open(f"{url}/index.html?test&epochs={XOR_EPOCHS}&steps={SPIRAL_STEPS}")
        browser.wait_for("window.playground", 60)
        result = browser.evaluate("window.playground", 600_000)
        seconds = time.time() - start
    finally:
        browser.close()
    assert result and "error" not in result, f"the page's self-test failed: {result and result.get('error')}"
    assert result["gpu"] == webgpu, f"trained on {result['device']} with WebGPU {'on' if webgpu else 'off'}"
    lines = [f"{result['device']}: self-test in {seconds:.1f} s"]
    xor = result["xor"]["predictions"]
    worst = max(abs(a - b) for a, b in zip(xor, native))
    assert worst <= XOR_TOLERANCE, f"XOR in the page {xor} vs native {native}: {worst:.2e} apart"
    assert [p > 0.5 for p in xor] == [False, True, True, False], f"XOR in the page did not learn: {xor}"
    lines.append(f"  XOR, {XOR_EPOCHS} epochs in {result['xor']['seconds']:.1f} s: {xor} "
                 f"(native example: {native}; largest difference {worst:.1e})")
    spiral = result["spiral"]
    assert spiral["testAccuracy"] >= 0.95, f"the spiral reached {spiral['testAccuracy']:.3f} test accuracy"
    lines.append(f"  spiral, {spiral['steps']} steps in {spiral['seconds']:.1f} s: test accuracy "
                 f"{spiral['testAccuracy']:.3f}, train {spiral['trainAccuracy']:.3f}")
    lines.append("  " + check_download(spiral))
    assert "diverged" in result["diverged"], f"a diverged run said: {result['diverged']}"
    assert result["afterDivergence"] > 0.9, "the page did not train again after a diverged run"
    lines.append(f"  diverged run: \"{result['diverged']}\"; the next run trains (test accuracy "
                 f"{result['afterDivergence']:.2f})")
    if webgpu:
        assert "lost" in result["lostDevice"], f"a lost device said: {result['lostDevice']}"
        lines.append(f"  lost device: \"{result['lostDevice']}\"")
    return lines


UI_SCRIPT = """
(async () => {
  const $ = (id) => document.getElementById(id);
  const settle = () => new Promise((r) => setTimeout(r, 300));
  const wait = async (what, ok) => {
    for (let i = 0; i < 600; i++) { if (ok()) return; await settle(); }
    throw new Error(`the page never showed ${what}`);
  };
  const set = (id, value) => { $(id).value = value; $(id).dispatchEvent(new Event('change')); };
  const seen = {};
  // A diverging setup: the error is shown, training pauses, a sane learning rate recovers.
  for (const box of document.querySelectorAll('#features input')) box.checked = ['x2', 'y2', 'xy'].includes(box.value);
  set('activation', 'linear');
  set('optimizer', 'sgd');
  set('lr', '3');
  await settle();
  $('play').click();
  await wait('the divergence', () => !$('error').hidden);
  seen.diverged = $('error').textContent;
  seen.pausedAfterDivergence = $('play').textContent === 'Play';
  set('lr', '0.03');
  await settle();
  $('step').click();
  await wait('a step after the reset', () => $('status').textContent.startsWith('Step 1:'));
  seen.recovered = $('error').hidden;
  if (window.playgroundEngine().on_gpu()) {
    window.playgroundEngine().lose_device();
    $('step').click();
    await wait('the lost device', () => !$('error').hidden);
    seen.lost = $('error').textContent;
    $('reset').click();
    await wait('a reopened device', () => $('error').hidden && $('status').textContent.startsWith('Step 0:'));
    $('step').click();
    await wait('a step on the reopened device', () => $('status').textContent.startsWith('Step 1:'));
    seen.reopened = true;
  }
  return seen;
})()
"""


def ui_test(url, webgpu):
    """The page's own controls: a diverged run and a lost device are shown in words, and
    the page trains again afterwards."""
    browser = Browser(webgpu=webgpu)
    try:
        browser.open(f"{url}/index.html")
        browser.wait_for("window.playground", 60)
        browser.evaluate("window.playground", 60_000)
        seen = browser.evaluate(UI_SCRIPT, 300_000)
    finally:
        browser.close()
    assert "diverged" in seen["diverged"] and seen["pausedAfterDivergence"], f"divergence showed {seen}"
    assert seen["recovered"], "the error stayed after a reset with a sane learning rate"
    lines = [f"  the page's controls: a diverged run shows \"{seen['diverged'][:60]}...\" and pauses; "
             "after a reset it steps again"]
    if webgpu:
        assert "lost" in seen["lost"] and seen.get("reopened"), f"a lost device showed {seen}"
        lines.append(f"  the page's controls: a lost device shows \"{seen['lost'][:70]}...\"; Reset reopens it")
    return lines


def screenshot(url, path):
    browser = Browser(webgpu=True)
    try:
        browser.open(f"{url}/index.html?play")
        browser.wait_for("window.playground", 60)
        browser.evaluate("window.playground", 60_000)
        browser.wait_for("+document.getElementById('status').textContent.split(' ')[1].replace(':', '') >= 400", 300)
        browser.screenshot(path)
    finally:
        browser.close()
    return f"screenshot of the page mid-training: {path}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--screenshot", help="also save a PNG of the page mid-training here")
    parser.add_argument("--no-build", action="store_true", help="use the page already built in web/pkg")
    args = parser.parse_args()
    if not args.no_build:
        subprocess.run(["bash", str(ROOT / "web/build.sh")], check=True)
    native = native_xor()
    server, url = serve()
    try:
        for webgpu in (True, False):
            print("\n".join(self_test(url, webgpu, native)), flush=True)
            print("\n".join(ui_test(url, webgpu)), flush=True)
        if args.screenshot:
            print(screenshot(url, args.screenshot))
    finally:
        server.shutdown()
    print("browser test passed")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        sys.exit(f"browser test failed: {e}")
