"""`datacoop serve`: the API alone in several processes, migrated once, stopped whole by one SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx
import psutil
from tests.e2e.conftest import free_port
from typer.testing import CliRunner

from datacoop.cli import app


def _env(**settings: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("DATACOOP_")} | settings


def test_two_api_processes_answer_and_one_sigterm_stops_them_all(tmp_path: Path) -> None:
    # Prepare
    port = free_port()
    env = _env(DATACOOP_CHAIN="off", DATACOOP_DEV_ACCOUNTS="0", DATACOOP_LOG_FORMAT="json")
    cmd = [sys.executable, "-m", "datacoop", "serve", "--workers", "2", "--port", str(port),
           "--data-dir", str(tmp_path / "node")]  # fmt: skip
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        ready, deadline = None, time.monotonic() + 60
        with httpx.Client(timeout=2) as http:
            while ready is None and time.monotonic() < deadline and proc.poll() is None:
                try:
                    ready = http.get(f"http://127.0.0.1:{port}/v1/health/ready")
                except httpx.TransportError:
                    time.sleep(0.2)
            assert ready is not None, log.read_text()[-3000:]
            answers = [http.get(f"http://127.0.0.1:{port}/v1/eip712").status_code for _ in range(20)]
        workers = psutil.Process(proc.pid).children(recursive=True)
        # Execute
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    # Assert
    _, alive = psutil.wait_procs(workers, timeout=10)
    assert ready.status_code == 200 and ready.json()["status"] == "ok"
    assert answers == [200] * 20
    assert len(workers) >= 2, [w.name() for w in workers]
    assert code == 0, log.read_text()[-3000:]
    assert alive == []
    access = [line for line in log.read_text().splitlines() if '"logger": "datacoop.access"' in line]
    assert sum('"route": "/v1/eip712"' in line for line in access) == 20  # each process logs as JSON


def test_serve_refuses_the_embedded_chain_it_would_not_own(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["serve", "--data-dir", str(tmp_path)], env=_env(DATACOOP_CHAIN="embedded")
    )
    assert (
        result.exit_code != 0 and "error [chain]" in result.output and "DATACOOP_CHAIN=rpc" in result.output
    )
