"""The ``datacoop`` command line: a thin door onto the same services as the API.

Commands that act on a running node go through the SDK (``datacoop.client``);
operator commands on a data directory (``up``, ``gc``) build the node locally.
"""

from __future__ import annotations

import typer

from datacoop.cli import (
    audit,
    backup,
    cid,
    compute,
    dataset,
    demo,
    deploy,
    exchange,
    gc,
    merkle,
    openapi,
    policy,
    serve,
    settings_doc,
    settle,
    submit,
    tasks,
    up,
    worker,
)

__all__ = ["app", "main"]

app = typer.Typer(
    name="datacoop",
    help="DataCoop: community-sourced AI training data with verifiable provenance.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
for module in (
    up,
    serve,
    deploy,
    cid,
    tasks,
    submit,
    gc,
    merkle,
    worker,
    dataset,
    settle,
    policy,
    audit,
    backup,
    demo,
    openapi,
    settings_doc,
):
    module.register(app)
exchange.register(app)
compute.register(app)


def main() -> None:
    app()
