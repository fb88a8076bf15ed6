"""Signed uploads and submissions from many contributors against the production profile.

    python benchmarks/load.py --json [--contributors 64 --clients 4 --submissions 2000 --seconds 60]
                                     [--api-workers 2 --prescreen-workers 1 --item-kb 32]

Starts, all on 127.0.0.1: a fresh PostgreSQL database on the machine's server
(``--postgres``, default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``; a database
``datacoop_load_<random>`` is created and dropped), anvil with DataCoop's contracts deployed
(its outbox in that database), ``datacoop serve --workers N`` (the API alone) and
``datacoop worker`` (pre-screening, sharing the database). A requester opens one image task;
``--contributors`` fresh accounts sign in, then each, in ``--clients`` client processes (one
thread per contributor), loops: upload a distinct JPEG (``POST /v1/blobs``), sign an EIP-712
submission for it with the wallet and commit it (``POST /v1/tasks/{id}/submissions``), until
``--submissions`` are sent or ``--seconds`` have passed (bounded both ways).

Printed: ``submissions_per_s`` (submissions committed / the driving phase's wall time),
``p50_ms``/``p99_ms`` of one submission (upload + sign + commit, as a contributor waits for it),
the same for the upload and the commit alone, ``errors`` (any answer but 201, or a dropped
connection) with their kinds, and ``cpu_ms_per_submission`` by process kind (API processes,
pre-screening worker, PostgreSQL, anvil, the clients), read from /proc over the driving phase,
so the per-request cost is in the output beside the rate. The per-IP rate limits are off (one
loopback address stands for every contributor, so its counter would be one row every request
waits on); the per-address limits stay the defaults.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing as mp
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
from eth_account import Account
from PIL import Image
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from startup import free_port

from datacoop.chain.anvil import AnvilNode
from datacoop.chain.client import ChainClient
from datacoop.chain.deploy import ensure_deployed
from datacoop.chain.outbox import Relay
from datacoop.client import DataCoopClient
from datacoop.db import Database
from datacoop.identity.keys import derive_dev_accounts
from datacoop.tasks.schemas import TaskCreate

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CONFIG = ("contributors", "clients", "api_workers", "prescreen_workers", "item_kb", "submissions", "seconds")


@contextmanager
def fresh_database(server_url: str) -> Any:
    """A new, empty database on ``server_url``'s server, dropped afterwards; yields its URL."""
    url = make_url(server_url)
    name = f"datacoop_load_{secrets.token_hex(4)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "datacoop", *args], env=env, stdout=out, stderr=out)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2) as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"datacoop serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if http.get(url + "/v1/health/ready").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    raise SystemExit(f"datacoop serve was not ready in {timeout}s:\n{log.read_text()[-3000:]}")


def jpeg(seed: int, kb: int) -> bytes:
    """A distinct photo-like JPEG of about ``kb`` KiB (noise over a gradient, so no two hash alike)."""
    side = max(32, int((kb * 1024 / 0.9) ** 0.5))  # ~0.9 byte a pixel at quality 85 for this content
    rng = np.random.default_rng(seed)
    base = np.linspace(0, 255, side, dtype="float32")
    pixels = (base[None, :, None] * 0.6 + rng.integers(0, 100, (side, side, 3))).clip(0, 255)
    out = io.BytesIO()
    Image.fromarray(pixels.astype("uint8")).save(out, "JPEG", quality=85)
    return out.getvalue()


# --- the client processes ---------------------------------------------------------------------------


