"""`datacoop audit`: check the hash-chained audit log of a node's data directory, and read it."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from datacoop.app import Node, build_node
from datacoop.cli._common import DEFAULT_DATA_DIR, DataDirOpt, console, reports_errors
from datacoop.errors import IntegrityError
from datacoop.settings import Settings

__all__ = ["register"]


def _node(data_dir: Path) -> Node:
    return build_node(Settings(data_dir=data_dir), with_chain=False, check_stages=False)


@reports_errors
def verify(data_dir: DataDirOpt = DEFAULT_DATA_DIR) -> None:
    """Recompute the chain and compare it with its head and anchors; exit 6 at the first bad entry."""
    node = _node(data_dir)
    try:
        report = node.audit.verify()
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
        f"{report.anchors_checked} anchors match ({pending} pending: not on chain yet)",
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
    """Record the current head as an anchor (kept pending: no contract can take it yet)."""
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
