"""`datacoop task …`: create, list and show tasks."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from datacoop.cli._common import (
    DEFAULT_DATA_DIR,
    DEFAULT_URL,
    DataDirOpt,
    KeyOpt,
    UrlOpt,
    console,
    reports_errors,
)
from datacoop.client import DataCoopClient, load_account
from datacoop.errors import InvalidInput
from datacoop.tasks.rules import Modality
from datacoop.tasks.schemas import AcceptanceRules, TaskCreate, TaskPublic

__all__ = ["money", "parse_deadline", "register"]

task_app = typer.Typer(help="Create, list and show data-collection tasks.", no_args_is_help=True)
_DURATION = re.compile(r"^(\d+)([dhm])$")


def parse_deadline(text: str, now: datetime | None = None) -> datetime:
    """``30d``, ``12h``, ``45m`` from now, or an ISO 8601 time (UTC if no zone is given)."""
    now = now or datetime.now(UTC)
    if m := _DURATION.match(text):
        unit = {"d": "days", "h": "hours", "m": "minutes"}[m.group(2)]
        return now + timedelta(**{unit: int(m.group(1))})
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"--deadline {text!r}: use 30d, 12h, 45m or an ISO 8601 time", field="deadline"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def money(task: TaskPublic, units: int | str) -> str:
    """``units`` of the task's token as a person reads them (``12.5 USDC``); base units where the
    node recorded no token (it runs without a chain)."""
    return task.token.format(units) if task.token else f"{units} base units"


def _print_task(task: TaskPublic) -> None:
    console.print(f"[bold]task {task.id}[/bold]: {escape(task.title)} ({task.modality}, {task.status})")
    console.print(f"  reward per item: {money(task, task.reward_per_item)}   target: {task.target_count}")
    if task.token:
        console.print(f"  token: {task.token.symbol} {task.token.address} ({task.token.decimals} decimals)")
    console.print(f"  deadline: {task.deadline.isoformat()}   licence: {task.licence}")
    countries = ", ".join(task.allowed_jurisdictions) or "any"
    console.print(f"  countries: {countries}   submissions: {task.submission_count}")
    console.print(f"  consent ({task.consent_hash}): {task.consent_text}", markup=False)


@task_app.command("create")
@reports_errors
def create(
    title: Annotated[str, typer.Option(help="a short title")],
    reward: Annotated[str, typer.Option(help="whole tokens per accepted item, e.g. 5 or 0.25")],
    target: Annotated[int, typer.Option(help="how many accepted items are wanted")],
    consent: Annotated[str, typer.Option(help="the consent text contributors sign")],
    description: Annotated[str, typer.Option(help="what an item must show")] = "",
    modality: Annotated[Modality, typer.Option()] = Modality.IMAGE,
    deadline: Annotated[str, typer.Option(help="30d, 12h or an ISO time")] = "30d",
    licence: Annotated[str, typer.Option()] = "CC-BY-4.0",
    token: Annotated[
        str | None, typer.Option(help="the ERC-20 the task pays in (default: the node's token)")
    ] = None,
    country: Annotated[
        list[str] | None, typer.Option(help="allowed contributor country (repeatable)")
    ] = None,
    min_width: Annotated[int, typer.Option()] = 0,
    min_height: Annotated[int, typer.Option()] = 0,
    auto_accept: Annotated[
        bool, typer.Option(help="accept items that pass every automatic check without review")
    ] = False,
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = None,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
) -> None:
    """Create a task (you are its requester)."""
    client = DataCoopClient(url, account=load_account(key, data_dir=data_dir))
    client.login()
    body = TaskCreate(
        title=title,
        description=description or title,
        modality=modality,
        rules=AcceptanceRules(min_width=min_width, min_height=min_height, auto_accept=auto_accept),
        token=token,
        reward=reward,
        target_count=target,
        deadline=parse_deadline(deadline),
        consent_text=consent,
        licence=licence,
        allowed_jurisdictions=country or [],
    )
    _print_task(client.create_task(body))


@task_app.command("list")
@reports_errors
def list_(
    status: Annotated[str | None, typer.Option(help="open or closed")] = None, url: UrlOpt = DEFAULT_URL
) -> None:
    """List tasks, newest first."""
    table = Table("id", "title", "modality", "reward", "target", "submissions", "deadline", "status")
    for t in DataCoopClient(url).list_tasks(status):
        table.add_row(
            str(t.id), t.title, t.modality, money(t, t.reward_per_item), str(t.target_count),
            str(t.submission_count), t.deadline.date().isoformat(), t.status,
        )  # fmt: skip
    console.print(table)


@task_app.command("show")
@reports_errors
def show(task_id: int, url: UrlOpt = DEFAULT_URL) -> None:
    """Show one task, with the consent text contributors sign."""
    _print_task(DataCoopClient(url).get_task(task_id))


def register(app: typer.Typer) -> None:
    app.add_typer(task_app, name="task")
