"""A real `datacoop up` in a subprocess, on a free port and a fresh data directory."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class RunningNode:
    process: subprocess.Popen[str]
    url: str
    data_dir: Path
    started_in_s: float
    log: Path

    def env(self) -> dict[str, str]:
        return {**os.environ, "DATACOOP_URL": self.url, "DATACOOP_DATA_DIR": str(self.data_dir)}

    def stop(self, timeout: float = 20, sig: signal.Signals = signal.SIGINT) -> int:
        """Ctrl-C, as a user would (or ``sig``, e.g. a service manager's SIGTERM); returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                raise
        return self.process.returncode


def start_node(
    data_dir: Path, log: Path, *, timeout: float = 60, settings: dict[str, str] | None = None
) -> RunningNode:
    """``datacoop up`` without the caller's DATACOOP_ variables, plus ``settings`` (DATACOOP_X: value)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATACOOP_")} | (settings or {})
    cmd = [sys.executable, "-m", "datacoop", "up", "--data-dir", str(data_dir), "--port", str(port)]
    t0 = time.monotonic()
    with log.open("a") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, text=True)
    url = f"http://127.0.0.1:{port}"
    with httpx.Client(timeout=1) as http:
        while time.monotonic() - t0 < timeout:
            if proc.poll() is not None:
                raise RuntimeError(f"datacoop up exited with {proc.returncode}:\n{log.read_text()}")
            try:
                if http.get(url + "/v1/health").status_code == 200:
                    return RunningNode(proc, url, data_dir, time.monotonic() - t0, log)
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"datacoop up did not answer within {timeout}s:\n{log.read_text()}")


@pytest.fixture
def running_node(tmp_path: Path) -> Iterator[RunningNode]:
    node = start_node(tmp_path / "node", tmp_path / "up.log")
    yield node
    node.stop()
