"""How long ``datacoop up`` takes, from the command to its first healthy answer.

    python benchmarks/startup.py --json [--runs 3]

Each run starts ``python -m datacoop up`` on a fresh data directory and a free port (the embedded
default: SQLite, local blobs, anvil with the contracts deployed) and polls ``GET /v1/health`` every
50 ms until it answers 200, then stops the node with Ctrl-C (SIGINT) and times that too. The first
run also pays for cold imports and the page cache; ``cold_s`` is that run, the medians are over the
rest (all runs when only one is asked for). Printed: ``startup_s`` (median), ``cold_s``,
``stop_s`` (median), every run's figures, and the load average before the first run, because this
machine is shared and the figures move with it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def one_run(timeout: float = 120) -> dict[str, float]:
    """Start, wait for health, stop; the seconds each took."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATACOOP_")}
    with tempfile.TemporaryDirectory(prefix="datacoop-startup-") as tmp:
        port, log = free_port(), Path(tmp) / "up.log"
        cmd = [sys.executable, "-m", "datacoop", "up", "--data-dir", f"{tmp}/node", "--port", str(port)]
        t0 = time.perf_counter()
        with log.open("w") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            with httpx.Client(timeout=1) as http:
                while True:
                    if proc.poll() is not None:
                        raise SystemExit(f"datacoop up exited with {proc.returncode}:\n{log.read_text()}")
                    if time.perf_counter() - t0 > timeout:
                        raise SystemExit(f"no healthy answer in {timeout}s:\n{log.read_text()}")
                    try:
                        if http.get(f"http://127.0.0.1:{port}/v1/health").status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    time.sleep(0.05)
            started = time.perf_counter() - t0
            t1 = time.perf_counter()
            proc.send_signal(signal.SIGINT)
            proc.wait(60)
            return {"startup_s": round(started, 3), "stop_s": round(time.perf_counter() - t1, 3)}
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="how many start-ups (default 3)")
    parser.add_argument("--json", action="store_true", help="print one JSON object (the only output)")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    load = os.getloadavg()[0]
    runs = [one_run() for _ in range(args.runs)]
    warm = runs[1:] or runs
    result: dict[str, Any] = {
        "benchmark": "startup",
        "startup_s": statistics.median(r["startup_s"] for r in warm),
        "cold_s": runs[0]["startup_s"],
        "stop_s": statistics.median(r["stop_s"] for r in warm),
        "runs": runs,
        "load_average_1m": round(load, 2),
    }
    print(json.dumps(result, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
