"""A headless Chromium driven over the DevTools protocol on a pipe (no WebSocket library,
no browser driver): open a page, await a JavaScript expression, take a screenshot."""

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time

CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-default-apps", "--mute-audio",
    "--window-size=1400,1250",
]


class Browser:
    """One Chromium process; `webgpu` turns WebGPU on (its software adapter, SwiftShader,
    where there is no GPU) or off, as in a browser without it."""

    def __init__(self, webgpu):
        self.profile = tempfile.mkdtemp(prefix="backprop-chromium-")
        flags = CHROMIUM_FLAGS + [f"--user-data-dir={self.profile}", "--remote-debugging-pipe"]
        if webgpu:
            flags += ["--enable-unsafe-webgpu", "--use-webgpu-adapter=swiftshader"]
        else:
            flags += ["--disable-webgpu", "--disable-features=WebGPU"]
        to_browser, self._commands = os.pipe()
        self._replies, from_browser = os.pipe()

        binary = shutil.which("chromium") or shutil.which("chromium-browser")
        if binary is None:
            raise SystemExit("chromium is not installed (apt-get install chromium)")
        # Chromium reads commands on descriptor 3 and writes replies on 4.
        redirect = f'exec "$0" "$@" 3<&{to_browser} 4>&{from_browser}'
        self.process = subprocess.Popen(
            ["bash", "-c", redirect, binary, *flags, "about:blank"], pass_fds=(to_browser, from_browser),
            stdout=subprocess.DEVNULL, stderr=open(os.environ.get("CHROMIUM_LOG", os.devnull), "w"))
        os.close(to_browser)
        os.close(from_browser)
        self._next = 0
        self._buffer = b""
        self.session = None

    def call(self, method, params=None, session=True):
        self._next += 1
        message = {"id": self._next, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def _read(self):
        while b"\0" not in self._buffer:
            chunk = os.read(self._replies, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def open(self, url):
        target = self.call("Target.createTarget", {"url": url}, session=False)["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True}, session=False)["sessionId"]
        self.call("Runtime.enable")

    def wait_for(self, expression, timeout_s):
        """Waits until `expression` is truthy in the page (polled: the page may still be
        loading, and its JavaScript context is replaced when it commits)."""
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            try:
                if self.evaluate(f"!!({expression})", 5000):
                    return
            except RuntimeError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the page did not get to `{expression}` in {timeout_s} s")

    def evaluate(self, expression, timeout_ms):
        """The value of `expression` (a promise is awaited), or an exception's text."""
        result = self.call("Runtime.evaluate", {
            "expression": expression, "awaitPromise": True, "returnByValue": True, "timeout": timeout_ms})
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"].get("exception", {}).get("description")
                               or result["exceptionDetails"]["text"])
        return result["result"].get("value")

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            self.call("Browser.close", session=False)
        except (RuntimeError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.profile, ignore_errors=True)