def _client_process(
    url: str, keys: list[str], task_id: int, consent_hash: str, cfg: dict[str, Any], results: Any, go: Any
) -> None:
    """One client process: a thread per contributor, each signed in before ``go`` is set."""
    clients = []
    for key in keys:
        client = DataCoopClient(url, account=Account.from_key(key), timeout=60)
        client.login()
        client.eip712_domain()  # asked once, as a wallet app would cache it
        clients.append(client)
    items = [[jpeg(hash((key, n)) & 0xFFFFFFFF, cfg["item_kb"]) for n in range(cfg["per_contributor"])]
             for key in keys]  # fmt: skip
    results.put(("ready", os.getpid()))
    go.wait()
    deadline = time.monotonic() + cfg["seconds"]
    out: list[list[Any]] = [[] for _ in keys]
    threads = [
        threading.Thread(target=_contribute, args=(c, task_id, consent_hash, mine, deadline, rows))
        for c, mine, rows in zip(clients, items, out, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.put(("done", [row for rows in out for row in rows]))


def _contribute(
    client: DataCoopClient, task_id: int, consent_hash: str, items: list[bytes], deadline: float,
    rows: list[Any],
) -> None:  # fmt: skip
    for item in items:
        if time.monotonic() > deadline:
            return
        t0 = time.perf_counter()
        try:
            blob = client.upload(item)
            t1 = time.perf_counter()
            client.submit(task_id, blob.cid, "KE", consent_hash=consent_hash)
            t2 = time.perf_counter()
            rows.append(("ok", t2 - t0, t1 - t0, t2 - t1))
        except Exception as exc:  # counted: a load test reports errors, it does not stop at one
            rows.append((f"{type(exc).__name__}: {str(exc)[:120]}", time.perf_counter() - t0, None, None))


# --- CPU by process kind ----------------------------------------------------------------------------


def _kind(proc: psutil.Process, roles: dict[int, str]) -> str | None:
    for p in [proc, *proc.parents()]:
        if p.pid in roles:
            return roles[p.pid]
    try:
        name = proc.name()
    except psutil.Error:
        return None
    return "postgres" if name.startswith("postgres") else None


def cpu_by_kind(roles: dict[int, str]) -> Counter[str]:
    """CPU seconds (user + system) so far of every process of each kind."""
    total: Counter[str] = Counter()
    for proc in psutil.process_iter():
        try:
            kind = _kind(proc, roles)
            if kind is not None:
                t = proc.cpu_times()
                total[kind] += t.user + t.system
        except psutil.Error:
            continue
    return total


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0] * 1000, 1)
    return round(statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] * 1000, 1)


def run(args: argparse.Namespace) -> dict[str, Any]:
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="datacoop-load-")))
        db_url = stack.enter_context(fresh_database(args.postgres))
        anvil = stack.enter_context(AnvilNode(tmp / "anvil"))
        operator, requester = derive_dev_accounts(2)
        data_dir = tmp / "node"
        db = Database(db_url)
        db.migrate()
        chain = ChainClient(anvil.url)
        ensure_deployed(chain, Relay(db, chain, operator), operator, data_dir / "chain" / "deployment.json")
        db.dispose()
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("DATACOOP_")} | {
            "DATACOOP_DATA_DIR": str(data_dir), "DATACOOP_DATABASE_URL": db_url, "DATACOOP_CHAIN": "rpc",
            "DATACOOP_RPC_URL": anvil.url, "DATACOOP_OPERATOR_KEY": "0x" + operator.key.hex(),
            "DATACOOP_DEV_ACCOUNTS": "0",
            # one loopback address stands for every contributor: its per-IP counter would be one row that
            # every request updates in turn, which no crowd of real addresses has (per-address limits stay)
            "DATACOOP_RATE_LIMIT_UPLOADS_PER_CLIENT": "0",
            "DATACOOP_RATE_LIMIT_SUBMISSIONS_PER_CLIENT": "0",
            "DATACOOP_RATE_LIMIT_SIGN_IN_PER_CLIENT": "0",
        }  # fmt: skip
        log = tmp / "node.log"
        api = _spawn(["serve", "--workers", str(args.api_workers), "--port", str(port)], env, log)
        stack.callback(_stop, api)
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, api, log)
        worker = _spawn(["worker", "--threads", str(args.prescreen_workers)], env, log)
        stack.callback(_stop, worker)
        with DataCoopClient(url, account=requester) as owner:
            owner.login()
            task = owner.create_task(TaskCreate(
                title="Protective masks under load", description="photos of industrial protective masks",
                modality="image", reward_per_item=1, target_count=10_000_000,
                deadline=datetime.now(UTC) + timedelta(days=7), consent_text="I took this photo.",
            ))  # fmt: skip
        assert anvil.process is not None
        roles = {api.pid: "api", worker.pid: "prescreen_worker", anvil.process.pid: "anvil"}
        return _drive(args, url, task.id, task.consent_hash, roles, log)
    raise AssertionError("unreachable")


