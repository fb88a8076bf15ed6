"""`datacoop up`: the whole node on one machine, no setup: SQLite, local blobs, the API."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from datacoop.api.app import create_app
from datacoop.app import build_node
from datacoop.cli._common import DataDirOpt, console, err_console, reports_errors
from datacoop.logs import configure_logging
from datacoop.settings import Settings

__all__ = ["register"]


@reports_errors
def up(
    data_dir: DataDirOpt = Path(".datacoop"),
    host: Annotated[str | None, typer.Option(help="address to listen on (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on (default 8000)")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
    deployment: Annotated[
        Path | None,
        typer.Option(help="the contracts' deployment file (`datacoop deploy --out`); default: settings"),
    ] = None,
) -> None:
    """Start DataCoop on its embedded default and serve the API until Ctrl-C or SIGTERM."""
    # uvicorn drains requests on SIGTERM, then raises the signal again under the handler it found: with
    # Python's default one the process would die there, leaving anvil and the worker running. Treat SIGTERM
    # (what systemd and container runtimes send) as Ctrl-C, so the `finally` below stops every child.
    signal.signal(signal.SIGTERM, _interrupt)
    overrides: dict[str, object] = {"data_dir": data_dir}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    if deployment is not None:
        overrides["deployment_file"] = deployment
    settings = Settings(**overrides)  # type: ignore[arg-type]
    configure_logging(settings.log_format, log_level)
    console.print("starting DataCoop (the first start compiles and deploys the contracts) …")
    # The API process stays lean: pre-screening runs in a worker process of its own (below).
    node = build_node(settings, check_stages=False)
    worker = _start_worker(settings)
    node.start_chain_follower()  # the one writer of the outbox: epochs, anchors, listings, royalties
    node.start_compute_workers()  # compute-to-data jobs (each runs in a sandboxed child process)
    node.start_webhook_workers()  # signed webhooks, retried with back-off
    try:
        _announce(settings, node.health.check(), [a.address for a in node.dev_accounts])
        config = uvicorn.Config(
            create_app(node),
            host=settings.host,
            port=settings.port,
            log_level=log_level,
            access_log=False,
            log_config=None,  # configure_logging above: the node's lines and uvicorn's in one style
        )
        # uvicorn returns on Ctrl-C / SIGTERM after in-flight requests finish, then re-raises
        # the Ctrl-C: that stop is the expected one, not an error.
        with contextlib.suppress(KeyboardInterrupt):
            uvicorn.Server(config).run()
    finally:
        _stop_worker(worker)
        node.close()
        console.print("DataCoop stopped; data kept in " + str(settings.data_dir.resolve()))


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _start_worker(settings: Settings) -> subprocess.Popen[bytes]:
    """Pre-screening beside the API: a stage that blows up (a bomb, OOM) cannot take the API down."""
    cmd = [sys.executable, "-m", "datacoop", "worker", "--data-dir", str(settings.data_dir)]
    env = {**os.environ, "DATACOOP_CHAIN": "off"}
    if settings.broker_url:  # the child takes its jobs from the broker the API publishes to
        env["DATACOOP_BROKER_URL"] = settings.broker_url
    proc = subprocess.Popen(cmd, env=env)
    threading.Thread(target=_watch_worker, args=(proc,), daemon=True).start()
    return proc


def _watch_worker(proc: subprocess.Popen[bytes]) -> None:
    code = proc.wait()
    if code not in (0, -signal.SIGTERM):
        err_console.print(
            f"the pre-screening worker stopped (exit {code}); submissions wait until it runs again"
        )


def _stop_worker(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _announce(settings: Settings, health: dict[str, object], dev: list[str]) -> None:
    logging.getLogger("datacoop").info("starting")
    url = settings.resolved_public_url
    console.print(f"[bold green]DataCoop[/] on {url}  (API docs: {url}/docs)")
    console.print(f"  data directory: {settings.data_dir.resolve()}")
    console.print(f"  database: {settings.resolved_database_url}")
    if settings.broker_url:
        console.print(f"  pre-screening jobs through the broker, queue {settings.broker_queue!r}")
    chain = health.get("chain")
    if isinstance(chain, dict) and chain.get("status") == "ok":
        console.print(f"  chain {chain['chain_id']} at {chain['rpc_url']} (block {chain['block']})")
        for name in ("token", "escrow", "registry", "market", "staking"):
            console.print(f"    {name:9} {chain[name]}")
    else:
        console.print(f"  chain: {chain}")
    if dev:
        console.print(f"  dev accounts (keys in {settings.data_dir / 'dev-accounts.json'}; use --key dev:N):")
        for i, address in enumerate(dev):
            console.print(f"    dev:{i}  {address}")
    console.print("Press Ctrl-C to stop.")


def register(app: typer.Typer) -> None:
    app.command("up")(up)
