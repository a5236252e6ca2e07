"""Starts `dosim serve` once per session and hands tests its base URL and a token helper."""
import hashlib
import os
import pathlib
import re
import signal
import subprocess
import threading
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def dosim_binary():
    explicit = os.environ.get("DOSIM_BIN")
    if explicit:
        return explicit
    for profile in ("debug", "release"):
        candidate = ROOT / "target" / profile / "dosim"
        if candidate.exists():
            return str(candidate)
    raise RuntimeError("no dosim binary: run `cargo build -p dosim-cli` or set DOSIM_BIN")


class Serve:
    def __init__(self, url, token, proc, lines):
        self.url = url
        self.token = token
        self.proc = proc
        self.lines = lines

    def fresh_token(self, name):
        """A token of DigitalOcean's shape; each distinct token is its own isolated account."""
        return "dop_v1_" + hashlib.sha256(name.encode()).hexdigest()


def start_serve(*extra):
    """Starts `dosim serve` on a free loopback port and waits for its URL and token."""
    # --time-scale 100 turns a 30 s droplet boot into 0.3 s of wall time.
    proc = subprocess.Popen(
        [dosim_binary(), "serve", "--addr", "127.0.0.1:0", "--seed", "7", "--time-scale", "100",
         *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
    )
    lines = []
    url = token = None
    deadline = time.monotonic() + 30
    while (url is None or token is None) and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        m = re.search(r"listening on (http://\S+)", line)
        if m:
            url = m.group(1).rstrip("/")
        m = re.search(r"token: (dop_v1_[0-9a-f]{64})", line)
        if m:
            token = m.group(1)
    if url is None or token is None:
        proc.kill()
        raise RuntimeError("dosim serve did not print its URL and token:\n" + "".join(lines))
    # Keep draining stdout so the server never blocks on a full pipe.
    threading.Thread(target=lambda: [lines.append(l) for l in proc.stdout], daemon=True).start()
    return Serve(url, token, proc, lines)


def stop_serve(served):
    """Stops a server with Ctrl-C, as a user would, and checks it exits cleanly."""
    served.proc.send_signal(signal.SIGINT)
    try:
        code = served.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        served.proc.kill()
        raise AssertionError("dosim serve did not shut down within 15 s of Ctrl-C")
    assert code == 0, f"dosim serve exited with {code} after Ctrl-C:\n" + "".join(served.lines)


@pytest.fixture(scope="session")
def serve():
    served = start_serve()
    yield served
    stop_serve(served)