def _drive(
    args: argparse.Namespace, url: str, task_id: int, consent_hash: str, roles: dict[int, str], log: Path
) -> dict[str, Any]:
    keys = ["0x" + secrets.token_hex(32) for _ in range(args.contributors)]
    per_contributor = -(-args.submissions // args.contributors)
    cfg = {"seconds": args.seconds, "item_kb": args.item_kb, "per_contributor": per_contributor}
    ctx = mp.get_context("spawn")
    results, go = ctx.Queue(), ctx.Event()
    shares = [keys[i :: args.clients] for i in range(args.clients)]
    procs = [ctx.Process(target=_client_process, args=(url, share, task_id, consent_hash, cfg, results, go))
             for share in shares if share]  # fmt: skip
    for p in procs:
        p.start()
    for _ in procs:
        _, pid = results.get(timeout=600)
        roles[pid] = "clients"
    before, t0 = cpu_by_kind(roles), time.perf_counter()
    go.set()
    rows: list[Any] = []
    for _ in procs:
        _, got = results.get(timeout=args.seconds + 600)
        rows.extend(got)
    wall = time.perf_counter() - t0
    after = cpu_by_kind(roles)
    for p in procs:
        p.join(30)
    ok = [r for r in rows if r[0] == "ok"]
    errors = Counter(r[0] for r in rows if r[0] != "ok")
    return {
        "benchmark": "load",
        "submissions": len(ok),
        "seconds": round(wall, 2),
        "submissions_per_s": round(len(ok) / wall, 1),
        "p50_ms": _pct([r[1] for r in ok], 50),
        "p99_ms": _pct([r[1] for r in ok], 99),
        "upload_p50_ms": _pct([r[2] for r in ok], 50),
        "upload_p99_ms": _pct([r[2] for r in ok], 99),
        "commit_p50_ms": _pct([r[3] for r in ok], 50),
        "commit_p99_ms": _pct([r[3] for r in ok], 99),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors.most_common(5)),
        "cpu_ms_per_submission": {
            kind: round((after[kind] - before[kind]) * 1000 / max(len(ok), 1), 2) for kind in sorted(after)
        },
        "config": {k: getattr(args, k) for k in CONFIG},
        "cores": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "log": str(log) if errors else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contributors", type=int, default=64, help="fresh signed-in accounts (default 64)")
    parser.add_argument("--clients", type=int, default=4, help="client processes (default 4)")
    parser.add_argument("--submissions", type=int, default=2000, help="at most this many (default 2000)")
    parser.add_argument("--seconds", type=float, default=60, help="at most this long (default 60)")
    parser.add_argument("--api-workers", type=int, default=2, help="datacoop serve --workers (default 2)")
    parser.add_argument(
        "--prescreen-workers", type=int, default=1, help="datacoop worker --threads (default 1)"
    )
    parser.add_argument("--item-kb", type=int, default=32, help="JPEG size in KiB (default 32)")
    parser.add_argument("--postgres", default=os.environ.get("DATACOOP_TEST_POSTGRES_URL", PG_DEFAULT),
                        help="a PostgreSQL server URL whose user may create databases")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print one JSON object (the only output)")
    args = parser.parse_args()
    for name in ("contributors", "clients", "submissions", "api_workers", "prescreen_workers", "item_kb"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    print(json.dumps(run(args), indent=None if args.json else 2))


if __name__ == "__main__":
    main()
