"""`datacoop serve`: the API alone, in N processes, for a production node behind a load balancer."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from datacoop.app import migrate_database
from datacoop.cli._common import DEFAULT_DATA_DIR, DataDirOpt, console, reports_errors
from datacoop.errors import InvalidInput
from datacoop.logs import configure_logging
from datacoop.settings import Settings

__all__ = ["register"]


@reports_errors
def serve(
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    host: Annotated[str | None, typer.Option(help="address to listen on (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on (default 8000)")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="API processes")] = 1,
    log_level: Annotated[str, typer.Option(help="log level")] = "info",
) -> None:
    """Serve the API only: no embedded chain, no pre-screening worker (run `datacoop worker --broker`).

    Each process is stateless and builds its node from the DATACOOP_* settings; run as many
    replicas as needed against one PostgreSQL database, blob store and broker. One process at a time,
    across replicas, holds the outbox lease and sends the operator's transactions.
    """
    settings = Settings(data_dir=data_dir)
    if settings.chain == "embedded":
        raise InvalidInput(
            "serve runs against a chain it does not own: set DATACOOP_CHAIN=rpc (with `datacoop deploy`) "
            "or off; `datacoop up` runs the embedded one",
            field="chain",
        )
    configure_logging(settings.log_format, log_level)
    migrate_database(settings)  # once, here: the processes below start at the same moment
    os.environ["DATACOOP_DATA_DIR"] = str(Path(data_dir).resolve())  # what each process builds from
    console.print(
        f"serving the DataCoop API on {host or settings.host}:{port or settings.port} ({workers} processes)"
    )
    uvicorn.run(
        "datacoop.api.asgi:app_from_environment",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=30,
    )


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
