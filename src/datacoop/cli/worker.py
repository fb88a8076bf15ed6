"""`datacoop worker`: pre-screening in a process of its own, beside `up` or on another host."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Annotated

import typer

from datacoop.app import build_node
from datacoop.cli._common import DEFAULT_DATA_DIR, DataDirOpt, console, reports_errors
from datacoop.errors import InvalidInput
from datacoop.logs import configure_logging
from datacoop.settings import Settings, broker_url_problem

__all__ = ["register"]

BrokerOpt = Annotated[
    str | None,
    typer.Option(
        "--broker",
        help="redis://… or amqp://… broker to take jobs from (default: DATACOOP_BROKER_URL; "
        "none: poll the database)",
        show_default=False,
    ),
]


@reports_errors
def worker(
    threads: Annotated[int, typer.Option(min=1, max=64, help="jobs run at once")] = 1,
    broker: BrokerOpt = None,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
) -> None:
    """Take pre-screening jobs until stopped (Ctrl-C or SIGTERM finish the current job first).

    Without a broker, any number of workers share one database (DATACOOP_DATABASE_URL): jobs
    are leased, and a job whose worker dies is taken up again when its lease runs out. With a
    broker (Redis or RabbitMQ), jobs come as messages acknowledged only after their result is
    committed; a message whose worker dies goes to another worker.
    """
    overrides: dict[str, object] = {"data_dir": data_dir}
    if broker is not None:
        if problem := broker_url_problem(broker):
            raise InvalidInput(problem, field="broker_url")
        overrides["broker_url"] = broker
    settings = Settings(**overrides)  # type: ignore[arg-type]
    configure_logging(settings.log_format)
    node = build_node(settings, with_chain=False)
    stopping = threading.Event()

    def stop(signum: int, _frame: FrameType | None) -> None:
        console.print(f"stopping after the current job (signal {signum})")
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        if node.broker is not None:
            node.start_broker_workers(threads)
            source = f"broker queue {node.settings.broker_queue!r}"
        else:
            node.start_workers(threads)
            source = node.settings.resolved_database_url
        console.print(f"worker ready: {threads} thread(s) on {source}")
        stopping.wait()
    finally:
        node.close()  # each thread finishes its current job first


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
