"""`datacoop audit`: check the hash-chained audit log of a node's data directory, and read it."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from datacoop.app import Node, build_node
from datacoop.audit.anchors import anchors_on_chain
from datacoop.cli._common import DEFAULT_DATA_DIR, DataDirOpt, console, reports_errors
from datacoop.errors import IntegrityError, InvalidInput
from datacoop.settings import Settings

__all__ = ["register"]


def _node(data_dir: Path) -> Node:
    return build_node(Settings(data_dir=data_dir), with_chain=False, check_stages=False)


@reports_errors
def verify(
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    rpc: Annotated[
        str | None, typer.Option(help="JSON-RPC address: also compare with the anchors on chain")
    ] = None,
    registry: Annotated[str | None, typer.Option(help="DatasetRegistry address holding the anchors")] = None,
) -> None:
    """Recompute the chain and compare it with its head and anchors; exit 6 at the first bad entry.

    With --rpc and --registry the anchors are also read from the chain, which catches a log
    rewritten consistently in the database (anchors table included).
    """
    if (rpc is None) != (registry is None):
        raise InvalidInput("give --rpc and --registry together", field="rpc" if rpc is None else "registry")
    on_chain = anchors_on_chain(rpc, registry) if rpc is not None and registry is not None else None
    node = _node(data_dir)
    try:
        report = node.audit.verify(on_chain=on_chain)
        pending = sum(a.status == "pending" for a in node.audit.anchors())
    finally:
        node.close()
    if report.problem is not None:
        raise IntegrityError(
            f"the audit log was tampered with: {report.problem.message} ({report.problem.kind})",
            field=f"audit_log[{report.problem.seq}]",
        )
    console.print(
        f"ok: {report.entries} entries chain to head {report.head_hash}; "
        f"{report.anchors_checked} anchors match ({pending} pending: not on chain yet"
        + ("; anchors read from the chain" if on_chain is not None else "")
        + ")",
        markup=False,
    )


@reports_errors
def show(
    after: Annotated[int, typer.Option(min=0, help="start after this seq")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="at most this many entries")] = 50,
    subject: Annotated[str | None, typer.Option(help="only this subject's entries")] = None,
    action: Annotated[str | None, typer.Option(help="only entries of this action")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object a line")] = False,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
) -> None:
    """Print audit-log entries, oldest first."""
    node = _node(data_dir)
    try:
        entries = node.audit.entries(after=after, limit=limit, subject=subject, action=action)
    finally:
        node.close()
    for e in entries:
        if as_json:
            typer.echo(json.dumps({**asdict(e), "at": e.at.isoformat()}, sort_keys=True))
        else:
            details = json.dumps(e.details, sort_keys=True)
            typer.echo(f"{e.seq:>6}  {e.at.isoformat()}  {e.actor}  {e.action}  {e.subject}  {details}")


@reports_errors
def anchor(
    min_new: Annotated[int, typer.Option(min=1, help="only if this many entries came since the last")] = 1,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
) -> None:
    """Record the current head as an anchor; a running node (`datacoop up`) sends it to the chain."""
    node = _node(data_dir)
    try:
        made = node.audit.anchor(min_new_entries=min_new)
    finally:
        node.close()
    if made is None:
        console.print(f"no anchor: fewer than {min_new} entries since the last one", markup=False)
    else:
        console.print(
            f"anchor at entry {made.seq}: {made.head_hash} ({made.status}: {made.note})", markup=False
        )


def register(app: typer.Typer) -> None:
    """Add the ``audit`` command group to the ``datacoop`` app."""
    group = typer.Typer(name="audit", help="The append-only, hash-chained audit log.", no_args_is_help=True)
    group.command("verify")(verify)
    group.command("show")(show)
    group.command("anchor")(anchor)
    app.add_typer(group)
