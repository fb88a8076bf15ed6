"""The embedded chain: a real anvil node that DataCoop starts, keeps on disk and stops.

anvil comes from the npm package ``@foundry-rs/anvil`` (``npm ci`` in the
project's set-up puts its platform binary under ``node_modules``). Its state
is written to ``<chain dir>/state.json`` every few seconds and on a clean stop,
and loaded at the next start, so balances, contracts and blocks persist.
anvil writes scratch folders under ``$HOME/.foundry``: it runs with ``HOME``
pointed inside the chain directory so nothing leaks outside the data directory.
"""

from __future__ import annotations

import os
import platform
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx2 as httpx

from datacoop.errors import NotFound, Unavailable

__all__ = ["AnvilNode", "find_anvil", "free_port"]

_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _node_modules_candidates() -> list[Path]:
    arch = _ARCH.get(platform.machine().lower(), platform.machine().lower())
    rel = Path("node_modules") / "@foundry-rs" / f"anvil-linux-{arch}" / "bin" / "anvil"
    roots = [Path.cwd(), *Path.cwd().parents, *Path(__file__).resolve().parents]
    return [root / rel for root in roots]


def find_anvil(explicit: str | None = None) -> Path:
    """The anvil binary: the explicit path, ``DATACOOP_ANVIL``, the project's node_modules, or PATH."""
    for candidate in (explicit, os.environ.get("DATACOOP_ANVIL")):
        if candidate:
            path = Path(candidate)
            if not path.is_file():
                raise NotFound(f"anvil is not at {path}", field="anvil_path")
            return path
    for path in _node_modules_candidates():
        if path.is_file():
            return path
    found = shutil.which("anvil")
    if found:
        return Path(found)
    raise NotFound(
        "anvil is not installed: run `npm ci` in the DataCoop checkout (it installs @foundry-rs/anvil), "
        "or set DATACOOP_ANVIL to its path",
        field="anvil_path",
    )


@dataclass
class AnvilNode:
    """One anvil process serving JSON-RPC on loopback, its state kept in ``chain_dir``.

    Args:
        chain_dir: where state.json, the log and anvil's HOME live.
        chain_id: the chain id to run with.
        port: the port (0 picks a free one).
        block_time: seconds between blocks; None mines one block per transaction.
        binary: the anvil executable (default: :func:`find_anvil`).
    """

    chain_dir: Path
    chain_id: int = 31337
    port: int = 0
    block_time: float | None = None
    binary: Path | None = None
    state_interval_s: int = 2
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def state_file(self) -> Path:
        return self.chain_dir / "state.json"

    def command(self) -> list[str]:
        cmd = [
            str(self.binary or find_anvil()),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--chain-id", str(self.chain_id),
            "--state", str(self.state_file),
            "--state-interval", str(self.state_interval_s),
        ]  # fmt: skip
        if self.block_time is not None:
            cmd += ["--block-time", str(self.block_time)]
        return cmd

    def start(self, timeout: float = 30) -> AnvilNode:
        """Start anvil and wait until it answers ``eth_chainId``."""
        self.chain_dir.mkdir(parents=True, exist_ok=True)
        home = self.chain_dir / "home"
        home.mkdir(exist_ok=True)
        if self.port == 0:
            self.port = free_port()
        log = (self.chain_dir / "anvil.log").open("ab")
        env = {**os.environ, "HOME": str(home)}
        self.process = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        log.close()
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        body = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
        with httpx.Client(timeout=1) as http:
            while time.monotonic() < deadline:
                assert self.process is not None
                if self.process.poll() is not None:
                    tail = (self.chain_dir / "anvil.log").read_text(errors="replace")[-2000:]
                    raise Unavailable(f"anvil exited with {self.process.returncode}:\n{tail}", field="chain")
                try:
                    if http.post(self.url, json=body).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        self.stop()
        raise Unavailable(f"anvil did not answer on {self.url} within {timeout}s", field="chain")

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM (anvil writes its state on the way out), then SIGKILL if it hangs."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def kill(self) -> None:
        """SIGKILL, as a crash would (tests of recovery use it)."""
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def __enter__(self) -> AnvilNode:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
