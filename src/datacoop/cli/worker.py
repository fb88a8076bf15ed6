"""`datacoop worker`: pre-screening in a process of its own, beside `up` or on another host."""

from __future__ import annotations

import signal
from types import FrameType
from typing import Annotated

import typer

from datacoop.app import build_node
from datacoop.cli._common import DEFAULT_DATA_DIR, DataDirOpt, console, reports_errors
from datacoop.settings import Settings

__all__ = ["register"]


@reports_errors
def worker(
    threads: Annotated[int, typer.Option(min=1, max=64, help="jobs run at once")] = 1,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
) -> None:
    """Take pre-screening jobs from the node's database until stopped (Ctrl-C or SIGTERM).

    Any number of workers may share one database (DATACOOP_DATABASE_URL): jobs are leased,
    and a job whose worker dies is taken up again when its lease runs out.
    """
    node = build_node(Settings(data_dir=data_dir), with_chain=False)
    pool = node.start_workers(threads)

    def stop(signum: int, _frame: FrameType | None) -> None:
        console.print(f"stopping after the current job (signal {signum})")
        pool.stop(timeout=0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    console.print(f"worker ready: {threads} thread(s) on {node.settings.resolved_database_url}")
    try:
        pool.run_until_stopped()
    finally:
        node.close()


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
