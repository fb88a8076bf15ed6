"""Money on chain from the command line: fund a task, close epochs, claim, read your earnings.

``task fund`` and ``claim`` send transactions with your own key to the node's chain
(its JSON-RPC address comes from the node's health report unless ``--rpc`` says
otherwise); ``epoch close`` asks the node, signed in as its operator, to close one.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import typer
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
from datacoop.cli.tasks import money, task_app
from datacoop.client import DataCoopClient, load_account
from datacoop.errors import InvalidInput, Unavailable
from datacoop.settlement import wallet
from datacoop.tasks.amounts import parse_units
from datacoop.tasks.schemas import TaskPublic

__all__ = ["register"]

epoch_app = typer.Typer(help="Close and list a task's settlement epochs.", no_args_is_help=True)
RpcOpt = Annotated[str | None, typer.Option("--rpc", help="JSON-RPC address (default: the node's chain)")]
_WINDOW = re.compile(r"^(\d+)d$")


def _chain_info(client: DataCoopClient, rpc: str | None) -> tuple[str, dict[str, Any]]:
    """The JSON-RPC address to send your own transactions to, and the node's chain report."""
    chain = client.health().get("chain")
    if not isinstance(chain, dict) or "escrow" not in chain:
        raise Unavailable("the node reports no chain: it runs with chain = 'off'", field="chain")
    # the node's relay by default: its own RPC address is shown to its operator only
    url = rpc or chain.get("rpc_url") or client.chain_rpc_url
    return str(url), chain


parse_amount = parse_units  # whole tokens → base units (the exchange's --price too)


class _Tasks:
    """The tasks a command prints amounts of, each asked once (their token says how to print them)."""

    def __init__(self, client: DataCoopClient) -> None:
        self._client, self._seen = client, dict[int, TaskPublic]()

    def money(self, task_id: int, units: int | str) -> str:
        if task_id not in self._seen:
            self._seen[task_id] = self._client.get_task(task_id)
        return money(self._seen[task_id], units)


