"""`datacoop demo`: DataCoop's main job end to end on the embedded stack, with a summary of every step."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from datacoop.cli._common import console, err_console, reports_errors
from datacoop.demo import DemoOptions, run_demo
from datacoop.tasks.amounts import format_units

__all__ = ["register"]


@reports_errors
def demo(
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir", help="an empty or new folder for the demo node (default: a fresh temp one)"
        ),
    ] = None,
    items: Annotated[int, typer.Option(help="how many images the contributors submit (12 to 2000)")] = 300,
    seed: Annotated[int, typer.Option(help="seed of the generated data and the simulated people")] = 7,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object with every number")] = False,
) -> None:
    """Run the whole loop: fund a task, submit, pre-screen, review, settle on chain, freeze a dataset."""
    folder = data_dir or Path(tempfile.mkdtemp(prefix="datacoop-demo-"))
    out = err_console if as_json else console  # --json: stdout carries the JSON object alone

    def say(line: str) -> None:
        out.print(line, markup=False)

    summary = run_demo(DemoOptions(data_dir=folder, items=items, seed=seed), say=say)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    _print_summary(summary)


def _print_summary(s: dict[str, Any]) -> None:
    token = s["task"]["token"] or {
        "decimals": 0,
        "symbol": "base units",
    }  # the task's token: its decimals, not 18, say what a base unit is

    def _tokens(base_units: str | int) -> str:
        return format_units(base_units, token["decimals"])

    pre, review, settle, ds = s["prescreen"], s["review"], s["settlement"], s["dataset"]
    table = Table("step", "what happened", "seconds", title="DataCoop demo", title_justify="left")
    secs = s["seconds"]
    table.add_row(
        "1 fund",
        f"task {s['task']['id']} → escrow task {s['task']['escrow_task_id']}, "
        f"{_tokens(s['task']['budget'])} {token['symbol']}",
        str(secs.get("fund")),
    )
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(s["submitted"]["by_kind"].items()))
    table.add_row(
        "2 submit",
        f"{s['submitted']['items']} signed items from {s['submitted']['contributors']} "
        f"contributors in {', '.join(s['submitted']['jurisdictions'])}: {kinds}",
        str(secs.get("submit")),
    )
    reasons = ", ".join(f"{k} {n}" for k, n in sorted(pre["rejected_by_reason"].items()))
    table.add_row(
        "3 pre-screen",
        f"{pre['rejected']} rejected ({reasons}); {pre['to_review']} to review; relevance {pre['relevance']}",
        str(secs.get("prescreen")),
    )
    qualified = sum(v["qualified"] for v in review["validators"])
    by_requester = review["requester_accuracy"]  # None when the requester decided nothing
    table.add_row(
        "4 review",
        f"{review['decided']} decided, {review['votes_per_item']:.2f} votes/item; "
        f"{review['by_consensus']} by validators ({review['validator_accuracy']:.1%} right vs the truth), "
        f"{review['escalated']} escalated ({review['escalated_share']:.1%}) to the requester"
        f"{'' if by_requester is None else f' ({by_requester:.1%} right)'}; "
        f"{qualified}/{len(review['validators'])} validators qualified",
        str(secs.get("review")),
    )
    table.add_row(
        "5 settle",
        f"epoch {settle['epoch']} {settle['status']}: {settle['accepted']} accepted items, "
        f"{settle['claims']} claims paid {_tokens(settle['paid_total'])} {token['symbol']}",
        str(secs.get("settle")),
    )
    exported = ", ".join(ds["exports"]) + (
        f" (skipped: {', '.join(ds['exports_skipped'])})" if ds["exports_skipped"] else ""
    )
    table.add_row(
        "6 dataset",
        f"v{ds['version']}: {ds['items']} items, anchor {ds['anchor']['before']} → "
        f"{ds['anchor']['status']}, verified {'yes' if ds['verified'] else 'NO'}; exported {exported}",
        str(secs.get("dataset")),
    )
    console.print(table)
    payouts = Table("contributor", "accepted", f"balance before ({token['symbol']})", "after", "gained")
    for p in settle["payouts"]:
        payouts.add_row(
            p["address"], str(p["accepted"]), _tokens(p["before"]), _tokens(p["after"]), _tokens(p["gained"])
        )
    console.print(payouts)
    console.print(f"done in {secs['total']} s. Look around: datacoop up --data-dir {s['data_dir']}")
    console.print(f"exports in {Path(s['data_dir']) / 'exports'}")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
