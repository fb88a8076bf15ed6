"""`datacoop policy`: ask the compliance policy what a buyer may receive, or print the policy."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from datacoop.cli._common import console, reports_errors
from datacoop.compliance import (
    Buyer,
    ConsentScope,
    DataCategory,
    Exporter,
    Item,
    Policy,
    PolicyEngine,
    Rule,
    Safeguard,
    dump_policy,
    load_policy,
)
from datacoop.settings import Settings

__all__ = ["register"]

PolicyOpt = Annotated[
    Path | None,
    typer.Option(
        "--policy",
        envvar="DATACOOP_COMPLIANCE_POLICY",
        help="policy YAML (default: settings' compliance_policy, else the shipped default)",
    ),
]


def _load(path: Path | None) -> Policy:
    return load_policy(path if path is not None else Settings().compliance_policy)


@reports_errors
def check(
    origin: Annotated[str, typer.Option(help="the data's origin jurisdiction (ISO 3166-1 alpha-2)")],
    buyer: Annotated[str, typer.Option(help="the buyer's jurisdiction (ISO 3166-1 alpha-2)")],
    category: Annotated[DataCategory, typer.Option(help="the data category")] = DataCategory.PERSONAL,
    consent: Annotated[ConsentScope, typer.Option(help="what the contributor consented to")] = (
        ConsentScope.NONE
    ),
    purpose: Annotated[str, typer.Option(help="the buyer's purpose")] = "training",
    safeguard: Annotated[
        list[Safeguard] | None, typer.Option(help="a transfer safeguard in place (repeat for more)")
    ] = None,
    ciio: Annotated[bool, typer.Option(help="the exporter is a CIIO (PIPL Art. 40)")] = False,
    personal_count: Annotated[
        int, typer.Option(min=0, help="individuals' non-sensitive PI exported since 1 Jan, this included")
    ] = 0,
    sensitive_count: Annotated[
        int, typer.Option(min=0, help="individuals' sensitive PI exported since 1 Jan, this included")
    ] = 0,
    important_data_notified: Annotated[
        bool, typer.Option(help="important data identified as such by notice or publication")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the decision as JSON")] = False,
    policy: PolicyOpt = None,
) -> None:
    """Decide one transfer: print the outcome, the rule that gave it and its legal basis."""
    engine = PolicyEngine(_load(policy))
    item = Item("cli", origin, category, consent, important_data_notified)
    decision = engine.decide(
        item,
        Buyer(buyer, purpose, frozenset(safeguard or ())),
        Exporter(ciio, personal_count, sensitive_count),
    )
    if as_json:
        console.print_json(json.dumps(asdict(decision)))
        return
    console.print(f"decision:    {decision.outcome.value}", markup=False)
    console.print(f"rule:        {decision.rule}", markup=False)
    console.print(f"legal basis: {decision.legal_basis}", markup=False)
    console.print(f"why:         {decision.explanation}", markup=False)
    console.print(f"policy:      {decision.policy_version}", markup=False)


@reports_errors
def show(
    as_yaml: Annotated[bool, typer.Option("--yaml", help="print the whole policy as YAML")] = False,
    policy: PolicyOpt = None,
) -> None:
    """Print the policy: its version, review date, groups and rules in the order they are tried."""
    loaded = _load(policy)
    if as_yaml:
        console.print(dump_policy(loaded), markup=False, end="")
        return
    console.print(f"policy {loaded.version}, reviewed {loaded.reviewed.isoformat()}", markup=False)
    for text in loaded.encodes:
        console.print(f"  encodes: {text}", markup=False)
    console.print("groups:")
    for name, group in loaded.groups.items():
        as_of = f" (as of {group.as_of.isoformat()})" if group.as_of else ""
        console.print(f"  {name}{as_of}: {', '.join(group.members) or '(none)'}", markup=False)
    console.print("rules (first match wins):")
    for n, rule in enumerate(loaded.rules, 1):
        console.print(f"  {n:>2}. {rule.id} → {rule.decision.value}  [{rule.legal_basis}]", markup=False)
        console.print(f"      when {_conditions(rule)}", markup=False)


def _conditions(rule: Rule) -> str:
    when = rule.when.model_dump(mode="json", exclude_none=True)
    return ", ".join(f"{k}={v}" for k, v in when.items()) or "always"


def register(app: typer.Typer) -> None:
    """Add the ``policy`` command group to the ``datacoop`` app."""
    group = typer.Typer(
        name="policy",
        help="The compliance policy: which items a buyer in which country may receive, and why.",
        no_args_is_help=True,
    )
    group.command("check")(check)
    group.command("show")(show)
    app.add_typer(group)