@reports_errors
def fund(
    task_id: Annotated[int, typer.Argument(help="the task to fund")],
    amount: Annotated[
        str,
        typer.Option(
            "--amount", "--budget", help="budget in whole tokens of the task's token, e.g. 500 or 12.5"
        ),
    ],
    claim_window: Annotated[
        str, typer.Option(help="how long after the deadline claims stay open, e.g. 30d")
    ] = "30d",
    permit: Annotated[
        bool | None,
        typer.Option(
            "--permit/--approve",
            help="sign an EIP-2612 permit instead of sending approve "
            "(default: permit where the token supports it)",
        ),
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = None,
    rpc: RpcOpt = None,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
) -> None:
    """Put a task's budget into escrow on chain (permit or approve, then openTask) and tell the node."""
    window = _WINDOW.match(claim_window)
    if window is None:
        raise InvalidInput(f"claim_window must look like 30d, got {claim_window!r}", field="claim_window")
    account = load_account(key, data_dir=data_dir)
    client = DataCoopClient(url, account=account)
    client.login()
    task = client.get_task(task_id)
    rpc_url, info = _chain_info(client, rpc)
    # a task made before tasks named their token pays in the node's
    token = task.token.address if task.token else str(info["token"])
    decimals = task.token.decimals if task.token else wallet.token_decimals(rpc_url, token)
    units = parse_units(amount, decimals, "--amount")
    use_permit = wallet.supports_permit(rpc_url, token) if permit is None else permit
    console.print(f"{'signing a permit' if use_permit else 'approving'} for {money(task, units)} …")
    fund_with = wallet.fund_task_with_permit if use_permit else wallet.fund_task
    funded = fund_with(
        rpc_url, account, token=token, escrow=str(info["escrow"]), amount=units,
        deadline=int(task.deadline.timestamp()), claim_window_s=int(window.group(1)) * 86_400,
        reward_per_item=_item_cap(task),
    )  # fmt: skip
    linked = client.link_escrow(task_id, funded.escrow_task_id)
    console.print(
        f"task {task_id} funded: escrow task {funded.escrow_task_id}, {money(task, linked['funded'])} "
        f"(tx {funded.tx_hash})"
    )


def _item_cap(task: TaskPublic) -> int:
    """The most one accepted item may add to a root: its reward and every vote it may take paid, so
    the escrow refuses a root that pays more than the accepted items earned."""
    review = task.rules.review
    return int(task.reward_per_item) + review.max_votes * review.validator_reward


@reports_errors
def close(
    task_id: Annotated[int, typer.Argument(help="the task whose epoch to close")],
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = None,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
) -> None:
    """Close the task's next epoch now (the node's operator key); the node posts and confirms it."""
    client = DataCoopClient(url, account=load_account(key, data_dir=data_dir))
    client.login()
    epoch = client.close_epoch(task_id)
    if epoch is None:
        console.print(f"task {task_id}: nothing new is owed; no epoch closed")
        return
    tasks = _Tasks(client)
    console.print(
        f"task {task_id} epoch {epoch['epoch']}: {epoch['earnings']} earnings, "
        f"total {tasks.money(task_id, epoch['total'])} ({epoch['status']}); the node posts it now"
    )
    if int(epoch["shortfall"]):
        console.print(
            f"  {tasks.money(task_id, epoch['shortfall'])} more is owed than the escrow holds: "
            "the requester should top up"
        )


@reports_errors
def list_epochs(
    task_id: Annotated[int, typer.Argument(help="the task")],
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """A task's epochs and their state on chain."""
    client = DataCoopClient(url)
    tasks, table = _Tasks(client), Table("epoch", "status", "earnings", "total", "tx")
    for e in client.epochs(task_id):
        total = tasks.money(task_id, e["total"])
        table.add_row(str(e["epoch"]), e["status"], str(e["earnings"]), total, e["tx_hash"] or "")
    console.print(table)


@reports_errors
def claim(
    task: Annotated[int | None, typer.Option(help="claim only this task")] = None,
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = None,
    rpc: RpcOpt = None,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
) -> None:
    """Claim what you are owed, with your key, straight from the escrow contract."""
    account = load_account(key, data_dir=data_dir)
    client = DataCoopClient(url, account=account)
    client.login()  # claims are shown to their owner only
    owed = [c for c in client.claims(account.address) if task is None or c["task_id"] == task]
    owed = [c for c in owed if int(c["claimable"]) > 0]
    if not owed:
        console.print("nothing to claim")
        return
    rpc_url, _ = _chain_info(client, rpc)
    tasks = _Tasks(client)
    for c in owed:
        tx_hash = wallet.claim(
            rpc_url, account, escrow=c["escrow"], escrow_task_id=c["escrow_task_id"],
            cumulative=int(c["cumulative"]), proof=c["proof"],
        )  # fmt: skip
        paid = tasks.money(c["task_id"], c["claimable"])
        console.print(f"task {c['task_id']}: claimed {paid} (epoch {c['epoch']}, tx {tx_hash})")


@reports_errors
def earnings(
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = None,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
) -> None:
    """What your items and votes earned, per task and epoch."""
    client = DataCoopClient(url, account=load_account(key, data_dir=data_dir))
    client.login()
    tasks, table = _Tasks(client), Table("task", "epoch", "status", "items", "votes", "total")
    for e in client.statement()["epochs"]:
        kinds = [i["kind"] for i in e["items"]]
        table.add_row(
            str(e["task_id"]),
            str(e["epoch"] or "—"),
            e["status"],
            str(kinds.count("item")),
            str(kinds.count("vote")),
            tasks.money(e["task_id"], e["total"]),
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    task_app.command("fund")(fund)
    epoch_app.command("close")(close)
    epoch_app.command("list")(list_epochs)
    app.add_typer(epoch_app, name="epoch")
    app.command("claim")(claim)
    app.command("earnings")(earnings)
