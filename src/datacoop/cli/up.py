"""`datacoop up`: the whole node on one machine, no setup: SQLite, local blobs, the API."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from datacoop.api.app import create_app
from datacoop.app import build_node
from datacoop.cli._common import DataDirOpt, console, reports_errors
from datacoop.settings import Settings

__all__ = ["register"]


@reports_errors
def up(
    data_dir: DataDirOpt = Path(".datacoop"),
    host: Annotated[str | None, typer.Option(help="address to listen on (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on (default 8000)")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
) -> None:
    """Start DataCoop on its embedded default and serve the API until Ctrl-C."""
    overrides: dict[str, object] = {"data_dir": data_dir}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    settings = Settings(**overrides)  # type: ignore[arg-type]
    console.print("starting DataCoop (the first start compiles and deploys the contracts) …")
    node = build_node(settings)
    try:
        node.start_workers(threads=1)  # pre-screening in this process: the embedded default
        _announce(settings, node.health.check(), [a.address for a in node.dev_accounts])
        config = uvicorn.Config(
            create_app(node), host=settings.host, port=settings.port, log_level=log_level, access_log=False
        )
        # uvicorn returns on Ctrl-C / SIGTERM after in-flight requests finish, then re-raises
        # the Ctrl-C: that stop is the expected one, not an error.
        with contextlib.suppress(KeyboardInterrupt):
            uvicorn.Server(config).run()
    finally:
        node.close()
        console.print("DataCoop stopped; data kept in " + str(settings.data_dir.resolve()))


def _announce(settings: Settings, health: dict[str, object], dev: list[str]) -> None:
    logging.getLogger("datacoop").info("starting")
    url = settings.resolved_public_url
    console.print(f"[bold green]DataCoop[/] on {url}  (API docs: {url}/docs)")
    console.print(f"  data directory: {settings.data_dir.resolve()}")
    console.print(f"  database: {settings.resolved_database_url}")
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
