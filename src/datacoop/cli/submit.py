"""`datacoop submit` (upload + signed submission in one step) and `datacoop status`."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TransferSpeedColumn

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
from datacoop.errors import NotFound
from datacoop.tasks.schemas import SubmissionPublic

__all__ = ["register"]


def _print_submission(s: SubmissionPublic) -> None:
    console.print(f"submission {s.id}: task {s.task_id}  {s.state}  {s.cid}")
    for change in s.history:
        reason = f" — {change.reason}" if change.reason else ""
        console.print(
            f"  {change.at:%Y-%m-%d %H:%M:%S}  {change.from_state or '·'} → {change.to_state}{reason}"
        )
    for stage in s.details.get("prescreen", {}).get("stages", []):
        reasons = "; ".join(stage["reasons"])
        console.print(f"    {stage['stage']:<11} {stage['verdict']:<8} {reasons}", markup=False)


def _advance(progress: Progress, bar: TaskID, sent: int) -> None:
    progress.update(bar, completed=sent)


@reports_errors
def submit(
    task_id: Annotated[int, typer.Argument(help="the task to contribute to")],
    files: Annotated[list[Path], typer.Argument(help="files to upload and submit")],
    jurisdiction: Annotated[str, typer.Option(help="your country, ISO 3166-1 alpha-2 (e.g. KE)")],
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = None,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
) -> None:
    """Upload files and submit each to a task, signed with your key (EIP-712)."""
    for path in files:
        if not path.is_file():
            raise NotFound(f"no file {path}", field="files")
    client = DataCoopClient(url, account=load_account(key, data_dir=data_dir))
    client.login()
    consent = client.get_task(task_id).consent_hash
    with Progress(
        "{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console,
        transient=True,
    ) as progress:
        for path in files:
            bar = progress.add_task(path.name, total=path.stat().st_size)
            blob = client.upload(path, progress=functools.partial(_advance, progress, bar))
            sub = client.submit(task_id, blob.cid, jurisdiction, consent_hash=consent)
            progress.console.print(f"submitted {path} as submission {sub.id} ({blob.cid}): {sub.state}")


@reports_errors
def status(
    submission_id: Annotated[int | None, typer.Argument(help="one submission; default: all of yours")] = None,
    task: Annotated[int | None, typer.Option(help="only this task")] = None,
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = None,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
) -> None:
    """Show where your submissions stand, with the reasons for each change."""
    client = DataCoopClient(url, account=load_account(key, data_dir=data_dir))
    client.login()  # a submission is shown to its contributor, its task's requester and the operator
    if submission_id is not None:
        _print_submission(client.get_submission(submission_id))
        return
    mine = client.my_submissions(task)
    for s in mine:
        _print_submission(s)
    if not mine:
        console.print("no submissions yet")


def register(app: typer.Typer) -> None:
    app.command("submit")(submit)
    app.command("status")(status)
